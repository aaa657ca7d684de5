"""Compute Engine persistent-disk snapshots of the sequencer's data disk: the GCP counterpart of
`EbsSnapshots`.

`PersistentDiskSnapshots` speaks the documented Compute Engine v1 REST API over an injected
`requests`-like session (google-auth's `AuthorizedSession`, built lazily on first use with the
`https://www.googleapis.com/auth/compute` scope; a plain session pointed at the stand-in in tests).
No google-cloud-compute dependency, and importing this module imports no google library (cold start).

Calls (paths under `base_url`, default `https://compute.googleapis.com/compute/v1`):

- create: `POST projects/P/zones/Z/disks/D/createSnapshot` with `{"name", "labels", "description"}`
  → a zone Operation, awaited with `POST projects/P/zones/Z/operations/OP/wait` (the API holds each
  wait up to ~2 minutes, best effort: repeated until DONE or `operation_timeout_s`). An operation
  that ends with `error` raises `SnapshotInvalid` with its messages. Then
  `GET projects/P/global/snapshots/NAME` until `status` is READY (a snapshot can still be CREATING
  or UPLOADING when its operation is DONE). Still RUNNING, CREATING or UPLOADING at the deadline is
  not a failure: the record comes back `in_progress` (GCE keeps taking it; `list` shows it
  verified once READY). FAILED raises `SnapshotInvalid`.
  Verified = READY, `sourceDisk` is this disk (`.../projects/P/zones/Z/disks/D`), and its labels
  name the network, block and time it was taken for. The block height and hash are the node's
  head over standard JSON-RPC (`source.head()`); the hash (66 characters, longer than a label
  value may be) rides in the description.
  The longest a create waits is `LONGEST_WAIT_S`: the deadline, plus one `operations.wait`
  started just before it and held by the API, plus one poll.
- list: `GET projects/P/global/snapshots?filter=labels.opwatch-network="N"`, following
  `nextPageToken` (sent back as `pageToken`); only snapshots of this disk count. Newest first.
- delete: `DELETE projects/P/global/snapshots/NAME` → a global Operation, not awaited (a prune of
  many snapshots must not outlast the function): an error already in its answer is raised; a
  snapshot being deleted (DELETING) is not listed; one whose delete failed later is READY again
  and pruned on the next run. A 404 (already gone) is success.

Labels (`opwatch-network`, `opwatch-block`, `opwatch-taken-at`) follow GCP's rules: keys and values
of lowercase letters, digits, `_` and `-`, at most 63 characters. The network name is the label value
as is; a network that cannot be one raises ValueError before any call. It is not lowercased or
rewritten: two networks must never share a label. Snapshot names match
`[a-z]([-a-z0-9]{0,61}[a-z0-9])?`: `opwatch-<network>-<block>-<unix time>`, with `_` turned into `-`
and, when that rewrote or shortened the network, a short digest of it appended (see `snapshot_name`).

Errors: every transport error, missing credentials, non-2xx answer or malformed JSON becomes
`SnapshotStoreUnavailable("gce-disk", reason)` in `_call`, the one boundary (a `ChainError`, so
`snapshot_freshness` reports `unknown`); a 403 says it is a permission problem and which permission
the call needs.

IAM permissions (`IAM_PERMISSIONS`): `compute.disks.createSnapshot` on the disk,
`compute.snapshots.create` and `compute.snapshots.setLabels` (labels set at creation) on the project,
`compute.snapshots.get`, `compute.snapshots.list`, `compute.snapshots.delete` and
`compute.zoneOperations.get` (zoneOperations.wait). All are in `roles/compute.storageAdmin`; a
custom role with just these is least privilege.

The snapshot is crash-consistent (like EBS): the disk as the running node left it. Restoring from it
means a new disk from the snapshot (`disks.insert` with `sourceSnapshot`) under a new node: an
operator step today (docs/remediation.md), not done here.
"""

from __future__ import annotations

import builtins
import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..remedies.snapshot import SnapshotInvalid, SnapshotProvider, SnapshotRecord, SnapshotStoreUnavailable, StateSource
from ..remedies.waits import GCE_OPERATION_S, GCE_POLL_S, GCE_SNAPSHOT_LONGEST_S, GCE_WAIT_CALL_S
from .rest import GoogleApiError, GoogleRest
from .rest import quote as _quote

STORE = "gce-disk"
DEFAULT_BASE_URL = "https://compute.googleapis.com/compute/v1"
SCOPE = "https://www.googleapis.com/auth/compute"

