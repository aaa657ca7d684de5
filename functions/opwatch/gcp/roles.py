"""What each GCP function calls, declared beside the code that calls it.

The gcloud plan (`opwatch.deploy.gcp_plan`) grants exactly these, each on the one resource
it names, to the function's own service account. Keep this in step with `main.py`: a new
client call there is a new line here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Grant:
    role: str
    # "findings_topic" | "config_secret" | "pagerduty_secret" | "firestore" | "remedy_firestore" | "memory_firestore"
    # | "heartbeat_bucket" | "self"
    # | "funder_secret" | "snapshot_bucket" | "project" (with a condition on the resources the network's
    # policy names) | "dns_zone" (the policy's Cloud DNS managed zone)
    on: str
    why: str


# A check function: reads its config (maybe from Secret Manager), publishes findings,
# remembers its last observation (opwatch.memory) in the checks' own Firestore database (never
# the alert or remedy state: Firestore IAM conditions reach databases, not collections),
# and is invoked by its own Eventarc trigger (the trigger runs as the function's account).
CHECK = (
    Grant("roles/pubsub.publisher", "findings_topic", "publish findings (publisher.publish)"),
    Grant("roles/datastore.user", "memory_firestore", "check memory: preconditioned commits of check_memory"),
    Grant("roles/secretmanager.secretAccessor", "config_secret", "read the TOML when it is kept as a secret"),
    Grant("roles/run.invoker", "self", "the Eventarc Pub/Sub trigger invokes the function as this account"),
)
# The beat writer (one check function) also overwrites its heartbeat objects.
BEAT_WRITER = (
    Grant("roles/storage.objectUser", "heartbeat_bucket", "overwrite heartbeat/<cloud>/<network>.json"),
)
# The heartbeat check reads the AWS side's beats with an access key kept in Secret Manager
# (`[heartbeat.aws] read_key`); the key itself may read only heartbeat/aws/* in S3.
BEAT_READER = (
    Grant("roles/secretmanager.secretAccessor", "beat_key_secret", "the key pair that reads the AWS side's beats"),
)
# The pager: its config ([alerting]), alert state in Firestore (transactions), the PagerDuty routing key.
PAGER = (
    Grant("roles/secretmanager.secretAccessor", "config_secret", "read the TOML ([alerting]) when it is a secret"),
    Grant("roles/datastore.user", "firestore", "alert state: preconditioned commits, queries"),
    Grant("roles/secretmanager.secretAccessor", "pagerduty_secret", "the PagerDuty routing key"),
)
# The pager's declared sinks ([alerting.sinks.<name>] secret): a webhook URL or another
# service's routing key, one grant per named secret.
SINK_SECRET = Grant("roles/secretmanager.secretAccessor", "sink_secret", "a declared sink's webhook URL or key")
# The identity Pub/Sub pushes findings with (OIDC): it may only invoke the pager.
PUSH = (
    Grant("roles/run.invoker", "pager", "push subscription delivers findings to the pager"),
)
# A remedy function: claims, budgets, leases and the audit in the remedies' own Firestore database
# (never the pager's: a pager that could write it could reset the daily cap or steal a lease).
REMEDY = (
    Grant("roles/datastore.user", "remedy_firestore",
          "remedy store: conditional commits (claims, caps, leases), audit"),
    Grant("roles/secretmanager.secretAccessor", "config_secret", "read the TOML when it is kept as a secret"),
)
# The failover pages what it did (stopped midway, refused by a guard unattended).
FAILOVER_PAGES = (
    Grant("roles/secretmanager.secretAccessor", "pagerduty_secret", "the PagerDuty routing key, for its own pages"),
)
# What each remedy's policy adds, on the one resource the policy names.
TOPUP_LOCAL_SIGNER = (
    Grant("roles/secretmanager.secretAccessor", "funder_secret", "the funder key, read at call time"),
)
SNAPSHOT_GCS = (
    Grant("roles/storage.objectAdmin", "snapshot_bucket", "write, verify, list and prune state archives"),
)
# Compute Engine has no bucket-like scope for snapshots: the calls are granted on the project,
# through custom roles holding exactly the permissions the code uses (`CUSTOM_ROLES`), not
# roles/compute.storageAdmin (every disk, image and snapshot of the project).
SNAPSHOT_GCE_DISK = (
    Grant("custom:opwatchDiskSnapshots", "project", "create, label and delete disk snapshots (condition: the "
          "configured disk, opwatch-* snapshots, their operations)"),
    Grant("custom:opwatchSnapshotList", "project", "list snapshots by label (a list is checked on the project)"),
)
# A restore failover: a disk from the newest verified snapshot on the one TERMINATED VM, started;
# then the sequencer's record in Cloud DNS (remedies/gcp_restore.py lists the permissions).
RESTORE_GCE = (
    Grant("custom:opwatchDiskSnapshotReader", "project", "read opwatch-* disk snapshots (condition)"),
    Grant("custom:opwatchSnapshotList", "project", "find the newest verified disk snapshot by label"),
    Grant("custom:opwatchRestore", "project", "a disk from the snapshot, attached to the replacement VM, started "
          "(condition: that VM, opwatch-* disks and snapshots, its zone's operations)"),
)
RESTORE_DNS = (
    Grant("custom:opwatchDnsSwitch", "dns_zone", "repoint the sequencer's record in its one managed zone"),
)
# Pub/Sub's push identity also delivers firing findings to the remedy functions.
PUSH_REMEDY = (
    Grant("roles/run.invoker", "self", "push subscription delivers firing findings to the remedy"),
)
# The snapshot_freshness check only lists what the snapshot remedy wrote.
SNAPSHOT_READER_GCS = (
    Grant("roles/storage.objectViewer", "snapshot_bucket", "list the archives and their verification markers"),
)
SNAPSHOT_READER_GCE_DISK = (
    Grant("custom:opwatchDiskSnapshotReader", "project", "read opwatch-* disk snapshots (condition)"),
    Grant("custom:opwatchSnapshotList", "project", "list the labelled disk snapshots"),
)
# Listing is authorised on the project (no snapshot name to condition on), so it is a role of its own
# with nothing else in it; every other Compute Engine permission is bound with a resource condition.
LIST_PERMISSIONS = ("compute.snapshots.list",)


def custom_roles() -> dict[str, tuple[str, ...]]:
    """Custom role id -> its permissions (from the code that calls them)."""
    from .gce_disk import IAM_PERMISSIONS
    from .restore import CLOUD_DNS_PERMISSIONS, GCE_LAUNCHER_PERMISSIONS

    def unlisted(perms: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(p for p in perms if p not in LIST_PERMISSIONS)

    return {"opwatchDiskSnapshots": unlisted(IAM_PERMISSIONS),
            "opwatchDiskSnapshotReader": ("compute.snapshots.get",),
            "opwatchSnapshotList": LIST_PERMISSIONS,
            "opwatchRestore": unlisted(GCE_LAUNCHER_PERMISSIONS),
            "opwatchDnsSwitch": CLOUD_DNS_PERMISSIONS}
