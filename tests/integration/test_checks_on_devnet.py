"""Every fault moves exactly the findings it should, on real anvil nodes, and recovery brings
them back to ok.

The devnet (session fixture) runs real L1 and L2 anvil nodes, the real L2OutputOracle behind
the real Proxy, a batcher and a proposer sending real transactions, and fault proxies in
front of every endpoint. opwatch reads it through the config the devnet writes, with
thresholds tightened here so each fault shows within seconds.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator

import pytest
from devnet_config import tight_config_text
from opwatch.config import Config, parse_config
from opwatch.findings import Finding, Status
from opwatch.runner import run_checks

pytestmark = pytest.mark.anvil

OK, FIRING, UNKNOWN = Status.OK, Status.FIRING, Status.UNKNOWN


Key = tuple[str, str]  # (check, target)


@pytest.fixture(scope="module")
def config(devnet) -> Config:  # type: ignore[no-untyped-def]
    return parse_config(tight_config_text(devnet))


@pytest.fixture(scope="module")
def rpc_targets(config: Config) -> list[str]:
    return [e.name for e in config.network("devnet").rpc_nodes]


def statuses(findings: list[Finding]) -> dict[Key, Status]:
    return {(f.check, f.target): f.status for f in findings}


def check_now(config: Config) -> dict[Key, Status]:
    return statuses(run_checks(config).findings)


def wait_for(config: Config, want: Callable[[dict[Key, Status]], bool], timeout: float) -> dict[Key, Status]:
    deadline = time.monotonic() + timeout
    while True:
        seen = check_now(config)
        if want(seen) or time.monotonic() > deadline:
            return seen
        time.sleep(0.5)


def all_ok(seen: dict[Key, Status]) -> bool:
    return bool(seen) and all(s == OK for s in seen.values())


def others(seen: dict[Key, Status], keys: set[Key]) -> dict[Key, Status]:
    return {k: s for k, s in seen.items() if k not in keys and s != OK}


@pytest.fixture
def healthy(devnet, config: Config) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Each test starts from, and leaves, a healthy devnet with every check ok."""
    seen = wait_for(config, all_ok, timeout=60)
    assert all_ok(seen), f"devnet not healthy before the test: {others(seen, set())}"
    yield
    devnet.heal()
    seen = wait_for(config, all_ok, timeout=60)
    assert all_ok(seen), f"did not recover after healing: {others(seen, set())}"


def test_a_healthy_devnet_is_all_ok_with_every_check_and_target(config: Config, rpc_targets: list[str],
                                                                 healthy: None) -> None:
    seen = check_now(config)
    assert set(seen) == {("sequencer_liveness", "sequencer"), ("batcher_lag", "safe-head"),
                         ("batch_submission", "batcher"), ("wallet_runway", "batcher"),
                         ("wallet_runway", "proposer"), ("proposer_freshness", "proposer"),
                         ("output_root", "proposals"), ("finality", "finalized"), ("finality", "seq_window"),
                         ("tx_health", "batcher"), ("tx_health", "proposer"), ("tx_health", "l1"),
                         ("sequencer_ha", "cluster"), ("rollup_nodes", "replica-0"),
                         *(("rpc_sync", t) for t in rpc_targets), *l1_targets(config)}
    assert all_ok(seen)


def l1_targets(config: Config) -> set[Key]:
    """withdrawals' and l1_contracts' targets, as far as the devnet's config names the contracts."""
    from opwatch.checks import CHECKS

    net = config.network("devnet")
    return {(c, t) for c in ("withdrawals", "l1_contracts") if CHECKS[c].missing(net) is None
            for t in CHECKS[c].targets(net)}


FAULTS = [
    # fault, args, what must fire, what may also fire as a consequence of the same cause
    ("halt-sequencer", {}, {("sequencer_liveness", "sequencer")}, set()),
    ("stop-batcher", {}, {("batch_submission", "batcher"), ("batcher_lag", "safe-head")}, set()),
    # A drained batcher cannot pay for batches: their absence is the consequence, not a second cause.
    ("drain-batcher", {}, {("wallet_runway", "batcher")},
     {("batch_submission", "batcher"), ("batcher_lag", "safe-head")}),
    ("stop-proposer", {}, {("proposer_freshness", "proposer")}, set()),
]


