"""Incident timelines: inject a fault, watch opwatch's findings, time detection and recovery.

The demo, the e2e tests and the benchmarks share this module; it knows nothing about terminals.

A `Scenario` names a devnet fault and what opwatch should say about it:
  - `expect`: the findings that mean "detected" (each is timed on its own: stop-batcher is seen
    by batch_submission first and by batcher_lag later);
  - `allowed`: consequences that may show without being a false alarm (a halted sequencer gives
    the proposer nothing new to propose), each with the reason it is allowed;
  - everything else must stay `ok` while the fault is active. A finding that does not is
    `unexpected`: a false alarm to report, never to hide.
A noise scenario (`expect` empty) holds the fault for `hold_s` and passes when nothing fired.

Timing: rounds run back to back, one every `interval` seconds. A round counts for a phase only
if it started after the phase began (no in-flight round is credited), and a time is measured
from the injection (or heal) to the end of the first round that showed it, which is when an
operator would have seen it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from opwatch.config import Config, Network
from opwatch.findings import Finding, Status
from opwatch.runner import run_checks

ANY = "*"
# The demo's timeline, in order (see `standard_scenarios`).
STANDARD_FAULTS = ("halt-sequencer", "stop-batcher", "drain-batcher", "stop-proposer", "lag-rpc", "kill-l1",
                   "flaky-rpc")


class FaultSwitch(Protocol):
    """What a timeline needs from a devnet (`topology.Devnet` is one)."""

    def fault(self, name: str, *args: Any, **kwargs: Any) -> None: ...
    def heal(self, name: str | None = None) -> None: ...


@dataclass(frozen=True)
class Want:
    """A finding pattern: `check` (or ANY) with `status`, on `target` (None: any target)."""

    check: str
    status: Status
    target: str | None = None
    why: str = ""

    def matches(self, finding: Finding) -> bool:
        return (self.check in (ANY, finding.check) and finding.status == self.status
                and (self.target is None or self.target == finding.target))

    def label(self) -> str:
        where = f"{self.check}/{self.target}" if self.target else self.check
        return f"{where} {self.status}"


@dataclass(frozen=True)
class Scenario:
    fault: str
    title: str
    expect: tuple[Want, ...] = ()
    allowed: tuple[Want, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    detect_timeout: float = 30.0
    recover_timeout: float = 30.0
    hold_s: float = 0.0  # noise scenarios: how long to hold the fault and watch,
    hold_rounds: int = 0  # and at least this many rounds (noise makes rounds slow)

    @property
    def is_noise(self) -> bool:
        return not self.expect


@dataclass
class Round:
    started: float  # monotonic
    ended: float
    findings: list[Finding]

    def not_ok(self) -> list[Finding]:
        return [f for f in self.findings if f.status != Status.OK]

    def all_ok(self) -> bool:
        return bool(self.findings) and not self.not_ok()


@dataclass
class Outcome:
    fault: str
    title: str
    expected: list[str]
    noise: bool
    detected: bool = False
    detect_s: float | None = None  # to the first expected finding
    detections: dict[str, float | None] = field(default_factory=dict)  # per expected finding
    detected_by: list[str] = field(default_factory=list)  # summaries of the detecting findings
    unexpected: list[str] = field(default_factory=list)
    recovered: bool = False
    recover_s: float | None = None
    rounds: int = 0
    error: str | None = None
    injected_at: float = 0.0  # monotonic; for presenters that time their own events (pages)
    healed_at: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)  # what a presenter adds (e.g. pages)

    @property
    def passed(self) -> bool:
        return self.detected and self.recovered and not self.unexpected and self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "fault": self.fault, "title": self.title, "expected": self.expected, "noise": self.noise,
            "detected": self.detected, "detect_s": _r(self.detect_s),
            "detections": {k: _r(v) for k, v in self.detections.items()}, "detected_by": self.detected_by,
            "unexpected": self.unexpected, "recovered": self.recovered, "recover_s": _r(self.recover_s),
            "rounds": self.rounds, "error": self.error, "passed": self.passed, **self.extra,
        }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


class Watchdog:
    """Runs opwatch's checks in rounds (at most one per `interval` s) and reports each round."""

    def __init__(self, config: Config, interval: float = 1.0,
                 on_round: Callable[[Round], None] | None = None,
                 runner: Callable[[Config], list[Finding]] | None = None) -> None:
        self.config = config
        self.interval = interval
        self.on_round = on_round
        self._runner = runner or (lambda cfg: run_checks(cfg).findings)
        self._last_start = 0.0

    def round(self) -> Round:
        wait = self.interval - (time.monotonic() - self._last_start)
        if wait > 0:
            time.sleep(wait)
        started = self._last_start = time.monotonic()
        findings = self._runner(self.config)
        result = Round(started, time.monotonic(), findings)
        if self.on_round is not None:
            self.on_round(result)
        return result

    def until(self, done: Callable[[Round], bool], timeout: float, since: float) -> Round | None:
        """Rounds until one that started after `since` satisfies `done`; None after `timeout`."""
        while True:
            result = self.round()
            if result.started >= since and done(result):
                return result
            if time.monotonic() - since > timeout:
                return None

    def settle(self, timeout: float) -> Round | None:
        """Waits for a round in which every finding is ok."""
        return self.until(Round.all_ok, timeout, time.monotonic())


