"""What remedies keep between invocations: request claims, spend budgets, leases, the audit log.

Every guard that must hold across concurrent invocations (two deliveries of one SNS message,
a Lambda retry, the AWS and the GCP watchdog on one store) is an atomic operation here:

- `claim(request_id)`: insert-if-absent. The first claimant acts; every later one reads the
  first one's record instead (idempotency by request id).
- `reserve(budget, request_id, amount, cap, window)`: compare-and-set on the budget's
  rolling window, so two top-ups can never together exceed the 24 h cap.
- `acquire_lease(name, owner, ttl)`: at most one holder until it releases or the TTL
  passes (one failover at a time; one sender per funder nonce sequence).

The alerting store (`opwatch.alerting.store`) models alert lifecycles; these records are
different in kind (money and leases), so they have their own small interface, built the
same way: SQLite (`BEGIN IMMEDIATE`, here), DynamoDB (conditional writes,
`opwatch.aws.remedy_store`) and Firestore (preconditioned commits over its REST API,
`opwatch.gcp.remedy_store`).
"""

from __future__ import annotations

import json
import sqlite3
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..persistence import SqliteFile

AUDIT_RETENTION_S = 90 * 86400


@dataclass(frozen=True, slots=True)
class Claim:
    won: bool
    # The stored record: ours when we won, the earlier claimant's otherwise.
    record: dict[str, Any]


class RemedyStore(ABC):
    @abstractmethod
    def claim(self, request_id: str, record: dict[str, Any]) -> Claim:
        """Store `record` for `request_id` iff none is stored yet."""

    @abstractmethod
    def lookup(self, request_id: str) -> dict[str, Any] | None:
        """The claimed record, or None."""

    @abstractmethod
    def update(self, request_id: str, record: dict[str, Any]) -> None:
        """Replace the claimed record (progress: sent, done, failed)."""

    @abstractmethod
    def forget(self, request_id: str) -> None:
        """Drop a claim that acted on nothing (failed before any side effect), so a retry may act."""

    @abstractmethod
    def reserve(self, budget: str, request_id: str, amount: int, cap: int, window_s: float, now: float) -> bool:
        """Atomically add `amount` to the budget's spend within `window_s` iff the total stays
        <= cap. Reserving again for the same request id is a no-op that returns True."""

    @abstractmethod
    def unreserve(self, budget: str, request_id: str) -> None:
        """Return a reservation whose transaction was never broadcast."""

    @abstractmethod
    def spent(self, budget: str, window_s: float, now: float) -> int:
        """The total reserved within the window."""

    @abstractmethod
    def acquire_lease(self, name: str, owner: str, ttl_s: float, now: float) -> bool:
        """Take the lease if it is free, expired, or already ours."""

    @abstractmethod
    def release_lease(self, name: str, owner: str) -> None:
        """Give the lease back (only if we hold it)."""

    @abstractmethod
    def append_audit(self, record: dict[str, Any]) -> None:
        """Append one audit record (never mutated afterwards)."""

    @abstractmethod
    def audit(self, limit: int = 100) -> list[dict[str, Any]]:
        """Audit records, newest first."""


