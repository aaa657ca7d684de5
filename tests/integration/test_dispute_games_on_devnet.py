"""dispute_games and output_root on the fault-proof devnet: the real DisputeGameFactory and
FaultDisputeGame (AlphabetVM) behind proxies, short clocks, a proposer posting true games and an
honest challenger (devnet/opwatch_devnet/dispute.py). The faults are driven through the devnet's
fault switch, never by posting directly.

A healthy chain whose games are created and resolve never fires. `bad-game` with the challenger
running is countered, dispute_games stays ok and the game resolves CHALLENGER_WINS. `bad-game`
with `stop-challenger` fires critical once less than half the clock is left; the challenger back
in time counters it and dispute_games is ok again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from devnet_config import tight_config_text
from opwatch.checks import CHECKS, Context, evaluate
from opwatch.config import Config, parse_config
from opwatch.findings import Finding, Severity, Status
from opwatch_devnet import proofs
from opwatch_devnet.jsonrpc import RpcClient

pytestmark = pytest.mark.anvil

# Long enough that the heal (the challenger resumed once dispute_games fired, at half the
# clock) still counters in time on a busy machine; short enough for a game's whole life here.
CLOCK_S = 40
SLACK_S = 30.0  # L1 blocks, actor steps and a busy 2-core machine: not the behaviour under test
HEALTHY_RUN_S = 75.0  # creates several games and sees the first ones resolve
UNKNOWN_RUNS_BEFORE_WARNING = 5  # the checks' Timing: a blind spot warns after 5 unknown runs


@pytest.fixture(scope="module")
def fault_devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from opwatch_devnet.topology import Devnet

    with Devnet.start(tmp_path_factory.mktemp("fault"), proofs_mode="fault", max_clock_duration=CLOCK_S) as net:
        yield net


@pytest.fixture(scope="module")
def config(fault_devnet: Any) -> Config:
    return parse_config(tight_config_text(fault_devnet, output_root_lookback='"30m"'))


def run(config: Config, check: str) -> Finding:
    (finding,) = evaluate(CHECKS[check], Context(config.network("devnet"), config.rpc))
    return finding


def wait_for(config: Config, check: str, want: Any, timeout: float) -> Finding:
    deadline = time.monotonic() + timeout
    while True:
        finding = run(config, check)
        if want(finding) or time.monotonic() > deadline:
            return finding
        time.sleep(1.0)


def watch(config: Config, until: Callable[[], bool], timeout: float) -> list[Finding]:
    """Both settlement checks, round after round, until `until()` or `timeout`."""
    seen: list[Finding] = []
    deadline = time.monotonic() + timeout
    while not until() and time.monotonic() < deadline:
        seen += [run(config, "dispute_games"), run(config, "output_root")]
        time.sleep(1.0)
    return seen


def assert_never_fired(seen: list[Finding]) -> None:
    assert seen
    assert not [f"{f.check}: {f.summary}" for f in seen if f.status == Status.FIRING]
    for check in ("dispute_games", "output_root"):
        statuses = "".join("u" if f.status == Status.UNKNOWN else "." for f in seen if f.check == check)
        assert "u" * UNKNOWN_RUNS_BEFORE_WARNING not in statuses, (check, statuses)


def status_of(devnet: Any, game: str) -> int:
    return proofs.status(RpcClient(devnet.l1_url), game)


def test_a_healthy_fault_chain_never_fires_while_games_live_and_resolve(config: Config, fault_devnet: Any) -> None:
    started = time.monotonic()
    seen = watch(config, lambda: time.monotonic() - started > HEALTHY_RUN_S, timeout=HEALTHY_RUN_S + SLACK_S)
    assert_never_fired(seen)
    proposed = [game for _block, game in fault_devnet.proposer.proposed]
    assert len(proposed) >= 3
    assert status_of(fault_devnet, proposed[0]) == proofs.DEFENDER_WINS  # a true game's whole life
    games = run(config, "dispute_games")
    assert games.status == Status.OK, games.summary
    assert games.details["games_seen"] >= len(proposed)
    roots = run(config, "output_root")
    assert roots.status == Status.OK and roots.details["proposals_checked"] >= 1, roots.summary


def test_bad_game_with_the_challenger_is_countered_stays_ok_and_loses(config: Config, fault_devnet: Any) -> None:
    fault_devnet.fault("bad-game")
    try:
        game = fault_devnet.faults.active["bad-game"]["game"]
        seen = watch(config, lambda: status_of(fault_devnet, game) != proofs.IN_PROGRESS,
                     timeout=2 * CLOCK_S + SLACK_S)
    finally:
        fault_devnet.heal("bad-game")
    assert_never_fired(seen)
    assert any(f.details.get("wrong_and_countered", 0) >= 1 for f in seen if f.check == "dispute_games")
    assert status_of(fault_devnet, game) == proofs.CHALLENGER_WINS
    after = run(config, "dispute_games")  # a wrong root refuted is how it should end
    assert after.status == Status.OK, after.summary


def test_bad_game_with_the_challenger_stopped_fires_and_the_challenger_back_counters_it(
        config: Config, fault_devnet: Any) -> None:
    fault_devnet.fault("stop-challenger")
    try:
        fault_devnet.fault("bad-game", challenger=False)
        game = str(fault_devnet.faults.active_json()["bad-game"]["game"]).lower()
        fired = wait_for(config, "dispute_games", lambda f: f.status == Status.FIRING, timeout=CLOCK_S + SLACK_S)
        assert fired.status == Status.FIRING, fired.summary
        assert fired.severity == Severity.CRITICAL
        (row,) = [r for r in fired.details["critical"] if str(r["game"]).lower() == game]
        assert "challenger is absent" in row["problem"] and 0 < row["clock_left_s"] < CLOCK_S / 2
    finally:
        fault_devnet.heal("bad-game")
        fault_devnet.heal("stop-challenger")
    healed = wait_for(config, "dispute_games", lambda f: f.status == Status.OK, timeout=SLACK_S)
    assert healed.status == Status.OK, healed.summary
    assert healed.details["wrong_and_countered"] >= 1
