"""The GCP pieces of a restore: start a replacement sequencer from a persistent-disk snapshot, repoint DNS.

The GCP counterparts of `opwatch.aws.restore`, with the same guards and the same exceptions
(`LaunchRefused`, `LaunchFailed`, `EndpointSwitchFailed`), so `RestoreStrategy` (failover.py) and
its callers catch one family whichever cloud runs the restore:

- `GceDiskLauncher`: the replacement is a pre-built Compute Engine instance, kept TERMINATED
  (GCE's stopped), whose node reads its datadir from the disk at one device name. `launch` refuses
  (`LaunchRefused`, nothing created) unless the snapshot is a verified persistent-disk snapshot (a
  `PersistentDiskSnapshots` name, `opwatch-...`), the instance is TERMINATED (a RUNNING, STAGING,
  PROVISIONING, SUSPENDED... one might already sequence: never two), and no disk is attached at
  that device name. Then a disk from the snapshot, attached at the device name, the instance
  started and seen RUNNING; it returns the configured RPC URL. A failure after the disk exists
  cleans up only what is safe (detach and delete a disk no node started with; never stop an
  instance) and raises `LaunchFailed`, whose message says what exists now (`volume_id` holds the
  disk's name, `volume` where it is, `instance_state` the instance's status).
- `CloudDnsEndpoint`: one record set (CNAME to a host name, or A to an IPv4 literal) replaced
  by the replacement's host in one Cloud DNS change, waited on until the change is `done`, then
  read back. DNS carries no port or path: the replacement must serve on the port and path
  clients already use.

Compute Engine v1 calls (under `https://compute.googleapis.com/compute/v1`, P/Z the project and
zone, I the instance), each mutating one with a fresh `requestId` so a retry never acts twice:
`GET projects/P/zones/Z/instances/I` (status, `disks[].deviceName`/`source`);
`POST projects/P/zones/Z/disks` (`name` the snapshot's name and a short random suffix,
`sourceSnapshot` `projects/P/global/snapshots/S`, `type` pd-ssd or pd-balanced, labels
`opwatch-restored-from`, `opwatch-network`, `opwatch-block`); `GET projects/P/zones/Z/disks/D`
until READY; `POST .../instances/I/attachDisk` (`source` the disk's selfLink, `deviceName`,
READ_WRITE); `POST .../instances/I/start`; `GET .../instances/I` until RUNNING. Clean-up:
`POST .../instances/I/detachDisk?deviceName=...`, `DELETE projects/P/zones/Z/disks/D`. Every
Operation is awaited with `POST projects/P/zones/Z/operations/OP/wait`; one that ends with `error`
fails the step with its messages.

Cloud DNS v1 calls (under `https://dns.googleapis.com/dns/v1`, Z the managed zone):
`GET projects/P/managedZones/Z/rrsets/NAME/TYPE` (404: no record); `POST .../changes` with
`deletions` the record set exactly as read and `additions` the new one. Cloud DNS applies a
change only if every deletion matches the record set as it is, so this is a compare-and-set: a
412 (`conditionNotMet`), a 409 (an addition that already exists) or a 404 (a deletion of a record
gone meanwhile) means another writer changed the record between our read and our write, and we
changed nothing. Then `GET .../changes/ID` until `status` is `done`.

Waits poll with an injectable `sleep`, bounded by `timeout_s` of wall time or of requested sleeps,
whichever is reached first (as in opwatch.aws.restore). Every transport error, missing credentials,
non-2xx answer or malformed JSON is turned into the module's exceptions at one boundary
(`GoogleRest._call`), with a short reason; a 403 says it is a permission problem and names the
permission; access tokens never appear in a message.

IAM permissions (`GCE_LAUNCHER_PERMISSIONS`): `compute.instances.get`; `compute.disks.create`,
`compute.snapshots.useReadOnly` (a disk from the snapshot) and `compute.disks.setLabels` (labels
given at creation); `compute.disks.get`; `compute.instances.attachDisk` with `compute.disks.use`
on the disk (attached read-write, so `compute.disks.useReadOnly` is not needed);
`compute.instances.start`; `compute.zoneOperations.get` (operations.wait); for the clean-up,
`compute.instances.detachDisk` and `compute.disks.delete`. Narrow them to the zone, the instance
and disks labelled `opwatch-restored-from` (an IAM condition) in the deployment.
`CLOUD_DNS_PERMISSIONS`: `dns.resourceRecordSets.get` (rrsets.get), `dns.changes.create` with
`dns.resourceRecordSets.create`, `.update` and `.delete` (the change adds, replaces or removes the
record set), `dns.changes.get`. No `dns.managedZones.get` or `dns.resourceRecordSets.list`: the
zone is never read, the record set is read by name and type.

The operator's part: building the TERMINATED replacement instance (image, op-geth/op-node and
their config reading the datadir from `/dev/disk/by-id/google-<device name>`, mounting it at boot,
firewall rules, its service account), its sequencer keys (the p2p and signing keys the node needs
to sequence), and retiring the old sequencer's disk afterwards.
"""

