"""The alert lifecycle's plain records: per-key state, transitions, notifications, dead letters.

All of them are JSON-serialisable dataclasses so every store (SQLite, DynamoDB, later
Firestore) keeps one document per record and never needs to know what is inside.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from ..findings import make_dedup_key

# The pseudo check id of the "opwatch cannot see X" alerts; its runbook is opwatch_blind.md.
BLIND_CHECK = "opwatch_blind"
# The pseudo check id of "a page could not be delivered" alarms.
PAGING_CHECK = "opwatch_paging"


class Phase(StrEnum):
    OK = "ok"
    PENDING = "pending"  # firing seen, not for long enough yet
    FIRING = "firing"  # an open incident
    RESOLVED = "resolved"  # ok again after an incident (behaves as ok)


class Kind(StrEnum):
    """What a transition records."""

    PENDING = "pending"
    CANCELLED = "cancelled"  # pending → ok without firing
    FIRING = "firing"
    RESOLVED = "resolved"
    BLIND = "blind"  # a long run of unknowns: opwatch cannot see this
    SIGHTED = "sighted"  # a known result after a blind run
    NOTIFIED = "notified"  # a trigger/resolve was delivered to a sink
    UNDELIVERABLE = "undeliverable"  # a notification landed in the dead-letter store


def parse_time(text: str) -> float:
    """ISO 8601 ('2024-05-01T12:00:00Z') → epoch seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass(slots=True)
class AlertState:
    """Everything the lifecycle remembers about one dedup_key, versioned for compare-and-set."""

    key: str
    network: str
    check: str
    target: str
    phase: Phase = Phase.OK
    severity: str = "info"  # of the latest firing finding: decides the route
    incident: int = 0  # counts incidents of this key; bumps on every ok/pending → firing
    last_observed_at: str = ""  # newest finding applied; older or equal ones are ignored
    bad_count: int = 0
    bad_since: str = ""
    good_count: int = 0
    good_since: str = ""
    unknown_count: int = 0
    unknown_since: str = ""
    unknown_reason: str = ""
    unknown_details: dict[str, Any] = field(default_factory=dict)
    blind: bool = False
    blind_episode: int = 0  # counts blind alerts of this key, like `incident` for the main one
    summary: str = ""
    observed: str = ""
    threshold: str = ""
    runbook: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    # channel ("pagerduty", "chat#blind", ...) → "<action>:<episode>" last delivered there, or
    # "dead:<action>:<episode>" when the sink refused it for good (a 400): not retried.
    notified: dict[str, str] = field(default_factory=dict)
    # channel → epoch seconds until which one evaluator owns sending on it (a lease).
    claims: dict[str, float] = field(default_factory=dict)
    version: int = 0  # the store's compare-and-set version; 0 = not stored yet

    @property
    def is_open(self) -> bool:
        return self.phase in (Phase.PENDING, Phase.FIRING) or self.blind

    @property
    def blind_key(self) -> str:
        return blind_dedup_key(self.network, self.check, self.target)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"phase": str(self.phase)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlertState:
        names = {f.name for f in dataclasses.fields(cls)}
        state = cls(**{k: v for k, v in data.items() if k in names})
        state.phase = Phase(state.phase)
        return state

    def copy(self) -> AlertState:
        return AlertState.from_dict(self.to_dict())


def blind_dedup_key(network: str, check: str, target: str) -> str:
    """The key of "opwatch cannot see <check>/<target>": derived from the finding's identity
    only, so the AWS and the GCP watchdog raise the same incident."""
    return make_dedup_key(network, BLIND_CHECK, f"{check}/{target}")


@dataclass(frozen=True, slots=True)
class Transition:
    key: str
    kind: Kind
    at: str  # the finding's observed_at (lifecycle) or the clock (deliveries)
    network: str
    check: str
    target: str
    incident: int = 0
    summary: str = ""
    observed: str = ""
    detail: str = ""  # e.g. "trigger via pagerduty", "inhibited by …", the delivery error

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"kind": str(self.kind)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transition:
        names = {f.name for f in dataclasses.fields(cls)}
        fields = {k: v for k, v in data.items() if k in names}
        return cls(**(fields | {"kind": Kind(fields["kind"])}))


@dataclass(frozen=True, slots=True)
class Notification:
    """What a sink is asked to deliver: open (trigger) or close (resolve) one incident."""

    action: str  # "trigger" | "resolve"
    dedup_key: str
    severity: str  # critical | warning | info
    summary: str
    network: str
    check: str
    target: str
    runbook: str
    timestamp: str
    observed: str = ""
    threshold: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A notification no sink attempt could deliver. Never holds the routing key."""

    key: str  # the alert's state key
    channel: str
    action: str
    dedup_key: str
    at: str
    error: str
    final: bool  # True: the sink refused it (400); False: retried again on the next evaluation
    summary: str = ""
    episode: int = 0  # the incident (or blind episode) it belongs to

    @property
    def id(self) -> str:
        # One letter (and one alarm) per notification: retries of the same one refresh it, but
        # a later incident of the same key that cannot be delivered either is a new letter.
        return f"{self.dedup_key}|{self.channel}|{self.action}|{self.episode}"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeadLetter:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
