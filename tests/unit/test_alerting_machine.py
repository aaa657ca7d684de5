"""The per-key state machine: for-durations, hysteresis, the unknown path, ordering (with properties)."""

from __future__ import annotations

import itertools

from alerting_fixtures import finding
from hypothesis import given, settings
from hypothesis import strategies as st
from opwatch.alerting.machine import advance
from opwatch.alerting.model import Kind, Phase
from opwatch.alerting.policy import DEFAULT_TIMINGS, Hold, Timing

TIMING = Timing(fire=Hold(3), resolve=Hold(2), blind=Hold(4))


def run(statuses, timing=TIMING, start=0.0, step=60.0, state=None):
    kinds = []
    for i, status in enumerate(statuses):
        state, ts = advance(state, finding(status, start + i * step), timing)
        kinds += [t.kind for t in ts]
    return state, kinds


def test_fires_only_after_the_condition_held_for_n_evaluations():
    state, kinds = run(["firing", "firing"])
    assert state.phase == Phase.PENDING and kinds == [Kind.PENDING]
    state, kinds = run(["firing"], start=120, state=state)
    assert state.phase == Phase.FIRING and kinds == [Kind.FIRING] and state.incident == 1


def test_fires_after_t_seconds_even_with_fewer_evaluations():
    timing = Timing(fire=Hold(10, seconds=300.0), resolve=Hold(2), blind=Hold(4))
    state, _kinds = run(["firing", "firing"], timing=timing, step=300.0)
    assert state.phase == Phase.FIRING


def test_a_halted_sequencer_pages_on_the_first_evaluation_an_rpc_lag_does_not():
    state, _ = run(["firing"], timing=DEFAULT_TIMINGS["sequencer_liveness"])
    assert state.phase == Phase.FIRING
    state, _ = run(["firing"], timing=DEFAULT_TIMINGS["rpc_sync"])
    assert state.phase == Phase.PENDING


def test_an_urgent_firing_result_opens_the_incident_at_once_past_the_hold():
    from dataclasses import replace

    state, ts = advance(None, replace(finding("firing", 0.0), urgent=True), TIMING)
    assert state.phase == Phase.FIRING and [t.kind for t in ts] == [Kind.PENDING, Kind.FIRING]
    assert state.incident == 1
    # Held results stay held; a later urgent one opens the pending incident at once.
    state, _ = run(["firing"])
    assert state.phase == Phase.PENDING
    state, ts = advance(state, replace(finding("firing", 60.0), urgent=True), TIMING)
    assert state.phase == Phase.FIRING and [t.kind for t in ts] == [Kind.FIRING]
    # Resolving keeps its hysteresis: urgency opens incidents, it does not close them faster.
    state, _ = run(["ok"], start=120, state=state)
    assert state.phase == Phase.FIRING


def test_ok_while_pending_cancels_without_an_incident():
    state, kinds = run(["firing", "ok"])
    assert state.phase == Phase.OK and kinds == [Kind.PENDING, Kind.CANCELLED] and state.incident == 0


def test_hysteresis_a_value_hovering_at_the_threshold_does_not_flap():
    state, kinds = run(["firing"] * 3 + ["ok", "firing", "ok", "firing", "ok", "firing"])
    assert kinds == [Kind.PENDING, Kind.FIRING] and state.phase == Phase.FIRING
    state, kinds = run(["ok", "ok"], start=10_000, state=state)
    assert kinds == [Kind.RESOLVED] and state.phase == Phase.RESOLVED


def test_short_unknown_run_changes_nothing_pending_neither_advances_nor_resets():
    state, _ = run(["firing", "firing"])
    state, kinds = run(["unknown"] * 3, start=1000, state=state)
    assert kinds == [] and state.phase == Phase.PENDING and state.bad_count == 2
    state, kinds = run(["firing"], start=2000, state=state)
    assert kinds == [Kind.FIRING]


def test_open_incident_stays_open_through_unknowns_and_a_long_run_is_its_own_alert():
    state, _ = run(["firing"] * 3)
    state, kinds = run(["unknown"] * 4, start=1000, state=state)
    assert state.phase == Phase.FIRING and kinds == [Kind.BLIND] and state.blind
    state, kinds = run(["unknown"] * 10, start=2000, state=state)
    assert kinds == [] and state.phase == Phase.FIRING  # never silently ok
    state, kinds = run(["ok", "ok"], start=5000, state=state)
    assert kinds == [Kind.SIGHTED, Kind.RESOLVED] and not state.blind


def test_duplicates_and_older_findings_change_nothing():
    state, _ = run(["firing"] * 3)
    for stale in (finding("ok", 120), finding("ok", 0), finding("firing", 120)):
        again, transitions = advance(state, stale, TIMING)
        assert transitions == [] and again.to_dict() == state.to_dict()


# --- properties ------------------------------------------------------------------------

steps = st.lists(st.tuples(st.sampled_from(["ok", "firing", "unknown"]), st.integers(-120, 300)), max_size=60)
timings = st.builds(
    Timing,
    fire=st.builds(Hold, st.integers(1, 4), st.sampled_from([None, 120.0, 600.0])),
    resolve=st.builds(Hold, st.integers(1, 4), st.sampled_from([None, 120.0])),
    blind=st.builds(Hold, st.integers(1, 6), st.sampled_from([None, 300.0])),
)


def drive(sequence, timing):
    """Apply (status, time step) pairs; negative steps are late/out-of-order deliveries."""
    state, t, newest, log = None, 0.0, None, []
    for status, step in sequence:
        t = max(0.0, t + step)
        before = None if state is None else state.to_dict()
        state, transitions = advance(state, finding(status, t), timing)
        stale = newest is not None and t <= newest
        log.append((status, stale, before, state.to_dict(), transitions))
        newest = t if newest is None else max(newest, t)
    return state, newest or 0.0, log


@settings(max_examples=200, deadline=None)
@given(steps, timings)
def test_never_two_open_incidents_for_one_key(sequence, timing):
    _, _, log = drive(sequence, timing)
    opens = [t.kind for *_, ts in log for t in ts if t.kind in (Kind.FIRING, Kind.RESOLVED)]
    assert all(a != b for a, b in itertools.pairwise(opens)), opens
    assert not opens or opens[0] == Kind.FIRING
    blinds = [t.kind for *_, ts in log for t in ts if t.kind in (Kind.BLIND, Kind.SIGHTED)]
    assert all(a != b for a, b in itertools.pairwise(blinds))


@settings(max_examples=200, deadline=None)
@given(steps, timings)
def test_every_firing_is_resolved_when_findings_stay_ok_long_enough(sequence, timing):
    state, t, _ = drive(sequence, timing)
    for i in range(1, timing.resolve.evaluations + 1):
        state, _ = advance(state, finding("ok", t + 60 * i), timing)
    assert state is not None and state.phase in (Phase.OK, Phase.RESOLVED) and not state.blind


@settings(max_examples=200, deadline=None)
@given(steps, timings)
def test_unknowns_never_resolve_or_trigger_and_stale_deliveries_change_nothing(sequence, timing):
    _, _, log = drive(sequence, timing)
    for status, stale, before, after, transitions in log:
        if stale:
            assert transitions == [] and after == before
        elif status == "unknown":
            assert {t.kind for t in transitions} <= {Kind.BLIND}
            assert before is None or after["phase"] == before["phase"]
            assert before is None or (after["bad_count"], after["good_count"]) == (before["bad_count"],
                                                                                   before["good_count"])
