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
]
_PERMISSION = {
    "create_snapshot": "compute.disks.createSnapshot", "wait_zone_operation": "compute.zoneOperations.get",
    "wait_global_operation": "compute.globalOperations.get", "get_snapshot": "compute.snapshots.get",
    "list_snapshots": "compute.snapshots.list", "delete_snapshot": "compute.snapshots.delete",
}
_REASON = {400: "invalid", 403: "forbidden", 404: "notFound", 409: "alreadyExists"}
_NAME_RE = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_KEY_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE_RE = re.compile(r"^[a-z0-9_-]{0,63}$")
_LABEL_FILTER = re.compile(r'^labels\.([a-z][a-z0-9_-]{0,62})="([^"]*)"$')

Reply = tuple[int, dict[str, Any]]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _error(code: int, message: str) -> Reply:
    reason = _REASON.get(code, "unknown")
    return code, {"error": {"code": code, "message": message,
                            "errors": [{"message": message, "domain": "global", "reason": reason}]}}


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
                    if args[0] != self.project:
                        return _error(404, f"The resource 'projects/{args[0]}' was not found")
                    reply: Reply = getattr(self, handler)(*args[1:], query=query, body=body)
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
