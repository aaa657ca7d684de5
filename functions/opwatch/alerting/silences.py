"""Silences kept in the alert store: added and removed from the CLI, honoured by every pager.

`[[alerting.silences]]` in the config needs a redeploy to change. A silence added with
`opwatch silence add --store S ...` is written next to the alert state, in the store the
deployed pager already reads (a record kind of its own in the same SQLite file, DynamoDB table
or Firestore database), so it takes effect on the pager's next evaluation.

A stored silence is never deleted by opwatch: removing one records who removed it and when,
so the store keeps the audit (who added it, from which OS account, when, why; who ended it).
The stores age records out `RETENTION_SECONDS` after they stopped suppressing (DynamoDB's TTL
attribute, SQLite prunes; Firestore keeps them, see docs/alerting.md).

It means what a config silence means (`policy.Silence`, which the manager makes of it):
notifications stop for the network (one check, or all) until `until`; the lifecycle still
records every transition, and an alert still firing when the silence expires or is removed is
paged on the next evaluation. This module imports no policy, so the stores that import it
stay out of the checks' import graph.
"""

from __future__ import annotations

import getpass
import math
import os
import re
import secrets
import socket
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Any

# A silence is a short, deliberate pause, not a way to switch a check off: that is a config
# change (the network's `checks`), reviewed and deployed. 30 days covers a long migration.
MAX_SILENCE_SECONDS = 30 * 86400
_ID = re.compile(r"^sil-[0-9a-f]{12}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


@dataclass(frozen=True, slots=True)
class StoredSilence:
    """One silence as stored: what it mutes, until when, and its audit."""

    id: str
    network: str
    check: str | None
    until: float  # epoch seconds
    reason: str
    created_by: str  # the OS account (user@host) that ran `opwatch silence add`
    created_at: float
    removed_by: str = ""
    removed_at: float = 0.0  # 0: not removed

    def active(self, now: float) -> bool:
        return not self.removed_at and now < self.until

    def ended_at(self) -> float:
        """When it stopped (or will stop) suppressing: the store's retention counts from here."""
        return min(self.until, self.removed_at) if self.removed_at else self.until

    def describe(self) -> str:
        """Its reason as a suppressed transition shows it: why, which record, whose."""
        why = f"{self.reason}; " if self.reason else ""
        return f"{why}silence {self.id} by {self.created_by}"

    def removed(self, by: str, at: float) -> StoredSilence:
        return StoredSilence(self.id, self.network, self.check, self.until, self.reason, self.created_by,
                             self.created_at, removed_by=by, removed_at=at)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Any) -> StoredSilence:
        """A record off a store, checked field by field: ValueError names what is wrong."""
        if not isinstance(raw, dict):
            raise ValueError("a stored silence is not an object")
        fields = {"id": str, "network": str, "reason": str, "created_by": str, "removed_by": str}
        for name, kind in fields.items():
            if not isinstance(raw.get(name, ""), kind):
                raise ValueError(f"stored silence field {name!r} is not a string")
        for name in ("until", "created_at", "removed_at"):
            value = raw.get(name, 0.0)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"stored silence field {name!r} is not a number")
        check = raw.get("check")
        if check is not None and not isinstance(check, str):
            raise ValueError("stored silence field 'check' is not a string or null")
        if not _ID.match(str(raw.get("id"))) or not raw.get("network"):
            raise ValueError(f"stored silence {raw.get('id')!r}: not a silence id, or no network")
        return cls(id=raw["id"], network=raw["network"], check=check, until=float(raw["until"]),
                   reason=raw.get("reason", ""), created_by=raw.get("created_by", ""),
                   created_at=float(raw.get("created_at", 0.0)), removed_by=raw.get("removed_by", ""),
                   removed_at=float(raw.get("removed_at", 0.0)))


class SilenceStore(ABC):
    """What the silences need from the alert store. Every alert store keeps this contract:
    `add_silence` refuses an id that exists, `remove_silence` marks (never deletes) and is
    idempotent, `stored_silences` returns every record still retained, newest first."""

    @abstractmethod
    def add_silence(self, silence: StoredSilence) -> None:
        """Store a new silence; ValueError if its id is taken."""

    @abstractmethod
    def stored_silences(self) -> list[StoredSilence]:
        """Every retained silence (active, expired and removed), newest first."""

    @abstractmethod
    def remove_silence(self, silence_id: str, by: str, at: float) -> StoredSilence | None:
        """Mark it removed (by whom, when) and return the record as stored; a silence already
        removed is returned unchanged; None when no silence has that id."""


def active(store: SilenceStore, now: float) -> list[StoredSilence]:
    """The store's silences that suppress at `now`."""
    return [s for s in store.stored_silences() if s.active(now)]


def operator() -> str:
    """Who is acting: the OS account and host. getpass falls back on the uid in a container
    whose user has no passwd entry."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def new_silence(network: str, check: str | None, until: float, reason: str, now: float,
                who: str | None = None, known_checks: Any = None) -> StoredSilence:
    """A new silence, refused (ValueError naming the field) when it could not mean what the
    operator wants: no network, an unknown check, an end in the past or too far ahead, no reason."""
    if not isinstance(network, str) or not _NAME.match(network):
        raise ValueError(f"--network: expected a network name, got {network!r}")
    if check is not None and known_checks is not None and check not in known_checks:
        raise ValueError(f"--check: unknown check {check!r} (known: {', '.join(sorted(known_checks))})")
    if not math.isfinite(until) or until <= now:
        raise ValueError("the silence would end before it starts: --until must be in the future, --for positive")
    if until - now > MAX_SILENCE_SECONDS:
        raise ValueError(f"a silence lasts at most {MAX_SILENCE_SECONDS // 86400} days; to stop a check for "
                         "longer, change the network's checks in the config")
    if not reason.strip():
        raise ValueError("--reason: say why (it is the audit, and shows on every suppressed transition)")
    return StoredSilence(id=f"sil-{secrets.token_hex(6)}", network=network, check=check, until=until,
                         reason=reason.strip(), created_by=who or operator(), created_at=now)


def is_silence_id(text: str) -> bool:
    return bool(_ID.match(text))
