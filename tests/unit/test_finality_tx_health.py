"""finality and tx_health, their pure parts: the sequencing window's severity, reorg depth from
remembered hashes, the blob fees read off eth_feeHistory, and their config keys and targets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opwatch.chain import wire
from opwatch.chain.errors import BadResponse
from opwatch.checks import CHECKS
from opwatch.checks.finality import _seq_window
from opwatch.checks.tx_health import _blob_fees, _reorg_depth
from opwatch.config import ConfigError, parse_config
from opwatch.findings import Severity, Status

BASE = """
[networks.n]
l1_rpc = "http://l1:8545"
l2_rpc = "http://l2:8545"
l1_chain_id = 1
l2_chain_id = 10
block_time = "2s"
batcher = "0x6887246668a3b87F54DeB3b94Ba47a6f63F32985"
proposer = "0x473300df21D047806A082244b417f96b32f13A33"
"""


def _status(origin: int, head_l1: int) -> wire.SyncStatus:
    ref = wire.L2BlockRef(number=100, hash="0x" + "11" * 32, timestamp=1000, l1origin_number=origin)
    return wire.SyncStatus(head_l1_number=head_l1, head_l1_timestamp=2000, unsafe_l2=ref, safe_l2=ref,
                           finalized_l2=ref)


@pytest.mark.parametrize(("head_l1", "status", "severity"), [
    (1000 + 3600 - 1200, Status.OK, None),  # exactly the minimum left
    (1000 + 3600 - 1199, Status.FIRING, Severity.WARNING),
    (1000 + 3600 - 300, Status.FIRING, Severity.WARNING),  # a quarter of 1200 is still a warning
    (1000 + 3600 - 299, Status.FIRING, Severity.CRITICAL),
    (1000 + 3600 + 5, Status.FIRING, Severity.CRITICAL),  # past the window
])
def test_seq_window_runway_warns_below_the_minimum_and_pages_below_a_quarter(head_l1: int, status: Status,
                                                                              severity: Severity | None) -> None:
    net = parse_config(BASE + 'rollup_rpc = "http://op-node:9545"\n').network("n")
    verdict = _seq_window(net, _status(1000, head_l1), 3600)
    assert verdict.status == status and verdict.severity == severity
    assert verdict.observed.value == 1000 + 3600 - head_l1
    if verdict.observed.value is not None and verdict.observed.value <= 0:
        assert "deposit-only" in verdict.summary


@given(st.integers(0, 7), st.integers(100, 10_000))
def test_reorg_depth_is_the_number_of_remembered_blocks_replaced(depth: int, head: int) -> None:
    remembered = {head - i: f"0x{head - i:064x}" for i in range(8)}
    canonical = {n: (h if n <= head - depth else "0x" + "ee" * 32) for n, h in remembered.items()}
    assert _reorg_depth(remembered, canonical) == depth


def test_reorg_depth_with_no_remembered_block_canonical_is_at_least_all_of_them() -> None:
    remembered = {10: "0x" + "01" * 32, 11: "0x" + "02" * 32}
    assert _reorg_depth(remembered, {10: "0x" + "aa" * 32}) == 2  # 11 is gone above the new head
    assert _reorg_depth({}, {10: "0x" + "aa" * 32}) is None


def test_blob_fees_come_off_fee_history_and_a_node_without_them_says_so() -> None:
    assert _blob_fees({"baseFeePerBlobGas": ["0x1", "0x2", "0xa"]}, "l1") == [1, 2, 10]
    assert _blob_fees({"baseFeePerGas": ["0x1"]}, "l1") is None  # before Cancun
    assert _blob_fees({"baseFeePerBlobGas": ["0x0", "0x0"]}, "l1") is None  # served as zeros: none
    for bad in ([], {"baseFeePerBlobGas": "0x1"}, {"baseFeePerBlobGas": ["0x1"]}, {"baseFeePerBlobGas": ["x", "0x1"]}):
        with pytest.raises(BadResponse):
            _blob_fees(bad, "l1")


def test_config_keys_and_targets() -> None:
    text = BASE + 'challenger = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"\n' + """
[networks.n.thresholds]
finality_max_age = "20m"
seq_window_min_blocks = 600
tx_max_stuck = "5m"
blob_fee_spike_ratio = 4
blob_fee_spike_min_gwei = 0
"""
    net = parse_config(text).network("n")
    t = net.thresholds
    assert (t.finality_max_age, t.seq_window_min_blocks, t.tx_max_stuck) == (1200.0, 600, 300.0)
    assert (t.blob_fee_spike_ratio, t.blob_fee_spike_min_gwei) == (4.0, 0.0)
    assert list(CHECKS["tx_health"].targets(net)) == ["batcher", "proposer", "challenger", "l1"]
    # finality needs op-node: skipped with the reason, not unknown.
    assert CHECKS["finality"].missing(net) == "needs rollup_rpc (op-node)"
    defaults = parse_config(BASE).network("n").thresholds
    assert (defaults.finality_max_age, defaults.seq_window_min_blocks, defaults.tx_max_stuck,
            defaults.blob_fee_spike_ratio) == (1800.0, 1200, 600.0, 10.0)
    with pytest.raises(ConfigError) as err:
        parse_config(BASE + 'challenger = "0x12"\n[networks.n.thresholds]\nseq_window_min_blocks = 0\n')
    assert any("challenger" in p for p in err.value.problems)
    assert any("seq_window_min_blocks" in p for p in err.value.problems)


def test_rollup_config_seq_window_size_is_validated_at_the_wire() -> None:
    assert wire.rollup_seq_window_size({"seq_window_size": 3600}, "op-node") == 3600
    for bad in ({}, {"seq_window_size": "0xe10"}, {"seq_window_size": 0}, []):
        with pytest.raises(BadResponse):
            wire.rollup_seq_window_size(bad, "op-node")


def test_a_blob_fee_spike_is_above_the_ratio_times_the_median_and_above_the_floor() -> None:
    from opwatch.checks.tx_health import blob_fee_spike

    quiet = [10**9] * 100
    assert blob_fee_spike([*quiet, 11 * 10**9], 10.0, 10**9)[3] is True
    assert blob_fee_spike([*quiet, 10 * 10**9], 10.0, 10**9)[3] is False  # at the ratio: not above it
    # One busy block does not move the median; half the window high does.
    assert blob_fee_spike([*quiet[:-1], 50 * 10**9, 11 * 10**9], 10.0, 0)[1] == 10**9
    assert blob_fee_spike([*([10**9] * 50), *([20 * 10**9] * 51), 30 * 10**9], 10.0, 0)[3] is False
    # 1 wei to 20 wei is twenty times as much and still costs nothing: under the floor.
    current, _, ratio, spike = blob_fee_spike([1] * 100 + [20], 10.0, 10**9)
    assert (current, ratio, spike) == (20, 20.0, False)
    assert blob_fee_spike([1] * 100 + [20], 10.0, 0)[3] is True