from __future__ import annotations

import builtins
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..remedies.restore import EndpointSwitchFailed, LaunchFailed, LaunchRefused, WaitBudget, fqdn, record_target
from ..remedies.snapshot import SnapshotProvider, SnapshotRecord, SnapshotStoreUnavailable
from ..remedies.waits import CLOUD_DNS_CHANGE_S, GCE_LAUNCH_S
from . import gce_disk
from .gce_disk import LABEL_BLOCK, LABEL_NETWORK, NAME_PREFIX, NAME_RE, WAIT_TIMEOUT_S, check_network
from .rest import GoogleApiError, GoogleRest
from .rest import malformed as _malformed
from .rest import quote as _quote

__all__ = ["CLOUD_DNS_PERMISSIONS", "GCE_LAUNCHER_PERMISSIONS", "CloudDnsEndpoint", "EndpointSwitchFailed",
           "GceDiskLauncher", "LaunchFailed", "LaunchRefused"]

GCE_LAUNCHER_PERMISSIONS: tuple[str, ...] = (
    "compute.instances.get", "compute.disks.create", "compute.snapshots.useReadOnly", "compute.disks.setLabels",
    "compute.disks.get", "compute.instances.attachDisk", "compute.disks.use", "compute.instances.start",
    "compute.zoneOperations.get", "compute.instances.detachDisk", "compute.disks.delete",
)
CLOUD_DNS_PERMISSIONS: tuple[str, ...] = (
    "dns.resourceRecordSets.get", "dns.changes.create", "dns.resourceRecordSets.create",
    "dns.resourceRecordSets.update", "dns.resourceRecordSets.delete", "dns.changes.get",
)
# The permissions each call needs, named in a 403's reason.
_PERMISSION_FOR = {
    "instances.get": "compute.instances.get",
    "disks.insert": "compute.disks.create, compute.snapshots.useReadOnly and compute.disks.setLabels",
    "disks.get": "compute.disks.get",
    "instances.attachDisk": "compute.instances.attachDisk and compute.disks.use",
    "instances.start": "compute.instances.start",
    "zoneOperations.wait": "compute.zoneOperations.get",
    "instances.detachDisk": "compute.instances.detachDisk",
    "disks.delete": "compute.disks.delete",
    "rrsets.get": "dns.resourceRecordSets.get",
    "changes.create": "dns.changes.create and dns.resourceRecordSets.create/update/delete",
    "changes.get": "dns.changes.get",
}

