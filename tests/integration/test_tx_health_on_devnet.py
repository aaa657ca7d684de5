"""tx_health on the devnet (real anvil L1 and L2): a healthy devnet is ok on every target; a
challenger transaction priced under the base fee stays pending, is "first seen" on the run that
first sees it (and on a first run with no memory), fires once its mined nonce has stood still for
tx_max_stuck, with nonces, fees and caps, and the operator's replacement (same nonce, fees bumped
over the base fee) resolves it.

anvil drops a transaction priced under the base fee, where geth's pool keeps it pending: L1 is
read through tests/mempool_standin.py (a geth-like pool in front of the devnet's L1), as the
top-up tests do. The challenger wallet is anvil's well-known test account 7, used by no actor.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import pytest
from devnet_config import tight_config_text
from eth_account import Account
from mempool_standin import GethPoolStandIn
from opwatch.config import Config, parse_config
from opwatch.findings import Finding, Severity, Status
from opwatch.memory import SqliteMemoryStore
from opwatch.runner import run_checks
from opwatch_devnet.jsonrpc import RpcClient

pytestmark = pytest.mark.anvil

# anvil's well-known test account 7 (a public devnet key, never a real secret).
CHALLENGER_KEY = "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356"
L1_CHAIN_ID = 900

Seen = dict[str, Finding]


@pytest.fixture
def pool(devnet) -> Iterator[GethPoolStandIn]:  # type: ignore[no-untyped-def]
    stand_in = GethPoolStandIn(devnet.l1_url).start()
    yield stand_in
    stand_in.stop()


def _config(devnet, pool: GethPoolStandIn, **thresholds: str) -> Config:  # type: ignore[no-untyped-def]
    text = tight_config_text(devnet, **thresholds)
    challenger = Account.from_key(CHALLENGER_KEY).address
    text = re.sub(r"(?m)^l1_rpc = .*$", f'l1_rpc = ["{pool.url}"]\nchallenger = "{challenger}"', text, count=1)
    return parse_config(text)


def _run(config: Config, memory: SqliteMemoryStore) -> Seen:
    return {f.target: f for f in run_checks(config, check_ids=["tx_health"], memory=memory).findings}


def _wait(config: Config, memory: SqliteMemoryStore, want: Callable[[Seen], bool], timeout: float) -> Seen:
    deadline = time.monotonic() + timeout
    while True:
        seen = _run(config, memory)
        if want(seen) or time.monotonic() > deadline:
            return seen
        time.sleep(1.0)


def _send(pool: GethPoolStandIn, nonce: int, max_fee: int, tip: int) -> None:
    account = Account.from_key(CHALLENGER_KEY)
    tx = {"type": 2, "chainId": L1_CHAIN_ID, "nonce": nonce, "to": account.address, "value": 0, "gas": 21_000,
          "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip}
    raw = "0x" + bytes(account.sign_transaction(tx).raw_transaction).hex()
    answer = RpcClient(pool.url).call("eth_sendRawTransaction", raw)
    assert isinstance(answer, str), answer


def test_healthy_devnet_is_ok_on_every_wallet_and_l1(devnet, pool: GethPoolStandIn, tmp_path) -> None:  # type: ignore[no-untyped-def]
    config, memory = _config(devnet, pool), SqliteMemoryStore(tmp_path / "m.db")
    first = _run(config, memory)
    assert set(first) == {"batcher", "proposer", "challenger", "l1"}
    assert first["l1"].details["reorg_depth"] is None  # a first run cannot tell
    time.sleep(2.0)
    second = _run(config, memory)
    assert all(f.status == Status.OK for f in second.values()), {t: f.summary for t, f in second.items()}
    assert second["l1"].details["reorg_depth"] == 0
    assert second["l1"].details["blob_fee_window_blocks"] > 0


def test_a_stuck_challenger_transaction_fires_after_tx_max_stuck_and_the_replacement_resolves_it(  # type: ignore[no-untyped-def]
        devnet, pool: GethPoolStandIn, tmp_path) -> None:
    config, memory = _config(devnet, pool, tx_max_stuck='"6s"'), SqliteMemoryStore(tmp_path / "m.db")
    assert _run(config, memory)["challenger"].status == Status.OK
    l1 = RpcClient(devnet.l1_url)
    address = Account.from_key(CHALLENGER_KEY).address
    nonce = int(l1.call("eth_getTransactionCount", address, "latest"), 16)
    base = int(l1.block("latest")["baseFeePerGas"], 16)  # type: ignore[index]
    assert base >= 2
    _send(pool, nonce, max_fee=base // 2, tip=1)  # under the base fee: geth keeps it pending
    seen_first = _run(config, memory)["challenger"]
    assert seen_first.status == Status.OK and "first seen now" in seen_first.summary
    assert seen_first.details["pending_nonce"] == nonce + 1 and seen_first.details["mined_nonce"] == nonce
    fired = _wait(config, memory, lambda s: s["challenger"].status == Status.FIRING, 60)["challenger"]
    # A first run with an empty memory never fires on what it cannot remember.
    fresh = _run(config, SqliteMemoryStore(tmp_path / "fresh.db"))["challenger"]
    try:
        assert fired.status == Status.FIRING, fired.summary
        assert fired.severity == Severity.CRITICAL
        assert fired.details["pending_nonce"] == nonce + 1 and fired.details["mined_nonce"] == nonce
        assert fired.details["stuck_for_s"] >= 6.0
        assert fired.details["base_fee_gwei"] is not None and "caps: none configured" in fired.summary
        assert fresh.status == Status.OK and "first seen now" in fresh.summary
    finally:
        # The operator's fix: the same nonce, both fees bumped, the max fee over the base fee.
        base = int(l1.block("latest")["baseFeePerGas"], 16)  # type: ignore[index]
        _send(pool, nonce, max_fee=10 * base + 10**9, tip=2)
    healed = _wait(config, memory, lambda s: s["challenger"].status == Status.OK, 60)["challenger"]
    assert healed.status == Status.OK, healed.summary
    assert healed.details["mined_nonce"] == nonce + 1
