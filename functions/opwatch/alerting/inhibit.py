"""Root causes, not symptom storms: which alerts another alert explains.

Like Alertmanager's inhibition, in code and tested, two kinds of rule:

- **Grouping** (`group_causes`): when every L1 endpoint is unreachable, each L1-reading
  check of that network goes `unknown` with the same reason. One synthetic finding for the
  cause (`check="l1"`, target `endpoints`) is added to the batch; its own blind alert
  ("opwatch cannot see L1") is what pages, listing the findings it explains, and the
  members' own blind alerts are inhibited while it holds.
- **Inhibition** (`RULES`): while a source alert is open, its consequences on the same
  network still run their lifecycle and are recorded, but are not notified. An incident
  already notified is left alone (never resolved behind the responder's back); one still
  firing when the source closes is notified then.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..checks import CHECKS
from ..findings import Finding, Measure, Severity, Status, make_dedup_key
from .model import AlertState, Phase, parse_time

L1_CAUSE_CHECK = "l1"
L1_CAUSE_TARGET = "endpoints"


def l1_checks() -> frozenset[str]:
    """The checks that read L1 through the quorum (`Check.reads_l1`); when it has no healthy
    endpoint they raise NoHealthyEndpoint("l1", ...), which base.evaluate records in details."""
    return frozenset(cid for cid, check in CHECKS.items() if check.reads_l1)


# sequencer_liveness has one target; see opwatch.checks.sequencer_liveness.TARGET.
SEQUENCER_TARGET = "sequencer"


@dataclass(frozen=True, slots=True)
class InhibitRule:
    source_check: str
    source_target: str
    consequences: frozenset[str]
    why: str


RULES: tuple[InhibitRule, ...] = (
    InhibitRule(
        "sequencer_liveness", SEQUENCER_TARGET,
        frozenset({"rpc_sync", "batcher_lag", "batch_submission"}),
        # rpc_sync compares nodes with the sequencer head; with no new L2 blocks the batcher
        # has nothing to post and the safe head stops with it.
        "a halted sequencer explains lagging RPC nodes, a stalled safe head and missing batches",
    ),
)

Lookup = Callable[[str], AlertState | None]


def l1_cause_key(network: str) -> str:
    return make_dedup_key(network, L1_CAUSE_CHECK, L1_CAUSE_TARGET)


def _l1_unreachable(f: Finding, readers: frozenset[str]) -> bool:
    return (f.status == Status.UNKNOWN and f.check in readers
            and f.details.get("error") == "NoHealthyEndpoint" and f.details.get("endpoint") == "l1")


def group_causes(findings: Sequence[Finding]) -> list[Finding]:
    """The synthetic cause findings for this batch (one per network with L1-reading checks).

    The cause is `unknown` when every L1-reading finding of the network says no L1
    endpoint is healthy, and `ok` when any of them reached L1 (so its blind alert clears).
    """
    causes = []
    readers = l1_checks()
    for network in sorted({f.network for f in findings if f.check in readers}):
        members = [f for f in findings if f.network == network and f.check in readers]
        unreachable = [f for f in members if _l1_unreachable(f, readers)]
        all_down = len(unreachable) == len(members)
        newest = max((f.observed_at for f in members), key=parse_time)  # not as strings: precisions differ
        if all_down:
            summary = f"every L1 endpoint is unreachable: {unreachable[0].details.get('reason', '')}".rstrip(": ")
        else:
            summary = "at least one L1 endpoint answers"
        causes.append(Finding(
            network=network, check=L1_CAUSE_CHECK, target=L1_CAUSE_TARGET,
            status=Status.UNKNOWN if all_down else Status.OK,
            severity=Severity.WARNING if all_down else Severity.INFO,
            summary=summary, observed=Measure(len(unreachable), "checks"), threshold=Measure(None, "checks"),
            observed_at=newest, runbook="docs/runbooks/opwatch_blind.md",
            details={"explains": sorted(f.dedup_key for f in unreachable)} if all_down else {},
        ))
    return causes


def source_first(f: Finding) -> int:
    """Sort key: causes and rule sources are evaluated before their consequences."""
    if f.check == L1_CAUSE_CHECK:
        return 0
    return 1 if any(f.check == r.source_check for r in RULES) else 2


def inhibited_by(state: AlertState, blind: bool, lookup: Lookup) -> str | None:
    """The key of the open alert that explains this one (main or blind channel), or None."""
    if blind and state.check in l1_checks():
        cause = lookup(l1_cause_key(state.network))
        if cause is not None and cause.unknown_count > 0:
            return cause.key
    for rule in RULES:
        if state.check not in rule.consequences:
            continue
        source = lookup(make_dedup_key(state.network, rule.source_check, rule.source_target))
        if source is None:
            continue
        if source.phase == Phase.FIRING:
            return source.key
        # The sequencer cannot be read: rpc_sync has no reference either.
        if blind and source.blind:
            return source.blind_key
    return None


def consequences(state: AlertState, open_alerts: Sequence[AlertState]) -> list[str]:
    """Keys of the open alerts this one explains, to attach to its notification."""
    attached: list[str] = []
    for rule in RULES:
        if state.check == rule.source_check and state.target == rule.source_target:
            attached += [s.key for s in open_alerts
                         if s.network == state.network and s.check in rule.consequences and s.is_open]
    return sorted(attached)
