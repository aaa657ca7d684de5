"""blob-fee-spike on the devnet: tx_health's `l1` target warns while the L1 endpoints report a
blob base fee far above its median, and is ok again after the heal.

anvil 1.7.1 never raises its own blob base fee (its excessBlobGas stays 0 however many blobs
its blocks carry), so the fault is the devnet's L1 proxies rewriting `eth_blobBaseFee` and the
newest entries of `eth_feeHistory`'s `baseFeePerBlobGas`, in the real answers' shape; what is
tested is the check reading real answers of that shape through the real client and quorum.
"""

from __future__ import annotations

import time

import pytest
from opwatch.config import parse_config
from opwatch.findings import Severity, Status
from opwatch.runner import run_checks

pytestmark = pytest.mark.anvil


def l1_finding(config):  # type: ignore[no-untyped-def]
    [finding] = [f for f in run_checks(config, check_ids=["tx_health"]).findings if f.target == "l1"]
    return finding


def test_a_blob_fee_spike_warns_on_l1_and_the_heal_clears_it(devnet) -> None:  # type: ignore[no-untyped-def]
    config = parse_config(devnet.config_text())
    assert l1_finding(config).status == Status.OK
    devnet.fault("blob-fee-spike", fee_gwei=50)
    try:
        spiked = l1_finding(config)
        assert spiked.status == Status.FIRING and spiked.severity == Severity.WARNING, spiked.summary
        assert "blob base fee 50 gwei" in spiked.summary, spiked.summary
        assert spiked.details["blob_base_fee_wei"] == 50 * 10**9
    finally:
        devnet.heal("blob-fee-spike")
    deadline = time.monotonic() + 30
    while (healed := l1_finding(config)).status != Status.OK and time.monotonic() < deadline:
        time.sleep(0.5)
    assert healed.status == Status.OK, healed.summary
