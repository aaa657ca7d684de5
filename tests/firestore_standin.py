"""A stand-in for the Firestore v1 REST API: the subset `FirestoreRemedyStore` and the alert
`FirestoreStore` speak.

No Firestore emulator installs or runs here (PROTOCOL-NOTES), so this HTTP server
(stdlib `ThreadingHTTPServer` on 127.0.0.1, a free port) answers the documented requests
with the documented shapes, and the store is tested against it over real HTTP:

- `GET /v1/{document name}` → the Document `{name, fields, createTime, updateTime}`, or
  404 `NOT_FOUND` when absent.
- `POST /v1/projects/P/databases/D/documents:commit` with `writes[]` of `update` (whole
  document, no mask) or `delete`, each with an optional `currentDocument` precondition
  (`exists` or `updateTime`). The writes apply atomically, in order, all or none. A failed
  precondition answers as Firestore does: `exists: false` on an existing document → 409
  `ALREADY_EXISTS`; `exists: true` on a missing one → 404 `NOT_FOUND`; an `updateTime` that
  is not the stored one (or a missing document) → 400 `FAILED_PRECONDITION`. Success →
  `{writeResults: [{updateTime}] ({} for a delete), commitTime}`.
- `POST /v1/projects/P/databases/D/documents:runQuery` with `structuredQuery {from:
  [{collectionId}], orderBy: [{field: {fieldPath}, direction}], limit}` → a JSON array of
  `{document, readTime}` (one `{readTime}` when nothing matches), as the API streams them.
  As in Firestore, `orderBy` drops documents without the field and ties break on the
  document name in the direction of the last ordering. `where` takes a `fieldFilter`
  `{field: {fieldPath}, op: "EQUAL", value}` (a document without the field never matches;
  numbers compare by value, so 1 equals 1.0) or a `compositeFilter {op: "AND", filters}` of
  those. No composite index exists (the gcloud plan creates none), so a query that has a
  `where` and orders by anything but `__name__` ascending is refused as Firestore refuses
  it: 400 `FAILED_PRECONDITION` "The query requires an index".

Times are RFC 3339 with nine fractional digits, microsecond-aligned (as Firestore's update
times are), strictly increasing. Every read and write happens under one lock: the server is
the serialisation point, as Firestore is: a commit's preconditions are all checked before any
of its writes lands. Anything outside this subset (transactions, masks, other filter
operators, malformed values or ids) is a 400 `INVALID_ARGUMENT`, so a store that drifts from
what is tested here fails loudly. Errors use Google's `{"error": {code, message, status}}`.

Knobs for tests: `fail_status` (answer every request with that HTTP status, e.g. 503
`UNAVAILABLE`, with `fail_message`), `garble` (answer 200 with a body that is not JSON),
`rival_commits` (the next N commits with an `updateTime` precondition find that another
writer just wrote the document), `create_conflict` ("ALREADY_EXISTS", the API's answer, or
"FAILED_PRECONDITION" as a 400, which a client must handle the same way). Counters: `commits`,
`precondition_failures` (and `failures_by_collection`), `requests`; `authorizations` lists the
Authorization headers received.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_DATABASE = re.compile(r"^projects/[^/]+/databases/[^/]+$")
_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$")
_STATUS = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 409: "ALREADY_EXISTS", 503: "UNAVAILABLE"}
_SCALARS = {"nullValue", "booleanValue", "integerValue", "doubleValue", "timestampValue", "stringValue",
            "bytesValue", "referenceValue", "geoPointValue"}
_TYPE_ORDER = {"nullValue": 0, "booleanValue": 1, "integerValue": 2, "doubleValue": 2, "timestampValue": 3,
               "stringValue": 4}


class ApiError(Exception):
    def __init__(self, code: int, message: str, status: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status or _STATUS.get(code, "UNKNOWN")

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "status": self.status}}


def format_time(ns: int) -> str:
    return datetime.fromtimestamp(ns // 10**9, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{ns % 10**9:09d}Z"


def parse_time(text: Any) -> int:
    m = _TIME.match(text) if isinstance(text, str) else None
    if not m:
        raise ApiError(400, f"Invalid timestamp: {text!r}")
    whole = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return int(whole.timestamp()) * 10**9 + int((m.group(2) or "0").ljust(9, "0"))


def _check_value(value: Any, path: str) -> None:
    """A Firestore `Value`: exactly one kind, with the JSON type the API requires."""
    if not isinstance(value, dict) or len(value) != 1:
        raise ApiError(400, f"Invalid value at '{path}': exactly one value kind expected")
    kind, v = next(iter(value.items()))
    ok = {"nullValue": v is None or v == "NULL_VALUE", "booleanValue": isinstance(v, bool),
          "integerValue": isinstance(v, str) and re.fullmatch(r"-?\d+", v) is not None and -2**63 <= int(v) < 2**63,
          "doubleValue": isinstance(v, int | float) and not isinstance(v, bool),
          "stringValue": isinstance(v, str)}.get(kind)
    if kind == "timestampValue":
        parse_time(v)
    elif kind == "mapValue" and isinstance(v, dict) and isinstance(v.get("fields", {}), dict):
        for name, inner in v.get("fields", {}).items():
            _check_value(inner, f"{path}.{name}")
    elif kind == "arrayValue" and isinstance(v, dict) and isinstance(v.get("values", []), list):
        for i, inner in enumerate(v.get("values", [])):
            _check_value(inner, f"{path}[{i}]")
    elif kind not in _SCALARS or ok is False:
        raise ApiError(400, f"Invalid value at '{path}': bad {kind}")


def _check_document_path(name: Any, database: str) -> tuple[str, str]:
    """(collection id, document id) of a top-level document of `database`."""
    prefix = f"{database}/documents/"
    if not isinstance(name, str) or not name.startswith(prefix):
        raise ApiError(400, f"Document name {name!r} is not in database {database}")
    parts = name[len(prefix):].split("/")
    if len(parts) != 2 or not all(parts):
        raise ApiError(400, f"Document name {name!r} must be collection/document")
    for part in parts:
        if part in (".", "..") or (part.startswith("__") and part.endswith("__")) or len(part.encode()) > 1500:
            raise ApiError(400, f"Invalid document or collection id {part!r}")
    return parts[0], parts[1]


@dataclass
class StoredDocument:
    fields: dict[str, Any]
    create_ns: int
    update_ns: int

    def resource(self, name: str) -> dict[str, Any]:
        return {"name": name, "fields": self.fields, "createTime": format_time(self.create_ns),
                "updateTime": format_time(self.update_ns)}


@dataclass
class FirestoreStandIn:
    documents: dict[str, StoredDocument] = field(default_factory=dict)  # full name -> document
    fail_status: int | None = None
    fail_message: str = "The service is currently unavailable."
    garble: bool = False
    rival_commits: int = 0
    create_conflict: str = "ALREADY_EXISTS"
    commits: int = 0
    precondition_failures: int = 0
    failures_by_collection: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    authorizations: list[str] = field(default_factory=list)
    _last_ns: int = 0
    _stopped: bool = False
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def start(cls) -> FirestoreStandIn:
        standin = cls()
        handler = type("Handler", (_Handler,), {"standin": standin})
        standin._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        # A short poll interval: stop() returns within it (tests stop a server to take Firestore away).
        threading.Thread(target=standin._server.serve_forever, args=(0.02,), daemon=True).start()
        return standin

    def stop(self) -> None:
        if self._server is not None and not self._stopped:
            self._stopped = True
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def collection(self, collection_id: str) -> dict[str, dict[str, Any]]:
        """Document id -> fields of one top-level collection (for assertions)."""
        with self._lock:
            return {name.rsplit("/", 1)[1]: doc.fields for name, doc in self.documents.items()
                    if name.rsplit("/", 2)[1] == collection_id}

    def _now(self) -> int:
        # Microsecond-aligned like Firestore's update times, and strictly increasing.
        self._last_ns = max(time.time_ns() // 1000 * 1000, self._last_ns + 1000)
        return self._last_ns

    # --- the API (callers hold no lock; every method takes it once) ------------------

    def get(self, name: str) -> dict[str, Any]:
        database = name.split("/documents/", 1)[0]
        if not _DATABASE.match(database):
            raise ApiError(404, f"no such method GET {name}")
        _check_document_path(name, database)
        with self._lock:
            doc = self.documents.get(name)
            if doc is None:
                raise ApiError(404, f'Document "{name}" not found.')
            return doc.resource(name)

    def commit(self, database: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or set(body) - {"writes"}:
            raise ApiError(400, "the stand-in serves commits of `writes` only (no transactions)")
        writes = body.get("writes")
        if not isinstance(writes, list) or not writes:
            raise ApiError(400, "writes must be a non-empty list")
        plan = [self._parse_write(w, database) for w in writes]
        with self._lock:
            view: dict[str, StoredDocument | None] = dict(self.documents)  # later writes see earlier ones
            for name, fields, precondition in plan:
                self._check_precondition(view, name, precondition)
                view[name] = StoredDocument(fields, 0, 0) if fields is not None else None
            now = self._now()
            results: list[dict[str, Any]] = []
            for name, fields, _ in plan:
                if fields is None:
                    self.documents.pop(name, None)
                    results.append({})
                    continue
                old = self.documents.get(name)
                self.documents[name] = StoredDocument(fields, old.create_ns if old else now, now)
                results.append({"updateTime": format_time(now)})
            self.commits += 1
            return {"writeResults": results, "commitTime": format_time(now)}

    def _parse_write(self, write: Any, database: str) -> tuple[str, dict[str, Any] | None, dict[str, Any] | None]:
        if not isinstance(write, dict) or set(write) - {"update", "delete", "currentDocument"} \
                or ("update" in write) == ("delete" in write):
            raise ApiError(400, "each write is one `update` or `delete`, with an optional `currentDocument`")
        precondition = write.get("currentDocument")
        if precondition is not None and (not isinstance(precondition, dict) or len(precondition) != 1
                                         or set(precondition) - {"exists", "updateTime"}):
            raise ApiError(400, "currentDocument takes exactly one of exists, updateTime")
        if precondition and "updateTime" in precondition:
            parse_time(precondition["updateTime"])
        if "delete" in write:
            _check_document_path(write["delete"], database)
            return write["delete"], None, precondition
        update = write["update"]
        if not isinstance(update, dict) or set(update) - {"name", "fields"}:
            raise ApiError(400, "update takes a document `name` and `fields` (no masks, no transforms here)")
        _check_document_path(update.get("name"), database)
        fields = update.get("fields") or {}
        if not isinstance(fields, dict):
            raise ApiError(400, "fields must be a map")
        for key, value in fields.items():
            _check_value(value, key)
        return update["name"], fields, precondition

    def _check_precondition(self, view: dict[str, StoredDocument | None], name: str,
                            precondition: dict[str, Any] | None) -> None:
        if not precondition:
            return
        current = view.get(name)
        if "updateTime" in precondition and current is not None and self.rival_commits > 0:
            self.rival_commits -= 1
            current.update_ns = self._now()  # another writer got there first
        failure: ApiError | None = None
        if precondition.get("exists") is False and current is not None:
            code = 409 if self.create_conflict == "ALREADY_EXISTS" else 400
            failure = ApiError(code, f"Document already exists: {name}", self.create_conflict)
        elif precondition.get("exists") is True and current is None:
            failure = ApiError(404, f"No document to update: {name}")
        elif "updateTime" in precondition:
            stored = current.update_ns if current is not None else 0
            wanted = parse_time(precondition["updateTime"])
            if stored != wanted:
                failure = ApiError(400, f"the stored version ({stored // 1000}) does not match the required base "
                                        f"version ({wanted // 1000})", "FAILED_PRECONDITION")
        if failure is not None:
            self.precondition_failures += 1
            self.failures_by_collection[name.rsplit("/", 2)[1]] += 1
            raise failure

    def run_query(self, database: str, body: Any) -> list[dict[str, Any]]:
        query = body.get("structuredQuery") if isinstance(body, dict) and set(body) == {"structuredQuery"} else None
        if not isinstance(query, dict) or set(query) - {"from", "where", "orderBy", "limit"}:
            raise ApiError(400, "the stand-in serves structuredQuery with from, where, orderBy and limit only")
        sources = query.get("from")
        if not isinstance(sources, list) or len(sources) != 1 or not isinstance(sources[0], dict) \
                or set(sources[0]) != {"collectionId"}:
            raise ApiError(400, "from must be one collection selector {collectionId}")
        orders = query.get("orderBy") or []
        for order in orders:
            if not isinstance(order, dict) or not isinstance((order.get("field") or {}).get("fieldPath"), str) \
                    or order.get("direction", "ASCENDING") not in ("ASCENDING", "DESCENDING"):
                raise ApiError(400, "orderBy takes {field: {fieldPath}, direction}")
        limit = query.get("limit")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
            raise ApiError(400, "limit must be a non-negative integer")
        matches = _parse_filter(query["where"], "where") if "where" in query else None
        if matches is not None and any(o["field"]["fieldPath"] != "__name__"
                                       or o.get("direction", "ASCENDING") != "ASCENDING" for o in orders):
            raise ApiError(400, "The query requires an index. (The stand-in has no composite indexes: a filtered "
                                "query may only order by __name__ ascending.)", "FAILED_PRECONDITION")
        prefix = f"{database}/documents/{sources[0]['collectionId']}/"
        with self._lock:
            found = [(name, doc) for name, doc in self.documents.items()
                     if name.startswith(prefix) and "/" not in name[len(prefix):]
                     and (matches is None or matches(doc.fields))]
            paths = [o["field"]["fieldPath"] for o in orders]
            found = [(n, d) for n, d in found if all(p == "__name__" or p in d.fields for p in paths)]
            last = orders[-1].get("direction", "ASCENDING") if orders else "ASCENDING"
            keys = [*((p, o.get("direction", "ASCENDING")) for p, o in zip(paths, orders, strict=True)),
                    ("__name__", last)]
            for path, direction in reversed(keys):  # stable sorts, least significant key first
                found.sort(key=lambda item, p=path: _order_key(item, p), reverse=direction == "DESCENDING")
            if limit is not None:
                found = found[:limit]
            read_time = format_time(self._now())
            if not found:
                return [{"readTime": read_time}]
            return [{"document": doc.resource(name), "readTime": read_time} for name, doc in found]


def _parse_filter(spec: Any, path: str) -> Callable[[dict[str, Any]], bool]:
    """A `Filter`: one `fieldFilter` with op EQUAL, or a `compositeFilter` AND of filters."""
    if not isinstance(spec, dict) or len(spec) != 1 or set(spec) - {"fieldFilter", "compositeFilter"}:
        raise ApiError(400, f"{path}: the stand-in serves exactly one fieldFilter or compositeFilter")
    if "compositeFilter" in spec:
        composite = spec["compositeFilter"]
        if not isinstance(composite, dict) or set(composite) != {"op", "filters"} or composite["op"] != "AND" \
                or not isinstance(composite["filters"], list) or not composite["filters"]:
            raise ApiError(400, f"{path}: compositeFilter takes op AND and a non-empty list of filters")
        parts = [_parse_filter(f, f"{path}.filters[{i}]") for i, f in enumerate(composite["filters"])]
        return lambda fields: all(part(fields) for part in parts)
    field_filter = spec["fieldFilter"]
    if not isinstance(field_filter, dict) or set(field_filter) != {"field", "op", "value"} \
            or not isinstance(field_filter["field"], dict) or set(field_filter["field"]) != {"fieldPath"} \
            or not isinstance(field_filter["field"]["fieldPath"], str) or not field_filter["field"]["fieldPath"]:
        raise ApiError(400, f"{path}: fieldFilter takes field {{fieldPath}}, op and value")
    if field_filter["op"] != "EQUAL":
        raise ApiError(400, f"{path}: the stand-in serves the EQUAL operator only, not {field_filter['op']!r}")
    field_path, value = field_filter["field"]["fieldPath"], field_filter["value"]
    _check_value(value, f"{path}.value")
    wanted = _comparable(value)
    return lambda fields: field_path in fields and _comparable(fields[field_path]) == wanted


def _comparable(value: dict[str, Any]) -> Any:
    """A value as Firestore compares it: numbers by value across integer and double, timestamps
    by instant, everything else by kind and content."""
    kind, v = next(iter(value.items()))
    if kind in ("integerValue", "doubleValue"):
        return "number", float(v) if kind == "doubleValue" else int(v)
    if kind == "timestampValue":
        return kind, parse_time(v)
    return kind, json.dumps(v, sort_keys=True)


def _order_key(item: tuple[str, StoredDocument], path: str) -> tuple[int, Any]:
    name, doc = item
    if path == "__name__":
        return 0, name
    kind, value = next(iter(doc.fields[path].items()))
    if kind not in _TYPE_ORDER:
        raise ApiError(400, f"the stand-in cannot order by a {kind}")
    converted = {"integerValue": lambda v: int(v), "doubleValue": float, "timestampValue": parse_time,
                 "nullValue": lambda v: 0}.get(kind, lambda v: v)(value)
    return _TYPE_ORDER[kind], converted


class _Handler(BaseHTTPRequestHandler):
    standin: FirestoreStandIn

    def log_message(self, *_args: Any) -> None:
        pass

    def _reply(self, status: int, body: Any) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _serve(self, work: Any) -> None:
        s = self.standin
        with s._lock:
            s.requests += 1
            if self.headers.get("Authorization"):
                s.authorizations.append(self.headers["Authorization"])
            fail, garble = s.fail_status, s.garble
        if fail is not None:
            self._reply(fail, ApiError(fail, s.fail_message, _STATUS.get(fail, "UNAVAILABLE")).body())
            return
        if garble:
            self._reply(200, b"<html>upstream proxy error</html>")
            return
        try:
            self._reply(200, work())
        except ApiError as err:
            self._reply(err.code, err.body())

    def _path(self) -> str:
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        if not path.startswith("/v1/"):
            raise ApiError(404, f"no such method {path}")
        return path[len("/v1/"):]

    def do_GET(self) -> None:
        self._serve(lambda: self.standin.get(self._path()))

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def work() -> Any:
            path = self._path()
            database, _, verb = path.rpartition("/documents:")
            if not _DATABASE.match(database) or verb not in ("commit", "runQuery"):
                raise ApiError(404, f"no such method POST {path}")
            try:
                body = json.loads(raw)
            except ValueError:
                raise ApiError(400, "Invalid JSON payload received.") from None
            return self.standin.commit(database, body) if verb == "commit" else self.standin.run_query(database, body)

        self._serve(work)