def prune_window(entries: list[list[Any]], window_s: float, now: float) -> list[list[Any]]:
    """Budget entries are [time, amount, request_id]; keep those inside the rolling window."""
    return [e for e in entries if e[0] > now - window_s]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS remedy_request (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS remedy_spend (budget TEXT NOT NULL, request_id TEXT NOT NULL, at REAL NOT NULL,
                                         amount TEXT NOT NULL, PRIMARY KEY (budget, request_id));
CREATE TABLE IF NOT EXISTS remedy_lease (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS remedy_audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, doc TEXT NOT NULL);
"""


class SqliteRemedyStore(SqliteFile, RemedyStore):
    """One file; safe for threads and processes (every check-then-write is one BEGIN IMMEDIATE)."""

    def __init__(self, path: str | Path, timeout: float = 30.0) -> None:
        SqliteFile.__init__(self, path, _SCHEMA, timeout, durable=True)

    def _tx(self, work: Any) -> Any:
        conn = self._conn()
        # IMMEDIATE takes the write lock before we read, so the read-compare-write is atomic.
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = work(conn)
            conn.execute("COMMIT")
            return result
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def claim(self, request_id: str, record: dict[str, Any]) -> Claim:
        def work(conn: sqlite3.Connection) -> Claim:
            cur = conn.execute("INSERT OR IGNORE INTO remedy_request (id, doc) VALUES (?, ?)",
                               (request_id, json.dumps(record, sort_keys=True)))
            if cur.rowcount == 1:
                return Claim(True, record)
            row = conn.execute("SELECT doc FROM remedy_request WHERE id = ?", (request_id,)).fetchone()
            return Claim(False, json.loads(row[0]))
        return self._tx(work)  # type: ignore[no-any-return]

    def lookup(self, request_id: str) -> dict[str, Any] | None:
        row = self._conn().execute("SELECT doc FROM remedy_request WHERE id = ?", (request_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def update(self, request_id: str, record: dict[str, Any]) -> None:
        self._conn().execute("UPDATE remedy_request SET doc = ? WHERE id = ?",
                             (json.dumps(record, sort_keys=True), request_id))

    def forget(self, request_id: str) -> None:
        self._conn().execute("DELETE FROM remedy_request WHERE id = ?", (request_id,))

    def reserve(self, budget: str, request_id: str, amount: int, cap: int, window_s: float, now: float) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            if conn.execute("SELECT 1 FROM remedy_spend WHERE budget = ? AND request_id = ?",
                            (budget, request_id)).fetchone():
                return True
            rows = conn.execute("SELECT amount FROM remedy_spend WHERE budget = ? AND at > ?",
                                (budget, now - window_s)).fetchall()
            if sum(int(a) for (a,) in rows) + amount > cap:
                return False
            conn.execute("INSERT INTO remedy_spend (budget, request_id, at, amount) VALUES (?, ?, ?, ?)",
                         (budget, request_id, now, str(amount)))
            return True
        return self._tx(work)  # type: ignore[no-any-return]

    def unreserve(self, budget: str, request_id: str) -> None:
        self._conn().execute("DELETE FROM remedy_spend WHERE budget = ? AND request_id = ?", (budget, request_id))

    def spent(self, budget: str, window_s: float, now: float) -> int:
        rows = self._conn().execute("SELECT amount FROM remedy_spend WHERE budget = ? AND at > ?",
                                    (budget, now - window_s)).fetchall()
        return sum(int(a) for (a,) in rows)

    def acquire_lease(self, name: str, owner: str, ttl_s: float, now: float) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            row = conn.execute("SELECT owner, expires FROM remedy_lease WHERE name = ?", (name,)).fetchone()
            if row is not None and row[0] != owner and row[1] > now:
                return False
            conn.execute("INSERT OR REPLACE INTO remedy_lease (name, owner, expires) VALUES (?, ?, ?)",
                         (name, owner, now + ttl_s))
            return True
        return self._tx(work)  # type: ignore[no-any-return]

    def release_lease(self, name: str, owner: str) -> None:
        self._conn().execute("DELETE FROM remedy_lease WHERE name = ? AND owner = ?", (name, owner))

    def append_audit(self, record: dict[str, Any]) -> None:
        now = time.time()
        self._tx(lambda conn: (
            conn.execute("INSERT INTO remedy_audit (at, doc) VALUES (?, ?)", (now, json.dumps(record, sort_keys=True))),
            conn.execute("DELETE FROM remedy_audit WHERE at < ?", (now - AUDIT_RETENTION_S,))))

    def audit(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = self._conn().execute("SELECT doc FROM remedy_audit ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [json.loads(doc) for (doc,) in rows]


def open_store(spec: str, registry: Any, seams: Any = None) -> RemedyStore:
    """`sqlite:PATH`, `dynamodb:TABLE` or `firestore:PROJECT/DATABASE` (the policy's `store`),
    built by the implementation the runtime registered (an `opwatch.registry.Registry`)."""
    kind, _, where = spec.partition(":")
    store: RemedyStore = registry.build("remedy_store", kind, where, seams)
    return store