def _same_subject(want: Want, finding: Finding) -> bool:
    return want.check in (ANY, finding.check) and want.target in (None, finding.target)


def describe(finding: Finding) -> str:
    return f"{finding.check}/{finding.target} {finding.status}: {finding.summary}"


class _FaultWindow:
    """Bookkeeping for the rounds seen while a fault is active."""

    def __init__(self, scenario: Scenario, outcome: Outcome, injected: float) -> None:
        self.scenario = scenario
        self.outcome = outcome
        self.injected = injected
        self.pending = list(scenario.expect)
        self._seen_unexpected: set[str] = set()

    def observe(self, result: Round) -> None:
        if result.started < self.injected:
            return  # in flight when the fault went in: proves nothing either way
        self.outcome.rounds += 1
        for want in list(self.pending):
            hits = [f for f in result.findings if want.matches(f)]
            if hits:
                self.pending.remove(want)
                self.outcome.detections[want.label()] = result.ended - self.injected
                self.outcome.detected_by.extend(describe(f) for f in hits)
        permitted = (*self.scenario.expect, *self.scenario.allowed)
        blind = [w for w in self.scenario.expect if w.status == Status.UNKNOWN]
        for finding in result.findings:
            if finding.status == Status.OK and not any(_same_subject(w, finding) for w in blind):
                continue
            if finding.status == Status.OK:
                # Asked while blind, opwatch must say "cannot tell", never "ok".
                self._note(finding, f"{finding.check}/{finding.target} ok while its endpoints are down")
                continue
            if any(w.matches(finding) for w in permitted):
                continue
            self._note(finding, describe(finding))

    def _note(self, finding: Finding, text: str) -> None:
        key = f"{finding.check}/{finding.target} {finding.status}"
        if key not in self._seen_unexpected:  # once per check, target and status
            self._seen_unexpected.add(key)
            self.outcome.unexpected.append(text)

    def done(self) -> bool:
        return not self.pending


@dataclass(frozen=True)
class Wait:
    """Keep running rounds until `done()` (or `timeout` s): e.g. until a page went out before
    healing, or until every incident resolved after recovery."""

    done: Callable[[], bool]
    timeout: float