LABEL_RESTORED_FROM = "opwatch-restored-from"
DNS_BASE_URL = "https://dns.googleapis.com/dns/v1"
DNS_SCOPE = "https://www.googleapis.com/auth/ndev.clouddns.readwrite"
DISK_TYPES = ("pd-ssd", "pd-balanced")
# A disk from a snapshot is usable in seconds to minutes; an instance starts in tens of seconds.
# Cloud DNS changes are usually done within a minute.
GCE_POLL_S = 5.0
DNS_POLL_S = 2.0
_SUFFIX_CHARS = 6
_NEVER_CREATED = "clean-up: nothing to delete (the disk was never created)"
# Instance statuses from which it will not become RUNNING without someone acting.
_NOT_STARTING = ("STOPPING", "TERMINATED", "SUSPENDING", "SUSPENDED")

Sleep = Callable[[float], None]


class _StepFailed(Exception):
    pass


class _OperationFailed(_StepFailed):
    """An Operation that ended DONE with `error`: Compute Engine did not do what it was asked."""


# --- Compute Engine ------------------------------------------------------------------------------

def _operation(body: dict[str, Any], what: str) -> gce_disk.Operation:
    try:
        return gce_disk.Operation.parse(body, what)
    except SnapshotStoreUnavailable as exc:  # gce_disk's parser speaks its provider's error
        raise GoogleApiError(exc.reason, False) from None


@dataclass(frozen=True, slots=True)
class _Instance:
    """The fields of a Compute Engine Instance resource the launcher reads."""

    status: str
    disks: tuple[tuple[str, str], ...]  # (deviceName, source URL)

    @classmethod
    def parse(cls, body: dict[str, Any]) -> _Instance:
        status, disks = body.get("status"), body.get("disks", [])
        if not isinstance(status, str) or not isinstance(disks, builtins.list):
            raise _malformed("instances.get", "an Instance without a status or a disks list")
        pairs = []
        for d in disks:
            if not isinstance(d, dict) or not isinstance(d.get("deviceName"), str) \
                    or not isinstance(d.get("source", ""), str):
                raise _malformed("instances.get", "an attached disk without a deviceName")
            pairs.append((str(d["deviceName"]), str(d.get("source", ""))))
        return cls(status, tuple(pairs))

    def device_of(self, disk_suffix: str) -> str | None:
        """The device name the disk (`.../projects/P/zones/Z/disks/D`) is attached at, if it is."""
        return next((device for device, source in self.disks if source.endswith(disk_suffix)), None)


@dataclass(frozen=True, slots=True)
class _Disk:
    status: str  # CREATING | RESTORING | READY | FAILED | DELETING | UNAVAILABLE
    self_link: str

    @classmethod
    def parse(cls, body: dict[str, Any]) -> _Disk:
        status, link = body.get("status"), body.get("selfLink")
        if not isinstance(status, str) or not isinstance(link, str) or not link:
            raise _malformed("disks.get", "a Disk without a status or a selfLink")
        return cls(status, link)


def restored_disk_name(snapshot_name: str, suffix: str) -> str:
    """`<snapshot name>-<suffix>`, the snapshot part shortened so the whole is a valid 63-character name."""
    stem = snapshot_name[: 63 - len(suffix) - 1].rstrip("-")
    name = f"{stem}-{suffix}"
    if not NAME_RE.fullmatch(name):
        raise ValueError(f"{name!r} is not a valid GCP resource name")
    return name


