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

Document ids: `rest.document_id` (`topup:mainnet` is stored as `topup~3Amainnet`).
The wire (session, get, commit, runQuery, the error boundary) is `rest.FirestoreRest`,
shared with the alert store.

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

import json
import random
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from ..remedies.store import AUDIT_RETENTION_S, Claim, RemedyStore, prune_window
from .rest import (
    DEFAULT_BASE_URL,
    Doc,
    FirestoreRest,
    StoreUnavailable,
    document_id,
    integer,
    string,
    timestamp,
    update,
)

__all__ = ["TTL_FIELD", "FirestoreRemedyStore", "StoreContention", "StoreUnavailable", "document_id"]

TTL_FIELD = "expires_at"
LEASE_GRACE_S = 86400


class StoreContention(RuntimeError):
    """A compare-and-set lost to other writers `max_attempts` times in a row; nothing was written."""


class FirestoreRemedyStore(RemedyStore):
    def __init__(self, project: str, database: str = "(default)", collection_prefix: str = "opwatch_remedy",
                 session: Any = None, base_url: str = DEFAULT_BASE_URL, max_attempts: int = 20) -> None:
        self.rest = FirestoreRest(database, session=session, project=project, base_url=base_url)
        self.collection_prefix = collection_prefix
        self.max_attempts = max(1, max_attempts)
        self._lock = threading.Lock()
        self._last_ns = 0

    def ttl_collections(self) -> tuple[str, ...]:
        """The collection groups whose `TTL_FIELD` needs a TTL policy."""
        return self._collection("leases"), self._collection("audit")

    # --- the wire ----------------------------------------------------------------------

    def _collection(self, kind: str) -> str:
        return f"{self.collection_prefix}_{kind}"

    def _name(self, kind: str, key: str) -> str:
        return self.rest.name(self._collection(kind), document_id(key))

    def _get(self, kind: str, key: str) -> Doc | None:
        return self.rest.get(self._collection(kind), document_id(key))

    def _upsert(self, kind: str, key: str, fields: dict[str, Any], precondition: dict[str, Any] | None) -> bool:
        """One write in one commit: True when it landed, False when its precondition failed
        (someone else wrote first). Anything else raises StoreUnavailable."""
        return self.rest.commit(kind, [update(self._name(kind, key), fields, precondition)]) is not None

    def _delete(self, kind: str, key: str, precondition: dict[str, Any] | None) -> bool:
        write: dict[str, Any] = {"delete": self._name(kind, key)}
        if precondition is not None:
            write["currentDocument"] = precondition
        return self.rest.commit(kind, [write]) is not None

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
    def _since(doc: Doc | None) -> dict[str, Any]:
        """The precondition that the document is still as we read it."""
        return {"exists": False} if doc is None else {"updateTime": doc.update_time}

    # --- claims --------------------------------------------------------------------------

    def claim(self, request_id: str, record: dict[str, Any]) -> Claim:
        fields = {"doc": string(json.dumps(record, sort_keys=True))}
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
        return doc.json_object("doc")

    def update(self, request_id: str, record: dict[str, Any]) -> None:
        self._upsert("claims", request_id, {"doc": string(json.dumps(record, sort_keys=True))}, None)

    def forget(self, request_id: str) -> None:
        self._delete("claims", request_id, None)

    # --- budgets -------------------------------------------------------------------------

    def _entries(self, doc: Doc | None) -> list[list[Any]]:
        entries = [] if doc is None else _json(doc, "doc")
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
            fields = {"doc": string(json.dumps([*live, [now, str(amount), request_id]]))}
            return True if self._upsert("budgets", budget, fields, self._since(doc)) else None

        return self._cas(f"reserve on budget {budget}", attempt)

    def unreserve(self, budget: str, request_id: str) -> None:
        def attempt() -> bool | None:
            doc = self._get("budgets", budget)
            entries = self._entries(doc)
            kept = [e for e in entries if e[2] != request_id]
            if doc is None or len(kept) == len(entries):
                return True
            fields = {"doc": string(json.dumps(kept))}
            return True if self._upsert("budgets", budget, fields, self._since(doc)) else None

        self._cas(f"unreserve on budget {budget}", attempt)

    def spent(self, budget: str, window_s: float, now: float) -> int:
        return sum(int(e[1]) for e in prune_window(self._entries(self._get("budgets", budget)), window_s, now))

    # --- leases --------------------------------------------------------------------------

    def acquire_lease(self, name: str, owner: str, ttl_s: float, now: float) -> bool:
        fields = {"owner": string(owner), "lease_until": {"doubleValue": now + ttl_s},
                  TTL_FIELD: timestamp(now + ttl_s + LEASE_GRACE_S)}

        def attempt() -> bool | None:
            doc = self._get("leases", name)
            # Held by someone else until lease_until (as the SQLite store: free at exactly lease_until).
            if doc is not None and doc.string("owner") != owner and _number(doc, "lease_until") > now:
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
        doc = string(json.dumps(record, sort_keys=True))
        for _ in range(self.max_attempts):
            ns = self._audit_ns()
            fields = {"doc": doc, "at": integer(ns), TTL_FIELD: timestamp(ns / 1e9 + AUDIT_RETENTION_S)}
            # The random suffix keeps ids unique across instances; `exists: false` makes sure.
            if self._upsert("audit", f"{ns:020d}-{secrets.token_hex(4)}", fields, {"exists": False}):
                return
        raise StoreContention(f"audit: no free document id in {self.max_attempts} attempts")

    def audit(self, limit: int = 100) -> list[dict[str, Any]]:
        query = {"from": [{"collectionId": self._collection("audit")}],
                 "orderBy": [{"field": {"fieldPath": "at"}, "direction": "DESCENDING"}], "limit": limit}
        return [doc.json_object("doc") for doc in self.rest.query("audit", query)]


def _json(doc: Doc, field: str) -> Any:
    try:
        return json.loads(doc.string(field))
    except ValueError:
        raise StoreUnavailable(f"document field {field!r} is not JSON") from None


def _number(doc: Doc, field: str) -> float:
    """A doubleValue, or an integerValue (a lease written by another version)."""
    value = doc.fields.get(field)
    if isinstance(value, dict) and isinstance(value.get("doubleValue"), int | float):
        return float(value["doubleValue"])
    return float(doc.integer(field))