def run_scenario(switch: FaultSwitch, watchdog: Watchdog, scenario: Scenario,
                 on_event: Callable[[str, Outcome], None] | None = None,
                 before_heal: Wait | None = None, after_recovery: Wait | None = None) -> Outcome:
    """Inject, watch until detected (or timeout / hold), heal, watch until all ok again.

    `on_event(phase, outcome)` is called with "injected", "detected", "healed", "recovered"
    (or "missed" / "not-recovered") so a presenter can narrate. The fault is always healed.
    `before_heal` and `after_recovery` extend the watch (rounds go on, the fault window still
    records unexpected findings before the heal).
    """
    outcome = Outcome(scenario.fault, scenario.title, [w.label() for w in scenario.expect], scenario.is_noise)
    emit = on_event or (lambda phase, o: None)
    injected = outcome.injected_at = time.monotonic()
    window = _FaultWindow(scenario, outcome, injected)
    try:
        switch.fault(scenario.fault, **scenario.kwargs)
        emit("injected", outcome)
        if scenario.is_noise:
            while time.monotonic() - injected < scenario.hold_s or outcome.rounds < scenario.hold_rounds:
                window.observe(watchdog.round())
        else:
            while not window.done() and time.monotonic() - injected < scenario.detect_timeout:
                window.observe(watchdog.round())
        timed = [t for t in outcome.detections.values() if t is not None]
        outcome.detect_s = min(timed) if timed else None
        if scenario.is_noise:
            outcome.detected = outcome.rounds > 0  # "held": it ran and was watched
        else:
            outcome.detected = window.done()
            for want in window.pending:
                outcome.detections[want.label()] = None
        emit("detected" if outcome.detected else "missed", outcome)
        if before_heal is not None and outcome.detected and not scenario.is_noise:
            _keep_watching(watchdog, before_heal, window.observe)
    finally:
        switch.heal(scenario.fault)
    healed = outcome.healed_at = time.monotonic()
    emit("healed", outcome)
    recovered = watchdog.until(Round.all_ok, scenario.recover_timeout, healed)
    outcome.recovered = recovered is not None
    outcome.recover_s = recovered.ended - healed if recovered else None
    emit("recovered" if outcome.recovered else "not-recovered", outcome)
    if after_recovery is not None and outcome.recovered:
        _keep_watching(watchdog, after_recovery, lambda _round: None)
    return outcome


def _keep_watching(watchdog: Watchdog, wait: Wait, observe: Callable[[Round], None]) -> None:
    started = time.monotonic()
    while not wait.done() and time.monotonic() - started < wait.timeout:
        observe(watchdog.round())


def run_timeline(switch: FaultSwitch, watchdog: Watchdog, scenarios: Sequence[Scenario],
                 on_event: Callable[[str, Outcome], None] | None = None) -> list[Outcome]:
    return [run_scenario(switch, watchdog, s, on_event) for s in scenarios]


# -- the standard incident timeline ---------------------------------------------------------------

