"""A local stand-in for the Cloud DNS v1 REST API, the subset `gcp_restore.CloudDnsEndpoint` calls.

No Cloud DNS emulator exists or runs here, so tests point the endpoint switch (over a plain
`requests.Session`: the stand-in needs no auth) at this `ThreadingHTTPServer` on a free loopback
port. It speaks the documented wire format, under `/dns/v1` like the real base URL:

- `GET projects/P/managedZones/Z/rrsets/NAME/TYPE` → the ResourceRecordSet (`kind`
  "dns#resourceRecordSet", `name` with its trailing dot, `type`, `ttl`, `rrdatas`); 404 `notFound`
  when there is none.
- `POST projects/P/managedZones/Z/changes` with a Change (`additions`, `deletions`: lists of
  ResourceRecordSets) → the Change (`kind` "dns#change", `id`, `status` "pending", `startTime`),
  applied atomically. A deletion must match the record set as it is exactly (name, type, ttl,
  rrdatas) or the whole change is refused 412 `conditionNotMet` ("Precondition not met for
  'entity.change.deletions[0]'"): Cloud DNS's compare-and-set. An addition of a name and type that
  still exist after the deletions is 409 `alreadyExists`. Names must be fully qualified (trailing
  dot) inside the zone's `dnsName`, CNAME data a fully qualified name, A data an IPv4 address (400
  `invalid` otherwise).
- `GET projects/P/managedZones/Z/changes/ID` → the Change: "pending" for `pending_polls` GETs, then
  "done"; `pending_forever = True` keeps every change pending.

Knobs: `other_writer` (a record set) is written just before the next change is evaluated, as if
another writer's change landed between our read and our write; `forbidden = True` answers every
call 403 naming the permission it needs. Errors come in Google's shape
`{"error": {"code", "message", "errors": [{"message", "domain", "reason"}]}}`.
"""

from __future__ import annotations

import ipaddress
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from typing import Any

from gce_standin import Reply, _error, _Handler

_Z = r"/dns/v1/projects/([^/]+)/managedZones/([^/]+)"
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(_Z + r"/rrsets/([^/]+)/([^/]+)$"), "get_rrset"),
    ("POST", re.compile(_Z + r"/changes$"), "create_change"),
    ("GET", re.compile(_Z + r"/changes/([^/]+)$"), "get_change"),
]
_PERMISSION = {"get_rrset": "dns.resourceRecordSets.get", "create_change": "dns.changes.create",
               "get_change": "dns.changes.get"}
_FQDN = re.compile(r"^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)+$")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def rrset(name: str, record_type: str, rrdatas: list[str], ttl: int = 300) -> dict[str, Any]:
    """A ResourceRecordSet as the API renders it."""
    return {"kind": "dns#resourceRecordSet", "name": name, "type": record_type, "ttl": ttl, "rrdatas": list(rrdatas)}


@dataclass
class StoredChange:
    id: str
    additions: list[dict[str, Any]]
    deletions: list[dict[str, Any]]
    started: str
    pending_polls: int
    gets: int = 0


