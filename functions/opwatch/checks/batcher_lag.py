"""batcher_lag: the batcher keeps the safe head close to the unsafe head.

Invariant: in op-node's `optimism_syncStatus`, `unsafe_l2.timestamp - safe_l2.timestamp`
(L2 time the batcher has not yet made safe on L1) stays within `batcher_max_safe_lag`.
Why L2 time and not blocks: the threshold then means the same on a 2 s and a 250 ms chain.
Fires: the safe head falls behind (batcher stopped, batches not landing, derivation stuck).
Unknown: op-node (`rollup_rpc`) is down, slow, answers garbage, or its rollup config names
other chain ids than configured.
Diagnosis (firing): wallet, stuck transactions, fee caps, a rotated batcher key, L1 down, or
derivation stalled although batches land (checks/diagnosis.py).
Remedy: none automatic; a wallet_runway or batch_submission finding usually names the cause.
"""

from __future__ import annotations

from ..chain import wire
from ..chain.errors import WrongChain
from ..chain.rpc import Call
from ..findings import Measure, Status
from . import diagnosis
from .base import Check, Context, Hold, Timing, Verdict

TARGET = "safe-head"


def measure(ctx: Context, _shared: object, target: str) -> Verdict:
    net = ctx.network
    assert net.rollup_rpc is not None
    client = ctx.client(net.rollup_rpc)
    raw_status, raw_config = client.batch([Call("optimism_syncStatus"), Call("optimism_rollupConfig")])
    l1_id, l2_id = wire.rollup_chain_ids(raw_config, client.name)
    if l2_id != net.l2_chain_id:
        raise WrongChain(client.name, net.l2_chain_id, l2_id)
    if l1_id != net.l1_chain_id:
        raise WrongChain(client.name, net.l1_chain_id, l1_id)
    status = wire.sync_status(raw_status, client.name)
    unsafe, safe = status.unsafe_l2, status.safe_l2
    lag = max(0, unsafe.timestamp - safe.timestamp)
    limit = net.thresholds.batcher_max_safe_lag
    observed, threshold = Measure(float(lag), "s"), Measure(limit, "s")
    details = {"unsafe_l2": unsafe.number, "safe_l2": safe.number, "finalized_l2": status.finalized_l2.number,
               "lag_blocks": unsafe.number - safe.number, "head_l1": status.head_l1_number}
    text = (f"safe head #{safe.number} trails unsafe #{unsafe.number} by {observed.render()} of L2 time "
            f"(limit {threshold.render()})")
    if lag > limit:
        return diagnosis.batcher(ctx, Verdict(Status.FIRING, text + ": the safe head is not keeping up", observed,
                                              threshold, details), safe_lag_s=float(lag))
    return Verdict(Status.OK, text, observed, threshold, details)


CHECK = Check(
    id="batcher_lag",
    title="safe lag behind unsafe (s)",
    missing=lambda net: None if net.rollup_rpc else "needs rollup_rpc (op-node)",
    targets=lambda net: [TARGET],
    threshold=lambda net: Measure(net.thresholds.batcher_max_safe_lag, "s"),
    measure=measure,
    # The safe head moves in steps when batches land: give it a few rounds.
    timing=Timing(Hold(3, 300.0), Hold(3), Hold(5, 600.0)),
)
