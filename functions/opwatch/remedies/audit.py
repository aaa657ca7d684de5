"""The audit trail: one record per step of every remedy, stored and logged as one JSON line.

A record says who asked (request id, the self-asserted approver or the finding, and the caller
as the adapter authenticated it: see `RemedyRequest.caller`), what step ran, what it decided
(`ok`, `refused`, `skipped`, `failed`, `dry-run`) and the numbers it decided on. Secrets never
enter a record: `details` are built from public chain data only, and values whose key looks
like a credential are dropped as a last line of defence.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..findings import utc_now_iso
from .request import RemedyRequest
from .store import RemedyStore

log = logging.getLogger("opwatch.remedies")
_SECRETISH = ("key", "secret", "password", "token", "mnemonic")


@dataclass
class AuditLog:
    store: RemedyStore
    clock: Callable[[], float] = time.time
    # Every record also goes here (a terminal, or a pager for `failed` steps).
    listeners: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)

    def record(self, request: RemedyRequest, step: str, outcome: str, **details: Any) -> dict[str, Any]:
        safe = {k: v for k, v in details.items() if not any(s in k.lower() for s in _SECRETISH)
                or k in ("kms_key_id",)}
        entry = {
            "at": utc_now_iso(self.clock()), "network": request.network, "remedy": request.remedy,
            "request_id": request.request_id, "step": step, "outcome": outcome,
            "dry_run": request.dry_run, "approved_by": request.approved_by, "caller": request.caller,
            "finding": request.finding.dedup_key if request.finding else None, "details": safe,
        }
        self.store.append_audit(entry)
        log.info(json.dumps(entry, sort_keys=True, default=str))
        for listener in self.listeners:
            listener(entry)
        return entry
