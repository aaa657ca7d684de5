"""The finding: the one record every check emits and every sink, pager and remedy reads.

A finding is plain data (JSON-serialisable) so it crosses SNS, Pub/Sub, a terminal and a
state store unchanged. Its `dedup_key` depends only on network, check and target, so the
same condition seen by the AWS and the GCP watchdog, or by two runs a minute apart, is one
incident.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

RUNBOOK_BASE = "docs/runbooks"


class Status(StrEnum):
    OK = "ok"
    FIRING = "firing"
    # "I could not tell": the endpoint was down, slow, on the wrong chain or answered
    # garbage. Never treated as ok, never a reason to remediate.
    UNKNOWN = "unknown"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Measure:
    """A number with its unit, e.g. 12.0 s or 35.5 h. `value` may be None when unmeasured."""

    value: float | None
    unit: str

    def render(self) -> str:
        if self.value is None:
            return "?"
        value = self.value
        if self.unit == "s":
            return _render_seconds(value)
        if self.unit == "h":
            return f"{value:,.1f} h"
        if float(value).is_integer():
            return f"{int(value):,} {self.unit}"
        return f"{value:,.3g} {self.unit}"


def _render_seconds(seconds: float) -> str:
    if seconds >= 3 * 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 180:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"


def make_dedup_key(network: str, check: str, target: str) -> str:
    """Stable across runs, processes and clouds; short enough for PagerDuty (<= 255 chars)."""
    readable = f"opwatch/{network}/{check}/{target}"
    if len(readable) <= 200:
        return readable
    digest = hashlib.sha256(readable.encode()).hexdigest()[:16]
    return f"opwatch/{network}/{check}/{digest}"[:255]


def utc_now_iso(ts: float | None = None) -> str:
    moment = datetime.now(UTC) if ts is None else datetime.fromtimestamp(ts, UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def observed_iso(ts: float) -> str:
    """A finding's `observed_at`: RFC 3339 UTC to the millisecond.

    The alert lifecycle applies a finding only when it is newer than the last one applied to
    its key (a redelivery or a late message changes nothing). At whole seconds, an ok and the
    firing result that followed it within the same second (a fast-lane sample, a check run
    twice in a second, the other cloud's run) compared equal, and the firing one was dropped
    as a duplicate: a page nobody got."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_observed(text: str) -> float:
    """`observed_at` → epoch seconds; ValueError unless it is an ISO 8601 time with a zone."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"observed_at {text!r} has no time zone")
    return moment.timestamp()


@dataclass(frozen=True, slots=True)
class Finding:
    network: str
    check: str
    target: str
    status: Status
    severity: Severity
    summary: str
    observed: Measure
    threshold: Measure
    observed_at: str
    dedup_key: str = ""
    runbook: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    # Opens an incident at this firing result, past the check's fire hold (Verdict.urgent).
    urgent: bool = False

    def __post_init__(self) -> None:
        # Derived fields are filled once here so no producer can get them wrong.
        if not self.dedup_key:
            object.__setattr__(self, "dedup_key", make_dedup_key(self.network, self.check, self.target))
        if not self.runbook:
            object.__setattr__(self, "runbook", f"{RUNBOOK_BASE}/{self.check}.md")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = str(self.status)
        data["severity"] = str(self.severity)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, default=str)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        """Parse a finding that crossed a wire; raises ValueError on a malformed one."""
        try:
            return cls(
                network=str(data["network"]),
                check=str(data["check"]),
                target=str(data["target"]),
                status=Status(data["status"]),
                severity=Severity(data["severity"]),
                summary=str(data["summary"]),
                observed=Measure(_opt_float(data["observed"]["value"]), str(data["observed"]["unit"])),
                threshold=Measure(_opt_float(data["threshold"]["value"]), str(data["threshold"]["unit"])),
                observed_at=_checked_time(data["observed_at"]),
                dedup_key=str(data.get("dedup_key") or ""),
                runbook=str(data.get("runbook") or ""),
                details=dict(data.get("details") or {}),
                urgent=_checked_bool(data.get("urgent", False), "urgent"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed finding: {exc!r}") from None

    def attributes(self) -> dict[str, str]:
        """Message attributes for SNS / Pub/Sub subscription filters."""
        return {
            "network": self.network,
            "check": self.check,
            "status": str(self.status),
            "severity": str(self.severity),
        }


def _checked_bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def _checked_time(value: Any) -> str:
    text = str(value)
    parse_observed(text)  # a time the lifecycle cannot order would fail every delivery after it
    return text


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)
