"""The AWS half of the cross-cloud dead-man switch (`checks/heartbeat.py`, docs/runbooks/heartbeat.md).

Written: the `WRITER` check function of each network (sequencer_liveness) overwrites
`s3://<[heartbeat.aws] bucket>/heartbeat/aws/<network>.json` after it published its findings:
its role may `s3:PutObject` that one object, nothing else in the bucket.

Read by GCP: an IAM user in a group whose only policy is `s3:GetObject` on `heartbeat/aws/*`
(plus `s3:ListBucket` limited to that prefix: without it S3 answers a missing beat with 403,
and "the peer never wrote" would read as "cannot tell" instead of firing). The stack makes
the user, never its access key: the operator creates the key by hand and puts it in GCP's
Secret Manager under `[heartbeat.aws] read_key` (docs/aws.md), so no secret is in a template.

Read here: the AWS `heartbeat` check function (`[heartbeat.gcp]` names a peer) may read only
the secret `[heartbeat.gcp] read_key` names, the HMAC key GCP's plan made for its beat reader.

One bucket for all environments (beats are per network, networks per environment): the stack
of the first environment in `[heartbeat.aws] region` creates it with the reader; the others
import it by name and only grant their writers.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct
from opwatch.checks.heartbeat import ID as HEARTBEAT
from opwatch.checks.heartbeat import WRITER, Beat, HeartbeatSettings, Peer
from opwatch.config import Config
from opwatch.deploy.aws import AwsSettings, Environment

from .checks import CheckFunction
from .nag import acknowledge
from .secrets import _COMPLETE_ARN

SECRET_STORE = "aws-secretsmanager:"


def owns_bucket(settings: AwsSettings, environment: Environment, own: Peer) -> bool:
    """The first environment in the bucket's region creates it (a lone environment-agnostic one too)."""
    envs = list(settings.environments.values())
    in_region = [e.name for e in envs if e.region == own.region]
    if in_region:
        return in_region[0] == environment.name
    return len(envs) == 1 and envs[0].region is None


class Heartbeat(Construct):
    def __init__(self, scope: Construct, id: str, *, config: Config, settings: AwsSettings,
                 environment: Environment, functions: list[CheckFunction]) -> None:
        super().__init__(scope, id)
        beats: HeartbeatSettings = config.section(HEARTBEAT)
        self.bucket: s3.IBucket | None = None
        self.reader: iam.User | None = None
        own = beats.own("aws")
        if own is not None:
            self._write(own, settings, environment, functions)
        for peer in beats.peers_of("aws"):
            for f in (f for f in functions if f.check == HEARTBEAT):
                self._read_key(peer, f)

    def _write(self, own: Peer, settings: AwsSettings, environment: Environment,
               functions: list[CheckFunction]) -> None:
        if owns_bucket(settings, environment, own):
            bucket = s3.Bucket(
                self, "Bucket", bucket_name=own.bucket, encryption=s3.BucketEncryption.S3_MANAGED,
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL, enforce_ssl=True, versioned=True,
                object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED, removal_policy=RemovalPolicy.RETAIN,
                # A beat is overwritten every minute: older versions are worth a day of forensics at most.
                lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=Duration.days(1),
                                                  abort_incomplete_multipart_upload_after=Duration.days(1))])
            reason = ("Beats are one small overwritten object per network, proof of life and no data; "
                      "writes come from this stack's roles only, reads from one IAM user (CloudTrail data "
                      "events audit both if wanted).")
            acknowledge(bucket, ("AwsSolutions-S1", reason))
            bucket.node.default_child.add_metadata(  # type: ignore[union-attr]
                "checkov", {"skip": [{"id": "CKV_AWS_18", "comment": reason}]})
            self.bucket = bucket
            self.reader = self._reader(bucket)
        else:
            self.bucket = s3.Bucket.from_bucket_name(self, "Bucket", own.bucket)
        for f in (f for f in functions if f.check == WRITER):
            # Its own networks' beats only: a writer can never forge another network's proof of life.
            f.function.role.add_to_policy(iam.PolicyStatement(
                actions=["s3:PutObject"],
                resources=[self.bucket.arn_for_objects(Beat.object_name("aws", n)) for n in f.networks]))

    def _reader(self, bucket: s3.IBucket) -> iam.User:
        """The principal GCP's heartbeat function reads AWS's beats as (its key is made by hand)."""
        prefix = "heartbeat/aws/"
        group = iam.Group(self, "BeatReaders")
        group.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"],
                                                resources=[bucket.arn_for_objects(prefix + "*")]))
        group.add_to_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn],
                                                conditions={"StringLike": {"s3:prefix": prefix + "*"}}))
        user = iam.User(self, "BeatReader", groups=[group])
        logical = Stack.of(self).get_logical_id(bucket.node.default_child)  # type: ignore[arg-type]
        acknowledge(group, (f"AwsSolutions-IAM5[Resource::<{logical}.Arn>/{prefix}*]",
                            "Every network's beat, read-only: the GCP watchdog reads one per network it watches."))
        user.node.default_child.add_metadata(  # type: ignore[union-attr]
            "checkov", {"skip": [{"id": "CKV_AWS_273", "comment": "The reader is another cloud's function: it "
                                  "cannot use SSO; its one key may only read heartbeat/aws/*."}]})
        return user

    def _read_key(self, peer: Peer, f: CheckFunction) -> None:
        """The heartbeat function may read the key pair to `peer`'s beats, and no other secret."""
        if not peer.read_key.startswith(SECRET_STORE):
            return  # no key (a public or stand-in store) or one kept elsewhere (env: locally)
        ref = peer.read_key[len(SECRET_STORE):]
        f.function.role.add_to_policy(iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"],
                                                          resources=[_secret_arn(self, ref)]))


def _secret_arn(scope: Construct, ref: str) -> str:
    """The secret `ref` names (an ARN, or a name: Secrets Manager appends six random characters)."""
    if ref.startswith("arn:") and _COMPLETE_ARN.search(ref):
        return ref
    stack = Stack.of(scope)
    base = ref if ref.startswith("arn:") else \
        f"arn:{stack.partition}:secretsmanager:{stack.region}:{stack.account}:secret:{ref}"
    return base + "-??????"
