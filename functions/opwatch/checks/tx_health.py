"""tx_health: the chain's wallets get their L1 transactions mined, and L1 itself behaves.

Invariant (one target per wallet: `batcher`, `proposer`, `challenger` where configured): when a
wallet has a pending transaction (pending nonce above the mined nonce), its mined nonce moves
within `tx_max_stuck`. A stuck transaction blocks every later one of that wallet (nonces are
sequential): a stuck batcher posts nothing, a stuck challenger counters nothing.
Invariant (target `l1`): the blob base fee is at most `blob_fee_spike_ratio` times its median
over the last `BLOB_FEE_WINDOW` L1 blocks (eth_feeHistory's baseFeePerBlobGas), or below
`blob_fee_spike_min_gwei`; and L1 did not reorganise more than `REORG_MAX_DEPTH` blocks since the
previous run (the remembered head is no longer canonical).
Fires: a wallet stuck for `tx_max_stuck` (critical), with its nonces, fee caps and the current
fees; a blob-fee spike or a deep L1 reorg (warning, target `l1`).
Unknown: every L1 endpoint is down, on another chain, or answers garbage; a wallet with a pending
transaction whose memory cannot be read (how long it has been stuck is the whole question).
First run (no memory): a pending transaction is "first seen stuck now" and never fires; the
reorg is not told (`details.reorg_depth = null`); the blob-fee spike is judged as measured.
Remedy: none automatic (see docs/runbooks/tx_health.md).
"""

from __future__ import annotations

import statistics
from typing import Any

from ..chain import wire
from ..chain.errors import BadResponse
from ..chain.node import Node
from ..config import Network
from ..findings import Measure, Severity, Status
from . import diagnosis
from .base import Check, Context, Hold, Timing, Verdict

L1 = "l1"
# 100 L1 blocks (20 min at 12 s): a median that a real spike (demand rising over minutes)
# outruns, and that one busy block does not move.
BLOB_FEE_WINDOW = 100
# Reorgs of 1-3 blocks happen on a healthy L1 (late blocks); deeper ones are rare and can undo
# batches the batcher believes landed.
REORG_MAX_DEPTH = 3
# How many block hashes below the head are remembered: enough to measure a reorg past the limit.
_REMEMBERED_HASHES = 8
_GWEI = 10**9


def _wallets(net: Network) -> dict[str, str]:
    roles = (("batcher", net.batcher), ("proposer", net.proposer), ("challenger", net.challenger))
    return {role: addr for role, addr in roles if addr}


def prepare(ctx: Context) -> wire.Block:
    return ctx.l1().head()


def measure(ctx: Context, head: wire.Block, target: str) -> Verdict:
    return _l1(ctx, head) if target == L1 else _wallet(ctx, head, target)


