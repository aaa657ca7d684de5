"""How long a condition must hold, where each severity goes, and what is silenced.

Defaults are tuned per check (`DEFAULT_TIMINGS`): the check thresholds already contain
their own patience (a sequencer head must be 15 block times old before the finding
fires), so the alert lifecycle adds only what each signal's noise needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace


@dataclass(frozen=True, slots=True)
class Hold:
    """A run is long enough after `evaluations` results in a row, or once it has lasted `seconds`."""

    evaluations: int
    seconds: float | None = None

    def reached(self, count: int, elapsed: float) -> bool:
        return count >= self.evaluations or (self.seconds is not None and count > 0 and elapsed >= self.seconds)


@dataclass(frozen=True, slots=True)
class Timing:
    fire: Hold  # firing results before an incident opens (ok → pending → firing)
    resolve: Hold  # ok results before it closes: the hysteresis against flapping
    blind: Hold  # unknown results before "opwatch cannot see this" is its own alert
    blind_severity: str = "warning"


# Evaluations run about once a minute (schedulers fire at most once a minute).
DEFAULT_TIMINGS: Mapping[str, Timing] = {
    # A halted sequencer is an outage now; the finding already waited 15 block times.
    "sequencer_liveness": Timing(Hold(1), Hold(2), Hold(3, 180.0), blind_severity="critical"),
    # The safe head moves in steps when batches land: give it a few rounds.
    "batcher_lag": Timing(Hold(3, 300.0), Hold(3), Hold(5, 600.0)),
    "batch_submission": Timing(Hold(2), Hold(2), Hold(5, 600.0)),
    # Runway moves with L1 fees, so it hovers at the threshold: slow to fire, slower to resolve.
    "wallet_runway": Timing(Hold(3, 900.0), Hold(5, 1800.0), Hold(10, 1800.0)),
    "proposer_freshness": Timing(Hold(2), Hold(2), Hold(5, 900.0)),
    # An RPC node a few blocks behind catches up by itself more often than not.
    "rpc_sync": Timing(Hold(5, 300.0), Hold(3), Hold(5, 600.0)),
    # The L1-unreachable root cause (see inhibit.py) only ever goes unknown/ok.
    "l1": Timing(Hold(1), Hold(1), Hold(3, 300.0)),
}
FALLBACK_TIMING = Timing(Hold(2), Hold(2), Hold(5, 600.0))

# Severity → sink names. Critical pages, warning goes to chat/email, info is only recorded.
DEFAULT_ROUTES: Mapping[str, tuple[str, ...]] = {
    "critical": ("pagerduty",),
    "warning": ("chat",),
    "info": (),
}


@dataclass(frozen=True, slots=True)
class Silence:
    """Mute notifications for a network (all checks when `check` is None) until `until` (epoch s).

    A silence only stops new notifications: the lifecycle still runs and records every
    transition, an incident already paged stays open, and one still firing when the
    silence expires is paged then.
    """

    network: str
    until: float
    check: str | None = None
    reason: str = ""

    def matches(self, network: str, check: str, now: float) -> bool:
        if now >= self.until or network != self.network:
            return False
        # Matched against the alert's own check, so silencing a check also silences
        # "opwatch cannot see <check>".
        return self.check is None or self.check == check


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    timings: Mapping[str, Timing] = field(default_factory=lambda: dict(DEFAULT_TIMINGS))
    routes: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_ROUTES))
    silences: Sequence[Silence] = ()
    # Prefix that turns docs/runbooks/<check>.md into a link a pager can open.
    runbook_base_url: str = ""
    # How long one evaluator owns sending a notification before another may take over.
    claim_seconds: float = 120.0

    def timing(self, check: str) -> Timing:
        return self.timings.get(check, FALLBACK_TIMING)

    def route(self, severity: str) -> tuple[str, ...]:
        return tuple(self.routes.get(severity, ()))

    def silenced(self, network: str, check: str, now: float) -> Silence | None:
        return next((s for s in self.silences if s.matches(network, check, now)), None)

    def runbook_url(self, path: str) -> str:
        return self.runbook_base_url.rstrip("/") + "/" + path if self.runbook_base_url else path

    def with_overrides(self, timings: Mapping[str, Timing]) -> AlertPolicy:
        return replace(self, timings={**self.timings, **timings})
