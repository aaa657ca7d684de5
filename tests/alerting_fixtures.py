"""Helpers shared by the alerting tests: a finding factory and a recording sink."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from opwatch.alerting.model import Notification
from opwatch.alerting.sinks import DeliveryError
from opwatch.findings import Finding, Measure, Severity, Status

T0 = 1_700_000_000.0


def at(seconds: float) -> str:
    return datetime.fromtimestamp(T0 + seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def finding(status: str | Status, t: float = 0.0, check: str = "sequencer_liveness", target: str = "sequencer",
            network: str = "mainnet", severity: Severity | None = None, **details: object) -> Finding:
    status = Status(status)
    if severity is None:
        severity = {Status.OK: Severity.INFO, Status.FIRING: Severity.CRITICAL,
                    Status.UNKNOWN: Severity.WARNING}[status]
    return Finding(network=network, check=check, target=target, status=status, severity=severity,
                   summary=f"{check} is {status}", observed=Measure(None if status == Status.UNKNOWN else 42.0, "s"),
                   threshold=Measure(30.0, "s"), observed_at=at(t), details=dict(details))


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class RecordingSink:
    """A sink that records what it was asked to deliver; `fail` makes it raise."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[Notification] = []
        self.fail: DeliveryError | None = None
        self._lock = threading.Lock()

    def send(self, notification: Notification) -> None:
        if self.fail is not None:
            raise self.fail
        with self._lock:
            self.sent.append(notification)

    def actions(self, dedup_key: str | None = None) -> list[str]:
        return [n.action for n in self.sent if dedup_key is None or n.dedup_key == dedup_key]