def _wallet(ctx: Context, head: wire.Block, role: str) -> Verdict:
    net = ctx.network
    address = _wallets(net)[role]
    state = ctx.l1().read(lambda node: diagnosis.read_wallet(node, address, head.number, blobs=True))
    limit, now = net.thresholds.tx_max_stuck, ctx.now()
    profile = net.wallets.get(role)
    details: dict[str, Any] = {
        "address": address, "mined_nonce": state.mined_nonce, "pending_nonce": state.pending_nonce,
        "l1_block": state.head, "base_fee_gwei": state.base_fee / _GWEI,
        "blob_base_fee_gwei": None if state.blob_base_fee is None else state.blob_base_fee / _GWEI,
        "max_fee_gwei": None if profile is None or profile.max_fee_wei is None else profile.max_fee_wei / _GWEI,
        "max_blob_fee_gwei": (None if profile is None or profile.max_blob_fee_wei is None
                              else profile.max_blob_fee_wei / _GWEI),
    }
    threshold = Measure(limit, "s")
    nonces = f"pending nonce {state.pending_nonce}, mined {state.mined_nonce}"
    if state.pending_nonce <= state.mined_nonce:
        return Verdict(Status.OK, f"{role}: nothing pending ({nonces})", Measure(0.0, "s"), threshold, details,
                       remember={"mined_nonce": state.mined_nonce, "stuck_since": None})
    recalled = ctx.memory.get(role)
    prev = recalled.observation.data if recalled.observation is not None else None
    # Stuck since the first run that saw this mined nonce with something pending: an idle wallet
    # that just sent a transaction is not "stuck since the last run".
    since = now
    if prev is not None and prev.get("mined_nonce") == state.mined_nonce and prev.get("stuck_since") is not None:
        since = float(prev["stuck_since"])
    remember = {"mined_nonce": state.mined_nonce, "stuck_since": since}
    stuck_for = max(0.0, now - since)
    details["stuck_for_s"] = round(stuck_for, 1)
    observed = Measure(round(stuck_for, 1), "s")
    # No store configured (the CLI without --state) is a first run every run; a store that
    # cannot be read leaves the one thing this target measures untold.
    if prev is None and recalled.error is not None and ctx.memory.store is not None:
        return Verdict(Status.UNKNOWN, f"cannot tell how long the {role}'s transactions are pending ({nonces}): "
                       f"{recalled.error}", Measure(None, "s"), threshold, details | {"memory": recalled.error},
                       remember=remember)
    if stuck_for >= limit:
        fees = f"base fee {state.base_fee / _GWEI:.3g} gwei"
        if state.blob_base_fee is not None:
            fees += f", blob base fee {state.blob_base_fee / _GWEI:.3g} gwei"
        caps = ", ".join(f"{k} {v:g}" for k in ("max_fee_gwei", "max_blob_fee_gwei") if (v := details[k]) is not None)
        return Verdict(Status.FIRING, f"{role} transactions stuck for {observed.render()} "
                       f"(limit {threshold.render()}): {nonces}; {fees}; caps: {caps or 'none configured'}",
                       observed, threshold, details, remember=remember)
    first = " (first seen now)" if prev is None or since == now else ""
    return Verdict(Status.OK, f"{role}: pending for {observed.render()}{first} (limit {threshold.render()}; "
                   f"{nonces})", observed, threshold, details, remember=remember)


def _l1(ctx: Context, head: wire.Block) -> Verdict:
    net = ctx.network
    recalled = ctx.memory.get(L1)
    prev = recalled.observation.data if recalled.observation is not None else None
    prev_hashes: dict[int, str] = {}
    if prev is not None:
        top = int(prev.get("head", -1))
        prev_hashes = {top - i: h for i, h in enumerate(reversed(prev.get("hashes", [])))}
    ours = range(max(0, head.number - _REMEMBERED_HASHES + 1), head.number + 1)
    asked = sorted({n for n in prev_hashes if n <= head.number} | set(ours))

    def read(node: Node) -> tuple[list[wire.Block], Any]:
        blocks = node.blocks(asked)
        return blocks, node.client.call("eth_feeHistory", hex(BLOB_FEE_WINDOW), hex(head.number), [])

    blocks, history = ctx.l1().read(read)
    canonical = {b.number: b.hash for b in blocks}
    remember = {"head": head.number, "hashes": [canonical[n] for n in ours]}
    details: dict[str, Any] = {"l1_head": head.number}
    problems: list[str] = []

    depth = _reorg_depth(prev_hashes, canonical)
    if prev is None:
        details["reorg_depth"] = None
        details["memory"] = recalled.error or "first run: no previous L1 head remembered"
    else:
        details["reorg_depth"] = depth
        if depth is not None and depth > REORG_MAX_DEPTH:
            deep = f"more than {len(prev_hashes) - 1}" if depth >= len(prev_hashes) else str(depth)
            problems.append(f"L1 reorganised {deep} blocks since the previous run (remembered head "
                            f"#{max(prev_hashes)} is no longer canonical; limit {REORG_MAX_DEPTH})")

    ratio = None
    fees = _blob_fees(history, source="eth_feeHistory")
    if fees is None:
        details["blob_fee"] = "eth_feeHistory serves no baseFeePerBlobGas (L1 before Cancun, or an old node)"
    else:
        current, median, ratio, spike = blob_fee_spike(fees, net.thresholds.blob_fee_spike_ratio,
                                                       net.thresholds.blob_fee_spike_min_gwei * _GWEI)
        details |= {"blob_base_fee_wei": current, "blob_base_fee_median_wei": median, "blob_fee_ratio": round(ratio, 2),
                    "blob_fee_window_blocks": len(fees) - 1}
        if spike:
            problems.append(f"blob base fee {current / _GWEI:.4g} gwei is {ratio:.1f}x its median over the last "
                            f"{len(fees) - 1} L1 blocks ({median / _GWEI:.4g} gwei; limit "
                            f"{net.thresholds.blob_fee_spike_ratio:g}x)")
    observed = Measure(None if ratio is None else round(ratio, 2), "x")
    threshold = Measure(net.thresholds.blob_fee_spike_ratio, "x")
    if problems:
        return Verdict(Status.FIRING, "; ".join(problems), observed, threshold, details,
                       severity=Severity.WARNING, remember=remember)
    reorg = "reorg not told (first run)" if prev is None else f"reorg depth {depth or 0}"
    blob = "blob fee not served" if ratio is None else f"blob base fee {ratio:.1f}x its median"
    return Verdict(Status.OK, f"L1 head #{head.number}: {blob}, {reorg}", observed, threshold, details,
                   remember=remember)


