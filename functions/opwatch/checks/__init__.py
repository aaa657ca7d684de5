"""The checks, one module per invariant; a check's id is its module's name."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TypeVar

from . import (
    batch_submission,
    batcher_lag,
    dispute_games,
    finality,
    heartbeat,
    l1_contracts,
    output_root,
    proposer_freshness,
    rollup_nodes,
    rpc_sync,
    sequencer_ha,
    sequencer_liveness,
    snapshot_freshness,
    tx_health,
    wallet_runway,
    withdrawals,
)
from .base import DEFAULT_TIMING, Check, Context, Hold, Timing, Verdict, evaluate

T = TypeVar("T")

# Order is the order a person reads them in: production, then data availability, then
# funds, then settlement, then the read path, then the recovery plan, then the watchdog itself.
CHECKS: dict[str, Check] = {
    m.CHECK.id: m.CHECK
    for m in (sequencer_liveness, sequencer_ha, batcher_lag, batch_submission, finality, wallet_runway, tx_health,
              proposer_freshness,
              output_root, dispute_games, withdrawals, l1_contracts, rpc_sync, rollup_nodes,
              snapshot_freshness, heartbeat)
}



class CheckFacts(Mapping[str, T]):
    """check id → one fact of each registered check that has it (`fact` returns None when it
    has not), read from `CHECKS` when asked: the tables other modules used to retype
    (remedy triggers, alert timings) are views of the checks, never copies that drift."""

    def __init__(self, fact: Callable[[Check], T | None], extra: Mapping[str, T] | None = None) -> None:
        self._fact = fact
        self._extra = dict(extra or {})  # entries that are not checks (the L1 root cause's timing)

    def _items(self) -> dict[str, T]:
        found = {cid: value for cid, check in CHECKS.items() if (value := self._fact(check)) is not None}
        return {**found, **self._extra}

    def __getitem__(self, check_id: str) -> T:
        return self._items()[check_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())

    def __repr__(self) -> str:
        return f"CheckFacts({self._items()!r})"


__all__ = ["CHECKS", "DEFAULT_TIMING", "Check", "CheckFacts", "Context", "Hold", "Timing", "Verdict", "evaluate"]
