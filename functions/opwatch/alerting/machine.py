"""The per-dedup_key state machine: ok → pending → firing → resolved, plus the unknown path.

A pure function of (state, finding, timing); no clock, no store, no network, so property
tests can drive it with any sequence of findings.

- firing results open an incident after `timing.fire` (pending until then), or at once when
  the finding is `urgent` (a condition that is never transient: see checks.base.Verdict); an
  ok result while pending cancels it.
- ok results close an incident only after `timing.resolve` in a row (hysteresis): a value
  hovering at its threshold does not flap.
- unknown results change neither phase nor either run (a pending alert neither advances nor
  resets; an open incident stays open), but a run of `timing.blind` of them opens the
  separate "opwatch cannot see X" alert. It is never read as ok.
- a finding not newer than the last one applied (a duplicate, a retry, a late delivery from
  the other cloud) changes nothing.
"""

from __future__ import annotations

from ..findings import Finding, Status
from .model import AlertState, Kind, Phase, Transition, parse_time
from .policy import Timing


def new_state(finding: Finding) -> AlertState:
    return AlertState(key=finding.dedup_key, network=finding.network, check=finding.check,
                      target=finding.target, runbook=finding.runbook)


def advance(state: AlertState | None, finding: Finding, timing: Timing) -> tuple[AlertState, list[Transition]]:
    """Apply one finding; return the new state (a copy) and the transitions it caused."""
    s = state.copy() if state is not None else new_state(finding)
    at = finding.observed_at
    now = parse_time(at)
    if s.last_observed_at and now <= parse_time(s.last_observed_at):
        return s, []
    s.last_observed_at = at
    out: list[Transition] = []

    def record(kind: Kind, summary: str = "") -> None:
        out.append(Transition(key=s.key, kind=kind, at=at, network=s.network, check=s.check, target=s.target,
                              incident=s.incident, summary=summary or finding.summary,
                              observed=finding.observed.render()))

    if finding.status == Status.UNKNOWN:
        if s.unknown_count == 0:
            s.unknown_since = at
        s.unknown_count += 1
        s.unknown_reason, s.unknown_details = finding.summary, dict(finding.details)
        if not s.blind and timing.blind.reached(s.unknown_count, now - parse_time(s.unknown_since)):
            s.blind = True
            s.blind_episode += 1
            record(Kind.BLIND, f"opwatch cannot see {s.check}/{s.target} "
                               f"({s.unknown_count} unknown results): {finding.summary}")
        return s, out

    # A known result: the unknown run (if any) is over.
    if s.blind:
        s.blind = False
        record(Kind.SIGHTED)
    s.unknown_count, s.unknown_since, s.unknown_reason, s.unknown_details = 0, "", "", {}
    s.summary, s.runbook, s.details = finding.summary, finding.runbook, dict(finding.details)
    s.observed, s.threshold = finding.observed.render(), finding.threshold.render()

    if finding.status == Status.FIRING:
        s.good_count, s.good_since = 0, ""
        s.severity = str(finding.severity)
        if s.phase in (Phase.OK, Phase.RESOLVED):
            s.phase, s.bad_count, s.bad_since = Phase.PENDING, 0, at
            record(Kind.PENDING)
        s.bad_count += 1
        if s.phase == Phase.PENDING and (finding.urgent or timing.fire.reached(s.bad_count,
                                                                             now - parse_time(s.bad_since))):
            s.phase = Phase.FIRING
            s.incident += 1
            record(Kind.FIRING)
        return s, out

    # ok
    if s.phase == Phase.PENDING:
        s.phase, s.bad_count, s.bad_since = Phase.OK, 0, ""
        record(Kind.CANCELLED)
    elif s.phase == Phase.FIRING:
        if s.good_count == 0:
            s.good_since = at
        s.good_count += 1
        if timing.resolve.reached(s.good_count, now - parse_time(s.good_since)):
            s.phase = Phase.RESOLVED
            s.bad_count, s.bad_since, s.good_count, s.good_since = 0, "", 0, ""
            record(Kind.RESOLVED)
    return s, out