class GceDiskLauncher(GoogleRest):
    """A replacement sequencer from a persistent-disk snapshot on a pre-built, TERMINATED instance."""

    scope = gce_disk.SCOPE
    permission_for = _PERMISSION_FOR

    def __init__(self, project: str, zone: str, instance: str, device_name: str, rpc_url: str,
                 session: Any = None, base_url: str = gce_disk.DEFAULT_BASE_URL, timeout_s: float = GCE_LAUNCH_S,
                 sleep: Sleep = time.sleep, disk_type: str = "pd-ssd") -> None:
        if disk_type not in DISK_TYPES:
            raise ValueError(f"disk_type must be one of {DISK_TYPES}, not {disk_type!r}")
        super().__init__(session, base_url)
        self.project = project
        self.zone = zone
        self.instance = instance
        self.device_name = device_name
        self.rpc_url = rpc_url
        self.timeout_s = timeout_s
        self.sleep = sleep
        self.disk_type = disk_type
        self._zone_path = f"/projects/{_quote(project)}/zones/{_quote(zone)}"
        self._instance_path = f"{self._zone_path}/instances/{_quote(instance)}"

    def _disk_suffix(self, disk: str) -> str:
        return f"/projects/{self.project}/zones/{self.zone}/disks/{disk}"

    def _instance(self) -> _Instance:
        return _Instance.parse(self._answer("GET", self._instance_path, "instances.get"))

    def _disk(self, disk: str) -> _Disk | None:
        answer = self._call("GET", f"{self._zone_path}/disks/{_quote(disk)}", "disks.get", missing_ok=True)
        return None if answer is None else _Disk.parse(answer)

    def _mutate(self, method: str, path: str, what: str, **kwargs: Any) -> gce_disk.Operation:
        # A fresh requestId per call: a retry of this very request (by a transport) acts once.
        params = {"requestId": str(uuid.uuid4())} | kwargs.pop("params", {})
        return _operation(self._answer(method, path, what, params=params, **kwargs), what)

    def _wait(self, operation: gce_disk.Operation, what: str, budget: WaitBudget) -> None:
        """Repeat operations.wait until DONE; _StepFailed if it ends with an error or the budget runs out."""
        def done() -> bool:
            nonlocal operation
            if operation.status != "DONE":
                path = f"{self._zone_path}/operations/{_quote(operation.name)}/wait"
                operation = _operation(self._answer("POST", path, "zoneOperations.wait",
                                                    timeout=WAIT_TIMEOUT_S), "zoneOperations.wait")
            return operation.status == "DONE"

        if not budget.until(done, GCE_POLL_S):
            raise _StepFailed(f"{what} operation {operation.name} still {operation.status} after {self.timeout_s:g} s")
        if operation.errors:
            raise _OperationFailed(f"{what} failed: {'; '.join(operation.errors)}"[:400])

    def _preflight(self, snapshot: SnapshotRecord) -> None:
        if not (snapshot.id.startswith(NAME_PREFIX) and NAME_RE.fullmatch(snapshot.id)):
            raise LaunchRefused(f"{snapshot.id!r} is not a persistent-disk snapshot name ({NAME_PREFIX}...): this "
                                "launcher restores gce-disk snapshots only")
        if not snapshot.verified:
            raise LaunchRefused(f"snapshot {snapshot.id} is not verified: never restore from it")
        try:
            check_network(snapshot.network)
        except ValueError as exc:
            raise LaunchRefused(f"snapshot {snapshot.id}: {exc}") from None
        try:
            instance = self._instance()
        except GoogleApiError as exc:
            raise LaunchRefused(f"cannot read instance {self.instance}: {exc}") from None
        if instance.status != "TERMINATED":
            raise LaunchRefused(f"instance {self.instance} is {instance.status}, not TERMINATED: a running "
                                "replacement might already sequence, and two sequencers must never run")
        for device, source in instance.disks:
            if device == self.device_name:
                raise LaunchRefused(f"device {device} on {self.instance} already holds disk "
                                    f"{source.rsplit('/', 1)[-1]}: detach it (it may be a previous restore) "
                                    "before launching another")

    def launch(self, snapshot: SnapshotRecord, provider: SnapshotProvider) -> str:
        """Disk from `snapshot.id`, attached at the device name, instance started; returns `rpc_url`.
        `provider` is unused: a disk-based launcher needs only the snapshot's name."""
        self._preflight(snapshot)
        disk = restored_disk_name(snapshot.id, uuid.uuid4().hex[:_SUFFIX_CHARS])
        body = {"name": disk, "sourceSnapshot": f"projects/{self.project}/global/snapshots/{snapshot.id}",
                "type": f"projects/{self.project}/zones/{self.zone}/diskTypes/{self.disk_type}",
                "description": f"opwatch restore of {snapshot.network} block {snapshot.block} from {snapshot.id}",
                "labels": {LABEL_RESTORED_FROM: snapshot.id, LABEL_NETWORK: snapshot.network,
                           LABEL_BLOCK: str(snapshot.block)}}
        budget = WaitBudget(self.timeout_s, self.sleep)
        try:
            created = self._mutate("POST", f"{self._zone_path}/disks", "disks.insert", body=body)
        except GoogleApiError as exc:
            maybe = "" if exc.answered else f" (the call may have created disk {disk}: look for it)"
            raise LaunchFailed(f"{exc}; no disk was created{maybe}; instance {self.instance} TERMINATED",
                               None if exc.answered else disk, "none" if exc.answered else "unknown",
                               "TERMINATED") from None
        start_requested = False
        try:
            self._wait(created, "disks.insert", budget)
            link = self._ready(disk, budget)
            attached = self._mutate("POST", f"{self._instance_path}/attachDisk", "instances.attachDisk", body={
                "source": link, "deviceName": self.device_name, "mode": "READ_WRITE", "type": "PERSISTENT",
                "boot": False, "autoDelete": False})
            self._wait(attached, "instances.attachDisk", budget)
            # Re-read just before starting: someone else starting it meanwhile must not become our start.
            instance = self._instance()
            if instance.device_of(self._disk_suffix(disk)) != self.device_name:
                raise _StepFailed(f"disk {disk} is not at device {self.device_name} after its attachDisk completed")
            if instance.status != "TERMINATED":
                raise _StepFailed(f"instance {self.instance} became {instance.status} while the disk attached")
            start_requested = True
            try:
                started = self._mutate("POST", f"{self._instance_path}/start", "instances.start")
            except GoogleApiError as exc:
                start_requested = not exc.answered  # an error answer means it did not start
                raise
            try:
                self._wait(started, "instances.start", budget)
            except _OperationFailed:
                start_requested = False  # the start ended with an error: it did not start
                raise
            if not budget.until(self._running, GCE_POLL_S):
                raise _StepFailed(f"instance {self.instance} not RUNNING after {self.timeout_s:g} s")
        except (GoogleApiError, _StepFailed) as exc:
            raise self._failed(str(exc), disk, start_requested) from None
        return self.rpc_url

    def _ready(self, disk: str, budget: WaitBudget) -> str:
        """The disk's selfLink once READY."""
        link = ""

        def ready() -> bool:
            nonlocal link
            found = self._disk(disk)
            if found is None or found.status in ("FAILED", "DELETING", "UNAVAILABLE"):
                raise _StepFailed(f"disk {disk} is {found.status if found else 'missing'}")
            link = found.self_link
            return found.status == "READY"

        if not budget.until(ready, GCE_POLL_S):
            raise _StepFailed(f"disk {disk} not READY after {self.timeout_s:g} s")
        return link

    def _running(self) -> bool:
        status = self._instance().status
        if status in _NOT_STARTING:
            raise _StepFailed(f"instance {self.instance} went {status} instead of RUNNING")
        return status == "RUNNING"

    def _describe(self, disk: str) -> str:
        try:
            found = self._disk(disk)
            device = self._instance().device_of(self._disk_suffix(disk)) if found else None
        except GoogleApiError:
            return "state unknown"
        if found is None:
            return "deleted"
        return f"attached at {device}" if device else f"{found.status}, not attached"

    def _failed(self, reason: str, disk: str, start_requested: bool) -> LaunchFailed:
        try:
            status = self._instance().status
        except GoogleApiError:
            status = "unknown"
        if start_requested or status != "TERMINATED":
            # The node may be starting with this disk (or someone else runs the instance): touching
            # either could take down a sequencer. Leave both, and say so.
            where = self._describe(disk)
            return LaunchFailed(f"{reason}; left as is: disk {disk} {where}, instance {self.instance} {status}: "
                                "check whether it sequences before anything else", disk, where, status)
        cleanup = self._clean_up(disk)
        where = "none" if cleanup == _NEVER_CREATED else self._describe(disk)
        return LaunchFailed(f"{reason}; {cleanup}; now: disk {disk} {where}, instance {self.instance} {status}",
                            disk, where, status)

    def _clean_up(self, disk: str) -> str:
        """Detach (if attached) and delete a disk the TERMINATED instance never ran with."""
        budget = WaitBudget(self.timeout_s, self.sleep)  # the launch's own budget may be spent
        try:
            device = self._instance().device_of(self._disk_suffix(disk))
            if device:  # found by the disk's source: never another disk at that device
                self._wait(self._mutate("POST", f"{self._instance_path}/detachDisk", "instances.detachDisk",
                                        params={"deviceName": device}), "instances.detachDisk", budget)
            deleted = self._call("DELETE", f"{self._zone_path}/disks/{_quote(disk)}", "disks.delete",
                                 params={"requestId": str(uuid.uuid4())}, missing_ok=True)
            if deleted is None:
                return _NEVER_CREATED
            self._wait(_operation(deleted, "disks.delete"), "disks.delete", budget)
        except (GoogleApiError, _StepFailed) as exc:
            return f"clean-up failed ({exc})"
        return "cleaned up"


