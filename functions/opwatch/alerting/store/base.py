"""The state store interface: what the alert lifecycle needs from persistence, nothing more.

Like Powertools' `BasePersistenceLayer`: the lifecycle (`AlertManager`) never knows which
store it has. Every implementation must make `commit` a compare-and-set on the record's
`version`, atomic with the transitions it appends, so two evaluations of the same key
(two overlapping invocations, or the AWS and the GCP watchdog on a shared store) cannot
both win: the loser re-reads and re-applies, and sees the winner's result.

Implementations: `SqliteStore` (local, CLI, tests), `DynamoDBStore` (AWS: conditional
writes on `version`, a TTL attribute) and `FirestoreStore` (GCP: commits preconditioned on the
state document's update time, over the Firestore REST API).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from ..model import AlertState, DeadLetter, Transition

# History and dead letters are kept this long (the DynamoDB TTL attribute; SQLite prunes).
RETENTION_SECONDS = 30 * 86400


class Conflict(Exception):
    """Another writer kept winning the compare-and-set; nothing was written by us."""


class StateStore(ABC):
    @abstractmethod
    def get(self, key: str) -> AlertState | None:
        """The stored state (its `version` set), or None if the key was never stored."""

    @abstractmethod
    def commit(self, state: AlertState, transitions: Sequence[Transition] = ()) -> bool:
        """Write `state` iff the stored version still equals `state.version` (0: not stored yet),
        with `transitions` appended atomically; on success the stored version is
        `state.version + 1` (and `state.version` is updated). False if someone else won."""

    @abstractmethod
    def open_alerts(self) -> list[AlertState]:
        """States that are pending, firing or blind."""

    @abstractmethod
    def transitions(self, key: str | None = None, limit: int = 50) -> list[Transition]:
        """Recorded transitions, newest first (of one key, or of all)."""

    @abstractmethod
    def put_dead_letter(self, letter: DeadLetter) -> bool:
        """Store (or refresh) a dead letter; True if it is new (no letter with its id yet)."""

    @abstractmethod
    def dead_letters(self, limit: int = 50) -> list[DeadLetter]:
        """Dead letters, newest first."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections, if any."""
