"""rollup_nodes: every replica op-node follows the sequencer's op-node, derives, and has peers.

Invariant, per op-node in `rollup_nodes` (one finding each):
- at a height both have, its unsafe block hash is the sequencer's op-node's (`rollup_rpc`);
  read with `optimism_syncStatus` and, for the side that is ahead, `optimism_outputAtBlock`'s
  `blockRef`;
- its derivation is at most `DERIVATION_MAX_LAG` L1 blocks behind L1
  (`head_l1.number − current_l1.number` of its own `optimism_syncStatus`);
- it has at least `min_peers` connected gossip peers (`opp2p_peerStats.connected`).
Fires: a different hash is critical (the replica serves another chain to whoever reads it); a
derivation lag or too few peers warns (one replica of several; it catches up or is restarted).
Unknown: the sequencer's op-node cannot be read (no reference: every replica is unknown), this
replica is down or answers garbage, or it does not serve `opp2p_peerStats` (p2p disabled) and
nothing else fires.
Remedy: none automatic; take the replica out of rotation (docs/runbooks/rollup_nodes.md).
"""

from __future__ import annotations

import threading
from typing import Any

from ..chain import wire
from ..chain.errors import BadResponse, RpcError
from ..chain.rpc import Call
from ..findings import Measure, Severity, Status
from .base import Check, Context, Hold, Timing, Verdict

# op-node reads L1 a block at a time; a replica more than 20 L1 blocks (4 min on Ethereum)
# behind L1's head is not keeping up, while a few blocks is ordinary pipeline latency.
DERIVATION_MAX_LAG = 20


def _number(value: Any, what: str, source: str) -> int:
    # op-node encodes block ref numbers as plain JSON numbers (Go uint64), not hex.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadResponse(source, f"{what}: expected a non-negative integer")
    return value


def _current_l1(status: Any, source: str) -> int:
    ref = status.get("current_l1") if isinstance(status, dict) else None
    if not isinstance(ref, dict):
        raise BadResponse(source, "optimism_syncStatus.current_l1: expected an L1 block ref object")
    return _number(ref.get("number"), "current_l1.number", source)


def _peers(value: Any, source: str) -> int:
    # op-node's p2p.PeerStats {connected, table, blocksTopic, banned, known}
    if not isinstance(value, dict):
        raise BadResponse(source, "opp2p_peerStats: expected an object")
    return _number(value.get("connected"), "opp2p_peerStats.connected", source)


def _hash_at(client: Any, number: int, source: str) -> str:
    answer = client.call("optimism_outputAtBlock", hex(number))
    ref = answer.get("blockRef") if isinstance(answer, dict) else None
    if not isinstance(ref, dict):
        raise BadResponse(source, "optimism_outputAtBlock.blockRef: expected an object")
    return wire.hash32(ref.get("hash"), "optimism_outputAtBlock.blockRef.hash", source)


class Reference:
    """The sequencer's op-node as every replica is compared with it: its unsafe head, and its
    block hashes by height, each read once however many replicas sit at that height."""

    def __init__(self, ctx: Context) -> None:
        rollup = ctx.network.rollup_rpc
        assert rollup is not None  # `missing` requires it
        self._client = ctx.client(rollup)
        self._source = rollup.name
        self.head = wire.sync_status(self._client.call("optimism_syncStatus"), rollup.name).unsafe_l2
        self._hashes = {self.head.number: self.head.hash}
        self._lock = threading.Lock()

    def hash_at(self, number: int) -> str:
        with self._lock:
            if number not in self._hashes:
                self._hashes[number] = _hash_at(self._client, number, self._source)
            return self._hashes[number]


def measure(ctx: Context, ref: Reference, target: str) -> Verdict:
    net = ctx.network
    endpoint = next(e for e in net.rollup_nodes if e.name == target)
    client = ctx.client(endpoint)
    raw_status, raw_peers = client.batch([Call("optimism_syncStatus"), Call("opp2p_peerStats")], allow_errors=True)
    if isinstance(raw_status, RpcError):
        raise raw_status
    status = wire.sync_status(raw_status, target)
    lag = max(0, status.head_l1_number - _current_l1(raw_status, target))
    peers = None if isinstance(raw_peers, RpcError) else _peers(raw_peers, target)
    unsafe = status.unsafe_l2
    common = min(unsafe.number, ref.head.number)
    ours = unsafe.hash if common == unsafe.number else _hash_at(client, common, target)
    theirs = ref.hash_at(common)
    details: dict[str, Any] = {
        "unsafe_l2": unsafe.number, "sequencer_unsafe_l2": ref.head.number, "compared_at": common,
        "node_hash": ours, "sequencer_hash": theirs, "derivation_lag_l1_blocks": lag,
        "head_l1": status.head_l1_number, "peers": peers, "min_peers": net.thresholds.min_peers,
    }
    observed, threshold = Measure(float(lag), "blocks"), Measure(float(DERIVATION_MAX_LAG), "blocks")
    if ours != theirs:
        return Verdict(Status.FIRING, f"{target} has L2 block #{common} {ours[:10]}…, the sequencer's op-node "
                       f"{theirs[:10]}…: the replica is on another chain", observed, threshold, details,
                       severity=Severity.CRITICAL)
    problems = []
    if lag > DERIVATION_MAX_LAG:
        problems.append(f"{target} derives {lag} L1 blocks behind L1's head (limit {DERIVATION_MAX_LAG})")
    if peers is not None and peers < net.thresholds.min_peers:
        problems.append(f"{target} has {peers} connected peers (minimum {net.thresholds.min_peers})")
    if problems:
        return Verdict(Status.FIRING, "; ".join(problems), observed, threshold, details)
    if isinstance(raw_peers, RpcError):
        details["peers_error"] = raw_peers.reason
        return Verdict(Status.UNKNOWN, f"cannot tell {target}'s peers: opp2p_peerStats: {raw_peers.reason}",
                       observed, threshold, details)
    return Verdict(Status.OK, f"{target} agrees with the sequencer at #{common}, derives {lag} L1 blocks "
                   f"behind, {peers} peers", observed, threshold, details)


CHECK = Check(
    id="rollup_nodes",
    title="replica derivation lag (L1 blocks)",
    missing=lambda net: (None if net.rollup_nodes and net.rollup_rpc else
                         "needs rollup_nodes" if not net.rollup_nodes else "needs rollup_rpc"),
    targets=lambda net: [e.name for e in net.rollup_nodes],
    threshold=lambda net: Measure(float(DERIVATION_MAX_LAG), "blocks"),
    prepare=Reference,
    measure=measure,
    parallel_targets=True,
    # One replica of several; a hash mismatch raises itself to critical.
    firing_severity=Severity.WARNING,
    # Peers come and go and derivation catches up by itself more often than not; a divergence
    # does not, but two runs cost a minute against a page that wakes someone.
    timing=Timing(Hold(3, 180.0), Hold(3), Hold(5, 600.0)),
)
