"""The devnet's settlement fault on an L2OutputOracle chain, driven through the fault switch
itself (never by posting directly): `bad-output` makes the proposer post one wrong output root,
`output_root` fires on it; the heal is what an operator does (the oracle's CHALLENGER deletes
the wrong output with `deleteL2Outputs`, the proposer proposes that block again, truly) and
`output_root` is ok again. A healthy run of two minutes never fires.

One oracle devnet of this module's own: the session devnet is shared and must stay healthy.
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
from opwatch_devnet import contracts
from opwatch_devnet.actors import output_root
from opwatch_devnet.jsonrpc import RpcClient, RpcError
from opwatch_devnet.topology import Devnet

pytestmark = pytest.mark.anvil

SLACK_S = 60.0  # L1 blocks, actor steps and a busy 2-core machine: not the behaviour under test
HEALTHY_RUN_S = 120.0
UNKNOWN_RUNS_BEFORE_WARNING = 5  # output_root's Timing: a blind spot warns after 5 unknown runs


@pytest.fixture(scope="module")
def oracle_devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    with Devnet.start(tmp_path_factory.mktemp("oracle-settlement"), submission_interval=4) as net:
        yield net


@pytest.fixture(scope="module")
def config(oracle_devnet: Devnet) -> Config:
    return parse_config(tight_config_text(oracle_devnet, output_root_lookback='"10m"'))


def run(config: Config) -> Finding:
    (finding,) = evaluate(CHECKS["output_root"], Context(config.network("devnet"), config.rpc))
    return finding


def wait_for(config: Config, want: Any, timeout: float) -> Finding:
    deadline = time.monotonic() + timeout
    while True:
        finding = run(config)
        if want(finding) or time.monotonic() > deadline:
            return finding
        time.sleep(0.5)


def oracle_outputs(devnet: Devnet) -> list[tuple[int, str]]:
    """(L2 block, root) of every output in the oracle now."""
    l1 = RpcClient(devnet.l1_url)
    oracle = devnet.deployment.l2_output_oracle  # type: ignore[union-attr]
    try:
        latest = int(contracts.call(l1, "L2OutputOracle", oracle, "latestOutputIndex")[0])
    except RpcError:  # reverts while the oracle is empty
        return []
    outputs = []
    for i in range(latest + 1):
        root, _timestamp, block = contracts.call(l1, "L2OutputOracle", oracle, "getL2Output", [i])[0]
        outputs.append((int(block), "0x" + bytes(root).hex()))
    return outputs


def test_a_healthy_oracle_chain_never_fires_for_two_minutes(config: Config, oracle_devnet: Devnet) -> None:
    first = wait_for(config, lambda f: f.status == Status.OK and f.details.get("proposals_checked", 0) >= 1,
                     timeout=SLACK_S)
    assert first.status == Status.OK, first.summary
    seen: list[Finding] = []
    started = time.monotonic()
    while time.monotonic() - started < HEALTHY_RUN_S:
        seen.append(run(config))
        time.sleep(1.0)
    assert not [f.summary for f in seen if f.status == Status.FIRING]
    statuses = "".join("u" if f.status == Status.UNKNOWN else "." for f in seen)
    assert "u" * UNKNOWN_RUNS_BEFORE_WARNING not in statuses, statuses
    assert seen[-1].details["proposals_checked"] > first.details["proposals_checked"]  # outputs kept landing


def test_bad_output_fires_output_root_and_the_challengers_delete_heals(config: Config,
                                                                       oracle_devnet: Devnet) -> None:
    proposer = oracle_devnet.proposer
    bad_before = len(proposer.bad)
    oracle_devnet.fault("bad-output")
    try:
        fired = wait_for(config, lambda f: f.status == Status.FIRING, timeout=SLACK_S)
        assert fired.status == Status.FIRING, fired.summary
        assert fired.severity == Severity.CRITICAL
        (bad_block, _tx), = proposer.bad[bad_before:]
        (row,) = fired.details["wrong"]
        assert row["l2_block"] == bad_block
        assert row["computed_root"] == output_root(RpcClient(oracle_devnet.l2_url), bad_block).root
        assert row["claimed_root"] != row["computed_root"]
        # A later correct output does not clear it: the wrong one can still prove withdrawals.
        assert oracle_devnet.wait_for(lambda: max(b for b, _ in oracle_outputs(oracle_devnet)) > bad_block,
                                      timeout=SLACK_S)
        assert run(config).status == Status.FIRING
    finally:
        oracle_devnet.heal("bad-output")
    assert "bad-output" not in oracle_devnet.faults.active
    # The wrong output is gone from the oracle, and its block proposed again with the true root.
    assert oracle_devnet.wait_for(lambda: any(b == bad_block for b, _ in oracle_outputs(oracle_devnet)),
                                  timeout=SLACK_S)
    l2 = RpcClient(oracle_devnet.l2_url)
    assert all(root == output_root(l2, block).root for block, root in oracle_outputs(oracle_devnet))
    healed = wait_for(config, lambda f: f.status == Status.OK and f.details.get("proposals_checked", 0) >= 1,
                      timeout=SLACK_S)
    assert healed.status == Status.OK, healed.summary
    oracle_devnet.heal("bad-output")  # idempotent: healing again changes nothing
    assert run(config).status == Status.OK
