"""rollup_nodes on the session devnet: replica op-nodes are the op-node stand-in in replica mode
(opwatch_devnet.rollup_node.RollupNode with no sequencer switch, its own L1 traversal and its own
`opp2p_peerStats`), compared with the devnet's sequencer op-node. The devnet itself is left as
it was: every replica here is the test's own.

A replica over the sequencer's execution client, deriving and with peers, is ok; no peers warns
(replica-no-peers) and peers back resolves it; a derivation halted 25 L1 blocks back warns
(halt-derivation on a replica) and the resumed traversal resolves it; a replica over an anvil
forked from the sequencer that mined its own block is critical (replica-diverge).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opwatch.checks import CHECKS
from opwatch.checks.base import Context, evaluate
from opwatch.config import parse_config
from opwatch.findings import Finding, Severity, Status
from opwatch_devnet.anvil import AnvilProcess
from opwatch_devnet.jsonrpc import RpcClient
from opwatch_devnet.rollup_node import BatchScanner, RollupNode
from opwatch_devnet.rpcserver import JsonRpcServer
from opwatch_devnet.topology import L1_CHAIN_ID, L2_CHAIN_ID, Devnet

CHECK = CHECKS["rollup_nodes"]


def replica(devnet: Devnet, l2_url: str, peers: int = 5) -> tuple[RollupNode, BatchScanner, JsonRpcServer]:
    main = devnet.scanner
    scanner = BatchScanner(l1=RpcClient(devnet.l1.url), inbox=main.inbox, batcher=main.batcher)
    scanner.step()  # derived up to L1's head once; nobody steps it again unless the test does
    node = RollupNode(RpcClient(devnet.l1.url), RpcClient(l2_url), scanner, None,
                      L1_CHAIN_ID, L2_CHAIN_ID, devnet.l2_block_time, peers=peers)
    return node, scanner, node.serve()


def run(devnet: Devnet, replicas: dict[str, str]) -> dict[str, Finding]:
    nodes = ", ".join(f'{{ name = "{n}", url = "{u}" }}' for n, u in replicas.items())
    config = parse_config(f"""
[networks.devnet]
l1_rpc = ["{devnet.l1.url}"]
l2_rpc = "{devnet.sequencer.url}"
rollup_rpc = "{devnet.rollup_url}"
l1_chain_id = {L1_CHAIN_ID}
l2_chain_id = {L2_CHAIN_ID}
block_time = "{devnet.l2_block_time}s"
rollup_nodes = [{nodes}]
""")
    ctx = Context(config.networks["devnet"], config.rpc, config=config)
    return {f.target: f for f in evaluate(CHECK, ctx)}


@pytest.fixture
def healthy(devnet: Devnet) -> Iterator[tuple[RollupNode, BatchScanner, JsonRpcServer]]:
    parts = replica(devnet, devnet.sequencer.url)
    yield parts
    parts[2].close()


def test_healthy_replica_is_ok(devnet: Devnet, healthy: Any) -> None:
    finding = run(devnet, {"replica-0": healthy[2].url})["replica-0"]
    assert finding.status is Status.OK, finding.summary
    assert finding.details["node_hash"] == finding.details["sequencer_hash"]
    assert finding.details["peers"] == 5


def test_no_peers_warns_and_peers_back_resolve(devnet: Devnet, healthy: Any) -> None:
    node, _, server = healthy
    node.peers = 0  # replica-no-peers
    finding = run(devnet, {"replica-0": server.url})["replica-0"]
    assert finding.status is Status.FIRING and finding.severity is Severity.WARNING
    assert "0 connected peers (minimum 3)" in finding.summary
    node.peers = 4
    assert run(devnet, {"replica-0": server.url})["replica-0"].status is Status.OK


def test_halted_derivation_warns_and_resumed_resolves(devnet: Devnet, healthy: Any) -> None:
    _, scanner, server = healthy
    l1 = RpcClient(devnet.l1.url)
    deadline = time.monotonic() + 180  # a young devnet: wait for L1 to be long enough (not the behaviour)
    while l1.block_number() < 26 and time.monotonic() < deadline:
        time.sleep(1)
    head = l1.block_number()
    with scanner.lock:  # derivation halted 25 L1 blocks back, as a stuck op-node's traversal is
        scanner.next_l1 = head - 24
    finding = run(devnet, {"replica-0": server.url})["replica-0"]
    assert finding.status is Status.FIRING and finding.severity is Severity.WARNING
    assert finding.details["derivation_lag_l1_blocks"] >= 25
    assert "derives" in finding.summary
    scanner.step()  # resumed
    assert run(devnet, {"replica-0": server.url})["replica-0"].status is Status.OK


def test_diverged_replica_is_critical(devnet: Devnet, healthy: Any, tmp_path: Path) -> None:
    seq = RpcClient(devnet.sequencer.url)
    at = seq.block_number() - 2
    fork = AnvilProcess.start("replica-fork", tmp_path, [
        "--chain-id", str(L2_CHAIN_ID), "--optimism", "--fork-url", devnet.sequencer.url,
        "--fork-block-number", str(at), "--no-mining"])
    try:
        fork_client = RpcClient(fork.url)
        time.sleep(1.1)  # a different timestamp: the replica's own block at[+1] differs from the sequencer's
        fork_client.call("evm_mine")
        fork_client.call("evm_mine")
        _, _, server = parts = replica(devnet, fork.url)
        try:
            findings = run(devnet, {"replica-0": healthy[2].url, "replica-diverged": server.url})
        finally:
            parts[2].close()
    finally:
        fork.stop()
    assert findings["replica-0"].status is Status.OK
    bad = findings["replica-diverged"]
    assert bad.status is Status.FIRING and bad.severity is Severity.CRITICAL, bad.summary
    assert bad.details["node_hash"] != bad.details["sequencer_hash"]
    assert "another chain" in bad.summary
