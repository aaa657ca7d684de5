"""Firestore remedy store for the GCP remedy functions, over the Firestore v1 REST API.

Why REST and not the google-cloud-firestore gRPC client: no Firestore emulator runs here
(PROTOCOL-NOTES), so a store built on that client could never be tested (the alerting store
speaks REST for the same reason). The REST API is documented request by request, so `tests/firestore_standin.py` serves
exactly the calls made here and the concurrency guards are tested against it with real threads.

Documents, under `projects/{project}/databases/{database}/documents/`:

- `{prefix}_claims/{id}`: `doc` (the record's JSON). Claimed with a commit whose write has
  `currentDocument: {exists: false}`; a loser reads the winner's record.
- `{prefix}_budgets/{budget}`: `doc` = the window's entries `[[time, wei, request id], ...]`
  as JSON (wei exceeds Firestore's int64). Reserving is compare-and-set: read the document and
  its `updateTime`, then commit with `currentDocument: {updateTime}` (or `{exists: false}`);
  a lost race re-reads and retries, so the cap holds under any interleaving.
- `{prefix}_leases/{name}`: `owner`, `lease_until` (double, epoch seconds), `expires_at`.
  Taken and released by the same compare-and-set.
- `{prefix}_audit/{ns time}-{random}`: `doc`, `at` (integer ns, what `audit()` orders by),
  `expires_at`. Created with `exists: false`, never changed.

Document ids: every character outside `[A-Za-z0-9._-]` is written `~XX` (its UTF-8 bytes in
hex), so `topup:mainnet` is stored as `topup~3Amainnet`: readable, reversible, and free of `/`
(a path separator to Firestore) and `:` (a method separator in REST URLs). Ids Firestore
reserves (`.`, `..`, `__x__`) get their first character escaped; over-long ones are cut and
suffixed with a hash.

TTL: `expires_at` (a timestamp) on `{prefix}_leases` (a day after the lease ends) and
`{prefix}_audit` (AUDIT_RETENTION_S) — put a TTL policy on that field of both collection
groups (`TTL_FIELD`, `ttl_collections()`). Claims and budgets have none, as in DynamoDB.

IAM: `roles/datastore.user` on the project (documents get, commit, runQuery).

Errors: a transport error, a non-2xx answer that is not a handled precondition failure, or an
answer of the wrong shape raises `StoreUnavailable` with a short reason (never headers, never
the access token). A compare-and-set lost `max_attempts` times raises `StoreContention`. No
operation returns a guessed answer.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .store import AUDIT_RETENTION_S, Claim, RemedyStore, prune_window

SCOPE = "https://www.googleapis.com/auth/datastore"
TTL_FIELD = "expires_at"
TIMEOUT_S = 10.0
LEASE_GRACE_S = 86400
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
_MAX_ID = 400  # well inside Firestore's 1,500 bytes, so collection + id stays readable in URLs
_LOST = {"FAILED_PRECONDITION", "ALREADY_EXISTS", "ABORTED"}  # ABORTED: contention, 409 over REST
_REDACT = re.compile(r"(?i)(bearer\s+|access_token[\"'=:\s]+)[^\s\"',;}]+|ya29\.[\w.-]+")


class StoreUnavailable(RuntimeError):
    """Firestore did not answer, or answered something other than the API's documented shape."""


class StoreContention(RuntimeError):
    """A compare-and-set lost to other writers `max_attempts` times in a row; nothing was written."""


def document_id(key: str) -> str:
    """A valid Firestore document id for any string, reversible (`~XX` escapes, see the docstring)."""
    out = "".join(c if c in _SAFE else "".join(f"~{b:02X}" for b in c.encode()) for c in key)
    if not out or out in (".", "..") or (out.startswith("__") and out.endswith("__")):
        out = f"~{ord(key[0]):02X}{out[1:]}" if key else "~"  # "~" alone: the empty string
    if len(out) > _MAX_ID:
        out = f"{out[:_MAX_ID - 66]}~~{hashlib.sha256(key.encode()).hexdigest()}"
    return out


