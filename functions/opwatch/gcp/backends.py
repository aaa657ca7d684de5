"""What the GCP adapter registers under the names the config uses (see `opwatch.registry`):
the `firestore:` stores, `gcs` and `gce-disk` snapshots, the persistent-disk launcher and the
Cloud DNS switch for a restore, and `gcp-secretmanager:` secrets. Sessions and clients come from
the seams when a test injects them, else they are built on first use.
"""

from __future__ import annotations

from typing import Any

from ..registry import Registry


def register(registry: Registry) -> Registry:
    registry.register("remedy_store", "firestore", _remedy_store)
    registry.register("alert_store", "firestore", _alert_store)
    registry.register("snapshot", "gcs", _gcs)
    registry.register("snapshot", "gce-disk", _gce_disk)
    registry.register("launcher", "gce", _gce_launcher)
    registry.register("endpoint_switch", "gcp", _cloud_dns)
    registry.register("secret", "gcp-secretmanager", _secrets)
    # The AWS watchdog's beats in S3, read with a key pair from Secret Manager (aws/beats.py).
    registry.register("beat_source", "aws", _aws_beats)
    return registry


def _seam(seams: Any, name: str) -> Any:
    return getattr(seams, name, None)


def _sleep(seams: Any) -> Any:
    import time

    return _seam(seams, "sleep") or time.sleep


def _remedy_store(where: str, _seams: Any) -> Any:
    """`PROJECT/DATABASE` (the project may be empty: the credentials' own)."""
    from .remedy_store import FirestoreRemedyStore

    project, _, database = where.partition("/")
    return FirestoreRemedyStore(project, database or "(default)")


def _alert_store(where: str, _seams: Any) -> Any:
    """`PROJECT/DATABASE`, or `DATABASE` alone (the project: the credentials' own)."""
    from .alert_store import FirestoreStore

    project, _, database = where.rpartition("/")
    return FirestoreStore(database=database or "(default)", project=project or None)


def _gcs(policy: Any, seams: Any) -> Any:
    from ..remedies.snapshot import ObjectStorageSnapshots
    from .gcs import GcsObjectStore

    return ObjectStorageSnapshots(GcsObjectStore(policy.bucket, _seam(seams, "gcs_client"), policy.project),
                                  policy.prefix)


def _gce_disk(policy: Any, seams: Any) -> Any:
    from .gce_disk import DEFAULT_BASE_URL, PersistentDiskSnapshots

    return PersistentDiskSnapshots(policy.project, policy.zone, policy.disk, _seam(seams, "gce_session"),
                                   base_url=_seam(seams, "compute_base_url") or DEFAULT_BASE_URL, sleep=_sleep(seams))


def _gce_launcher(policy: Any, seams: Any) -> Any:
    from ..remedies.policy import replacement_device
    from .gce_disk import DEFAULT_BASE_URL
    from .restore import GceDiskLauncher

    fo, snap = policy.failover, policy.snapshot
    _, zone, _, name = fo.replacement_instance.split("/")
    return GceDiskLauncher(snap.project or "", zone, name, replacement_device(fo, snap), fo.replacement_rpc.url,
                           session=_seam(seams, "gce_session"),
                           base_url=_seam(seams, "compute_base_url") or DEFAULT_BASE_URL, sleep=_sleep(seams))


def _cloud_dns(policy: Any, seams: Any) -> Any:
    from .restore import DNS_BASE_URL, CloudDnsEndpoint

    fo = policy.failover
    project = policy.snapshot.project if policy.snapshot is not None else None
    return CloudDnsEndpoint(project or "", fo.dns_zone_id, fo.dns_record, fo.dns_record_type,
                            session=_seam(seams, "dns_session"), base_url=_seam(seams, "dns_base_url") or DNS_BASE_URL,
                            sleep=_sleep(seams))


def _secrets(_name: str, seams: Any) -> Any:
    from .secret_source import SecretManagerKeys

    return SecretManagerKeys(_seam(seams, "gcp_secret_client"))


def _aws_beats(spec: Any, seams: Any) -> Any:
    from ..aws.beats import source

    return source(spec, seams)
