"""output_root on the devnet's oracle chain: real anvil, the real L2OutputOracle behind its Proxy.

A wrong output is posted through the real oracle with the proposer's key (anvil's well-known
test key, from the devnet) and must fire with the output's details; deleting it (the oracle's
challenger) and proposing the true root again heals. Trusted nodes that disagree, and a
malformed answer, are `unknown`, never ok.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from devnet_config import tight_config_text
from opwatch.chain.rpc import HttpTransport
from opwatch.checks import CHECKS, Context, evaluate
from opwatch.config import Config, Network, parse_config
from opwatch.findings import Finding, Status

pytestmark = pytest.mark.anvil


def _config(devnet: Any, extra_network_lines: str = "") -> Config:
    text = tight_config_text(devnet, output_root_lookback='"10m"')
    if "trusted_l2_rpc" in extra_network_lines:  # the devnet names its own trusted node: this one replaces it
        text = re.sub(r"(?m)^trusted_l2_rpc = .*\n", "", text)
    head, _, tail = text.partition("[rpc]")  # network keys go before the next table
    return parse_config(head.rstrip("\n") + "\n" + extra_network_lines + "\n[rpc]" + tail)


def run(config: Config, transport: Any = None) -> Finding:
    net: Network = config.network("devnet")
    (finding,) = evaluate(CHECKS["output_root"], Context(net, config.rpc, transport=transport))
    return finding


def wait_status(config: Config, want: Status, timeout: float, transport: Any = None) -> Finding:
    """Until the status is `want` with at least one proposal verified (a fresh devnet has none)."""
    deadline = time.monotonic() + timeout
    while True:
        finding = run(config, transport)
        if (finding.status == want and finding.details.get("proposals_checked", 1) >= 1) \
                or time.monotonic() > deadline:
            return finding
        time.sleep(0.5)


@pytest.fixture(scope="module")
def config(devnet: Any) -> Config:
    return _config(devnet)


def _oracle(devnet: Any, fn: str, *args: Any) -> Any:
    from opwatch_devnet import contracts

    return contracts.call(devnet.proposer.l1.client, "L2OutputOracle", devnet.deployment.l2_output_oracle, fn,
                          list(args))[0]


@pytest.fixture
def wrong_output(devnet: Any) -> Iterator[tuple[int, int, str]]:
    """(output index, L2 block, wrong root) posted by the proposer's key; deleted afterwards."""
    from opwatch_devnet import contracts
    from opwatch_devnet.keys import DEPLOYER

    proposer = devnet.proposer
    proposer.pause()
    time.sleep(2 * proposer.interval + 1)  # a step in flight finishes
    oracle = devnet.deployment.l2_output_oracle
    index = None
    try:
        next_block = int(_oracle(devnet, "nextBlockNumber"))
        deadline = time.monotonic() + 60
        while True:  # the oracle takes outputs of blocks whose L2 time is in the L1 past
            l1_time = int(proposer.l1.client.block("latest")["timestamp"], 16)
            if (proposer.l2.block_number() >= next_block
                    and int(_oracle(devnet, "computeL2Timestamp", next_block)) < l1_time):
                break
            assert time.monotonic() < deadline, "the devnet never reached the next output's block"
            time.sleep(0.5)
        wrong = "0x" + "ee" * 32
        data = contracts.encode_call("L2OutputOracle", "proposeL2Output",
                                     [bytes.fromhex(wrong[2:]), next_block, b"\0" * 32, 0])
        proposer.l1.wait(proposer.l1.send(oracle, data, gas=300_000, nonce=proposer.l1.nonce("latest")))
        index = int(_oracle(devnet, "latestOutputIndex"))
        assert int(_oracle(devnet, "getL2Output", index)[2]) == next_block
        yield index, next_block, wrong
    finally:
        if index is not None:  # the oracle's challenger deletes it, as the runbook says
            challenger = contracts.Sender(proposer.l1.client, DEPLOYER, proposer.l1.chain_id)
            tx = challenger.send(oracle, contracts.encode_call("L2OutputOracle", "deleteL2Outputs", [index]),
                                 gas=200_000, nonce=challenger.nonce("latest"))
            challenger.wait(tx)
        proposer.resume()