def standard_scenarios(network: Network) -> dict[str, Scenario]:
    """The demo's faults, in timeline order, with timeouts sized from the network's thresholds."""
    t = network.thresholds
    slack = 15.0  # rounds, block times and actor intervals on a busy 2-core machine
    lagging = network.rpc_nodes[0].name if network.rpc_nodes else None
    l1_blind = (
        Want("batch_submission", Status.UNKNOWN), Want("wallet_runway", Status.UNKNOWN, "batcher"),
        Want("wallet_runway", Status.UNKNOWN, "proposer"), Want("proposer_freshness", Status.UNKNOWN),
    )
    found = [
        Scenario("halt-sequencer", "the sequencer stops producing blocks",
                 expect=(Want("sequencer_liveness", Status.FIRING),),
                 allowed=(Want("proposer_freshness", Status.FIRING,
                               why="no new L2 blocks means nothing new to propose"),),
                 detect_timeout=t.sequencer_max_head_age + slack),
        Scenario("stop-batcher", "the batcher stops posting batches",
                 expect=(Want("batch_submission", Status.FIRING), Want("batcher_lag", Status.FIRING)),
                 detect_timeout=max(t.batcher_max_submission_age, t.batcher_max_safe_lag) + slack),
        Scenario("drain-batcher", "the batcher wallet is drained during an L1 fee spike",
                 expect=(Want("wallet_runway", Status.FIRING, "batcher"),),
                 allowed=(Want("batch_submission", Status.FIRING, why="a wallet with no funds posts no batches"),
                          Want("batcher_lag", Status.FIRING, why="no batches, so the safe head stalls")),
                 detect_timeout=slack),
        Scenario("stop-proposer", "the proposer stops posting output roots",
                 expect=(Want("proposer_freshness", Status.FIRING),),
                 detect_timeout=t.proposer_max_output_age + slack),
        Scenario("lag-rpc", "one RPC node falls 10 blocks behind",
                 expect=(Want("rpc_sync", Status.FIRING, lagging),), kwargs={"n": 10, "node": 0},
                 detect_timeout=slack),
        Scenario("kill-l1", "every L1 endpoint goes down", expect=l1_blind, allowed=_also_blind_to_l1(l1_blind),
                 detect_timeout=slack),
        Scenario("flaky-rpc", "every endpoint drops or stalls half its requests (noise)",
                 allowed=(Want(ANY, Status.UNKNOWN, why="a failed read is 'cannot tell', not an alarm"),),
                 kwargs={"p": 0.5}, hold_s=12.0, hold_rounds=3),
    ]
    assert tuple(s.fault for s in found) == STANDARD_FAULTS
    return {s.fault: s for s in found}


def _also_blind_to_l1(expected: Sequence[Want]) -> tuple[Want, ...]:
    """Every other registered check that declares it reads L1 (settlement, L1 contracts, tx
    health...) may say it cannot tell while L1 is down: that is the truth, not a false alarm."""
    from opwatch.checks import CHECKS

    named = {w.check for w in expected}
    return tuple(Want(cid, Status.UNKNOWN, why="it reads L1: blind, it says it cannot tell")
                 for cid, check in CHECKS.items() if check.reads_l1 and cid not in named)


# -- settlement: wrong output roots and dispute games (issue #16) -----------------------------------

def proof_scenarios(network: Network, proofs_mode: str, max_clock_duration: float = 60.0) -> dict[str, Scenario]:
    """The settlement faults of a devnet in `proofs_mode`, for the checks that are registered.

    oracle: bad-output (one wrong output root) fires `output_root`; the heal is the operator's
    step (the oracle's CHALLENGER deletes the wrong output, the proposer proposes that block
    again), after which it recovers. A later correct output alone would not clear it.
    fault: bad-game countered by the challenger keeps `dispute_games` ok; bad-game with the
    challenger stopped fires it once less than the limit is left on the game's clock, and the
    heal (the challenger back in time) counters it.
    """
    from opwatch.checks import CHECKS

    slack = 15.0
    found: dict[str, Scenario] = {}
    if proofs_mode == "oracle" and "output_root" in CHECKS:
        found["bad-output"] = Scenario(
            "bad-output", "the proposer posts a wrong output root",
            expect=(Want("output_root", Status.FIRING),),
            detect_timeout=network.thresholds.proposer_max_output_age + slack,
            # the deletion, the proposal again once its block's L2 time is in the L1 past, two ok rounds
            recover_timeout=network.thresholds.proposer_max_output_age + 2 * slack)
    if proofs_mode == "fault" and "dispute_games" in CHECKS:
        found["bad-game"] = Scenario(
            "bad-game", "another account creates a game with a wrong root; the challenger counters it (noise)",
            hold_s=20.0, hold_rounds=5)
        found["bad-game-unchallenged"] = Scenario(
            "bad-game", "a game with a wrong root while the challenger is down",
            expect=(Want("dispute_games", Status.FIRING),), kwargs={"challenger": False},
            detect_timeout=max_clock_duration + slack, recover_timeout=max_clock_duration / 2 + slack)
    return found



