"""What the AWS adapter registers under the names the config uses (see `opwatch.registry`):
the `dynamodb:` stores, `s3` and `ebs` snapshots, the EBS launcher and the Route 53 switch for
a restore, `aws-secretsmanager:` secrets and the `aws-kms` signer. Clients come from the seams
when a test injects them, else they are built on first use.
"""

from __future__ import annotations

from typing import Any

from ..registry import Registry


def register(registry: Registry) -> Registry:
    registry.register("remedy_store", "dynamodb", _remedy_store)
    registry.register("alert_store", "dynamodb", _alert_store)
    registry.register("snapshot", "s3", _s3)
    registry.register("snapshot", "ebs", _ebs)
    registry.register("launcher", "ebs", _ebs_launcher)
    registry.register("endpoint_switch", "aws", _route53)
    registry.register("secret", "aws-secretsmanager", _secrets)
    registry.register("signer", "aws-kms", _kms)
    # Either cloud's heartbeats, through the S3 protocol (GCS's XML API speaks it too): aws/beats.py.
    registry.register("beat_source", "aws", _beats)
    registry.register("beat_source", "gcp", _beats)
    return registry


def _seam(seams: Any, name: str) -> Any:
    return getattr(seams, name, None)


def _remedy_store(table: str, seams: Any) -> Any:
    from .remedy_store import DynamoDBRemedyStore

    return DynamoDBRemedyStore(table, client=_seam(seams, "dynamodb_client"))


def _alert_store(table: str, seams: Any) -> Any:
    from .alert_store import DynamoDBStore

    return DynamoDBStore(table, client=_seam(seams, "dynamodb_client"))


def _s3(policy: Any, seams: Any) -> Any:
    from ..remedies.snapshot import ObjectStorageSnapshots
    from .snapshots import S3ObjectStore

    return ObjectStorageSnapshots(S3ObjectStore(policy.bucket, _seam(seams, "s3_client"), policy.endpoint_url),
                                  policy.prefix)


def _ebs(policy: Any, seams: Any) -> Any:
    import time

    from .snapshots import EbsSnapshots

    return EbsSnapshots(policy.volume_id, _seam(seams, "ec2_client"), sleep=_seam(seams, "sleep") or time.sleep)


def _ebs_launcher(policy: Any, seams: Any) -> Any:
    import time

    from ..remedies.policy import replacement_device
    from .restore import EbsVolumeLauncher

    fo, snap = policy.failover, policy.snapshot
    return EbsVolumeLauncher(fo.replacement_instance, replacement_device(fo, snap), fo.replacement_rpc.url,
                             client=_seam(seams, "ec2_client"), sleep=_seam(seams, "sleep") or time.sleep)


def _route53(policy: Any, seams: Any) -> Any:
    import time

    from .restore import Route53Endpoint

    fo = policy.failover
    return Route53Endpoint(fo.dns_zone_id, fo.dns_record, fo.dns_record_type, client=_seam(seams, "route53_client"),
                           sleep=_seam(seams, "sleep") or time.sleep)


def _secrets(_name: str, seams: Any) -> Any:
    from .secrets import SecretsManagerKeys

    return SecretsManagerKeys(_seam(seams, "secretsmanager_client"))


def _kms(policy: Any, seams: Any) -> Any:
    from .signer import KmsSigner

    return KmsSigner(policy.kms_key_id, _seam(seams, "kms_client"), expected_address=policy.funder)


def _beats(spec: Any, seams: Any) -> Any:
    from .beats import source

    return source(spec, seams)