LABEL_NETWORK = "opwatch-network"
LABEL_BLOCK = "opwatch-block"
LABEL_TAKEN_AT = "opwatch-taken-at"
NAME_PREFIX = "opwatch-"

# GCP's documented rules for resource names and label keys/values.
NAME_RE = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?\Z")
LABEL_KEY_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}\Z")
LABEL_VALUE_RE = re.compile(r"^[a-z0-9_-]{0,63}\Z")

# The permission each call needs, named in a 403's reason.
_PERMISSION_FOR = {
    "disks.createSnapshot": "compute.disks.createSnapshot, compute.snapshots.create, compute.snapshots.setLabels",
    "zoneOperations.wait": "compute.zoneOperations.get",
    "snapshots.get": "compute.snapshots.get",
    "snapshots.list": "compute.snapshots.list",
    "snapshots.delete": "compute.snapshots.delete",
}
IAM_PERMISSIONS: tuple[str, ...] = (
    "compute.disks.createSnapshot", "compute.snapshots.create", "compute.snapshots.setLabels",
    "compute.snapshots.get", "compute.snapshots.list", "compute.snapshots.delete",
    "compute.zoneOperations.get",
)

# operations.wait holds the request up to ~2 minutes before answering with the current state.
WAIT_TIMEOUT_S = GCE_WAIT_CALL_S
POLL_INTERVAL_S = GCE_POLL_S
# How long a create waits for GCE before it reports the snapshot in progress, and the most that
# can take in all (see the module docstring): a function running it needs a longer timeout.
OPERATION_TIMEOUT_S = GCE_OPERATION_S
LONGEST_WAIT_S = GCE_SNAPSHOT_LONGEST_S
_IN_PROGRESS = ("CREATING", "UPLOADING")
_HASH_IN_DESCRIPTION = re.compile(r"\bhash (0x[0-9a-f]{64})\b")
_GIB = 1 << 30
_DIGEST_CHARS = 6


def check_network(network: str) -> None:
    """Raise ValueError unless `network` can be a GCP label value as is."""
    if not network or not LABEL_VALUE_RE.fullmatch(network):
        raise ValueError(f"network {network!r} cannot be a GCP label value: 1 to 63 lowercase letters, "
                         "digits, '_' or '-'")


def snapshot_name(network: str, block: int, now: float) -> str:
    """`opwatch-<network>-<block>-<unix time>`, a valid GCP resource name.

    Names allow no `_` and at most 63 characters, so the network part may be rewritten; when it is,
    a digest of the real name keeps `a_b` and `a-b` (or two long names sharing a prefix) apart: one
    scheduled run snapshots every network in the same second, and block heights can coincide.
    """
    check_network(network)
    if block < 0:
        raise ValueError(f"block {block} is negative")
    suffix = f"-{block}-{int(now)}"
    room = 63 - len(NAME_PREFIX) - len(suffix)
    part = network.replace("_", "-")
    if part != network or len(part) > room:
        if room < _DIGEST_CHARS + 2:
            raise ValueError(f"block {block} and time {int(now)} leave no room for a snapshot name")
        digest = hashlib.sha256(network.encode()).hexdigest()[:_DIGEST_CHARS]
        part = f"{part[: room - _DIGEST_CHARS - 1]}-{digest}"
    name = f"{NAME_PREFIX}{part}{suffix}"
    if not NAME_RE.fullmatch(name):  # cannot happen with a checked network; a guard, not a branch to test
        raise ValueError(f"{name!r} is not a valid GCP resource name")
    return name


def snapshot_labels(network: str, block: int, now: float) -> dict[str, str]:
    check_network(network)
    return {LABEL_NETWORK: network, LABEL_BLOCK: str(block), LABEL_TAKEN_AT: str(int(now))}


def _malformed(what: str, detail: str) -> SnapshotStoreUnavailable:
    return SnapshotStoreUnavailable(STORE, f"{what}: malformed answer ({detail})")