# -- withdrawals and the L1 contracts (issue #17) ---------------------------------------------------

def l1_contract_scenarios(network: Network, proofs_mode: str) -> dict[str, Scenario]:
    """forged-withdrawal fires `withdrawals` (and, being a wrong root, `output_root` or
    `dispute_games` may fire beside it); its heal disarms the proof (fault proofs: the game is
    blacklisted, at once harmless; oracle: the output is deleted, and the proof leaves the
    window after `withdrawals_lookback`, the demo sets it short). pause fires `l1_contracts`
    until the guardian unpauses. Only for the checks that are registered."""
    from opwatch.checks import CHECKS

    slack = 30.0
    found: dict[str, Scenario] = {}
    wrong_root = (Want("output_root", Status.FIRING, why="the forged proposal's root is wrong"),
                  Want("dispute_games", Status.FIRING, why="nobody counters the forged game"))
    if "withdrawals" in CHECKS:
        lookback = float(getattr(network.thresholds, "withdrawals_lookback", 86400.0))
        found["forged-withdrawal"] = Scenario(
            "forged-withdrawal", "a withdrawal never sent on L2 is proven on L1 against a forged root",
            expect=(Want("withdrawals", Status.FIRING),), allowed=wrong_root,
            detect_timeout=network.thresholds.proposer_max_output_age + slack,
            recover_timeout=(slack if proofs_mode == "fault" else lookback + slack))
    if "l1_contracts" in CHECKS:
        found["pause"] = Scenario(
            "pause", "the guardian pauses withdrawals",
            expect=(Want("l1_contracts", Status.FIRING, target="paused"),),
            detect_timeout=slack, recover_timeout=slack)
    return found


def ops_scenarios(network: Network) -> dict[str, Scenario]:
    """The on-call faults (devnet/opwatch_devnet/ops_faults.py): each fires the check an
    engineer reaches for after the page. stuck-batcher-tx and conductor-pause fire only after
    `tx_max_stuck` / `conductor_max_paused` as remembered between rounds, so the watchdog that
    plays them must give its checks a memory store."""
    t = network.thresholds
    slack = 30.0
    no_batches = (Want("batch_submission", Status.FIRING, why="a stuck nonce holds every later batch back"),
                  Want("batcher_lag", Status.FIRING, why="no batches land, so the safe head stalls"))
    return {
        "stuck-batcher-tx": Scenario(
            "stuck-batcher-tx", "a batcher transaction priced under the base fee holds the rest back",
            expect=(Want("tx_health", Status.FIRING, "batcher"),), allowed=no_batches,
            detect_timeout=t.tx_max_stuck + slack, recover_timeout=2 * slack),
        "halt-derivation": Scenario(
            "halt-derivation", "op-node's safe head stops although batches land",
            expect=(Want("batcher_lag", Status.FIRING),),
            allowed=(Want("rollup_nodes", Status.FIRING, why="the replica derives from the same halted view"),),
            detect_timeout=t.batcher_max_safe_lag + slack),
        "conductor-split": Scenario(
            "conductor-split", "two op-conductors claim leadership, two sequencers active",
            expect=(Want("sequencer_ha", Status.FIRING),), detect_timeout=slack),
        "conductor-pause": Scenario(
            "conductor-pause", "one op-conductor paused (failover disabled)",
            expect=(Want("sequencer_ha", Status.FIRING),), detect_timeout=t.conductor_max_paused + slack),
        "replica-no-peers": Scenario(
            "replica-no-peers", "the replica op-node loses its peers",
            expect=(Want("rollup_nodes", Status.FIRING),), detect_timeout=slack),
        "replica-diverge": Scenario(
            "replica-diverge", "the replica op-node serves another unsafe block hash",
            expect=(Want("rollup_nodes", Status.FIRING),), detect_timeout=slack),
    }
