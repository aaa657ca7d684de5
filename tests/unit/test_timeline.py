"""The timeline's bookkeeping: what counts as detected, recovered and a false alarm.

A scripted runner stands in for the watchdog's checks and a recording switch for the devnet,
so these run in milliseconds with no anvil.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from opwatch.config import Config
from opwatch.findings import Finding, Measure, Severity, Status
from opwatch_devnet.timeline import ANY, Scenario, Want, Watchdog, run_scenario

CHECKS = ("sequencer_liveness", "batch_submission", "proposer_freshness")


def finding(check: str, status: Status, target: str = "t") -> Finding:
    return Finding(network="devnet", check=check, target=target, status=status, severity=Severity.INFO,
                   summary=f"{check} is {status}", observed=Measure(1.0, "s"), threshold=Measure(2.0, "s"),
                   observed_at="2026-01-01T00:00:00Z")


def rounds(*overrides: dict[str, Status]) -> Iterator[list[Finding]]:
    """One round per mapping: every check ok except the ones named; then ok forever."""
    for override in overrides:
        yield [finding(c, override.get(c, Status.OK)) for c in CHECKS]
    while True:
        yield [finding(c, Status.OK) for c in CHECKS]


class Switch:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def fault(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append(("fault", name))

    def heal(self, name: str | None = None) -> None:
        self.calls.append(("heal", str(name)))


def watchdog(script: Iterator[list[Finding]]) -> Watchdog:
    return Watchdog(Config(networks={}, rpc=None), interval=0.0,  # type: ignore[arg-type]
                    runner=lambda _cfg: next(script))


HALT = Scenario("halt-sequencer", "halt", expect=(Want("sequencer_liveness", Status.FIRING),),
                allowed=(Want("proposer_freshness", Status.FIRING),), detect_timeout=5, recover_timeout=5)


def test_expected_firing_is_detected_then_recovery_is_timed_and_the_fault_healed() -> None:
    switch = Switch()
    firing = {"sequencer_liveness": Status.FIRING}
    outcome = run_scenario(switch, watchdog(rounds({}, firing, firing)), HALT)
    assert switch.calls == [("fault", "halt-sequencer"), ("heal", "halt-sequencer")]
    assert outcome.detected and outcome.recovered and outcome.passed
    assert outcome.detections == {"sequencer_liveness firing": outcome.detect_s}
    assert outcome.rounds == 2 and not outcome.unexpected
    assert outcome.to_dict()["passed"] is True


def test_a_check_firing_that_the_fault_does_not_explain_is_reported() -> None:
    noisy = {"sequencer_liveness": Status.FIRING, "batch_submission": Status.FIRING}
    outcome = run_scenario(Switch(), watchdog(rounds(noisy)), HALT)
    assert outcome.detected and outcome.recovered
    assert outcome.unexpected == ["batch_submission/t firing: batch_submission is firing"]
    assert not outcome.passed


def test_an_allowed_consequence_is_not_a_false_alarm() -> None:
    both = {"sequencer_liveness": Status.FIRING, "proposer_freshness": Status.FIRING}
    assert run_scenario(Switch(), watchdog(rounds(both)), HALT).passed


def test_a_blind_check_that_says_ok_is_reported_and_a_missed_fault_fails() -> None:
    blind = Scenario("kill-l1", "l1 down", expect=(Want("batch_submission", Status.UNKNOWN),
                                                   Want("proposer_freshness", Status.UNKNOWN)),
                     detect_timeout=0.05, recover_timeout=1)
    outcome = run_scenario(Switch(), watchdog(rounds(*[{"batch_submission": Status.UNKNOWN}] * 1000)), blind)
    assert not outcome.detected and outcome.detections["proposer_freshness unknown"] is None
    assert "proposer_freshness/t ok while its endpoints are down" in outcome.unexpected
    assert not outcome.passed


def test_noise_passes_when_only_unknowns_show_and_fails_on_any_firing() -> None:
    noise = Scenario("flaky-rpc", "noise", allowed=(Want(ANY, Status.UNKNOWN),), hold_s=0.05, recover_timeout=1)
    unknowns = [{c: Status.UNKNOWN for c in CHECKS}] * 1000
    quiet = run_scenario(Switch(), watchdog(rounds(*unknowns)), noise)
    assert quiet.passed and quiet.noise and quiet.rounds >= 1
    wolf = run_scenario(Switch(), watchdog(rounds(*[{"sequencer_liveness": Status.FIRING}] * 1000)), noise)
    assert wolf.unexpected and not wolf.passed


def test_a_fault_that_never_clears_is_not_recovered_and_is_still_healed() -> None:
    switch = Switch()
    stuck = Scenario("stop-proposer", "stuck", expect=(Want("proposer_freshness", Status.FIRING),),
                     detect_timeout=5, recover_timeout=0.05)
    outcome = run_scenario(switch, watchdog(rounds(*[{"proposer_freshness": Status.FIRING}] * 100000)), stuck)
    assert outcome.detected and not outcome.recovered and outcome.recover_s is None
    assert switch.calls[-1] == ("heal", "stop-proposer")