@pytest.mark.parametrize(("fault", "args", "must", "may"), FAULTS, ids=[f[0] for f in FAULTS])
def test_a_fault_fires_exactly_its_check_and_recovers(devnet, config: Config, healthy: None, fault: str,  # type: ignore[no-untyped-def]
                                                      args: dict[str, object], must: set[Key], may: set[Key]) -> None:
    devnet.fault(fault, **args)
    seen = wait_for(config, lambda s: all(s.get(k) == FIRING for k in must), timeout=45)
    assert {k: seen.get(k) for k in must} == {k: FIRING for k in must}
    assert others(seen, must | may) == {}
    devnet.heal(fault)
    seen = wait_for(config, all_ok, timeout=45)
    assert all_ok(seen), others(seen, set())


def test_a_lagging_rpc_node_fires_for_that_node_only(devnet, config: Config, rpc_targets: list[str],  # type: ignore[no-untyped-def]
                                                     healthy: None) -> None:
    devnet.fault("lag-rpc", n=12, node=0)
    key = ("rpc_sync", rpc_targets[0])
    seen = wait_for(config, lambda s: s.get(key) == FIRING, timeout=30)
    assert seen[key] == FIRING
    assert others(seen, {key}) == {}
    findings = {(f.check, f.target): f for f in run_checks(config, check_ids=["rpc_sync"]).findings}
    assert findings[key].observed.value is not None and findings[key].observed.value > 5


def test_every_l1_endpoint_down_makes_l1_checks_unknown_not_ok(devnet, config: Config, healthy: None) -> None:  # type: ignore[no-untyped-def]
    from opwatch.checks import CHECKS

    # Every check that declares it reads L1 (Check.reads_l1), settlement and contract checks
    # included; the ones written before them are named too, so a check that stopped declaring
    # it would fail here rather than drop out of the expectation.
    before = check_now(config)
    l1_keys = {k for k in before if CHECKS[k[0]].reads_l1}
    assert {("batch_submission", "batcher"), ("wallet_runway", "batcher"), ("wallet_runway", "proposer"),
            ("proposer_freshness", "proposer"), ("output_root", "proposals"), ("withdrawals", "portal"),
            ("l1_contracts", "paused")} <= l1_keys
    devnet.fault("kill-l1")
    seen = check_now(config)
    assert {k: seen[k] for k in l1_keys} == {k: UNKNOWN for k in l1_keys}
    assert others(seen, l1_keys) == {}
    findings = [f for f in run_checks(config).findings if (f.check, f.target) in l1_keys]
    for f in findings:
        assert f.summary.startswith("cannot tell") and "no healthy endpoint" in f.summary
        assert f.observed.value is None and f.threshold.value is not None


def test_one_of_three_l1_endpoints_down_changes_nothing(devnet, config: Config, healthy: None) -> None:  # type: ignore[no-untyped-def]
    for index in (0, 2):
        devnet.fault("l1-endpoint-down", index=index)
        assert all_ok(check_now(config))
        devnet.heal("l1-endpoint-down")


@pytest.mark.parametrize("fault", ["garbage-rpc", "wrong-chain"])
def test_a_broken_sequencer_endpoint_is_unknown_for_the_checks_that_read_it(devnet, config: Config, rpc_targets,  # type: ignore[no-untyped-def]
                                                                            healthy: None, fault: str) -> None:
    devnet.fault(fault, target="l2")
    seen = check_now(config)
    reads_l2 = {("sequencer_liveness", "sequencer"), *(("rpc_sync", t) for t in rpc_targets)}
    assert {k: seen[k] for k in reads_l2} == {k: UNKNOWN for k in reads_l2}
    assert others(seen, reads_l2) == {}