@dataclass(frozen=True, slots=True)
class Operation:
    """The fields of a Compute Engine Operation resource this provider reads."""

    name: str
    status: str  # PENDING | RUNNING | DONE
    errors: tuple[str, ...] = ()

    @classmethod
    def parse(cls, body: dict[str, Any], what: str) -> Operation:
        name, status = body.get("name"), body.get("status")
        if not isinstance(name, str) or not name or status not in ("PENDING", "RUNNING", "DONE"):
            raise _malformed(what, "an Operation without a name or a known status")
        error = body.get("error")
        if error is None:
            return cls(name, status)
        entries = error.get("errors") if isinstance(error, dict) else None
        if not isinstance(entries, builtins.list) or not entries:
            return cls(name, status, ("operation failed (its error carries no details)",))
        return cls(name, status, tuple(
            f"{e.get('code', '?')}: {e.get('message', '')}" if isinstance(e, dict) else str(e) for e in entries))


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """The fields of a Compute Engine Snapshot resource this provider reads."""

    name: str
    status: str  # CREATING | UPLOADING | READY | FAILED | DELETING
    source_disk: str
    labels: dict[str, str] = field(default_factory=dict)
    disk_size_gb: int = 0
    description: str = ""

    @classmethod
    def parse(cls, body: Any, what: str) -> _Snapshot:
        if not isinstance(body, dict):
            raise _malformed(what, "a Snapshot that is not an object")
        name, status, source = body.get("name"), body.get("status"), body.get("sourceDisk", "")
        labels, size = body.get("labels", {}), body.get("diskSizeGb", "0")
        if not isinstance(name, str) or not isinstance(status, str) or not isinstance(source, str):
            raise _malformed(what, "a Snapshot without name, status or sourceDisk strings")
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            raise _malformed(what, f"labels of {name} are not strings")
        if not isinstance(size, str | int) or not str(size).isdigit():
            raise _malformed(what, f"diskSizeGb of {name} is not an integer")
        description = body.get("description", "")
        return cls(name, status, source, {str(k): v for k, v in labels.items()}, int(size),
                   description if isinstance(description, str) else "")


class _Deadline:
    """Time spent waiting, by the clock and by the injected sleep (whichever says more), so a test
    with a no-op sleep still reaches the deadline."""

    def __init__(self, budget_s: float, sleep: Callable[[float], None]) -> None:
        self.budget_s = budget_s
        self._sleep = sleep
        self._start = time.monotonic()
        self._slept = 0.0

    def elapsed(self) -> float:
        return max(time.monotonic() - self._start, self._slept)

    def expired(self) -> bool:
        return self.elapsed() >= self.budget_s

    def pause(self, seconds: float) -> None:
        self._sleep(seconds)
        self._slept += seconds


