"""What a check remembers between runs: per check, network and target, the previous run's
observation (a small JSON object) and when it was made.

Some invariants need the previous observation: a nonce that has not moved, a head that went
backwards. A check reads it through its `Context` (`ctx.memory.get(target)` → `Recalled`) and
returns what to remember in its verdict (`Verdict.remember`); `checks.base.evaluate` writes it
after the run. The memory lives in the alert lifecycle's state store (SQLite locally, the
alert table on AWS under `memory#` keys, the alert database on GCP), behind `MemoryStore`.

Rules a check keeps:
- no memory (a first run, a store that was never configured) is not evidence: a check measures
  what it can and never fires on memory alone;
- a store that cannot be read makes only the memory-dependent part of the verdict `unknown`
  (`Recalled.error` says why); the rest of the verdict stands;
- a write that fails never changes the finding (it is noted in the finding's details).

The store contract: `put` keeps the newer observation (an overlapping, older run never
overwrites a newer one); `get` raises `MemoryUnavailable` when the store cannot answer.
Implementations: `SqliteMemoryStore` (here), `opwatch.aws.memory_store.DynamoDBMemoryStore`,
`opwatch.gcp.memory_store.FirestoreMemoryStore`.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .persistence import SqliteFile

# An observation is small: a few numbers and hashes. Anything bigger is a bug in a check.
MAX_OBSERVATION_BYTES = 4096
# Memory older than this is dropped by the stores that expire records (DynamoDB and Firestore TTL).
RETENTION_SECONDS = 7 * 86400


class MemoryUnavailable(Exception):
    """The memory store could not be read or written (the reason is safe to show)."""


@dataclass(frozen=True, slots=True)
class Observation:
    at: float  # epoch seconds of the run that made it
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        text = json.dumps({"at": self.at, "data": self.data}, sort_keys=True)
        if len(text) > MAX_OBSERVATION_BYTES:
            raise ValueError(f"observation of {len(text)} bytes exceeds {MAX_OBSERVATION_BYTES}")
        return text

    @staticmethod
    def from_json(text: str) -> Observation:
        try:
            raw = json.loads(text)
            at, data = float(raw["at"]), raw["data"]
        except (ValueError, KeyError, TypeError):
            raise MemoryUnavailable("a stored observation is not valid JSON of {at, data}") from None
        if not isinstance(data, dict):
            raise MemoryUnavailable("a stored observation's data is not an object")
        return Observation(at, data)


def memory_key(network: str, check: str) -> str:
    return f"{network}/{check}"


class MemoryStore(ABC):
    @abstractmethod
    def get(self, network: str, check: str, target: str) -> Observation | None:
        """The last observation stored, or None; raises MemoryUnavailable if the store cannot answer."""

    @abstractmethod
    def put(self, network: str, check: str, target: str, observation: Observation) -> bool:
        """Store `observation` unless a newer one (a later `at`) is already stored: True if
        written. Raises MemoryUnavailable if the store cannot answer."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections, if any."""


@dataclass(frozen=True, slots=True)
class Recalled:
    """What a check got back from memory: the observation (None: nothing remembered) or why the
    store could not be read (`error`; then `observation` is None too)."""

    observation: Observation | None
    error: str | None = None

    def age(self, now: float) -> float | None:
        return None if self.observation is None else max(0.0, now - self.observation.at)


class Memory:
    """One check's memory on one network: what `ctx.memory` is while that check runs."""

    def __init__(self, store: MemoryStore | None, network: str, check: str) -> None:
        self.store = store
        self.network = network
        self.check = check

    def get(self, target: str) -> Recalled:
        if self.store is None:
            return Recalled(None, "no memory store is configured for this run")
        try:
            return Recalled(self.store.get(self.network, self.check, target))
        except MemoryUnavailable as exc:
            return Recalled(None, f"memory unreadable: {exc}")

    def put(self, target: str, observation: Observation) -> str | None:
        """Write; None on success (or nothing to write to), else why it failed."""
        if self.store is None:
            return None
        try:
            self.store.put(self.network, self.check, target, observation)
        except (MemoryUnavailable, ValueError) as exc:
            return f"memory not written: {exc}"
        return None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS check_memory (key TEXT NOT NULL, target TEXT NOT NULL, at REAL NOT NULL,
                                         doc TEXT NOT NULL, PRIMARY KEY (key, target));
"""


class SqliteMemoryStore(SqliteFile, MemoryStore):
    """Memory in the alert state's SQLite file (its own table beside the alert state)."""

    def __init__(self, path: str | Path, timeout: float = 30.0) -> None:
        SqliteFile.__init__(self, path, _SCHEMA, timeout)

    def get(self, network: str, check: str, target: str) -> Observation | None:
        import sqlite3

        try:
            row = self._conn().execute("SELECT doc FROM check_memory WHERE key = ? AND target = ?",
                                       (memory_key(network, check), target)).fetchone()
        except sqlite3.Error as exc:
            raise MemoryUnavailable(f"sqlite: {exc}") from None
        return None if row is None else Observation.from_json(row[0])

    def put(self, network: str, check: str, target: str, observation: Observation) -> bool:
        import sqlite3

        doc = observation.to_json()
        try:
            cur = self._conn().execute(
                "INSERT INTO check_memory (key, target, at, doc) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (key, target) DO UPDATE SET at = excluded.at, doc = excluded.doc "
                "WHERE excluded.at > check_memory.at",
                (memory_key(network, check), target, observation.at, doc))
        except sqlite3.Error as exc:
            raise MemoryUnavailable(f"sqlite: {exc}") from None
        return cur.rowcount == 1
