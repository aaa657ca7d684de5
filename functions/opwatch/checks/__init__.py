"""The checks, one module per invariant; a check's id is its module's name."""

from __future__ import annotations

from . import (
    batch_submission,
    batcher_lag,
    heartbeat,
    proposer_freshness,
    rpc_sync,
    sequencer_liveness,
    snapshot_freshness,
    wallet_runway,
)
from .base import Check, Context, Verdict, evaluate

# Order is the order a person reads them in: production, then data availability, then
# funds, then settlement, then the read path, then the recovery plan, then the watchdog itself.
CHECKS: dict[str, Check] = {
    m.CHECK.id: m.CHECK
    for m in (sequencer_liveness, batcher_lag, batch_submission, wallet_runway, proposer_freshness, rpc_sync,
              snapshot_freshness, heartbeat)
}

__all__ = ["CHECKS", "Check", "Context", "Verdict", "evaluate"]