def blob_fee_spike(fees: list[int], ratio_limit: float, floor_wei: float) -> tuple[int, float, float, bool]:
    """(current, median, ratio, spike) from blob base fees oldest first, the last being what a blob
    transaction pays now: a spike is above `ratio_limit` times the median of the others and at
    or above the floor."""
    current, median = fees[-1], statistics.median(fees[:-1])
    ratio = current / max(1, median)  # the protocol's minimum blob base fee is 1 wei
    return current, median, ratio, ratio > ratio_limit and current >= floor_wei


def _reorg_depth(remembered: dict[int, str], canonical: dict[int, str]) -> int | None:
    """How many remembered blocks (from the remembered head down) are no longer canonical; 0: none.
    None: nothing remembered. len(remembered) means no remembered block survived: at least that deep."""
    if not remembered:
        return None
    top = max(remembered)
    for number in sorted(remembered, reverse=True):
        if canonical.get(number) == remembered[number]:
            return top - number
    return len(remembered)


def _blob_fees(history: Any, source: str) -> list[int] | None:
    """baseFeePerBlobGas from an eth_feeHistory answer (oldest first; the last entry is the next
    block's, what a blob transaction pays now), or None when the node serves none."""
    if not isinstance(history, dict):
        raise BadResponse(source, "eth_feeHistory: expected an object")
    raw = history.get("baseFeePerBlobGas")
    if raw is None:
        return None
    if not isinstance(raw, list) or len(raw) < 2:
        raise BadResponse(source, "eth_feeHistory.baseFeePerBlobGas: expected a list of 2 or more fees")
    fees = [wire.quantity(v, "baseFeePerBlobGas", source) for v in raw]
    return fees if any(fees) else None


CHECK = Check(
    id="tx_health",
    title="stuck wallet transaction age (s); blob base fee vs its median (x)",
    missing=lambda net: None,
    targets=lambda net: [*_wallets(net), L1],
    threshold=lambda net: Measure(net.thresholds.tx_max_stuck, "s"),
    measure=measure,
    prepare=prepare,
    reads_l1=True,
    # The stuck time holds its own patience (tx_max_stuck); a reorg is seen on one run only.
    timing=Timing(Hold(1), Hold(2), Hold(5, 600.0)),
)
