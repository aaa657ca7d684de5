"""wallet_runway: the batcher and proposer wallets can keep paying L1 fees.

Invariant: balance ÷ projected spend ≥ `wallet_min_runway`, per wallet (targets `batcher`,
`proposer`). Projected spend per hour = rate × cost per transaction, where
  rate = max(configured txs_per_hour, the rate measured from the wallet's nonce over the last
         ~hour of L1), so a wallet spending faster than configured is not flattered, and
  cost = gas_per_tx × (current L1 base fee + priority fee) + blobs_per_tx × 131072 × blob base fee
         (one blob uses 131,072 blob gas; blob fees and execution fees move independently, so
          a runway that priced only one of them would lie during a blob-fee spike).
The finding reports the runway in hours, with the balance and the prices in its details.
Fires: runway below the threshold (a drained wallet, or a fee spike that burns it faster).
Unknown: every L1 endpoint is down, on another chain, or answers garbage (including a node
that does not serve eth_blobBaseFee while blobs are priced).
Diagnosis (firing): cannot pay one transaction, stuck transactions, fees above the wallet's caps.
Remedy: top-up of the wallet from the funder (policy-gated; see docs/runbooks/wallet_runway.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..chain.node import Node
from ..config import Network
from ..findings import Measure, Status
from . import diagnosis
from .base import Check, Context, Hold, Timing, Verdict

BLOB_GAS_PER_BLOB = 131_072
# Look back about an hour of L1 for the measured rate (300 blocks at 12 s).
_LOOKBACK_BLOCKS = 300
_WEI_PER_ETH = 10**18


@dataclass(frozen=True, slots=True)
class Prices:
    head: int
    base_fee: int
    blob_base_fee: int
    past_block: int
    elapsed_s: float


def _wallets(net: Network) -> dict[str, str]:
    return {role: addr for role, addr in (("batcher", net.batcher), ("proposer", net.proposer)) if addr}


def prepare(ctx: Context) -> Prices:
    l1 = ctx.l1()
    head = l1.head()
    past = max(0, head.number - _LOOKBACK_BLOCKS)
    needs_blobs = any(p.blobs_per_tx for p in ctx.network.wallets.values())

    def read(node: Node) -> tuple[int, int]:
        old = node.block(past)
        return old.timestamp, node.blob_base_fee() if needs_blobs else 0

    old_ts, blob_fee = l1.read(read)
    return Prices(head=head.number, base_fee=head.base_fee or 0, blob_base_fee=blob_fee,
                  past_block=past, elapsed_s=float(max(0, head.timestamp - old_ts)))


# A firing runway under this many hours pages at the first run (Verdict.urgent).
URGENT_RUNWAY_H = 1.0


def measure(ctx: Context, prices: Prices, target: str) -> Verdict:
    net = ctx.network
    address = _wallets(net)[target]
    profile = net.wallets[target]

    def read(node: Node) -> tuple[int, int, int]:
        (balance, nonce_now), = node.balances_and_nonces([address], prices.head)
        nonce_then = node.nonces([address], prices.past_block)[0] if prices.past_block != prices.head else nonce_now
        return balance, nonce_now, nonce_then

    balance, nonce_now, nonce_then = ctx.l1().read(read)
    measured_rate = (nonce_now - nonce_then) * 3600.0 / prices.elapsed_s if prices.elapsed_s > 0 else 0.0
    rate = max(profile.txs_per_hour, measured_rate)
    cost_per_tx = (profile.gas_per_tx * (prices.base_fee + profile.priority_fee_wei)
                   + profile.blobs_per_tx * BLOB_GAS_PER_BLOB * prices.blob_base_fee)
    spend_per_hour = rate * cost_per_tx
    limit_h = net.thresholds.wallet_min_runway / 3600.0
    threshold = Measure(limit_h, "h")
    details = {
        "address": address, "balance_eth": balance / _WEI_PER_ETH, "balance_wei": str(balance),
        "l1_block": prices.head, "base_fee_gwei": prices.base_fee / 1e9,
        "blob_base_fee_gwei": prices.blob_base_fee / 1e9, "txs_per_hour_configured": profile.txs_per_hour,
        "txs_per_hour_measured": round(measured_rate, 2), "spend_eth_per_hour": spend_per_hour / _WEI_PER_ETH,
    }
    if spend_per_hour <= 0:
        return Verdict(Status.OK, f"{target} wallet holds {balance / _WEI_PER_ETH:.4f} ETH and spends nothing "
                       "at current rates", Measure(None, "h"), threshold, details)
    runway_h = balance / spend_per_hour
    observed = Measure(round(runway_h, 2), "h")
    text = (f"{target} wallet runway {observed.render()} (limit {threshold.render()}): "
            f"{balance / _WEI_PER_ETH:.4f} ETH at {spend_per_hour / _WEI_PER_ETH:.4g} ETH/h "
            f"({rate:.3g} tx/h, base fee {prices.base_fee / 1e9:.3g} gwei, "
            f"blob fee {prices.blob_base_fee / 1e9:.3g} gwei)")
    if runway_h < limit_h:
        # Holds follow severity: the fire hold (3 runs, 30 min at the default 10-minute schedule)
        # spares a 72 h warning from flapping, not a wallet that cannot pay for its next
        # transaction or will be empty within the hour.
        urgent = balance < cost_per_tx or runway_h < URGENT_RUNWAY_H
        return diagnosis.wallet(ctx, Verdict(Status.FIRING, text, observed, threshold, details, urgent=urgent),
                                target)
    return Verdict(Status.OK, text, observed, threshold, details)


CHECK = Check(
    id="wallet_runway",
    title="wallet runway (h)",
    missing=lambda net: None if _wallets(net) else "needs batcher and/or proposer",
    targets=lambda net: list(_wallets(net)),
    threshold=lambda net: Measure(net.thresholds.wallet_min_runway / 3600.0, "h"),
    prepare=prepare,
    measure=measure,
    # Runway moves with L1 fees, so it hovers at the threshold: slow to fire, slower to resolve.
    timing=Timing(Hold(3, 900.0), Hold(5, 1800.0), Hold(10, 1800.0)),
    reads_l1=True,
    # The runway moves with fees over hours, but a drained wallet (urgent: no hold) must not
    # wait for a 10-minute schedule: every 2 minutes, cheap reads (a median of 60 s to the page,
    # where the anchor's common setting took 120 s; bench/results/anchor.json).
    every_minutes=2,
    remedy="topup",
)