# --- Cloud DNS -----------------------------------------------------------------------------------

class CloudDnsEndpoint(GoogleRest):
    """The network's sequencer endpoint as one Cloud DNS record set (CNAME or A)."""

    scope = DNS_SCOPE
    permission_for = _PERMISSION_FOR

    def __init__(self, project: str, managed_zone: str, record_name: str, record_type: str = "CNAME",
                 ttl: int = 60, session: Any = None, base_url: str = DNS_BASE_URL,
                 timeout_s: float = CLOUD_DNS_CHANGE_S,
                 sleep: Sleep = time.sleep) -> None:
        if record_type not in ("A", "CNAME"):
            raise ValueError(f"record_type: expected A or CNAME, got {record_type!r}")
        super().__init__(session, base_url)
        self.project = project
        self.managed_zone = managed_zone
        self.record_name = record_name
        self.record_type = record_type
        self.ttl = ttl
        self.timeout_s = timeout_s
        self.sleep = sleep
        self._fqdn = fqdn(record_name)  # Cloud DNS names are fully qualified: trailing dot
        self._zone_path = f"/projects/{_quote(project)}/managedZones/{_quote(managed_zone)}"

    def _call_dns(self, method: str, path: str, what: str, **kwargs: Any) -> dict[str, Any] | None:
        try:
            return self._call(method, path, what, **kwargs)
        except GoogleApiError as exc:
            raise EndpointSwitchFailed(f"{self.record_name} {self.record_type} in zone {self.managed_zone}: "
                                       f"{exc}") from None

    def target_of(self, url: str) -> str:
        """The record value for `url` (without a trailing dot); ValueError if this record type cannot hold it."""
        return record_target(url, self.record_type, self.record_name)  # the Route 53 switch's rules

    def _rrset(self) -> dict[str, Any] | None:
        """The record set exactly as Cloud DNS holds it, or None."""
        path = f"{self._zone_path}/rrsets/{_quote(self._fqdn)}/{_quote(self.record_type)}"
        rrset = self._call_dns("GET", path, "rrsets.get", missing_ok=True)
        if rrset is None:
            return None
        rrdatas = rrset.get("rrdatas")
        if fqdn(str(rrset.get("name", ""))) != self._fqdn or rrset.get("type") != self.record_type \
                or not isinstance(rrset.get("ttl"), int) or not isinstance(rrdatas, builtins.list) \
                or not all(isinstance(r, str) for r in rrdatas):
            raise EndpointSwitchFailed(f"rrsets.get: {self.record_name} {self.record_type} is not a plain record set "
                                       "with rrdatas (a routing policy, or a malformed answer): left unchanged")
        return rrset

    @staticmethod
    def _values(rrset: dict[str, Any] | None) -> list[str] | None:
        return None if rrset is None else [str(r).rstrip(".") for r in rrset["rrdatas"]]

    def current(self) -> str | None:
        """The record's value (a host name without its trailing dot, or an IPv4 literal), or None."""
        values = self._values(self._rrset())
        return values[0] if values else None

    def _matches(self, values: list[str] | None, target: str) -> bool:
        if values is None or len(values) != 1:
            return False
        return values[0].lower() == target.lower() if self.record_type == "CNAME" else values[0] == target

    def point(self, url: str) -> None:
        """Replace the record set with `url`'s host in one change, wait for `done`, read it back;
        EndpointSwitchFailed otherwise (and if another writer changed the record meanwhile)."""
        target = self.target_of(url)  # before any call: a bad URL leaves the record as it is
        before = self._rrset()
        if self._matches(self._values(before), target):
            return  # already there: no change to make (Cloud DNS would refuse an empty one)
        addition = {"kind": "dns#resourceRecordSet", "name": self._fqdn, "type": self.record_type, "ttl": self.ttl,
                    "rrdatas": [target + "." if self.record_type == "CNAME" else target]}
        # The deletion is the record set as read, untouched: Cloud DNS applies the change only if it
        # still matches exactly, so a concurrent writer's record is never overwritten.
        change: dict[str, Any] = {"kind": "dns#change", "additions": [addition],
                                  "deletions": [before] if before is not None else []}
        try:
            created = self._call("POST", f"{self._zone_path}/changes", "changes.create", body=change)
        except GoogleApiError as exc:
            if exc.status in (404, 409, 412):
                raise EndpointSwitchFailed(
                    f"{self.record_name} {self.record_type} was changed by someone else between our read "
                    f"({self._values(before)!r}) and our change ({exc}); nothing was changed by us, it now reads "
                    f"{self._now_reads()}") from None
            raise EndpointSwitchFailed(f"{self.record_name} {self.record_type} in zone {self.managed_zone}: "
                                       f"{exc}") from None
        assert created is not None
        change_id, status = created.get("id"), created.get("status")
        if not isinstance(change_id, str) or not change_id:
            raise EndpointSwitchFailed(f"changes.create: malformed answer (a Change without an id); "
                                       f"{self.record_name} {self.record_type} may already be changed: check it")

        def done() -> bool:
            nonlocal status
            if status != "done":
                got = self._call_dns("GET", f"{self._zone_path}/changes/{_quote(change_id)}", "changes.get")
                status = (got or {}).get("status")
            return status == "done"

        # done: every Cloud DNS authoritative server answers the new value. Resolvers may still serve
        # the old one for up to the old record's TTL, hence a short TTL on this record.
        try:
            finished = WaitBudget(self.timeout_s, self.sleep).until(done, DNS_POLL_S)
        except EndpointSwitchFailed as exc:
            raise EndpointSwitchFailed(f"{exc}; Cloud DNS accepted change {change_id}: the record may already be "
                                       "changed: check it before retrying") from None
        if not finished:
            raise EndpointSwitchFailed(
                f"Cloud DNS change {change_id} ({self.record_name} {self.record_type} -> {target}) is still "
                f"{status or 'not done'} after {self.timeout_s:g} s; the record may already be changed: "
                "check it before retrying")
        values = self._values(self._rrset())
        if not self._matches(values, target):
            raise EndpointSwitchFailed(
                f"after change {change_id} (done) {self.record_name} {self.record_type} reads {values!r}, "
                f"not {target!r}")

    def _now_reads(self) -> str:
        try:
            return repr(self._values(self._rrset()))
        except EndpointSwitchFailed:
            return "(unreadable)"