class PersistentDiskSnapshots(GoogleRest, SnapshotProvider):
    """Snapshots of one zonal persistent disk (`project`/`zone`/`disk`), labelled `opwatch-*`."""

    scope = SCOPE
    permission_for = _PERMISSION_FOR

    def __init__(self, project: str, zone: str, disk: str, session: Any = None,
                 base_url: str = DEFAULT_BASE_URL, operation_timeout_s: float = OPERATION_TIMEOUT_S,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.project = project
        self.zone = zone
        self.disk = disk
        GoogleRest.__init__(self, session, base_url)
        self.operation_timeout_s = operation_timeout_s
        self._sleep = sleep
        self._zone_path = f"/projects/{_quote(project)}/zones/{_quote(zone)}"
        self._global_path = f"/projects/{_quote(project)}/global"
        self._disk_suffix = f"/projects/{project}/zones/{zone}/disks/{disk}"

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> dict[str, Any] | None:
        """The shared boundary (`GoogleRest._call`), its errors as this provider's."""
        try:
            return super()._call(method, path, what, **kwargs)
        except GoogleApiError as exc:
            raise SnapshotStoreUnavailable(STORE, str(exc)) from None

    def _wait(self, operation: Operation, scope_path: str, what: str, deadline: _Deadline) -> Operation:
        """Repeat `operations.wait` until DONE or the deadline (checked between waits)."""
        while operation.status != "DONE" and not deadline.expired():
            path = f"{scope_path}/operations/{_quote(operation.name)}/wait"
            operation = Operation.parse(self._answer("POST", path, what, timeout=WAIT_TIMEOUT_S), what)
            if operation.status != "DONE":  # a wait may return early, even at once: do not spin
                deadline.pause(POLL_INTERVAL_S)
        return operation

    def _get(self, name: str) -> _Snapshot | None:
        answer = self._call("GET", f"{self._global_path}/snapshots/{_quote(name)}", "snapshots.get", missing_ok=True)
        return None if answer is None else _Snapshot.parse(answer, "snapshots.get")

    # --- SnapshotProvider ------------------------------------------------------------------------

    def create(self, network: str, source: StateSource, now: float) -> SnapshotRecord:
        check_network(network)  # before the source or the API is asked anything
        # The height is the node's head over standard JSON-RPC just before the snapshot starts (the
        # disk holds the node's datadir; the snapshot is crash-consistent, as of about that block).
        height, block_hash = source.head()
        name, labels = snapshot_name(network, height, now), snapshot_labels(network, height, now)
        deadline = _Deadline(self.operation_timeout_s, self._sleep)
        body = {"name": name, "labels": labels, "description": f"opwatch {network} block {height} hash {block_hash}"}
        started = self._answer("POST", f"{self._zone_path}/disks/{_quote(self.disk)}/createSnapshot",
                               "disks.createSnapshot", body=body)
        operation = self._wait(Operation.parse(started, "disks.createSnapshot"), self._zone_path,
                               "zoneOperations.wait", deadline)
        if operation.errors:
            raise SnapshotInvalid(f"{name}: createSnapshot failed: {'; '.join(operation.errors)}"[:500])
        in_progress = SnapshotRecord(name, network, height, float(int(now)), block_hash=block_hash, in_progress=True)
        if operation.status != "DONE":
            return in_progress  # GCE is still at it: verified once READY, by a later list
        while True:
            snap = self._get(name)
            if snap is None:
                raise SnapshotInvalid(f"{name}: not found after its createSnapshot operation completed")
            if snap.status not in _IN_PROGRESS:
                break
            if deadline.expired():
                return in_progress
            deadline.pause(POLL_INTERVAL_S)
        if snap.status != "READY":
            raise SnapshotInvalid(f"{name}: status {snap.status}")
        record = self._record(snap, network)
        if record is None or not record.verified or (record.block, record.taken_at, record.block_hash) != (
                height, float(int(now)), block_hash):
            raise SnapshotInvalid(f"{name}: not of disk {self.disk} or its labels do not say network {network}, "
                                  f"block {height}")
        return record

    def _record(self, snap: _Snapshot, network: str) -> SnapshotRecord | None:
        """A record of one of ours (this disk, this network, readable labels), else None."""
        if snap.labels.get(LABEL_NETWORK) != network or not snap.source_disk.endswith(self._disk_suffix):
            return None
        if snap.status == "DELETING":
            return None  # on its way out (a prune's delete): neither good nor to be deleted again
        try:
            block, taken_at = int(snap.labels[LABEL_BLOCK]), float(int(snap.labels[LABEL_TAKEN_AT]))
        except (KeyError, ValueError):
            return None  # labelled by hand, not by us
        # size: the source disk's size in bytes, what a restore needs (at least) for its new disk.
        found = _HASH_IN_DESCRIPTION.search(snap.description)
        return SnapshotRecord(snap.name, network, block, taken_at, snap.disk_size_gb * _GIB,
                              verified=snap.status == "READY", block_hash=found.group(1) if found else "",
                              in_progress=snap.status in _IN_PROGRESS)

    def list(self, network: str) -> builtins.list[SnapshotRecord]:
        check_network(network)
        params = {"filter": f'labels.{LABEL_NETWORK}="{network}"'}
        records: builtins.list[SnapshotRecord] = []
        seen_tokens: set[str] = set()
        while True:
            page = self._answer("GET", f"{self._global_path}/snapshots", "snapshots.list", params=params)
            items = page.get("items", [])  # absent when the page is empty
            if not isinstance(items, builtins.list):
                raise _malformed("snapshots.list", "items is not a list")
            records += [r for item in items if (r := self._record(_Snapshot.parse(item, "snapshots.list"), network))]
            token = page.get("nextPageToken")
            if not token:
                break
            if not isinstance(token, str) or token in seen_tokens:
                raise _malformed("snapshots.list", "nextPageToken repeats or is not a string")
            seen_tokens.add(token)
            params = params | {"pageToken": token}
        return sorted(records, key=lambda r: (r.taken_at, r.block), reverse=True)

    def delete(self, record: SnapshotRecord) -> None:
        started = self._call("DELETE", f"{self._global_path}/snapshots/{_quote(record.id)}", "snapshots.delete",
                             missing_ok=True)
        if started is None:
            return  # already gone
        # Not awaited (see the module docstring): a prune's deletes add no waits to a run.
        operation = Operation.parse(started, "snapshots.delete")
        # A delete that fails is the store's problem, not the snapshot's validity.
        if operation.errors:
            raise SnapshotStoreUnavailable(STORE, f"snapshots.delete of {record.id} failed: "
                                                  f"{'; '.join(operation.errors)}"[:300])