@dataclass
class CloudDnsStandIn:
    project: str = "opwatch-test"
    zones: dict[str, str] = field(default_factory=lambda: {"opwatch-zone": "example.org."})  # name -> dnsName
    pending_polls: int = 1  # GETs a new change answers "pending" before "done"
    pending_forever: bool = False
    forbidden: bool = False
    other_writer: dict[str, Any] | None = None  # a record set written just before the next change is evaluated
    records: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)  # (zone, name, type)
    changes: dict[str, StoredChange] = field(default_factory=dict)
    calls: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        for zone, dns_name in self.zones.items():  # every zone starts with its SOA and NS, as a real one
            self.records[(zone, dns_name, "SOA")] = rrset(dns_name, "SOA", [
                "ns-cloud-a1.googledomains.com. cloud-dns-hostmaster.google.com. 1 21600 3600 259200 300"], 21600)
            self.records[(zone, dns_name, "NS")] = rrset(dns_name, "NS", [
                f"ns-cloud-a{i}.googledomains.com." for i in range(1, 5)], 21600)

    @classmethod
    def start(cls, **knobs: Any) -> CloudDnsStandIn:
        standin = cls(**knobs)
        handler = type("Handler", (_Handler,), {"standin": standin})
        standin._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=standin._server.serve_forever, args=(0.02,), daemon=True).start()
        return standin

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        """What the endpoint takes as `base_url` (the real one ends in /dns/v1 too)."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/dns/v1"

    def put(self, zone: str, name: str, record_type: str, rrdatas: list[str], ttl: int = 300) -> None:
        """Set a record set directly (test set-up, no change)."""
        with self._lock:
            self.records[(zone, name.lower(), record_type)] = rrset(name.lower(), record_type, rrdatas, ttl)

    def get(self, zone: str, name: str, record_type: str) -> dict[str, Any] | None:
        with self._lock:
            return self.records.get((zone, name.lower(), record_type))

    def calls_to(self, method: str, suffix: str) -> list[tuple[str, str, dict[str, str]]]:
        with self._lock:
            return [c for c in self.calls if c[0] == method and c[1].endswith(suffix)]

    def dispatch(self, method: str, path: str, query: dict[str, str], body: Any) -> Reply:
        with self._lock:
            self.calls.append((method, path, query))
            for verb, pattern, handler in _ROUTES:
                if verb == method and (m := pattern.fullmatch(path)):
                    project, zone, *rest = (urllib.parse.unquote(g) for g in m.groups())
                    if self.forbidden:
                        return _error(403, f"Forbidden: the caller does not have permission "
                                           f"'{_PERMISSION[handler]}' on project {project}")
                    if project != self.project:
                        return _error(404, f"The 'parameters.project' resource named '{project}' does not exist.")
                    if zone not in self.zones:
                        return _error(404, f"The 'parameters.managedZone' resource named '{zone}' does not exist.")
                    reply: Reply = getattr(self, handler)(zone, *rest, body=body)
                    return reply
            return _error(404, f"The requested URL {path} was not found on this server.")

    # --- the API (called under the lock) ---------------------------------------------------------

    def get_rrset(self, zone: str, name: str, record_type: str, *, body: Any) -> Reply:
        found = self.records.get((zone, name.lower(), record_type))
        if found is None:
            return _error(404, f"The 'parameters.name' resource named '{name}' does not exist.")
        return 200, dict(found)

    def _invalid(self, zone: str, where: str, rrs: Any) -> str | None:
        """Why a record set in a change is invalid, or None."""
        if not isinstance(rrs, dict) or not isinstance(rrs.get("rrdatas"), list) or not rrs["rrdatas"]:
            return f"Invalid value for '{where}': a record set needs name, type, ttl and rrdatas"
        name, kind = str(rrs.get("name", "")), str(rrs.get("type", ""))
        if not _FQDN.fullmatch(name.lower()) or not (name.lower() == self.zones[zone]
                                                     or name.lower().endswith("." + self.zones[zone])):
            return f"Invalid value for '{where}.name': '{name}'"
        if not isinstance(rrs.get("ttl"), int) or rrs["ttl"] < 0:
            return f"Invalid value for '{where}.ttl': '{rrs.get('ttl')}'"
        for i, data in enumerate(rrs["rrdatas"]):
            if not isinstance(data, str) or (kind == "CNAME" and not _FQDN.fullmatch(data.lower())) \
                    or (kind == "A" and not _is_ipv4(data)):
                return f"Invalid value for '{where}.rrdata[{i}]': '{data}'"
        if kind == "CNAME" and len(rrs["rrdatas"]) != 1:
            return f"Invalid value for '{where}.rrdata': a CNAME holds one name"
        return None

    def create_change(self, zone: str, *, body: Any) -> Reply:
        if self.other_writer is not None:  # another writer's change lands first
            w, self.other_writer = self.other_writer, None
            name = w["name"].lower()
            self.records[(zone, name, w["type"])] = rrset(name, w["type"], w["rrdatas"], w["ttl"])
        if not isinstance(body, dict):
            return _error(400, "Invalid JSON payload received.")
        additions, deletions = body.get("additions") or [], body.get("deletions") or []
        if not isinstance(additions, list) or not isinstance(deletions, list) or not (additions or deletions):
            return _error(400, "The 'entity.change' resource named 'change' must add or delete a record set.",
                          reason="required")
        for kind, entries in (("additions", additions), ("deletions", deletions)):
            for i, rrs in enumerate(entries):
                if why := self._invalid(zone, f"entity.change.{kind}[{i}]", rrs):
                    return _error(400, why)
        after = dict(self.records)
        for i, rrs in enumerate(deletions):
            key = (zone, rrs["name"].lower(), rrs["type"])
            current = after.get(key)
            if current is None:
                return _error(404, f"The 'entity.change.deletions[{i}]' resource named '{rrs['name']} "
                                   f"({rrs['type']})' does not exist.")
            # Exactly as it is: Cloud DNS compares the whole record set (ttl and data included).
            if (current["ttl"], current["rrdatas"]) != (rrs["ttl"], list(rrs["rrdatas"])):
                return _error(412, f"Precondition not met for 'entity.change.deletions[{i}]'")
            del after[key]
        for i, rrs in enumerate(additions):
            key = (zone, rrs["name"].lower(), rrs["type"])
            if key in after:
                return _error(409, f"The resource 'entity.change.additions[{i}]' named '{rrs['name']} "
                                   f"({rrs['type']})' already exists")
            after[key] = rrset(rrs["name"].lower(), rrs["type"], rrs["rrdatas"], rrs["ttl"])
        self.records = after
        change = StoredChange(str(len(self.changes) + 1), additions, deletions, _now(), self.pending_polls)
        self.changes[change.id] = change
        return 200, self._render_change(change, pending=True)

    def _render_change(self, change: StoredChange, pending: bool = False) -> dict[str, Any]:
        done = not pending and not self.pending_forever and change.gets > change.pending_polls
        body: dict[str, Any] = {"kind": "dns#change", "id": change.id, "startTime": change.started,
                                "status": "done" if done else "pending"}
        if change.additions:
            body["additions"] = change.additions
        if change.deletions:
            body["deletions"] = change.deletions
        return body

    def get_change(self, zone: str, change_id: str, *, body: Any) -> Reply:
        change = self.changes.get(change_id)
        if change is None:
            return _error(404, f"The 'parameters.changeId' resource named '{change_id}' does not exist.")
        change.gets += 1
        return 200, self._render_change(change)


def _is_ipv4(data: Any) -> bool:
    try:
        return isinstance(ipaddress.ip_address(data), ipaddress.IPv4Address)
    except ValueError:
        return False
