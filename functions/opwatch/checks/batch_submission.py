"""batch_submission: the batcher keeps landing batch transactions on L1.

Invariant: the newest L1 transaction from `batcher` to `batch_inbox` (calldata, type 2, or
blobs, type 3: a blob batch still has the inbox as `to`) is younger than
`batcher_max_submission_age`. Batch transactions emit no logs, so the check reads L1 blocks
backwards from the head, newest first, and stops at the first batch or once it has read past
the threshold (at most `rpc.max_l1_blocks_scanned` blocks per run).
Fires: no batch within the threshold (batcher down, out of funds, stuck nonce, fees too high).
Unknown: every L1 endpoint is down or on another chain, or the scan limit ends before the
threshold is covered (the answer would be a guess).
Diagnosis (firing): as batcher_lag's (checks/diagnosis.py).
Remedy: none from this finding; wallet_runway's top-up covers the out-of-funds cause.
"""

from __future__ import annotations

from ..chain.node import Node
from ..findings import Measure, Status
from . import diagnosis
from .base import Check, Context, Hold, Timing, Verdict

TARGET = "batcher"
# Healthy batchers post every minute or so: a small first read usually finds one.
_FIRST_CHUNK = 8
_CHUNK = 32


def measure(ctx: Context, _shared: object, target: str) -> Verdict:
    net = ctx.network
    assert net.batcher and net.batch_inbox
    batcher, inbox = net.batcher.lower(), net.batch_inbox.lower()
    l1 = ctx.l1()
    head = l1.head()
    now = ctx.now()
    limit = net.thresholds.batcher_max_submission_age
    threshold = Measure(limit, "s")
    horizon = now - limit
    budget = ctx.rpc.max_l1_blocks_scanned
    top, scanned, chunk = head.number, 0, _FIRST_CHUNK
    oldest_ts = head.timestamp
    while top >= 0 and scanned < budget:
        count = min(chunk, top + 1, budget - scanned)
        numbers = list(range(top, top - count, -1))

        def read(node: Node, numbers: list[int] = numbers) -> list:  # type: ignore[type-arg]
            return node.blocks(numbers, full=True)

        for block in l1.read(read):
            oldest_ts = block.timestamp
            for tx in block.txs:
                if tx.sender == batcher and tx.to == inbox:
                    age = max(0.0, now - block.timestamp)
                    observed = Measure(round(age, 1), "s")
                    details = {"l1_block": block.number, "tx": tx.hash, "tx_type": tx.type,
                               "blobs": tx.blob_count, "l1_blocks_scanned": scanned + numbers.index(block.number) + 1}
                    kind = f"blob batch ({tx.blob_count} blobs)" if tx.blob_count else "calldata batch"
                    text = (f"newest {kind} landed in L1 block #{block.number}, {observed.render()} ago "
                            f"(limit {threshold.render()})")
                    if age > limit:
                        return diagnosis.batcher(ctx, Verdict(Status.FIRING, text, observed, threshold, details),
                                                 batches_landing=False)
                    return Verdict(Status.OK, text, observed, threshold, details)
        scanned += count
        top -= count
        chunk = _CHUNK
        if oldest_ts < horizon:
            break
    span = Measure(round(max(0.0, now - oldest_ts), 1), "s")
    details = {"l1_blocks_scanned": scanned, "l1_head": head.number, "lower_bound": True}
    if oldest_ts < horizon:
        return diagnosis.batcher(ctx, Verdict(
            Status.FIRING, f"no batch from the batcher to the inbox in the last {span.render()} "
            f"of L1 ({scanned} blocks; limit {threshold.render()})", span, threshold, details), batches_landing=False)
    if top < 0:  # read back to genesis: the whole L1 is younger than the limit
        return Verdict(Status.OK, f"no batch yet, but L1 is only {span.render()} old "
                       f"(limit {threshold.render()})", span, threshold, details)
    return Verdict(Status.UNKNOWN, f"cannot tell: no batch in the last {scanned} L1 blocks ({span.render()}), "
                   f"which is less than the limit {threshold.render()}; raise rpc.max_l1_blocks_scanned",
                   Measure(None, "s"), threshold, details)


CHECK = Check(
    id="batch_submission",
    title="age of the newest batch on L1 (s)",
    missing=lambda net: None if net.batcher and net.batch_inbox else "needs batcher and batch_inbox",
    targets=lambda net: [TARGET],
    threshold=lambda net: Measure(net.thresholds.batcher_max_submission_age, "s"),
    measure=measure,
    reads_l1=True,
    # Scans up to max_l1_blocks_scanned L1 blocks for batches: the costliest run, so every other
    # minute. The threshold is the patience (no batch for batcher_max_submission_age): one run
    # over it pages. (With the default hold of 2 runs a stopped batcher paged after a median of
    # 186 s past the threshold's crossing, the anchor's common setting after 118 s.)
    timing=Timing(Hold(1), Hold(2), Hold(5, 600.0)),
    every_minutes=2,
)