def test_an_rpc_node_on_another_chain_fires(devnet, config: Config, rpc_targets: list[str], healthy: None) -> None:  # type: ignore[no-untyped-def]
    devnet.fault("wrong-chain", target="rpc-1")
    seen = check_now(config)
    assert seen[("rpc_sync", rpc_targets[1])] == FIRING
    # Where rpc-1 is the only trusted L2 node (trusted_l2_rpc), the checks that recompute roots
    # and withdrawals from it cannot tell when they have something to verify (unknown), and
    # have nothing to say against an empty lookback (ok); they never fire on a wrong chain.
    net = config.network("devnet")
    only_rpc1 = all(e.url == net.rpc_nodes[1].url for e in net.trusted_nodes())
    reads_rpc1 = {("output_root", "proposals"), ("withdrawals", "portal")} if only_rpc1 else set()
    assert all(seen[k] in (OK, UNKNOWN) for k in reads_rpc1), {k: seen[k] for k in reads_rpc1}
    assert others(seen, {("rpc_sync", rpc_targets[1]), *reads_rpc1}) == {}


def test_a_blob_batch_counts_as_a_submission(devnet, config: Config, healthy: None) -> None:  # type: ignore[no-untyped-def]
    devnet.fault("stop-batcher")
    devnet.batcher.send_blob_batch(timeout=30)
    (finding,) = run_checks(config, check_ids=["batch_submission"]).findings
    assert finding.status == OK
    assert finding.details["tx_type"] == 3 and finding.details["blobs"] >= 1


def test_a_deposit_transaction_in_an_l2_block_is_read(devnet, config: Config, healthy: None) -> None:  # type: ignore[no-untyped-def]
    import rlp
    from opwatch.checks import Context

    # A deposit as op-node derives it: from the L1 attributes depositor to the L1Block predeploy.
    body = rlp.encode([b"\x11" * 32, bytes.fromhex("deaddeaddeaddeaddeaddeaddeaddeaddead0001"),
                       bytes.fromhex("4200000000000000000000000000000000000015"), 0, 0, 1_000_000, 0, b"\x01"])
    request = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction",
                          "params": ["0x7e" + body.hex()]}).encode()
    with urllib.request.urlopen(urllib.request.Request(devnet.l2_url, request,
                                                       {"Content-Type": "application/json"}), timeout=10) as resp:
        tx_hash = json.loads(resp.read())["result"]
    node = Context(config.network("devnet")).l2()
    deadline = time.monotonic() + 10
    found = None
    while found is None and time.monotonic() < deadline:
        head = node.head()
        blocks = node.blocks(list(range(max(0, head.number - 5), head.number + 1)), full=True)
        found = next((tx for b in blocks for tx in b.txs if tx.hash == tx_hash.lower()), None)
        time.sleep(0.5)
    assert found is not None and found.type == 0x7E


def test_a_wallet_that_cannot_pay_is_urgent_a_runway_under_its_limit_is_not(devnet, config: Config,  # type: ignore[no-untyped-def]
                                                                              healthy: None) -> None:
    from dataclasses import replace

    # The healthy 10,000 ETH batcher against a limit no wallet meets: firing, and held as usual.
    net = config.network("devnet")
    patient = replace(config, networks={"devnet": replace(net, thresholds=replace(
        net.thresholds, wallet_min_runway=1e15))})
    [held] = [f for f in run_checks(patient, check_ids=["wallet_runway"]).findings if f.target == "batcher"]
    assert held.status == FIRING and not held.urgent, held.summary
    # Drained (it cannot pay for its next batch): firing, and urgent, so it pages at the first run.
    devnet.fault("drain-batcher")
    seen = wait_for(config, lambda s: s.get(("wallet_runway", "batcher")) == FIRING, timeout=45)
    assert seen[("wallet_runway", "batcher")] == FIRING
    [drained] = [f for f in run_checks(config, check_ids=["wallet_runway"]).findings if f.target == "batcher"]
    assert drained.status == FIRING and drained.urgent, drained.summary
