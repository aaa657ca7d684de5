"""sequencer_liveness: the sequencer produces blocks at `block_time`.

Invariant: the sequencer's unsafe head is younger than `sequencer_max_head_age`, and over
the recent window (as many blocks as fit in that age at `block_time`) the mean block
interval is at most `sequencer_max_interval_ratio` block times.
Fires: the head is too old (halted), or blocks come far slower than they should.
Unknown: the sequencer's RPC (`l2_rpc`) is down, slow, on another chain, or answers garbage.
Diagnosis (firing): op-node up or down, engine stuck behind op-node or op-node stopped,
sequencer drift, and where `conductors` are configured, an HA conductor paused or stopped
(failover disabled) or leadership not on one agreed member (checks/diagnosis.py).
Remedy: none automatic from this finding alone; failover needs independent confirmation
(see docs/runbooks/sequencer_liveness.md).
"""

from __future__ import annotations

import math

from ..config import Network
from ..findings import Measure, Status
from . import diagnosis
from .base import Check, Context, Hold, Timing, Verdict

TARGET = "sequencer"


def _window(network: Network) -> int:
    # Enough blocks to measure a rate, few enough that recovery shows within one head age.
    blocks = math.ceil(network.thresholds.sequencer_max_head_age / network.block_time)
    return max(2, min(64, blocks))


def measure(ctx: Context, _shared: object, target: str) -> Verdict:
    net = ctx.network
    limit = net.thresholds.sequencer_max_head_age
    node = ctx.l2()
    head = node.head()
    now = ctx.now()
    # Block timestamps have one-second resolution and clocks drift: never report a negative age.
    age = max(0.0, now - head.timestamp)
    window = min(_window(net), head.number)
    interval = None
    if window > 0:
        old = node.block(head.number - window)
        interval = (head.timestamp - old.timestamp) / window
    max_interval = net.thresholds.sequencer_max_interval_ratio * net.block_time
    details = {"head_number": head.number, "head_hash": head.hash, "head_timestamp": head.timestamp,
               "mean_block_interval_s": interval, "window_blocks": window, "block_time_s": net.block_time}
    observed, threshold = Measure(round(age, 1), "s"), Measure(limit, "s")
    if age > limit:
        return diagnosis.sequencer(ctx, Verdict(
            Status.FIRING, f"unsafe head #{head.number} is {observed.render()} old "
            f"(limit {threshold.render()}): the sequencer is not producing blocks", observed, threshold, details),
            head.number)
    if interval is not None and interval > max_interval:
        return diagnosis.sequencer(ctx, Verdict(
            Status.FIRING, f"blocks every {interval:.1f} s over the last {window} blocks, expected "
            f"{net.block_time:g} s (limit {max_interval:g} s): production is far below its rate",
            observed, threshold, details), head.number)
    return Verdict(Status.OK, f"unsafe head #{head.number} is {observed.render()} old "
                   f"(limit {threshold.render()})", observed, threshold, details)


CHECK = Check(
    id="sequencer_liveness",
    title="unsafe head age (s)",
    missing=lambda net: None,
    targets=lambda net: [TARGET],
    threshold=lambda net: Measure(net.thresholds.sequencer_max_head_age, "s"),
    measure=measure,
    # A halted sequencer is an outage now; the finding already waited 15 block times. Being
    # blind to it is as urgent as the outage.
    timing=Timing(Hold(1), Hold(2), Hold(3, 180.0), blind_severity="critical"),
    remedy="failover",
    # One cheap read (the unsafe head), and every second of a halt is user-visible.
    fast_lane=True,
)