def test_a_healthy_oracle_chain_has_only_true_roots(config: Config) -> None:
    finding = wait_status(config, Status.OK, timeout=60)
    assert finding.status == Status.OK, finding.summary
    assert finding.details["proposals_checked"] >= 1
    newest = finding.details["newest"]
    assert newest["claimed_root"] == newest["computed_root"]


def test_a_wrong_output_fires_with_its_details_and_deleting_it_heals(config: Config,
                                                                      wrong_output: tuple[int, int, str]) -> None:
    index, block, wrong = wrong_output
    finding = run(config)
    assert finding.status == Status.FIRING, finding.summary
    assert finding.observed.value == 1
    (row,) = finding.details["wrong"]
    assert row["proposal"] == f"output {index}" and row["l2_block"] == block and row["claimed_root"] == wrong
    assert row["computed_root"] not in (None, wrong)
    assert f"output {index}" in finding.summary


def test_the_wrong_output_deleted_and_proposed_again_is_ok(config: Config, devnet: Any) -> None:
    # Runs after the fixture above deleted its output and resumed the proposer.
    finding = wait_status(config, Status.OK, timeout=90)
    assert finding.status == Status.OK, finding.summary


@pytest.fixture(scope="module")
def other_chain(devnet: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An anvil on the same chain id whose state is not the devnet's: a trusted node gone wrong."""
    from opwatch.chain.rpc import RpcClient
    from opwatch.config import Endpoint
    from opwatch_devnet.anvil import AnvilProcess

    chain_id = config_chain_id(devnet)
    with AnvilProcess.start("other", tmp_path_factory.mktemp("other"), ["--chain-id", str(chain_id),
                                                                       "--optimism"]) as proc:
        client = RpcClient(Endpoint(proc.url, "other"), timeout=120.0)
        client.call("anvil_setBalance", "0x" + "42" * 20, "0x1")  # a state no devnet block has
        # Past every block the devnet proposes during the module (1 s blocks).
        client.call("anvil_mine", hex(devnet.proposer.l2.block_number() + 3_000))
        yield proc.url


def config_chain_id(devnet: Any) -> int:
    return parse_config(devnet.config_text()).network("devnet").l2_chain_id


def test_trusted_nodes_that_disagree_are_unknown_naming_them(devnet: Any, other_chain: str) -> None:
    l2 = devnet.proxies["l2"].url
    config = _config(devnet, f'trusted_l2_rpc = [{{url = "{l2}", name = "honest"}}, '
                             f'{{url = "{other_chain}", name = "forked"}}]')
    finding = run(config)
    assert finding.status == Status.UNKNOWN, finding.summary
    assert "disagree" in finding.summary and "honest" in finding.summary and "forked" in finding.summary


class _Garbling(HttpTransport):
    """Real HTTP; one method's results replaced with `value` (a node answering garbage)."""

    def __init__(self, method: str, value: Any) -> None:
        self.method, self.value = method, value

    def post(self, url: str, body: bytes, timeout: float) -> bytes:
        sent = json.loads(body)
        answer = json.loads(super().post(url, body, timeout))
        methods = {c["id"]: c["method"] for c in (sent if isinstance(sent, list) else [sent])}
        for item in answer if isinstance(answer, list) else [answer]:
            if methods.get(item.get("id")) == self.method and "result" in item:
                item["result"] = self.value
        return json.dumps(answer).encode()


@pytest.mark.parametrize("method,value", [
    ("eth_getProof", {"storageHash": "0xnope"}),  # the trusted node
    ("eth_call", "0x1234"),  # every L1 endpoint: a short answer from the oracle
])
def test_a_malformed_answer_is_unknown_never_ok(config: Config, method: str, value: Any) -> None:
    finding = run(config, transport=_Garbling(method, value))
    assert finding.status == Status.UNKNOWN, finding.summary
    assert finding.details["error"] in ("BadResponse", "NoHealthyEndpoint")
