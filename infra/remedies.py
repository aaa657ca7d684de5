"""Remedy functions: one per remedy that some watched network's `[remediation]` policy enables.

Each subscribes to the findings topic with a filter policy on its trigger check
(`remedies.request.TRIGGERS`), `status = firing` and the networks that enable it, and can
be invoked by hand with a remedy request (docs/aws.md). Its role is derived from
`opwatch.remedies.permissions` (what the remedy's code calls), narrowed to this stack's
resources: the state table (the remedy store), the funder secret or KMS key, the snapshot
bucket prefix or volume. A `restore` failover runs on Lambda when it restores EBS snapshots
into a stopped replacement instance (`failover.replacement_instance`, and optionally a
Route 53 record to repoint); restoring an object-storage archive needs a launcher only the
devnet has, so such networks get no failover function (recorded in `skipped`).

The top-up function gets its own asset (eth-account signs its transactions); the others
share the checks' asset.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as sm
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from opwatch.config import Config
from opwatch.deploy.aws import AwsSettings, Environment, remedy_timeout_seconds
from opwatch.remedies import permissions
from opwatch.remedies.policy import NetworkRemedies, SnapshotPolicy
from opwatch.remedies.request import TRIGGERS

from .findings import filter_policy
from .function import OpwatchFunction
from .nag import acknowledge, as_nag_sees
from .queues import dead_letter_queue
from .state import IDEMPOTENCY_ACTIONS, StateTables

TRIGGER_OF = {remedy: check for check, remedy in TRIGGERS.items()}
TOPUP_EXTRAS = ("eth-account",)


def enabled(remedy: str, policy: NetworkRemedies) -> bool:
    if policy.runs_on != "aws":
        return False  # this network's remedies are deployed on GCP (gcp/)
    if remedy == "failover":
        return policy.failover is not None and (policy.failover.strategy != "restore"
                                                or policy.failover.replacement_instance is not None)
    return getattr(policy, remedy) is not None


class Remedies(Construct):
    def __init__(self, scope: Construct, id: str, *, config: Config, config_text: str, environment: Environment,
                 settings: AwsSettings, code: lambda_.Code, key: kms.IKey, topic: sns.ITopic, tables: StateTables,
                 funder_secret: sm.ISecret | None, async_dlq: sqs.IQueue,
                 routing_key: sm.ISecret | None = None, rpc_endpoints: sm.ISecret | None = None) -> None:
        super().__init__(scope, id)
        remediation = config.section("remediation")
        policies = {n: remediation.for_network(n) for n in environment.networks}
        self.functions: dict[str, OpwatchFunction] = {}
        self.dead_letter_queues: dict[str, sqs.IQueue] = {}
        self.skipped = [(n, "failover", "strategy 'restore' of an archive needs a sequencer launcher; not on Lambda")
                        for n, p in policies.items()
                        if p.runs_on == "aws" and p.failover is not None and not enabled("failover", p)]
        for remedy in ("topup", "snapshot", "failover"):
            networks = [n for n, p in policies.items() if enabled(remedy, p)]
            if not networks:
                continue
            if remedy == "topup":
                from .bundling import lambda_code

                asset = lambda_code(config_text, TOPUP_EXTRAS)
            else:
                asset = code
            # Above the remedy's longest wait on any of its networks (a ConfigError if Lambda cannot hold it).
            timeout = remedy_timeout_seconds(config, remedy, networks)
            fn = OpwatchFunction(
                self, remedy, name=f"opwatch-{environment.name}-remedy-{remedy}",
                description=f"opwatch remedy {remedy} ({', '.join(networks)})", code=asset,
                handler="opwatch.aws.remedy_handler.handler",
                environment={"OPWATCH_CONFIG": "/var/task/opwatch.toml",
                             "OPWATCH_REMEDIES": "failover,restore" if remedy == "failover" else remedy,
                             # The remedy store and its idempotency records: tables no other role reaches.
                             "REMEDY_TABLE": tables.remedies.table_name,
                             "IDEMPOTENCY_TABLE": tables.remedy_idempotency.table_name,
                             **({"RPC_ENDPOINTS_SECRET": rpc_endpoints.secret_arn} if rpc_endpoints else {}),
                             "POWERTOOLS_SERVICE_NAME": "opwatch", "POWERTOOLS_METRICS_NAMESPACE": settings.namespace},
                memory_mb=settings.memory_mb(remedy), timeout_s=timeout, key=key, dead_letter_queue=async_dlq,
                retry_attempts=2, max_event_age=Duration.hours(1), log_retention_days=settings.log_retention_days)
            self._grant(remedy, fn, {n: policies[n] for n in networks}, key, tables, funder_secret)
            if rpc_endpoints is not None:
                # Every remedy reads a chain (L1 balances, the sequencer's head, op-node): the keyed
                # URLs come from the same secret as the checks', or it would call the keyless ones.
                rpc_endpoints.grant_read(fn.role)
            if remedy == "failover" and routing_key is not None:
                # The failover pages what it did: stopped midway, or refused by a guard unattended.
                fn.function.add_environment("PAGERDUTY_SECRET", routing_key.secret_arn)
                routing_key.grant_read(fn.role)
            dlq = dead_letter_queue(self, f"{remedy}SubscriptionDlq")
            only = filter_policy({"check": [TRIGGER_OF[remedy]], "status": ["firing"], "network": networks})
            topic.add_subscription(subs.LambdaSubscription(fn.function, dead_letter_queue=dlq, filter_policy=only))
            self.functions[remedy] = fn
            self.dead_letter_queues[f"remedy-{remedy}-subscription"] = dlq

    def _grant(self, remedy: str, fn: OpwatchFunction, policies: dict[str, NetworkRemedies], key: kms.IKey,
               tables: StateTables, funder_secret: sm.ISecret | None) -> None:
        role, stack = fn.role, Stack.of(self)
        # The remedy tables only: no alert state (the pager's), and the pager reaches neither of these.
        role.add_to_policy(iam.PolicyStatement(actions=list(permissions.STORE_DYNAMODB.aws_actions),
                                               resources=[tables.remedies.table_arn]))
        role.add_to_policy(iam.PolicyStatement(actions=list(IDEMPOTENCY_ACTIONS),
                                               resources=[tables.remedy_idempotency.table_arn]))
        key.grant(role, "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey")
        for network, policy in policies.items():
            if remedy == "topup" and policy.topup is not None:
                if policy.topup.signer == "aws-kms":
                    self._grant_kms_signer(fn, policy.topup.kms_key_id or "", stack)
                elif str(policy.topup.secret).startswith("aws-secretsmanager:") and funder_secret is not None:
                    funder_secret.grant_read(role)
            if remedy == "snapshot" and policy.snapshot is not None:
                snap = policy.snapshot
                grant_snapshot_listing(role, snap)
                if snap.provider == "s3":
                    bucket = f"arn:{stack.partition}:s3:::{snap.bucket}"
                    objects = [a for a in permissions.SNAPSHOT_S3.aws_actions if a != "s3:ListBucket"]
                    role.add_to_policy(iam.PolicyStatement(actions=objects, resources=[f"{bucket}/{snap.prefix}/*"]))
                    acknowledge(role, (f"AwsSolutions-IAM5[Resource::arn:{as_nag_sees(stack, 'partition')}:s3:::"
                                       f"{snap.bucket}/"
                                       f"{snap.prefix}/*]", "Snapshots are objects under the configured prefix, "
                                                            "named by block and time as they are taken."))
                else:
                    self._grant_ebs_snapshots(role, snap, network)
            if remedy == "failover" and policy.failover is not None and policy.failover.strategy == "restore":
                self._grant_restore(fn, policy, network)
        # Failover (admin/conductor) talks JSON-RPC to op-node/op-conductor: no AWS API.

    def _grant_ebs_snapshots(self, role: iam.IRole, snap: SnapshotPolicy, network: str) -> None:
        """Snapshots of the configured volume only, tagged with the network as they are created
        (EbsSnapshots' TagSpecifications); tags only at creation, so no snapshot can be made to
        look like opwatch's; and only snapshots carrying the network's tag are pruned."""
        stack = Stack.of(self)
        volume = f"arn:{stack.partition}:ec2:{stack.region}:{stack.account}:volume/{snap.volume_id}"
        snapshots = f"arn:{stack.partition}:ec2:{stack.region}::snapshot/*"
        tagged_now = {"StringEquals": {"aws:RequestTag/opwatch:network": network}}
        role.add_to_principal_policy(iam.PolicyStatement(actions=["ec2:CreateSnapshot"], resources=[volume]))
        role.add_to_principal_policy(iam.PolicyStatement(actions=["ec2:CreateSnapshot"], resources=[snapshots],
                                                         conditions=tagged_now))
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["ec2:CreateTags"], resources=[snapshots],
            conditions={"StringEquals": {"ec2:CreateAction": "CreateSnapshot",
                                         "aws:RequestTag/opwatch:network": network}}))
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["ec2:DeleteSnapshot"], resources=[snapshots],
            conditions={"StringEquals": {"aws:ResourceTag/opwatch:network": network}}))
        ec2 = f"arn:{as_nag_sees(stack, 'partition')}:ec2:{as_nag_sees(stack, 'region')}"
        acknowledge(role, (f"AwsSolutions-IAM5[Resource::{ec2}::snapshot/*]",
                           "A snapshot's id exists only once taken: created with the network's tag, tagged only "
                           "at creation, deleted only when it carries the network's tag."))

    def _grant_restore(self, fn: OpwatchFunction, policy: NetworkRemedies, network: str) -> None:
        """A volume from one of the network's EBS snapshots, attached to the one configured
        stopped instance, then started; the sequencer's record in one hosted zone.

        IAM authorises every resource of an EC2 call (AttachVolume and DetachVolume name the
        volume and the instance): the instance is allowed by its ARN, the volume only when it
        carries `opwatch:restored-from`, which EbsVolumeLauncher sets at CreateVolume and no
        statement lets it set later."""
        fo, snap, stack, role = policy.failover, policy.snapshot, Stack.of(self), fn.role
        assert fo is not None and snap is not None and fo.replacement_instance is not None
        arn = f"arn:{stack.partition}:ec2:{stack.region}:{stack.account}"
        instance = f"{arn}:instance/{fo.replacement_instance}"
        volumes = f"{arn}:volume/*"
        snapshots = f"arn:{stack.partition}:ec2:{stack.region}::snapshot/*"
        restored_volume = {"StringLike": {"aws:ResourceTag/opwatch:restored-from": "snap-*"}}
        # Describe* take no resource-level permissions: they only read.
        role.add_to_policy(iam.PolicyStatement(actions=["ec2:DescribeInstances", "ec2:DescribeVolumes",
                                                        "ec2:DescribeSnapshots"], resources=["*"]))
        role.add_to_policy(iam.PolicyStatement(
            actions=["ec2:CreateVolume"], resources=[volumes],
            conditions={"StringLike": {"aws:RequestTag/opwatch:restored-from": "snap-*"}}))
        role.add_to_policy(iam.PolicyStatement(
            actions=["ec2:CreateVolume"], resources=[snapshots],
            conditions={"StringEquals": {"aws:ResourceTag/opwatch:network": network}}))
        role.add_to_policy(iam.PolicyStatement(
            actions=["ec2:CreateTags"], resources=[volumes],
            conditions={"StringEquals": {"ec2:CreateAction": "CreateVolume"},
                        "StringLike": {"aws:RequestTag/opwatch:restored-from": "snap-*"}}))
        role.add_to_policy(iam.PolicyStatement(actions=["ec2:AttachVolume", "ec2:DetachVolume"],
                                               resources=[instance]))
        role.add_to_policy(iam.PolicyStatement(actions=["ec2:AttachVolume", "ec2:DetachVolume", "ec2:DeleteVolume"],
                                               resources=[volumes], conditions=restored_volume))
        role.add_to_policy(iam.PolicyStatement(actions=["ec2:StartInstances"], resources=[instance]))
        nag = f"arn:{as_nag_sees(stack, 'partition')}:ec2:{as_nag_sees(stack, 'region')}"
        acknowledge(role, (f"AwsSolutions-IAM5[Resource::{nag}:{as_nag_sees(stack, 'account')}:volume/*]",
                           "The restored volume does not exist before the restore; it is created, attached, "
                           "detached and deleted only with the tag opwatch:restored-from."),
                    (f"AwsSolutions-IAM5[Resource::{nag}::snapshot/*]",
                     "The newest verified snapshot is chosen at restore time, among those tagged with the network."))
        if fo.dns_zone_id is not None and fo.dns_record is not None:
            zone = f"arn:{stack.partition}:route53:::hostedzone/{fo.dns_zone_id}"
            # One record of one type, upserted: Route 53 normalises names to lower case without the final dot.
            role.add_to_policy(iam.PolicyStatement(
                actions=["route53:ChangeResourceRecordSets"], resources=[zone],
                conditions={"ForAllValues:StringEquals": {
                    "route53:ChangeResourceRecordSetsNormalizedRecordNames": [fo.dns_record.rstrip(".").lower()],
                    "route53:ChangeResourceRecordSetsRecordTypes": [fo.dns_record_type],
                    "route53:ChangeResourceRecordSetsActions": ["UPSERT"]}}))
            role.add_to_policy(iam.PolicyStatement(actions=["route53:ListResourceRecordSets"], resources=[zone]))
            role.add_to_policy(iam.PolicyStatement(actions=["route53:GetChange"],
                                                   resources=[f"arn:{stack.partition}:route53:::change/*"]))
            acknowledge(role, (f"AwsSolutions-IAM5[Resource::arn:{as_nag_sees(stack, 'partition')}:route53:::change/*]",
                               "A change id exists only once the record change is submitted."))

    def _grant_kms_signer(self, fn: OpwatchFunction, key_id: str, stack: Stack) -> None:
        actions = list(permissions.SIGNER_AWS_KMS.aws_actions)
        if key_id.startswith("arn:"):
            fn.role.add_to_policy(iam.PolicyStatement(actions=actions, resources=[key_id]))
        elif key_id.startswith("alias/"):
            # A key named by alias: allowed only for the key that alias points to.
            fn.role.add_to_policy(iam.PolicyStatement(
                actions=actions, resources=[f"arn:{stack.partition}:kms:{stack.region}:{stack.account}:key/*"],
                conditions={"ForAnyValue:StringEquals": {"kms:ResourceAliases": key_id}}))
            nag = [as_nag_sees(stack, a) for a in ("partition", "region", "account")]
            acknowledge(fn.role, (f"AwsSolutions-IAM5[Resource::arn:{nag[0]}:kms:{nag[1]}:{nag[2]}:key/*]",
                                  f"Only the key behind {key_id} (kms:ResourceAliases)."))
        else:
            fn.role.add_to_policy(iam.PolicyStatement(
                actions=actions, resources=[f"arn:{stack.partition}:kms:{stack.region}:{stack.account}:key/{key_id}"]))


def grant_snapshot_listing(role: iam.IRole, snap: SnapshotPolicy) -> None:
    """What listing a network's snapshots takes (the remedy, and the snapshot_freshness check):
    the S3 keys under the prefix, or EBS snapshots (ec2:DescribeSnapshots has no resource-level
    permissions; it only lists: acknowledged here, since a check function's role has no X-Ray
    statement whose acknowledgement would cover it)."""
    if snap.provider == "s3":
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["s3:ListBucket"], resources=[f"arn:{Stack.of(role).partition}:s3:::{snap.bucket}"],
            conditions={"StringLike": {"s3:prefix": f"{snap.prefix}/*"}}))
    else:
        role.add_to_principal_policy(iam.PolicyStatement(actions=["ec2:DescribeSnapshots"], resources=["*"]))
        acknowledge(role, ("AwsSolutions-IAM5[Resource::*]",
                           "ec2:DescribeSnapshots has no resource-level permissions: '*' is the only value it takes, "
                           "and it only lists."))
