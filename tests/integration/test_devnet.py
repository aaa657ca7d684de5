"""The devnet behaves like the OP Stack it stands in for, and every fault does what it says.

Real anvil nodes; one devnet per session (tests/conftest.py), faults healed after each test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opwatch_devnet import contracts
from opwatch_devnet.batches import decode_batch
from opwatch_devnet.jsonrpc import RpcClient, RpcError
from opwatch_devnet.keys import BATCHER
from opwatch_devnet.topology import Devnet

pytestmark = pytest.mark.anvil


@pytest.fixture(autouse=True)
def healed(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "devnet" in request.fixturenames:
        request.getfixturevalue("devnet").heal()


def rollup(devnet: Devnet) -> RpcClient:
    return RpcClient(devnet.proxies["rollup"].url)


def raw_post(url: str, method: str, timeout: float = 2.0) -> tuple[int, bytes]:
    body = json.dumps({"jsonrpc": "2.0", "id": 7, "method": method, "params": []}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_l2_blocks_advance_at_the_block_time(devnet: Devnet) -> None:
    l2 = RpcClient(devnet.proxies["l2"].url)
    start = l2.block_number()
    time.sleep(3.2)
    assert 2 <= l2.block_number() - start <= 4


def test_config_names_only_proxies_and_the_deployment(devnet: Devnet) -> None:
    import tomllib

    net = tomllib.loads(devnet.config_path.read_text())["networks"]["devnet"]
    assert net["l1_rpc"] == [p.url for p in devnet.l1_proxies] and len(net["l1_rpc"]) == 3
    assert net["rpc_nodes"] == [p.url for p in devnet.rpc_proxies]
    assert net["l2_rpc"] == devnet.proxies["l2"].url and net["rollup_rpc"] == devnet.proxies["rollup"].url
    assert net["batch_inbox"] == "0xFf00000000000000000000000000000000000901"
    assert net["l2_output_oracle"] == devnet.deployment.l2_output_oracle
    assert net["thresholds"]["rpc_max_lag_blocks"] == 5 and net["block_time"] == "1s"
    state = json.loads((devnet.workdir / "state.json").read_text())
    assert state["nodes"]["l1"]["pid"] == devnet.l1.pid


def test_rpc_nodes_serve_the_sequencers_blocks(devnet: Devnet) -> None:
    seq = RpcClient(devnet.l2_url)
    for proxy in devnet.rpc_proxies:
        node = RpcClient(proxy.url)
        assert int(node.call("eth_chainId"), 16) == 901
        head = node.block_number()
        assert seq.block_number() - head <= 2
        for number in (head, max(0, head - 3), 0):
            assert node.block(number)["hash"] == seq.block(number)["hash"]  # type: ignore[index]


def test_lag_rpc_puts_one_node_n_blocks_behind(devnet: Devnet) -> None:
    seq, lagging, other = (RpcClient(u) for u in (devnet.l2_url, devnet.rpc_proxies[1].url, devnet.rpc_proxies[0].url))
    devnet.fault("lag-rpc", n=6, node=1)
    assert devnet.wait_for(lambda: seq.block_number() - lagging.block_number() >= 6, timeout=5)
    assert seq.block_number() - lagging.block_number() <= 8
    assert seq.block_number() - other.block_number() <= 2
    devnet.heal("lag-rpc")
    assert devnet.wait_for(lambda: seq.block_number() - lagging.block_number() <= 1, timeout=5)


def test_sync_status_has_op_nodes_shape(devnet: Devnet) -> None:
    status = rollup(devnet).call("optimism_syncStatus")
    for key in ("current_l1", "current_l1_finalized", "head_l1", "safe_l1", "finalized_l1"):
        assert set(status[key]) == {"hash", "number", "parentHash", "timestamp"}
        assert isinstance(status[key]["number"], int)
    for key in ("unsafe_l2", "safe_l2", "finalized_l2", "pending_safe_l2", "cross_unsafe_l2", "local_safe_l2"):
        assert set(status[key]) == {"hash", "number", "parentHash", "timestamp", "l1origin", "sequenceNumber"}
        assert isinstance(status[key]["l1origin"]["number"], int)
    config = rollup(devnet).call("optimism_rollupConfig")
    assert (config["l1_chain_id"], config["l2_chain_id"], config["block_time"]) == (900, 901, 1)
    assert config["batch_inbox_address"] == devnet.batch_inbox
    assert isinstance(rollup(devnet).call("optimism_version"), str)


def _batches_on_l1(devnet: Devnet, last: int = 12) -> list[dict[str, Any]]:
    l1 = RpcClient(devnet.l1_url)
    head = l1.block_number()
    txs = []
    for number in range(max(0, head - last), head + 1):
        txs += [tx for tx in l1.block(number, full=True)["transactions"]  # type: ignore[index]
                if (tx.get("to") or "").lower() == devnet.batch_inbox]
    return txs


def test_batches_land_and_the_safe_head_follows_them_and_stops_with_the_batcher(devnet: Devnet) -> None:
    txs = devnet.wait_for(lambda: _batches_on_l1(devnet), timeout=8)
    assert txs and all(tx["from"].lower() == BATCHER.address.lower() for tx in txs)
    assert decode_batch(bytes.fromhex(txs[-1]["input"][2:])) is not None
    safe = lambda: rollup(devnet).call("optimism_syncStatus")["safe_l2"]["number"]  # noqa: E731
    first = safe()
    assert devnet.wait_for(lambda: safe() > first, timeout=8)

    devnet.fault("stop-batcher")
    time.sleep(devnet.l1_block_time * 3)  # a batch already in flight may still land
    stalled = safe()
    time.sleep(4)
    assert safe() == stalled
    status = rollup(devnet).call("optimism_syncStatus")
    assert status["unsafe_l2"]["number"] >= stalled + 4
    devnet.heal("stop-batcher")
    assert devnet.wait_for(lambda: safe() > stalled, timeout=8)


def test_a_blob_batch_lands_and_is_derived(devnet: Devnet) -> None:
    submission, receipt = devnet.batcher.send_blob_batch(timeout=20)
    assert receipt["type"] == "0x3" and receipt["to"] == devnet.batch_inbox
    l1_number = int(receipt["blockNumber"], 16)
    assert devnet.wait_for(lambda: any(b.l1_number == l1_number and b.l2_number == submission.l2_number
                                       for b in devnet.scanner.landed), timeout=5)


def test_outputs_land_in_the_l2_output_oracle(devnet: Devnet) -> None:
    l1 = RpcClient(devnet.l1_url)
    oracle = devnet.deployment.l2_output_oracle

    def latest_index() -> int | None:
        try:
            return int(contracts.call(l1, "L2OutputOracle", oracle, "latestOutputIndex")[0])
        except RpcError:
            return None  # reverts while no output exists

    assert devnet.wait_for(lambda: latest_index() is not None, timeout=25)
    (output,) = contracts.call(l1, "L2OutputOracle", oracle, "getL2Output", [0])
    root, _timestamp, l2_number = output
    start = int(contracts.call(l1, "L2OutputOracle", oracle, "startingBlockNumber")[0])
    assert l2_number == start + 10
    expected = rollup(devnet).call("optimism_outputAtBlock", hex(l2_number))["outputRoot"]
    assert "0x" + root.hex() == expected


def test_stop_proposer_stops_outputs(devnet: Devnet) -> None:
    devnet.fault("stop-proposer")
    time.sleep(1.5)  # let a step in flight finish
    count = len(devnet.proposer.proposed)
    time.sleep(3)
    assert not devnet.proposer.active and len(devnet.proposer.proposed) == count
    devnet.heal("stop-proposer")
    assert devnet.proposer.active


def test_halt_sequencer_freezes_the_head_and_heal_resumes(devnet: Devnet) -> None:
    l2 = RpcClient(devnet.l2_url)
    devnet.fault("halt-sequencer")
    devnet.fault("halt-sequencer")  # idempotent
    head = l2.block_number()
    time.sleep(2.5)
    assert l2.block_number() == head
    assert rollup(devnet).call("admin_sequencerActive") is False
    devnet.heal("halt-sequencer")
    assert devnet.wait_for(lambda: l2.block_number() > head, timeout=4)


def test_admin_stop_and_start_sequencer_like_op_node(devnet: Devnet) -> None:
    node, l2 = rollup(devnet), RpcClient(devnet.l2_url)
    assert node.call("admin_sequencerActive") is True
    head_hash = node.call("admin_stopSequencer")
    time.sleep(1.5)
    assert l2.block("latest")["hash"] == head_hash  # type: ignore[index]
    with pytest.raises(RpcError):
        node.call("admin_stopSequencer")
    with pytest.raises(RpcError):
        node.call("admin_startSequencer", "0x" + "11" * 32)
    node.call("admin_startSequencer", head_hash)
    assert node.call("admin_sequencerActive") is True
    assert devnet.wait_for(lambda: l2.block("latest")["hash"] != head_hash, timeout=4)  # type: ignore[index]


def test_drain_batcher_empties_the_wallet_and_spikes_the_base_fee(devnet: Devnet) -> None:
    l1 = RpcClient(devnet.l1_url)
    balance = lambda: int(l1.call("eth_getBalance", BATCHER.address, "latest"), 16)  # noqa: E731
    before = l1.block_number()
    devnet.fault("drain-batcher")
    assert balance() < 10**6
    assert devnet.wait_for(lambda: l1.block_number() > before, timeout=4)
    fees = [int(l1.block(n)["baseFeePerGas"], 16) for n in range(before, l1.block_number() + 1)]  # type: ignore[index]
    assert max(fees) >= 100 * 10**9
    devnet.heal("drain-batcher")
    assert balance() >= 1000 * 10**18


def test_kill_l1_refuses_every_l1_endpoint_and_one_endpoint_can_go_down(devnet: Devnet) -> None:
    devnet.fault("kill-l1")
    for proxy in devnet.l1_proxies:
        with pytest.raises(urllib.error.URLError):
            raw_post(proxy.url, "eth_chainId")
    devnet.heal("kill-l1")
    devnet.fault("l1-endpoint-down", index=2)
    with pytest.raises(urllib.error.URLError):
        raw_post(devnet.l1_proxies[2].url, "eth_chainId")
    assert RpcClient(devnet.l1_proxies[0].url).call("eth_chainId") == "0x384"
    devnet.heal("l1-endpoint-down")
    for proxy in devnet.l1_proxies:
        assert RpcClient(proxy.url).call("eth_chainId") == "0x384"


def test_flaky_rpc_fails_or_delays_answers_everywhere(devnet: Devnet) -> None:
    devnet.fault("flaky-rpc", p=1.0, delay=1.5)
    for proxy in devnet.proxies.values():
        with pytest.raises((RpcError, TimeoutError, urllib.error.URLError)):
            RpcClient(proxy.url, timeout=0.5).call("eth_chainId")
    devnet.heal("flaky-rpc")
    assert RpcClient(devnet.proxies["l2"].url).call("eth_chainId") == "0x385"


def test_garbage_rpc_answers_malformed_json_rpc(devnet: Devnet) -> None:
    devnet.fault("garbage-rpc", target="rpc")
    for _ in range(6):
        status, body = raw_post(devnet.rpc_proxies[0].url, "eth_blockNumber")
        assert status == 200
        try:
            answer = json.loads(body)
        except ValueError:
            continue
        assert answer.get("id") != 7 or not isinstance(answer.get("result"), str) or "error" in answer
    assert RpcClient(devnet.proxies["l2"].url).call("eth_chainId") == "0x385"  # other targets untouched
    devnet.heal("garbage-rpc")
    assert RpcClient(devnet.rpc_proxies[0].url).call("eth_chainId") == "0x385"


def test_wrong_chain_changes_only_the_chain_id(devnet: Devnet) -> None:
    devnet.fault("wrong-chain", target="l1", chain_id=1)
    assert {RpcClient(p.url).call("eth_chainId") for p in devnet.l1_proxies} == {"0x1"}
    assert RpcClient(devnet.l1_proxies[0].url).block_number() > 0
    devnet.heal("wrong-chain")
    assert {RpcClient(p.url).call("eth_chainId") for p in devnet.l1_proxies} == {"0x384"}


def test_unknown_fault_is_refused(devnet: Devnet) -> None:
    with pytest.raises(ValueError):
        devnet.fault("meteor-strike")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_cli_up_fault_kill_sequencer_and_down_leave_no_process(tmp_path: Path) -> None:
    workdir = tmp_path / "cli"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        code = "import sys; from opwatch_devnet.cli import run; raise SystemExit(run(sys.argv[1:]))"
        return subprocess.run([sys.executable, "-c", code, *args, "--workdir", str(workdir)],
                              capture_output=True, text=True, timeout=90)

    up = cli("up")
    assert up.returncode == 0, up.stderr
    assert Path(up.stdout.strip()).is_file()
    state = json.loads((workdir / "state.json").read_text())
    pids = [state["supervisor_pid"], *(n["pid"] for n in state["nodes"].values())]
    assert all(_alive(pid) for pid in pids)
    l2 = state["proxies"]["l2"]["url"]

    assert cli("fault", "kill-sequencer").returncode == 0
    assert not _alive(state["nodes"]["l2-sequencer"]["pid"])
    with pytest.raises(RpcError):
        RpcClient(l2).call("eth_chainId")
    assert cli("heal", "kill-sequencer").returncode == 0
    assert RpcClient(l2).call("eth_chainId") == "0x385"
    assert json.loads(cli("status").stdout)["faults"] == {}
    restarted = json.loads((workdir / "state.json").read_text())["nodes"]["l2-sequencer"]["pid"]
    assert restarted != state["nodes"]["l2-sequencer"]["pid"] and _alive(restarted)
    pids.append(restarted)

    down = cli("down")
    assert down.returncode == 0, down.stderr
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in pids)
    assert not (workdir / "state.json").exists()
