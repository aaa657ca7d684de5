"""A local stand-in for the Compute Engine v1 REST API, the subset `PersistentDiskSnapshots` calls.

No emulator of the Compute Engine API exists or runs here, so tests point the provider (over a plain
`requests.Session`: the stand-in needs no auth) at this `ThreadingHTTPServer` on a free loopback
port. It speaks the documented wire format, under `/compute/v1` like the real base URL:

- `POST projects/P/zones/Z/disks/D/createSnapshot` with a Snapshot body (`name`, `labels`,
  `description`) → a zone Operation (`operationType` createSnapshot, `targetLink` the disk). The
  name and labels are checked against GCP's rules (400 `invalid`), a taken name is 409
  `alreadyExists`, an unknown disk 404 `notFound`.
- `POST projects/P/zones/Z/operations/OP/wait` and `POST projects/P/global/operations/OP/wait`
  → the Operation: RUNNING for `operation_running_waits` waits, then DONE (with `error.errors` when
  `operation_error` is set).
- `GET projects/P/global/snapshots/NAME` → the Snapshot: CREATING for `creating_polls` GETs,
  UPLOADING for `uploading_polls` more, then READY.
- `GET projects/P/global/snapshots[?filter=labels.KEY="VALUE"][&pageToken=T][&maxResults=N]` → a
  SnapshotList in name order (the API's default), `page_size` items a page, `nextPageToken` while
  more remain, `items` absent on an empty page. The only filter understood is `labels.KEY="VALUE"`;
  any other is 400, as the API answers an expression it cannot parse.
- `DELETE projects/P/global/snapshots/NAME` → a global Operation (the snapshot is gone at once).

Resources carry the real fields: Operations `kind` "compute#operation", `name`, `status`
PENDING/RUNNING/DONE, `selfLink`, `targetLink`, `error {errors: [{code, message}]}`; Snapshots
`kind` "compute#snapshot", `status`, `sourceDisk` (full URL), `labels`, `creationTimestamp`
(RFC 3339), `diskSizeGb` and `storageBytes` as strings. Errors come in Google's shape
`{"error": {"code", "message", "errors": [{"message", "domain", "reason"}]}}`. `forbidden = True`
answers every call 403 naming the permission it needs, as the API does.

The restore calls (`gcp_restore.GceDiskLauncher`), under the same base:

- `POST projects/P/zones/Z/disks[?requestId=UUID]` with a Disk body (`name`, `sourceSnapshot` as a
  full URL or a partial `projects/P/global/snapshots/S` / `global/snapshots/S`, `type` a diskTypes
  URL or partial, `sizeGb`, `labels`, `description`) → a zone Operation (`operationType` insert). An
  unknown snapshot is 404, one not READY 400 `resourceNotReady`, a size below the snapshot's 400, a
  taken name 409. A repeated `requestId` answers the first call's Operation and does nothing again
  (the API's idempotence for every mutating call here).
- `GET projects/P/zones/Z/disks/D` → the Disk: RESTORING for `disk_restoring_polls` GETs (one made
  from a snapshot), then READY; `users` lists the instances it is attached to.
- `DELETE projects/P/zones/Z/disks/D` → a zone Operation; an attached disk is 400
  `resourceInUseByAnotherResource`.
- `GET projects/P/zones/Z/instances/I` → the Instance: `status` and `disks[]` (`deviceName`,
  `source` URL, `boot`, `mode`, `index`).
- `POST .../instances/I/attachDisk` with an AttachedDisk (`source`, `deviceName`, `mode`) and
  `POST .../instances/I/detachDisk?deviceName=NAME` → zone Operations. A device name already in use
  on the instance, or a disk already attached read-write elsewhere, is 400; an unknown device name
  on detach is 400.
- `POST .../instances/I/start` → a zone Operation; a TERMINATED instance becomes STAGING for
  `staging_polls` GETs, then RUNNING (starting a RUNNING one does nothing, as the API).

Instances are made with `add_instance` (a boot disk at `persistent-disk-0`), disks put at a device
with `attach`. Knobs for failures: `operation_errors[operationType] = (code, message)` makes such an
operation end DONE with that error and no effect; `faults[handler] = status` answers every call to
that handler (e.g. `attach_disk`) with that HTTP status and does nothing; `denied` is a set of
permissions answered 403 (the call's own, or `compute.disks.use` / `compute.snapshots.useReadOnly` /
`compute.disks.setLabels` that attachDisk and disks.insert also need).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SELF_LINK_BASE = "https://www.googleapis.com/compute/v1"  # what the real API puts in selfLink fields
_P = r"/compute/v1/projects/([^/]+)"
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(_P + r"/zones/([^/]+)/disks/([^/]+)/createSnapshot$"), "create_snapshot"),
    ("POST", re.compile(_P + r"/zones/([^/]+)/operations/([^/]+)/wait$"), "wait_zone_operation"),
    ("POST", re.compile(_P + r"/global/operations/([^/]+)/wait$"), "wait_global_operation"),
    ("GET", re.compile(_P + r"/global/snapshots/([^/]+)$"), "get_snapshot"),
    ("GET", re.compile(_P + r"/global/snapshots$"), "list_snapshots"),
    ("DELETE", re.compile(_P + r"/global/snapshots/([^/]+)$"), "delete_snapshot"),
    ("POST", re.compile(_P + r"/zones/([^/]+)/disks$"), "insert_disk"),
    ("GET", re.compile(_P + r"/zones/([^/]+)/disks/([^/]+)$"), "get_disk"),
    ("DELETE", re.compile(_P + r"/zones/([^/]+)/disks/([^/]+)$"), "delete_disk"),
    ("GET", re.compile(_P + r"/zones/([^/]+)/instances/([^/]+)$"), "get_instance"),
    ("POST", re.compile(_P + r"/zones/([^/]+)/instances/([^/]+)/attachDisk$"), "attach_disk"),
    ("POST", re.compile(_P + r"/zones/([^/]+)/instances/([^/]+)/detachDisk$"), "detach_disk"),
    ("POST", re.compile(_P + r"/zones/([^/]+)/instances/([^/]+)/start$"), "start_instance"),
]
_PERMISSION = {
    "create_snapshot": "compute.disks.createSnapshot", "wait_zone_operation": "compute.zoneOperations.get",
    "wait_global_operation": "compute.globalOperations.get", "get_snapshot": "compute.snapshots.get",
    "list_snapshots": "compute.snapshots.list", "delete_snapshot": "compute.snapshots.delete",
    "insert_disk": "compute.disks.create", "get_disk": "compute.disks.get", "delete_disk": "compute.disks.delete",
    "get_instance": "compute.instances.get", "attach_disk": "compute.instances.attachDisk",
    "detach_disk": "compute.instances.detachDisk", "start_instance": "compute.instances.start",
}
# Permissions a call needs besides its own, on the other resources it touches (checked for `denied`).
_ALSO_NEEDS = {
    "insert_disk": ("compute.snapshots.useReadOnly", "compute.disks.setLabels"),
    "attach_disk": ("compute.disks.use",),
}
_REASON = {400: "invalid", 403: "forbidden", 404: "notFound", 409: "alreadyExists", 412: "conditionNotMet",
           429: "rateLimitExceeded", 500: "backendError", 503: "backendError"}
_NAME_RE = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_KEY_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE_RE = re.compile(r"^[a-z0-9_-]{0,63}$")
_LABEL_FILTER = re.compile(r'^labels\.([a-z][a-z0-9_-]{0,62})="([^"]*)"$')
_SNAPSHOT_REF = re.compile(r"^(?:.*/)?(?:projects/([^/]+)/)?global/snapshots/([^/]+)$")
_DISK_REF = re.compile(r"^(?:.*/)?(?:projects/([^/]+)/)?zones/([^/]+)/disks/([^/]+)$")
_DISK_TYPE_REF = re.compile(r"^(?:.*/)?(?:projects/[^/]+/)?zones/([^/]+)/diskTypes/([^/]+)$")
_DISK_TYPES = ("pd-standard", "pd-balanced", "pd-ssd", "pd-extreme")

Reply = tuple[int, dict[str, Any]]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _error(code: int, message: str, reason: str | None = None) -> Reply:
    reason = reason or _REASON.get(code, "unknown")
    return code, {"error": {"code": code, "message": message,
                            "errors": [{"message": message, "domain": "global", "reason": reason}]}}


def _invalid_name_or_labels(body: Any) -> Reply | None:
    """The API's 400 for a resource body whose `name` or `labels` break GCP's rules, else None."""
    if not isinstance(body, dict):
        return _error(400, "Invalid JSON payload received.")
    name, labels = body.get("name"), body.get("labels") or {}
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        return _error(400, f"Invalid value for field 'resource.name': '{name}'. Must be a match of regex "
                           "'(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'")
    if not isinstance(labels, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and _LABEL_KEY_RE.fullmatch(k)
            and _LABEL_VALUE_RE.fullmatch(v) for k, v in labels.items()):
        return _error(400, f"Invalid value for field 'resource.labels': '{labels}'.")
    return None

@dataclass
class StoredSnapshot:
    name: str
    disk: str
    labels: dict[str, str]
    description: str
    size_gb: int
    id: int
    created: str
    creating_polls: int  # the knobs at creation time: changing them later leaves this one alone
    uploading_polls: int
    gets: int = 0

    @property
    def status(self) -> str:
        if self.gets < self.creating_polls:
            return "CREATING"
        return "UPLOADING" if self.gets < self.creating_polls + self.uploading_polls else "READY"


@dataclass
class StoredOperation:
    name: str
    zone: str | None  # None: a global operation
    operation_type: str
    target_link: str
    id: int
    inserted: str
    running_waits: int
    error: tuple[str, str] | None = None
    done: bool = False


@dataclass
class StoredDisk:
    name: str
    size_gb: int
    id: int
    created: str
    disk_type: str = "pd-balanced"
    source_snapshot: str | None = None  # the snapshot's name
    labels: dict[str, str] = field(default_factory=dict)
    description: str = ""
    restoring_polls: int = 0  # GETs it answers RESTORING before READY
    gets: int = 0

    @property
    def status(self) -> str:
        return "RESTORING" if self.gets < self.restoring_polls else "READY"


@dataclass
class Attachment:
    device_name: str
    disk: str  # the disk's name (zonal, this zone)
    boot: bool = False
    mode: str = "READ_WRITE"


@dataclass
class StoredInstance:
    name: str
    id: int
    status: str = "TERMINATED"  # PROVISIONING | STAGING | RUNNING | STOPPING | SUSPENDED | TERMINATED ...
    attachments: list[Attachment] = field(default_factory=list)
    staging_left: int = 0  # GETs still answered STAGING after a start


@dataclass
class ComputeStandIn:
    project: str = "opwatch-test"
    zone: str = "us-central1-a"
    disks: dict[str, int] = field(default_factory=lambda: {"seq-data": 200})  # name -> size in GB
    page_size: int = 500  # the API's largest maxResults
    creating_polls: int = 0  # GETs a new snapshot answers CREATING
    uploading_polls: int = 0  # then GETs it answers UPLOADING, then READY
    operation_running_waits: int = 0  # waits an operation answers RUNNING before DONE
    operation_error: tuple[str, str] | None = None  # (code, message) a createSnapshot operation ends with
    forbidden: bool = False  # 403 on every call
    snapshots: dict[str, StoredSnapshot] = field(default_factory=dict)
    operations: dict[str, StoredOperation] = field(default_factory=dict)
    calls: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)  # (method, path, query)
    instances: dict[str, StoredInstance] = field(default_factory=dict)
    disk_resources: dict[str, StoredDisk] = field(default_factory=dict)  # full Disk resources, by name
    disk_restoring_polls: int = 0  # GETs a disk made from a snapshot answers RESTORING
    staging_polls: int = 1  # GETs a started instance answers STAGING before RUNNING
    operation_errors: dict[str, tuple[str, str]] = field(default_factory=dict)  # operationType -> (code, message)
    faults: dict[str, int] = field(default_factory=dict)  # handler name -> HTTP status every call answers
    denied: set[str] = field(default_factory=set)  # permissions answered 403
    request_ids: dict[str, str] = field(default_factory=dict)  # requestId -> operation name
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1_000_001))
    _server: ThreadingHTTPServer | None = None
    _lock: threading.RLock = field(default_factory=threading.RLock)

    @classmethod
    def start(cls, **knobs: Any) -> ComputeStandIn:
        standin = cls(**knobs)
        handler = type("Handler", (_Handler,), {"standin": standin})
        standin._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        # A short poll interval: stop() waits for it, and tests start one stand-in each.
        threading.Thread(target=standin._server.serve_forever, args=(0.02,), daemon=True).start()
        return standin

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        """What the provider takes as `base_url` (the real one ends in /compute/v1 too)."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/compute/v1"

    def calls_to(self, method: str, suffix: str) -> list[tuple[str, str, dict[str, str]]]:
        with self._lock:
            return [c for c in self.calls if c[0] == method and c[1].endswith(suffix)]

    def dispatch(self, method: str, path: str, query: dict[str, str], body: Any) -> Reply:
        with self._lock:
            self.calls.append((method, path, query))
            for verb, pattern, handler in _ROUTES:
                if verb == method and (m := pattern.fullmatch(path)):
                    args = [urllib.parse.unquote(g) for g in m.groups()]
                    if self.forbidden:
                        return _error(403, f"Required '{_PERMISSION[handler]}' permission for "
                                           f"'projects/{args[0]}'")
                    needed = (_PERMISSION[handler], *_ALSO_NEEDS.get(handler, ()))
                    if missing := [p for p in needed if p in self.denied]:
                        return _error(403, f"Required '{missing[0]}' permission for 'projects/{args[0]}'")
                    if args[0] != self.project:
                        return _error(404, f"The resource 'projects/{args[0]}' was not found")
                    if handler in self.faults:
                        return _error(self.faults[handler], f"injected: {handler} answers {self.faults[handler]}")
                    request_id = query.get("requestId")
                    if request_id in self.request_ids:  # a retried request: the first one's operation, no effect
                        return 200, self._render_operation(self.operations[self.request_ids[request_id]])
                    reply: Reply = getattr(self, handler)(*args[1:], query=query, body=body)
                    if request_id and reply[0] == 200 and reply[1].get("kind") == "compute#operation":
                        self.request_ids[request_id] = reply[1]["name"]
                    return reply
            return _error(404, f"The requested URL {path} was not found on this server.")

    # --- the API (called under the lock) ---------------------------------------------------------

    def _link(self, path: str) -> str:
        return f"{SELF_LINK_BASE}/projects/{self.project}/{path}"

    def _operation(self, zone: str | None, operation_type: str, target_link: str,
                   error: tuple[str, str] | None = None) -> StoredOperation:
        op_id = next(self._ids)
        name = f"operation-{op_id}-{hashlib.sha256(str(op_id).encode()).hexdigest()[:12]}"
        op = StoredOperation(name, zone, operation_type, target_link, op_id, _now(), self.operation_running_waits,
                             error)
        self.operations[name] = op
        return op

    def _render_operation(self, op: StoredOperation, pending: bool = False) -> dict[str, Any]:
        """`pending`: the answer to the call that started it (the API answers PENDING or RUNNING)."""
        scope = f"zones/{op.zone}" if op.zone else "global"
        status = "PENDING" if pending else "DONE" if op.done else "RUNNING"
        body: dict[str, Any] = {
            "kind": "compute#operation", "id": str(op.id), "name": op.name, "operationType": op.operation_type,
            "targetLink": op.target_link, "targetId": str(op.id + 7), "status": status,
            "user": f"opwatch@{self.project}.iam.gserviceaccount.com", "progress": 100 if op.done else 0,
            "insertTime": op.inserted, "startTime": op.inserted,
            "selfLink": self._link(f"{scope}/operations/{op.name}"),
        }
        if op.zone:
            body["zone"] = self._link(f"zones/{op.zone}")
        if op.done:
            body["endTime"] = _now()
            if op.error:
                body["error"] = {"errors": [{"code": op.error[0], "message": op.error[1]}]}
                body["httpErrorStatusCode"], body["httpErrorMessage"] = 400, "BAD REQUEST"
        return body

    def _render_snapshot(self, snap: StoredSnapshot) -> dict[str, Any]:
        ready = snap.status == "READY"
        return {
            "kind": "compute#snapshot", "id": str(snap.id), "creationTimestamp": snap.created, "name": snap.name,
            "description": snap.description, "status": snap.status,
            "sourceDisk": self._link(f"zones/{self.zone}/disks/{snap.disk}"),
            "sourceDiskId": str(int(hashlib.sha256(snap.disk.encode()).hexdigest()[:15], 16)),
            "diskSizeGb": str(snap.size_gb),
            "storageBytes": str(snap.size_gb * 7_340_032) if ready else "0",
            "storageBytesStatus": "UP_TO_DATE" if ready else "UPDATING", "snapshotType": "STANDARD",
            "labels": dict(snap.labels), "storageLocations": ["us"],
            "labelFingerprint": base64.b64encode(hashlib.sha256(json.dumps(snap.labels, sort_keys=True).encode())
                                                 .digest()[:8]).decode(),
            "selfLink": self._link(f"global/snapshots/{snap.name}"),
        }

    def create_snapshot(self, zone: str, disk: str, *, query: dict[str, str], body: Any) -> Reply:
        if zone != self.zone or disk not in self.disks:
            return _error(404, f"The resource 'projects/{self.project}/zones/{zone}/disks/{disk}' was not found")
        if invalid := _invalid_name_or_labels(body):
            return invalid
        name, labels = body["name"], body.get("labels") or {}
        if name in self.snapshots:
            return _error(409, f"The resource 'projects/{self.project}/global/snapshots/{name}' already exists")
        disk_link = self._link(f"zones/{zone}/disks/{disk}")
        if self.operation_error is None:
            self.snapshots[name] = StoredSnapshot(name, disk, dict(labels), str(body.get("description", "")),
                                                  self.disks[disk], next(self._ids), _now(), self.creating_polls,
                                                  self.uploading_polls)
        op = self._operation(zone, "createSnapshot", disk_link, self.operation_error)
        return 200, self._render_operation(op, pending=True)

    def _wait(self, zone: str | None, name: str) -> Reply:
        op = self.operations.get(name)
        if op is None or op.zone != zone:
            scope = f"zones/{zone}" if zone else "global"
            return _error(404, f"The resource 'projects/{self.project}/{scope}/operations/{name}' was not found")
        if op.running_waits > 0:
            op.running_waits -= 1
        else:
            op.done = True
        return 200, self._render_operation(op)

    def wait_zone_operation(self, zone: str, name: str, *, query: dict[str, str], body: Any) -> Reply:
        return self._wait(zone, name)

    def wait_global_operation(self, name: str, *, query: dict[str, str], body: Any) -> Reply:
        return self._wait(None, name)

    def get_snapshot(self, name: str, *, query: dict[str, str], body: Any) -> Reply:
        snap = self.snapshots.get(name)
        if snap is None:
            return _error(404, f"The resource 'projects/{self.project}/global/snapshots/{name}' was not found")
        rendered = self._render_snapshot(snap)
        snap.gets += 1
        return 200, rendered

    def list_snapshots(self, *, query: dict[str, str], body: Any) -> Reply:
        chosen = sorted(self.snapshots.values(), key=lambda s: s.name)
        if "filter" in query:
            m = _LABEL_FILTER.fullmatch(query["filter"])
            if not m:
                return _error(400, f"Invalid value for field 'filter': '{query['filter']}'. "
                                   "Invalid list filter expression.")
            chosen = [s for s in chosen if s.labels.get(m.group(1)) == m.group(2)]
        try:
            offset = int(base64.urlsafe_b64decode(query["pageToken"]).decode()) if "pageToken" in query else 0
            size = min(int(query.get("maxResults", "500")), 500, self.page_size)
        except ValueError:
            return _error(400, "Invalid value for field 'pageToken' or 'maxResults'.")
        page = chosen[offset:offset + size]
        answer: dict[str, Any] = {"kind": "compute#snapshotList", "id": f"projects/{self.project}/global/snapshots",
                                  "selfLink": self._link("global/snapshots")}
        if page:
            answer["items"] = [self._render_snapshot(s) for s in page]
        if offset + size < len(chosen):
            answer["nextPageToken"] = base64.urlsafe_b64encode(str(offset + size).encode()).decode()
        return 200, answer

    def delete_snapshot(self, name: str, *, query: dict[str, str], body: Any) -> Reply:
        if self.snapshots.pop(name, None) is None:
            return _error(404, f"The resource 'projects/{self.project}/global/snapshots/{name}' was not found")
        op = self._operation(None, "delete", self._link(f"global/snapshots/{name}"))
        return 200, self._render_operation(op, pending=True)


    # --- the restore calls: disks and instances (called under the lock) --------------------------

    def add_instance(self, name: str, status: str = "TERMINATED") -> StoredInstance:
        """An instance with a 10 GB boot disk `<name>-boot` at device `persistent-disk-0`."""
        with self._lock:
            boot = f"{name}-boot"
            self.disks[boot] = 10
            instance = StoredInstance(name, next(self._ids), status, [Attachment("persistent-disk-0", boot, boot=True)])
            self.instances[name] = instance
            return instance

    def attach(self, instance: str, disk: str, device_name: str) -> None:
        """Put an existing disk at `device_name` on `instance` (test set-up, no operation)."""
        with self._lock:
            assert disk in self.disks
            self.instances[instance].attachments.append(Attachment(device_name, disk))

    def users_of(self, disk: str) -> list[str]:
        with self._lock:
            return [i.name for i in self.instances.values() if any(a.disk == disk for a in i.attachments)]

    def _disk(self, name: str) -> StoredDisk | None:
        if name not in self.disks:
            return None
        if name not in self.disk_resources:  # a disk given as a knob (name -> size): a plain READY disk
            self.disk_resources[name] = StoredDisk(name, self.disks[name], next(self._ids), _now())
        return self.disk_resources[name]

    def _not_found(self, path: str) -> Reply:
        return _error(404, f"The resource 'projects/{self.project}/{path}' was not found")

    def _render_disk(self, disk: StoredDisk) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "compute#disk", "id": str(disk.id), "creationTimestamp": disk.created, "name": disk.name,
            "description": disk.description, "sizeGb": str(disk.size_gb), "zone": self._link(f"zones/{self.zone}"),
            "status": disk.status, "type": self._link(f"zones/{self.zone}/diskTypes/{disk.disk_type}"),
            "labels": dict(disk.labels), "physicalBlockSizeBytes": "4096",
            "labelFingerprint": base64.b64encode(hashlib.sha256(json.dumps(disk.labels, sort_keys=True).encode())
                                                 .digest()[:8]).decode(),
            "selfLink": self._link(f"zones/{self.zone}/disks/{disk.name}"),
        }
        if disk.source_snapshot:
            body["sourceSnapshot"] = self._link(f"global/snapshots/{disk.source_snapshot}")
            snap = self.snapshots.get(disk.source_snapshot)
            if snap:
                body["sourceSnapshotId"] = str(snap.id)
        if users := self.users_of(disk.name):
            body["users"] = [self._link(f"zones/{self.zone}/instances/{u}") for u in users]
            body["lastAttachTimestamp"] = _now()
        return body

    def _render_instance(self, instance: StoredInstance) -> dict[str, Any]:
        return {
            "kind": "compute#instance", "id": str(instance.id), "name": instance.name, "status": instance.status,
            "zone": self._link(f"zones/{self.zone}"),
            "machineType": self._link(f"zones/{self.zone}/machineTypes/n2-standard-8"),
            "disks": [{"kind": "compute#attachedDisk", "type": "PERSISTENT", "mode": a.mode,
                       "source": self._link(f"zones/{self.zone}/disks/{a.disk}"), "deviceName": a.device_name,
                       "index": index, "boot": a.boot, "autoDelete": a.boot, "interface": "SCSI",
                       "diskSizeGb": str(self.disks.get(a.disk, 0))}
                      for index, a in enumerate(instance.attachments)],
            "networkInterfaces": [{"kind": "compute#networkInterface", "name": "nic0", "networkIP": "10.128.0.7"}],
            "selfLink": self._link(f"zones/{self.zone}/instances/{instance.name}"),
        }

    def _zone_operation(self, operation_type: str, target: str) -> Reply:
        """A zone Operation of `operation_type` on `target`; None error unless `operation_errors` says so."""
        op = self._operation(self.zone, operation_type, self._link(f"zones/{self.zone}/{target}"),
                             self.operation_errors.get(operation_type))
        return 200, self._render_operation(op, pending=True)

    def insert_disk(self, zone: str, *, query: dict[str, str], body: Any) -> Reply:
        if zone != self.zone:
            return self._not_found(f"zones/{zone}")
        if invalid := _invalid_name_or_labels(body):
            return invalid
        name, labels = body["name"], body.get("labels") or {}
        disk_type = "pd-balanced"
        if "type" in body:
            m = _DISK_TYPE_REF.fullmatch(str(body["type"]))
            if not m or m.group(1) != zone or m.group(2) not in _DISK_TYPES:
                return _error(400, f"Invalid value for field 'resource.type': '{body['type']}'. "
                                   "Disk type does not exist or is not in this zone.")
            disk_type = m.group(2)
        source = body.get("sourceSnapshot")
        snap = None
        if source is not None:
            ref = _SNAPSHOT_REF.fullmatch(str(source))
            if not ref or (ref.group(1) or self.project) != self.project:
                return _error(400, f"Invalid value for field 'resource.sourceSnapshot': '{source}'.")
            snap = self.snapshots.get(ref.group(2))
            if snap is None:
                return self._not_found(f"global/snapshots/{ref.group(2)}")
            if snap.status != "READY":
                return _error(400, f"The resource 'projects/{self.project}/global/snapshots/{snap.name}' is not "
                                   "ready", reason="resourceNotReady")
        try:
            size = int(body.get("sizeGb", snap.size_gb if snap else 10))
        except (TypeError, ValueError):
            return _error(400, f"Invalid value for field 'resource.sizeGb': '{body.get('sizeGb')}'.")
        if snap and size < snap.size_gb:
            return _error(400, f"Invalid value for field 'resource.sizeGb': '{size}'. Requested disk size cannot be "
                               f"smaller than the snapshot size ({snap.size_gb} GB).")
        if name in self.disks:
            return _error(409, f"The resource 'projects/{self.project}/zones/{zone}/disks/{name}' already exists")
        if "insert" not in self.operation_errors:
            self.disks[name] = size
            self.disk_resources[name] = StoredDisk(
                name, size, next(self._ids), _now(), disk_type, snap.name if snap else None, dict(labels),
                str(body.get("description", "")), self.disk_restoring_polls if snap else 0)
        return self._zone_operation("insert", f"disks/{name}")

    def get_disk(self, zone: str, name: str, *, query: dict[str, str], body: Any) -> Reply:
        disk = self._disk(name) if zone == self.zone else None
        if disk is None:
            return self._not_found(f"zones/{zone}/disks/{name}")
        rendered = self._render_disk(disk)
        disk.gets += 1
        return 200, rendered

    def delete_disk(self, zone: str, name: str, *, query: dict[str, str], body: Any) -> Reply:
        if zone != self.zone or self._disk(name) is None:
            return self._not_found(f"zones/{zone}/disks/{name}")
        if users := self.users_of(name):
            return _error(400, f"The disk resource 'projects/{self.project}/zones/{zone}/disks/{name}' is already "
                               f"being used by 'projects/{self.project}/zones/{zone}/instances/{users[0]}'",
                          reason="resourceInUseByAnotherResource")
        if "delete" not in self.operation_errors:
            del self.disks[name]
            self.disk_resources.pop(name, None)
        return self._zone_operation("delete", f"disks/{name}")

    def get_instance(self, zone: str, name: str, *, query: dict[str, str], body: Any) -> Reply:
        instance = self.instances.get(name) if zone == self.zone else None
        if instance is None:
            return self._not_found(f"zones/{zone}/instances/{name}")
        if instance.status == "STAGING":
            if instance.staging_left <= 0:
                instance.status = "RUNNING"
            else:
                instance.staging_left -= 1
        return 200, self._render_instance(instance)

    def attach_disk(self, zone: str, name: str, *, query: dict[str, str], body: Any) -> Reply:
        instance = self.instances.get(name) if zone == self.zone else None
        if instance is None:
            return self._not_found(f"zones/{zone}/instances/{name}")
        if not isinstance(body, dict) or not isinstance(body.get("source"), str):
            return _error(400, "Invalid value for field 'resource.source': ''. The source must be a disk URL.")
        ref = _DISK_REF.fullmatch(body["source"])
        if not ref or (ref.group(1) or self.project) != self.project or ref.group(2) != zone:
            return _error(400, f"Invalid value for field 'resource.source': '{body['source']}'.")
        disk = self._disk(ref.group(3))
        if disk is None:
            return self._not_found(f"zones/{zone}/disks/{ref.group(3)}")
        if disk.status != "READY":
            return _error(400, f"The resource 'projects/{self.project}/zones/{zone}/disks/{disk.name}' is not ready",
                          reason="resourceNotReady")
        mode = str(body.get("mode", "READ_WRITE"))
        device = str(body.get("deviceName") or disk.name)
        if any(a.device_name == device for a in instance.attachments):
            return _error(400, f"Invalid value for field 'resource.deviceName': '{device}'. Device name "
                               "specified is already in use.")
        if users := self.users_of(disk.name):
            return _error(400, f"The disk resource 'projects/{self.project}/zones/{zone}/disks/{disk.name}' is "
                               f"already being used by 'projects/{self.project}/zones/{zone}/instances/{users[0]}'",
                          reason="resourceInUseByAnotherResource")
        if "attachDisk" not in self.operation_errors:
            instance.attachments.append(Attachment(device, disk.name, mode=mode))
        return self._zone_operation("attachDisk", f"instances/{name}")

    def detach_disk(self, zone: str, name: str, *, query: dict[str, str], body: Any) -> Reply:
        instance = self.instances.get(name) if zone == self.zone else None
        if instance is None:
            return self._not_found(f"zones/{zone}/instances/{name}")
        device = query.get("deviceName", "")
        found = [a for a in instance.attachments if a.device_name == device]
        if not found:
            return _error(400, f"Invalid value for field 'deviceName': '{device}'. No attached disk found with "
                               "that device name.")
        if "detachDisk" not in self.operation_errors:
            instance.attachments.remove(found[0])
        return self._zone_operation("detachDisk", f"instances/{name}")

    def start_instance(self, zone: str, name: str, *, query: dict[str, str], body: Any) -> Reply:
        instance = self.instances.get(name) if zone == self.zone else None
        if instance is None:
            return self._not_found(f"zones/{zone}/instances/{name}")
        if instance.status not in ("TERMINATED", "RUNNING", "STAGING", "PROVISIONING"):
            return _error(400, f"The resource 'projects/{self.project}/zones/{zone}/instances/{name}' is not ready "
                               f"(status {instance.status})", reason="resourceNotReady")
        if instance.status == "TERMINATED" and "start" not in self.operation_errors:
            instance.status, instance.staging_left = "STAGING", self.staging_polls
        return self._zone_operation("start", f"instances/{name}")


class _Handler(BaseHTTPRequestHandler):
    standin: ComputeStandIn

    def log_message(self, *_args: Any) -> None:
        pass

    def _serve(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            status, answer = _error(400, "Invalid JSON payload received.")
        else:
            status, answer = self.standin.dispatch(self.command, url.path, query, body)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _serve
