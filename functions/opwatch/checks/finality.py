"""finality: the chain keeps finalizing, and its safe head keeps inside the sequencing window.

Invariant (target `finalized`): op-node's finalized L2 head is younger than `finality_max_age`,
and neither the safe nor the finalized head goes backwards between runs.
Invariant (target `seq_window`): the sequencing window's runway, `safe_l2.l1origin.number +
seq_window_size - head_l1.number` L1 blocks (optimism_syncStatus, optimism_rollupConfig), is at
least `seq_window_min_blocks`. Past the window, op-node replaces the unsafe blocks whose batches
did not land in time with deposit-only blocks: user transactions the sequencer confirmed vanish.
Fires: finalized head too old (warning: L1 finality or batching stalled); runway below the
minimum (warning), below a quarter of it (critical); a safe or finalized head below the highest
one seen before (critical: finalized means irreversible; it stays firing until the chain passes
that height again).
Unknown: op-node (`rollup_rpc`) does not answer or answers garbage. A first run, or a memory
store that cannot be read, judges age and runway only: going backwards needs the previous run,
and is reported as not told (`details.went_backwards = null`), never as firing.
Skipped: no `rollup_rpc` configured.
Remedy: none (see docs/runbooks/finality.md).
"""

from __future__ import annotations

from typing import Any

from ..chain import wire
from ..chain.rpc import Call
from ..config import Network
from ..findings import Measure, Severity, Status
from .base import Check, Context, Hold, Timing, Verdict

FINALIZED, SEQ_WINDOW = "finalized", "seq_window"


def prepare(ctx: Context) -> tuple[wire.SyncStatus, int]:
    endpoint = ctx.network.rollup_rpc
    assert endpoint is not None  # `missing` skips the check without it
    status, config = ctx.client(endpoint).batch([Call("optimism_syncStatus"), Call("optimism_rollupConfig")])
    return wire.sync_status(status, endpoint.name), wire.rollup_seq_window_size(config, endpoint.name)


def measure(ctx: Context, shared: tuple[wire.SyncStatus, int], target: str) -> Verdict:
    status, window = shared
    return _finalized(ctx, status) if target == FINALIZED else _seq_window(ctx.network, status, window)


def _finalized(ctx: Context, status: wire.SyncStatus) -> Verdict:
    limit = ctx.network.thresholds.finality_max_age
    fin, safe = status.finalized_l2, status.safe_l2
    age = max(0.0, ctx.now() - fin.timestamp)
    observed, threshold = Measure(round(age, 1), "s"), Measure(limit, "s")
    details: dict[str, Any] = {"finalized_number": fin.number, "finalized_hash": fin.hash,
                               "finalized_timestamp": fin.timestamp, "safe_number": safe.number}
    # The highest heads ever seen (not the last run's), so a head that went back keeps firing
    # until the chain is past it again, instead of for one run only.
    recalled = ctx.memory.get(FINALIZED)
    before = recalled.observation.data if recalled.observation is not None else {}
    high_fin, high_safe = int(before.get("finalized_max", -1)), int(before.get("safe_max", -1))
    remember = {"finalized_max": max(high_fin, fin.number), "safe_max": max(high_safe, safe.number)}
    back = []
    if fin.number < high_fin:
        back.append(f"finalized head #{fin.number} is below #{high_fin} seen finalized before")
    if safe.number < high_safe:
        back.append(f"safe head #{safe.number} is below #{high_safe} seen safe before")
    if recalled.observation is None:
        details["went_backwards"] = None
        details["memory"] = recalled.error or "first run: nothing remembered yet"
    else:
        details["went_backwards"] = bool(back)
    if back:
        return Verdict(Status.FIRING, "; ".join(back) + ": finalized or safe L2 blocks were undone",
                       Measure(fin.number, "blocks"), Measure(high_fin, "blocks"), details, remember=remember)
    if age > limit:
        return Verdict(Status.FIRING, f"finalized L2 head #{fin.number} is {observed.render()} old "
                       f"(limit {threshold.render()}): L1 finality or batching has stalled",
                       observed, threshold, details, severity=Severity.WARNING, remember=remember)
    return Verdict(Status.OK, f"finalized L2 head #{fin.number} is {observed.render()} old "
                   f"(limit {threshold.render()})", observed, threshold, details, remember=remember)


def _seq_window(net: Network, status: wire.SyncStatus, window: int) -> Verdict:
    minimum = net.thresholds.seq_window_min_blocks
    origin = status.safe_l2.l1origin_number
    runway = origin + window - status.head_l1_number
    observed, threshold = Measure(runway, "L1 blocks"), Measure(minimum, "L1 blocks")
    details = {"safe_l2_number": status.safe_l2.number, "safe_l1_origin": origin,
               "head_l1": status.head_l1_number, "seq_window_size": window}
    text = (f"sequencing window runway {observed.render()} (safe head's L1 origin #{origin} + window "
            f"{window} - L1 head #{status.head_l1_number}; minimum {threshold.render()})")
    if runway < minimum:
        # A quarter of the minimum (300 blocks, an hour of L1, by default) is too little time to
        # get a stalled batcher posting again: page.
        severity = Severity.CRITICAL if runway < minimum / 4 else Severity.WARNING
        past = ": past the window op-node replaces unsafe blocks with deposit-only ones" if runway <= 0 else ""
        return Verdict(Status.FIRING, text + past, observed, threshold, details, severity=severity)
    return Verdict(Status.OK, text, observed, threshold, details)


CHECK = Check(
    id="finality",
    title="finalized head age (s); sequencing window runway (L1 blocks)",
    missing=lambda net: None if net.rollup_rpc is not None else "needs rollup_rpc (op-node)",
    targets=lambda net: [FINALIZED, SEQ_WINDOW],
    threshold=lambda net: Measure(net.thresholds.finality_max_age, "s"),
    measure=measure,
    prepare=prepare,
    # Both thresholds hold their own patience (30 min, 1200 L1 blocks), and a head that went
    # backwards is a fact, not noise: fire at the first firing run.
    timing=Timing(Hold(1), Hold(2), Hold(5, 600.0)),
)
