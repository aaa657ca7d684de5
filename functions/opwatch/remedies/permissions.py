"""What each remedy and provider calls in the cloud, as data beside the code that calls it.

infra/ (CDK) and gcp/ derive least-privilege policies from these: a remedy's function gets
exactly the actions of the remedy and of the providers its policy selects, nothing more.
Resources are narrowed by the deployment (the funder key's ARN, the bucket, the table).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .waits import CLOUD_DNS_CHANGE_S, EBS_LAUNCH_S, GCE_LAUNCH_S, GCE_WAIT_CALL_S, ROUTE53_CHANGE_S, snapshot_wait_s


@dataclass(frozen=True, slots=True)
class Permissions:
    aws_actions: tuple[str, ...] = ()
    gcp_roles: tuple[str, ...] = ()


# The state store every remedy uses (claims, budgets, leases, audit).
STORE_DYNAMODB = Permissions(
    aws_actions=("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query"),
    gcp_roles=("roles/datastore.user",),
)
SIGNER_LOCAL_SECRETSMANAGER = Permissions(aws_actions=("secretsmanager:GetSecretValue",))
SIGNER_LOCAL_GCP_SECRETMANAGER = Permissions(gcp_roles=("roles/secretmanager.secretAccessor",))
SIGNER_AWS_KMS = Permissions(aws_actions=("kms:GetPublicKey", "kms:Sign"))
SNAPSHOT_S3 = Permissions(
    aws_actions=("s3:PutObject", "s3:PutObjectTagging", "s3:GetObject", "s3:ListBucket", "s3:DeleteObject"),
)
SNAPSHOT_GCS = Permissions(gcp_roles=("roles/storage.objectAdmin",))
SNAPSHOT_EBS = Permissions(
    aws_actions=("ec2:CreateSnapshot", "ec2:CreateTags", "ec2:DescribeSnapshots", "ec2:DeleteSnapshot"),
)
SNAPSHOT_GCE_DISK = Permissions(gcp_roles=("custom:opwatchDiskSnapshots",))
# Failover talks JSON-RPC to op-node / op-conductor over the VPC: no cloud API, except a
# restore: a volume from an EBS snapshot booted by a stopped instance, and a Route 53 record.
FAILOVER_RESTORE_EBS = Permissions(aws_actions=(
    "ec2:DescribeInstances", "ec2:DescribeVolumes", "ec2:CreateVolume", "ec2:CreateTags", "ec2:AttachVolume",
    "ec2:DetachVolume", "ec2:DeleteVolume", "ec2:StartInstances"))
FAILOVER_RESTORE_ROUTE53 = Permissions(aws_actions=("route53:ChangeResourceRecordSets", "route53:GetChange",
                                                    "route53:ListResourceRecordSets"))
# GCP: custom roles holding exactly the permissions gcp/restore.py calls (gcp/roles.py renders them).
FAILOVER_RESTORE_GCE = Permissions(gcp_roles=("custom:opwatchDiskSnapshotReader", "custom:opwatchRestore"))
FAILOVER_RESTORE_CLOUD_DNS = Permissions(gcp_roles=("custom:opwatchDnsSwitch",))

BY_COMPONENT: dict[str, Permissions] = {
    "store.dynamodb": STORE_DYNAMODB,
    "signer.local.aws-secretsmanager": SIGNER_LOCAL_SECRETSMANAGER,
    "signer.local.gcp-secretmanager": SIGNER_LOCAL_GCP_SECRETMANAGER,
    "signer.aws-kms": SIGNER_AWS_KMS,
    "snapshot.s3": SNAPSHOT_S3,
    "snapshot.gcs": SNAPSHOT_GCS,
    "snapshot.ebs": SNAPSHOT_EBS,
    "snapshot.gce-disk": SNAPSHOT_GCE_DISK,
    "failover.restore.ebs": FAILOVER_RESTORE_EBS,
    "failover.restore.route53": FAILOVER_RESTORE_ROUTE53,
    "failover.restore.gce": FAILOVER_RESTORE_GCE,
    "failover.restore.cloud-dns": FAILOVER_RESTORE_CLOUD_DNS,
}
SNAPSHOT_BY_PROVIDER = {"s3": SNAPSHOT_S3, "gcs": SNAPSHOT_GCS, "ebs": SNAPSHOT_EBS, "gce-disk": SNAPSHOT_GCE_DISK}


def for_policy(policy: object) -> Permissions:
    """The union of what a `RemediationPolicy` needs across its networks."""
    parts: list[Permissions] = []
    if str(getattr(policy, "store", "")).startswith("dynamodb:"):
        parts.append(STORE_DYNAMODB)
    for net in getattr(policy, "networks", {}).values():
        if net.topup is not None:
            if net.topup.signer == "aws-kms":
                parts.append(SIGNER_AWS_KMS)
            elif str(net.topup.secret).startswith("aws-secretsmanager:"):
                parts.append(SIGNER_LOCAL_SECRETSMANAGER)
            elif str(net.topup.secret).startswith("gcp-secretmanager:"):
                parts.append(SIGNER_LOCAL_GCP_SECRETMANAGER)
        if net.snapshot is not None:
            parts.append(SNAPSHOT_BY_PROVIDER[net.snapshot.provider])
        if net.failover is not None and net.failover.strategy == "restore":
            on_gcp = net.runs_on == "gcp"
            if net.failover.replacement_instance is not None:
                parts.append(FAILOVER_RESTORE_GCE if on_gcp else FAILOVER_RESTORE_EBS)
            if net.failover.dns_zone_id is not None:
                parts.append(FAILOVER_RESTORE_CLOUD_DNS if on_gcp else FAILOVER_RESTORE_ROUTE53)
    return Permissions(tuple(sorted({a for p in parts for a in p.aws_actions})),
                       tuple(sorted({r for p in parts for r in p.gcp_roles})))


def longest_wait_s(remedy: str, net: Any) -> float:
    """The longest one run of `remedy` waits on chains and clouds for a network's `NetworkRemedies`
    (beyond single calls, which carry their own timeouts): a deployed function that runs it needs
    a timeout above this, plus the work around it. gcp/ (and infra/) derive function timeouts here."""
    if remedy == "topup" and net.topup is not None:
        return float(net.topup.receipt_timeout_s)  # the receipt wait: the transaction is already sent
    if remedy == "snapshot" and net.snapshot is not None:
        # The provider's own figure: EBS's wait for `pending`, the persistent-disk operation deadline
        # overrun by at most one operations.wait and one poll; archives do not poll (0).
        return snapshot_wait_s(net.snapshot.provider)
    fo = net.failover
    if remedy != "failover" or fo is None:
        return 0.0
    wait = float(fo.stall_after_s)  # observers read the head twice, stall_after apart
    if fo.strategy == "restore" and fo.replacement_instance is not None \
            and fo.replacement_instance.startswith("zones/"):
        # The launch budget and, when it fails, the clean-up's own budget; each may overrun by one
        # operations.wait (checked between waits). Then the new node's first blocks, then Cloud DNS.
        launch, dns = GCE_LAUNCH_S, CLOUD_DNS_CHANGE_S
        wait += 2 * (launch + GCE_WAIT_CALL_S) + fo.replacement_wait_s + (dns if fo.dns_zone_id else 0.0)
    elif fo.strategy == "restore" and fo.replacement_instance is not None:
        # One budget for the volume, its attachment and the start. Then either the clean-up of a
        # failed launch (its own budget; the restore aborts there) or the new node's first blocks and
        # the Route 53 change: the longer of the two paths, not both, which Lambda's 900 s could not hold.
        launch, dns = EBS_LAUNCH_S, ROUTE53_CHANGE_S
        wait += launch + max(launch, fo.replacement_wait_s + (dns if fo.dns_zone_id else 0.0))
    return wait
