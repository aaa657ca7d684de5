"""dispute_games and output_root on the fault-proof devnet: the real DisputeGameFactory and
FaultDisputeGame (AlphabetVM) behind proxies, 60 s clocks, a proposer posting true games and an
honest challenger (devnet/opwatch_devnet/dispute.py).

A wrong game by another account with the challenger running is countered and dispute_games
stays ok; with the challenger stopped it fires critical once less than half the clock is left.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from devnet_config import tight_config_text
from opwatch.checks import CHECKS, Context, evaluate
from opwatch.config import Config, parse_config
from opwatch.findings import Finding, Severity, Status

pytestmark = pytest.mark.anvil

CLOCK_S = 60


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


def test_healthy_fault_chain_games_and_roots_are_ok(config: Config) -> None:
    games = wait_for(config, "dispute_games",
                     lambda f: f.status == Status.OK and f.details.get("games_seen", 0) >= 1, timeout=120)
    assert games.status == Status.OK, games.summary
    roots = wait_for(config, "output_root",
                     lambda f: f.status == Status.OK and f.details.get("proposals_checked", 0) >= 1, timeout=60)
    assert roots.status == Status.OK, roots.summary


def test_a_wrong_game_countered_by_the_challenger_stays_ok(config: Config, fault_devnet: Any) -> None:
    fault_devnet.fault("bad-game")
    try:
        seen = wait_for(config, "dispute_games", lambda f: f.status != Status.OK
                        or f.details.get("wrong_and_countered", 0) >= 1, timeout=CLOCK_S)
        assert seen.status == Status.OK, seen.summary
        assert seen.details["wrong_and_countered"] >= 1
    finally:
        fault_devnet.heal("bad-game")


def test_a_wrong_game_with_the_challenger_stopped_fires_critical(config: Config, fault_devnet: Any) -> None:
    fault_devnet.fault("stop-challenger")
    try:
        fault_devnet.fault("bad-game", challenger=False)
        game = str(fault_devnet.faults.active_json()["bad-game"]["game"]).lower()
        fired = wait_for(config, "dispute_games", lambda f: f.status == Status.FIRING, timeout=CLOCK_S + 30)
        assert fired.status == Status.FIRING, fired.summary
        assert fired.severity == Severity.CRITICAL
        (row,) = [r for r in fired.details["critical"] if str(r["game"]).lower() == game]
        assert "challenger is absent" in row["problem"] and row["clock_left_s"] < CLOCK_S / 2
    finally:
        fault_devnet.heal("bad-game")
        fault_devnet.heal("stop-challenger")