def _timestamp(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _redact(text: str) -> str:
    return _REDACT.sub(lambda m: f"{m.group(1) or ''}<redacted>", text)[:200]


@dataclass(frozen=True, slots=True)
class _Doc:
    fields: dict[str, Any]
    update_time: str

    def string(self, name: str) -> str:
        return str(_scalar(self.fields, name, "stringValue", str))

    def number(self, name: str) -> float:
        value = self.fields.get(name)
        if isinstance(value, dict) and isinstance(value.get("doubleValue"), int | float):
            return float(value["doubleValue"])
        text = _scalar(self.fields, name, "integerValue", str)
        if not re.fullmatch(r"-?\d+", text):
            raise StoreUnavailable(f"document field {name!r} is not an integer")
        return float(int(text))

    def json(self, name: str) -> Any:
        try:
            return json.loads(self.string(name))
        except ValueError:
            raise StoreUnavailable(f"field {name!r} is not JSON") from None


def _scalar(fields: dict[str, Any], name: str, kind: str, typ: type) -> Any:
    value = fields.get(name)
    if not isinstance(value, dict) or not isinstance(value.get(kind), typ):
        raise StoreUnavailable(f"document field {name!r} is not a {kind}")
    return value[kind]


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: Any
    error_status: str  # Google's `error.status` ("FAILED_PRECONDITION", ...) or ""


class FirestoreRemedyStore(RemedyStore):
    def __init__(self, project: str, database: str = "(default)", collection_prefix: str = "opwatch_remedy",
                 session: Any = None, base_url: str = "https://firestore.googleapis.com/v1",
                 max_attempts: int = 20) -> None:
        self.database_path = f"projects/{project}/databases/{database}"
        self.collection_prefix = collection_prefix
        self.base_url = base_url.rstrip("/")
        self.max_attempts = max(1, max_attempts)
        self._session = session
        self._lock = threading.Lock()
        self._last_ns = 0

    @property
    def session(self) -> Any:
        """An `AuthorizedSession` with the function's default credentials, built on first use
        (importing google.auth costs every cold start; only remedy runs need it)."""
        with self._lock:
            if self._session is None:
                import google.auth
                from google.auth.transport.requests import AuthorizedSession

                credentials, _ = google.auth.default(scopes=[SCOPE])
                self._session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
            return self._session

    def ttl_collections(self) -> tuple[str, ...]:
        """The collection groups whose `TTL_FIELD` needs a TTL policy."""
        return self._collection("leases"), self._collection("audit")

    # --- the wire ----------------------------------------------------------------------

    def _collection(self, kind: str) -> str:
        return f"{self.collection_prefix}_{kind}"

    def _name(self, kind: str, key: str) -> str:
        return f"{self.database_path}/documents/{self._collection(kind)}/{document_id(key)}"

    def _call(self, method: str, path: str, body: Any = None) -> _Answer:
        what = f"{method} {path.rsplit('/', 1)[-1]}"
        try:
            response = self.session.request(method, f"{self.base_url}/{path}", json=body, timeout=TIMEOUT_S)
            status, raw = int(response.status_code), bytes(response.content)
        except Exception as exc:  # the transport or the credentials' refresh: both mean "no answer"
            raise StoreUnavailable(f"Firestore {what}: {type(exc).__name__}: {_redact(str(exc))}") from None
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        if 200 <= status < 300:
            if parsed is None:
                raise StoreUnavailable(f"Firestore {what}: HTTP {status} with a body that is not JSON")
            return _Answer(status, parsed, "")
        error = parsed.get("error") if isinstance(parsed, dict) else None
        return _Answer(status, parsed, str(error.get("status", "")) if isinstance(error, dict) else "")

    @staticmethod
    def _fail(what: str, answer: _Answer) -> StoreUnavailable:
        error = answer.body.get("error") if isinstance(answer.body, dict) else None
        message = str(error.get("message", "")) if isinstance(error, dict) else ""
        return StoreUnavailable(" ".join(filter(None, (f"Firestore {what}: HTTP {answer.status}",
                                                       answer.error_status, _redact(message)))))

    def _get(self, kind: str, key: str) -> _Doc | None:
        answer = self._call("GET", self._name(kind, key))
        if answer.status == 404 and answer.error_status == "NOT_FOUND":
            return None
        if answer.status >= 300:
            raise self._fail(f"get {kind}", answer)
        body = answer.body
        if not isinstance(body, dict) or not isinstance(body.get("updateTime"), str):
            raise StoreUnavailable(f"Firestore get {kind}: the answer is not a document")
        fields = body.get("fields", {})
        if not isinstance(fields, dict):
            raise StoreUnavailable(f"Firestore get {kind}: document fields are not a map")
        return _Doc(fields, body["updateTime"])

    def _commit(self, what: str, write: dict[str, Any]) -> bool:
        """One write in one commit: True when it landed, False when its precondition failed
        (someone else wrote first). Anything else raises StoreUnavailable."""
        answer = self._call("POST", f"{self.database_path}/documents:commit", {"writes": [write]})
        if answer.status < 300:
            results = answer.body.get("writeResults") if isinstance(answer.body, dict) else None
            if not isinstance(results, list) or len(results) != 1 or not isinstance(answer.body.get("commitTime"), str):
                raise StoreUnavailable(f"Firestore commit {what}: the answer has no write result")
            return True
        if answer.status in (400, 409) and answer.error_status in _LOST:
            return False
        raise self._fail(f"commit {what}", answer)

    def _upsert(self, kind: str, key: str, fields: dict[str, Any], precondition: dict[str, Any] | None) -> bool:
        write: dict[str, Any] = {"update": {"name": self._name(kind, key), "fields": fields}}
        if precondition is not None:
            write["currentDocument"] = precondition
        return self._commit(kind, write)

    def _delete(self, kind: str, key: str, precondition: dict[str, Any] | None) -> bool:
        write: dict[str, Any] = {"delete": self._name(kind, key)}
        if precondition is not None:
            write["currentDocument"] = precondition
        return self._commit(kind, write)

    def _cas(self, what: str, attempt: Callable[[], bool | None]) -> bool:
        """Run `attempt` (read, decide, conditional commit) until it decides: it returns the
        answer, or None when its commit lost to another writer and it must read again."""
        for n in range(self.max_attempts):
            decided = attempt()
            if decided is not None:
                return decided
            if n + 1 < self.max_attempts:
                # Jittered and short: writers of one document are a handful of function instances.
                time.sleep(random.uniform(0, min(0.2, 0.005 * 2 ** n)))
        raise StoreContention(f"{what}: lost the compare-and-set {self.max_attempts} times; nothing written")

    @staticmethod
    def _since(doc: _Doc | None) -> dict[str, Any]:
        """The precondition that the document is still as we read it."""
        return {"exists": False} if doc is None else {"updateTime": doc.update_time}

    # --- claims --------------------------------------------------------------------------

    def claim(self, request_id: str, record: dict[str, Any]) -> Claim:
        fields = {"doc": {"stringValue": json.dumps(record, sort_keys=True)}}
        theirs: dict[str, Any] = {}

        def attempt() -> bool | None:
            nonlocal theirs
            if self._upsert("claims", request_id, fields, {"exists": False}):
                return True
            found = self.lookup(request_id)
            if found is None:
                return None  # forgotten between their create and our read: try to create again
            theirs = found
            return False

        won = self._cas(f"claim {request_id}", attempt)
        return Claim(True, record) if won else Claim(False, theirs)

    def lookup(self, request_id: str) -> dict[str, Any] | None:
        doc = self._get("claims", request_id)
        if doc is None:
            return None
        record = doc.json("doc")
        if not isinstance(record, dict):
            raise StoreUnavailable("a claim's record is not an object")
        return record

    def update(self, request_id: str, record: dict[str, Any]) -> None:
        self._upsert("claims", request_id, {"doc": {"stringValue": json.dumps(record, sort_keys=True)}}, None)

    def forget(self, request_id: str) -> None:
        self._delete("claims", request_id, None)

    # --- budgets -------------------------------------------------------------------------

    def _entries(self, doc: _Doc | None) -> list[list[Any]]:
        entries = [] if doc is None else doc.json("doc")
        if not isinstance(entries, list) or not all(isinstance(e, list) and len(e) == 3 for e in entries):
            raise StoreUnavailable("a budget's entries are not [time, wei, request id] lists")
        return entries

    def reserve(self, budget: str, request_id: str, amount: int, cap: int, window_s: float, now: float) -> bool:
        def attempt() -> bool | None:
            doc = self._get("budgets", budget)
            entries = self._entries(doc)
            if any(e[2] == request_id for e in entries):
                return True
            live = prune_window(entries, window_s, now)
            if sum(int(e[1]) for e in live) + amount > cap:
                return False
            fields = {"doc": {"stringValue": json.dumps([*live, [now, str(amount), request_id]])}}
            return True if self._upsert("budgets", budget, fields, self._since(doc)) else None

        return self._cas(f"reserve on budget {budget}", attempt)

    def unreserve(self, budget: str, request_id: str) -> None:
        def attempt() -> bool | None:
            doc = self._get("budgets", budget)
            entries = self._entries(doc)
            kept = [e for e in entries if e[2] != request_id]
            if doc is None or len(kept) == len(entries):
                return True
            fields = {"doc": {"stringValue": json.dumps(kept)}}
            return True if self._upsert("budgets", budget, fields, self._since(doc)) else None

        self._cas(f"unreserve on budget {budget}", attempt)

    def spent(self, budget: str, window_s: float, now: float) -> int:
        return sum(int(e[1]) for e in prune_window(self._entries(self._get("budgets", budget)), window_s, now))

    # --- leases --------------------------------------------------------------------------

    def acquire_lease(self, name: str, owner: str, ttl_s: float, now: float) -> bool:
        fields = {"owner": {"stringValue": owner}, "lease_until": {"doubleValue": now + ttl_s},
                  TTL_FIELD: {"timestampValue": _timestamp(now + ttl_s + LEASE_GRACE_S)}}

        def attempt() -> bool | None:
            doc = self._get("leases", name)
            # Held by someone else until lease_until (as the SQLite store: free at exactly lease_until).
            if doc is not None and doc.string("owner") != owner and doc.number("lease_until") > now:
                return False
            return True if self._upsert("leases", name, fields, self._since(doc)) else None

        return self._cas(f"lease {name}", attempt)

    def release_lease(self, name: str, owner: str) -> None:
        def attempt() -> bool | None:
            doc = self._get("leases", name)
            if doc is None or doc.string("owner") != owner:
                return True
            return True if self._delete("leases", name, self._since(doc)) else None

        self._cas(f"release of lease {name}", attempt)

    # --- audit ---------------------------------------------------------------------------

    def _audit_ns(self) -> int:
        # Strictly increasing within the process, so two appends in one clock tick keep their order.
        with self._lock:
            self._last_ns = max(time.time_ns(), self._last_ns + 1)
            return self._last_ns

    def append_audit(self, record: dict[str, Any]) -> None:
        doc = {"stringValue": json.dumps(record, sort_keys=True)}
        for _ in range(self.max_attempts):
            ns = self._audit_ns()
            fields = {"doc": doc, "at": {"integerValue": str(ns)},
                      TTL_FIELD: {"timestampValue": _timestamp(ns / 1e9 + AUDIT_RETENTION_S)}}
            # The random suffix keeps ids unique across instances; `exists: false` makes sure.
            if self._upsert("audit", f"{ns:020d}-{secrets.token_hex(4)}", fields, {"exists": False}):
                return
        raise StoreContention(f"audit: no free document id in {self.max_attempts} attempts")

    def audit(self, limit: int = 100) -> list[dict[str, Any]]:
        query = {"structuredQuery": {"from": [{"collectionId": self._collection("audit")}],
                                     "orderBy": [{"field": {"fieldPath": "at"}, "direction": "DESCENDING"}],
                                     "limit": limit}}
        answer = self._call("POST", f"{self.database_path}/documents:runQuery", query)
        if answer.status >= 300:
            raise self._fail("runQuery audit", answer)
        if not isinstance(answer.body, list):
            raise StoreUnavailable("Firestore runQuery audit: the answer is not a list of results")
        records: list[dict[str, Any]] = []
        for item in answer.body:
            # The stream also carries items without a document (read time, progress): skip those.
            document = item.get("document") if isinstance(item, dict) else None
            if document is None:
                continue
            fields = document.get("fields") if isinstance(document, dict) else None
            if not isinstance(fields, dict):
                raise StoreUnavailable("Firestore runQuery audit: a result is not a document")
            record = _Doc(fields, "").json("doc")
            if not isinstance(record, dict):
                raise StoreUnavailable("an audit record is not an object")
            records.append(record)
        return records
