"""Top-up in flight: one transaction per funder until it is mined, never a second payment.

On a real L1 a top-up sent just before a fee spike sits in the pool (its max fee below the
base fee) for as long as the spike lasts. geth keeps it and counts it in the funder's
`pending` nonce; anvil drops it, so these tests put `tests/mempool_standin.py` (a pool that
keeps what geth keeps, and gossips it again) between the top-up and anvil. Blocks are mined
by hand (`mine_at`), at the base fee the scenario needs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mempool_standin import GethPoolStandIn
from opwatch.chain.rpc import RpcClient
from opwatch.config import Endpoint
from opwatch.findings import Finding, Measure, Severity, Status
from opwatch.remedies.request import RemedyRequest
from opwatch.remedies.signer import EnvSecretSource, LocalKeySigner
from opwatch.remedies.store import SqliteRemedyStore
from opwatch.remedies.topup import Topup
from remedies_fixtures import BATCHER, FUNDER, FUNDER_KEY, L1_CHAIN_ID, config_text, load, topup_section

pytestmark = pytest.mark.anvil
ETH = 10**18
GWEI = 10**9


@pytest.fixture()
def chain(tmp_path):
    """A fresh anvil that mines only when told, behind the geth-like pool."""
    from opwatch_devnet.anvil import AnvilProcess

    with AnvilProcess.start("l1", tmp_path, ["--chain-id", str(L1_CHAIN_ID)]) as proc:
        pool = GethPoolStandIn(proc.url).start()
        try:
            rpc = RpcClient(Endpoint(proc.url, "l1"), retries=0)
            rpc.call("evm_setAutomine", False)
            yield Chain(rpc, pool)
        finally:
            pool.stop()


class Chain:
    def __init__(self, rpc: RpcClient, pool: GethPoolStandIn) -> None:
        self.rpc = rpc
        self.pool = pool

    def mine_at(self, base_fee_wei: int, blocks: int = 1) -> None:
        for _ in range(blocks):
            self.rpc.call("anvil_setNextBlockBaseFeePerGas", hex(base_fee_wei))
            self.pool.gossip()
            self.rpc.call("evm_mine")

    def balance(self, address: str) -> int:
        return int(self.rpc.call("eth_getBalance", address, "latest"), 16)

    def nonce(self, tag: str = "latest") -> int:
        return int(RpcClient(Endpoint(self.pool.url, "pool"), retries=0)
                   .call("eth_getTransactionCount", FUNDER, tag), 16)


def make(chain: Chain, tmp_path: Path) -> Topup:
    # A firing finding pays unattended; the caps would allow three payments (27 ETH), so only
    # the in-flight guard can keep it to one.
    section = topup_section(tmp_path / "remedies.db", auto=True, approval="auto", per_tx=10.0, per_day=30.0)
    config = load(config_text(chain.pool.url, section.replace('receipt_timeout = "20s"', 'receipt_timeout = "2s"')))
    signer = LocalKeySigner(EnvSecretSource({"OPWATCH_FUNDER_KEY": FUNDER_KEY}), "OPWATCH_FUNDER_KEY", FUNDER)
    return Topup(config.network("devnet"), config.section("remediation").for_network("devnet"),
                 SqliteRemedyStore(tmp_path / "remedies.db"), signer,
                 [RpcClient(Endpoint(chain.pool.url, "l1"), retries=0)])


def firing(minute: int) -> RemedyRequest:
    """The wallet_runway finding of one evaluation (ten minutes apart): a new request id each."""
    finding = Finding(network="devnet", check="wallet_runway", target="batcher", status=Status.FIRING,
                      severity=Severity.CRITICAL, summary="runway", observed=Measure(1.0, "h"),
                      threshold=Measure(24.0, "h"), observed_at=f"2024-01-01T00:{minute:02d}:00Z")
    return RemedyRequest.from_finding(finding)


def test_a_fee_spike_and_three_findings_pay_the_shortfall_exactly_once(chain, tmp_path):
    chain.mine_at(1 * GWEI)  # calm: the top-up's max fee is 2 x 1 + 1 = 3 gwei
    chain.rpc.call("anvil_setBalance", BATCHER, hex(1 * ETH))  # 9 ETH short of the 10 ETH target
    start_nonce, start_balance = chain.nonce(), chain.balance(BATCHER)
    topup = make(chain, tmp_path)

    first = topup.run(firing(0))
    assert first.status == "pending" and first.tx_hash, first.reason  # in the pool, no block yet
    chain.mine_at(60 * GWEI, blocks=3)  # the spike: no block takes a 3 gwei max fee
    assert chain.balance(BATCHER) == start_balance and chain.nonce("pending") == start_nonce + 1

    outcomes = [first]
    for minute in (10, 20):  # the finding keeps firing during the spike
        outcomes.append(topup.run(firing(minute)))
        chain.mine_at(60 * GWEI, blocks=3)

    chain.mine_at(1 * GWEI, blocks=5)  # the spike is over: everything still in any pool is mined
    assert chain.balance(BATCHER) - start_balance == 9 * ETH, [o.to_dict() for o in outcomes]
    assert chain.nonce() - start_nonce == 1, "exactly one transaction from the funder was mined"
    assert chain.nonce("pending") == chain.nonce(), "nothing else is left in flight"
    # Later findings never made a payment of their own: they waited on, or replaced, the first.
    assert all(o.plan is None or o.plan.amount_wei == 9 * ETH for o in outcomes)
    after = topup.run(firing(30))
    assert after.status == "skipped", after.reason
    assert topup.store.lookup(first_request_id()) ["status"] == "done"


def first_request_id() -> str:
    return firing(0).request_id


def test_a_stuck_top_up_is_replaced_at_its_nonce_within_the_gas_ceiling(chain, tmp_path):
    chain.mine_at(1 * GWEI)
    chain.rpc.call("anvil_setBalance", BATCHER, hex(1 * ETH))
    start_nonce = chain.nonce()
    topup = make(chain, tmp_path)
    first = topup.run(firing(0))
    assert first.status == "pending"
    chain.mine_at(150 * GWEI, blocks=2)  # above the 100 gwei ceiling: no replacement can pay it
    held = topup.run(firing(10))
    assert held.status == "pending" and "ceiling" in held.reason, held.reason
    assert chain.nonce("pending") == start_nonce + 1  # nothing new was signed at the next nonce
    chain.mine_at(60 * GWEI)  # within the ceiling again
    replaced = topup.run(firing(20))
    assert replaced.tx_hash and replaced.tx_hash != first.tx_hash, replaced.reason
    assert chain.pool.refused_replacements == 0, "the replacement bumps both fees by at least 10 %"
    chain.mine_at(60 * GWEI, blocks=2)
    assert chain.nonce() == start_nonce + 1 and chain.balance(BATCHER) == 10 * ETH
    receipt = chain.rpc.call("eth_getTransactionReceipt", replaced.tx_hash)
    assert receipt is not None and int(receipt["effectiveGasPrice"], 16) <= 100 * GWEI


def test_a_pending_transaction_opwatch_did_not_send_blocks_a_new_top_up(chain, tmp_path):
    """Someone paid the batcher by hand from the funder, and it is stuck: the funder's
    `pending` nonce is above its `latest`. A top-up then must not add a second payment."""
    from eth_account import Account

    chain.mine_at(1 * GWEI)
    chain.rpc.call("anvil_setBalance", BATCHER, hex(1 * ETH))
    start_nonce = chain.nonce()
    by_hand = Account.from_key(FUNDER_KEY).sign_transaction({
        "type": 2, "chainId": L1_CHAIN_ID, "nonce": start_nonce, "to": BATCHER, "value": 9 * ETH, "gas": 21_000,
        "maxFeePerGas": 3 * GWEI, "maxPriorityFeePerGas": GWEI, "data": b""})
    RpcClient(Endpoint(chain.pool.url, "pool"), retries=0).call("eth_sendRawTransaction",
                                                                "0x" + by_hand.raw_transaction.hex())
    chain.mine_at(60 * GWEI, blocks=2)
    outcome = make(chain, tmp_path).run(firing(0))
    assert outcome.status == "refused" and "pending" in outcome.reason, outcome.reason
    chain.mine_at(1 * GWEI, blocks=3)
    assert chain.nonce() == start_nonce + 1 and chain.balance(BATCHER) == 10 * ETH
