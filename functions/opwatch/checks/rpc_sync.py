"""rpc_sync: every RPC node follows the sequencer, on the right chain.

Invariant, per node in `rpc_nodes` (one finding each): its head is at most
`rpc_max_lag_blocks` behind the sequencer's, its chain id is `l2_chain_id`, and at a height
both have, its block hash is the sequencer's (a node on a fork or another chain serves
users wrong state even when its height looks fine).
Fires: the node lags too far, reports another chain id, or disagrees on a block hash.
Unknown: the sequencer cannot be read (no reference: every node is unknown), or this node is
down, slow, or answers garbage.
Remedy: none automatic; take the node out of the load balancer (docs/runbooks/rpc_sync.md).
Nodes are measured concurrently, so a run takes as long as the slowest node, not the sum.
"""

from __future__ import annotations

import threading

from ..chain.errors import WrongChain
from ..findings import Measure, Severity, Status
from .base import Check, Context, Hold, Timing, Verdict


class Reference:
    """The sequencer as every node is compared with it: its head, and its block hashes by
    height, each read once however many nodes sit at that height."""

    def __init__(self, ctx: Context) -> None:
        self._node = ctx.l2()
        self.head = self._node.head()
        self._hashes = {self.head.number: self.head.hash}
        self._lock = threading.Lock()
        self._height_locks: dict[int, threading.Lock] = {}

    def hash_at(self, number: int) -> str:
        # Nodes are measured concurrently: a lock per height makes it one read per height,
        # while nodes lagging at different heights read the sequencer side by side.
        with self._lock:
            height_lock = self._height_locks.setdefault(number, threading.Lock())
        with height_lock:
            if number not in self._hashes:
                self._hashes[number] = self._node.block(number).hash
            return self._hashes[number]


def measure(ctx: Context, ref: Reference, target: str) -> Verdict:
    seq_head = ref.head
    net = ctx.network
    endpoint = next(e for e in net.rpc_nodes if e.name == target)
    node = ctx.rpc_node(endpoint)
    limit = net.thresholds.rpc_max_lag_blocks
    threshold = Measure(float(limit), "blocks")
    try:
        # The node's block at the sequencer's height rides in the batch with its head: a node that
        # moved past the head read a moment earlier costs no second round trip.
        head, at_reference = node.head_and_block(seq_head.number)
    except WrongChain as exc:
        # For this check a node on another chain is the failure itself, not a blind spot.
        return Verdict(Status.FIRING, f"{target} serves chain id {exc.actual}, expected {exc.expected}",
                       Measure(None, "blocks"), threshold, {"chain_id": exc.actual})
    lag = max(0, seq_head.number - head.number)
    observed = Measure(float(lag), "blocks")
    # Compare hashes at the lower of the two heads (the node may have moved past the
    # sequencer head read a moment earlier).
    if head.number <= seq_head.number:
        common = head.number
        ours, theirs = head.hash, ref.hash_at(common)
    else:
        common = seq_head.number
        # None only if the node lost that block between the two reads of one batch (a reorg):
        # read it again rather than guess.
        ours = (at_reference or node.block(common)).hash
        theirs = seq_head.hash
    details = {"node_head": head.number, "sequencer_head": seq_head.number, "compared_at": common,
               "node_hash": ours, "sequencer_hash": theirs}
    if ours != theirs:
        return Verdict(Status.FIRING, f"{target} has block #{common} {ours[:10]}…, the sequencer "
                       f"{theirs[:10]}…: the node is on another fork", observed, threshold, details)
    text = f"{target} is {lag} blocks behind the sequencer (limit {limit})"
    return Verdict(Status.FIRING if lag > limit else Status.OK, text, observed, threshold, details)


CHECK = Check(
    id="rpc_sync",
    title="RPC node lag (blocks)",
    missing=lambda net: None if net.rpc_nodes else "needs rpc_nodes",
    targets=lambda net: [e.name for e in net.rpc_nodes],
    threshold=lambda net: Measure(float(net.thresholds.rpc_max_lag_blocks), "blocks"),
    prepare=Reference,
    measure=measure,
    parallel_targets=True,
    # One replica of several: the load balancer can route around it; page as a warning.
    firing_severity=Severity.WARNING,
    # An RPC node a few blocks behind catches up by itself more often than not: it must lag on
    # two runs in a row (a minute apart by default), what a Prometheus rule's `for: 1m` waits.
    # (Was 5 runs: a lagging node paged after a median of 271 s, the anchor's common setting
    # after 105 s; bench/results/anchor.json.)
    timing=Timing(Hold(2), Hold(3), Hold(5, 600.0)),
)
