"""What a check is, and the one place where "could not tell" becomes `unknown`.

A check module defines a `Check`: which networks it applies to, its targets, an optional
`prepare` (reads shared by all targets, e.g. the sequencer head for every RPC node) and a
`measure` per target that returns a `Verdict`. `evaluate` runs it: any `ChainError` from
`prepare` makes every target `unknown`, from `measure` just that target. Checks never catch
exceptions themselves.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..chain.errors import ChainError
from ..chain.node import L1Quorum, Node
from ..chain.rpc import RpcClient, Transport
from ..config import Endpoint, Network, RpcSettings
from ..findings import Finding, Measure, Severity, Status, utc_now_iso


@dataclass(frozen=True, slots=True)
class Verdict:
    status: Status
    summary: str
    observed: Measure
    threshold: Measure
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Check:
    id: str
    # Why the check cannot run on a network (a missing config key), or None when it can.
    missing: Callable[[Network], str | None]
    targets: Callable[[Network], Sequence[str]]
    threshold: Callable[[Network], Measure]
    measure: Callable[[Context, Any, str], Verdict]
    prepare: Callable[[Context], Any] = lambda ctx: None
    firing_severity: Severity = Severity.CRITICAL
    # Measure targets concurrently (rpc_sync: time grows with the slowest node, not the count).
    parallel_targets: bool = False


class Context:
    """Per network and per run: configuration, clock and lazily built chain access.

    Clients are built on first use and shared by the checks of one run, so the L1 head is
    read once per run, not once per check.
    """

    def __init__(self, network: Network, rpc: RpcSettings | None = None,
                 transport: Transport | None = None, clock: Callable[[], float] = time.time) -> None:
        self.network = network
        self.rpc = rpc or RpcSettings()
        self.transport = transport
        self.clock = clock
        self._lock = threading.RLock()  # l1() builds clients while holding it
        self._clients: dict[str, RpcClient] = {}
        self._l1: L1Quorum | None = None

    def now(self) -> float:
        return self.clock()

    def client(self, endpoint: Endpoint) -> RpcClient:
        with self._lock:
            found = self._clients.get(endpoint.url)
            if found is None:
                found = RpcClient(endpoint, self.transport, timeout=self.rpc.timeout, retries=self.rpc.retries)
                self._clients[endpoint.url] = found
            return found

    def l2(self) -> Node:
        return Node(self.client(self.network.l2_rpc), self.network.l2_chain_id)

    def rpc_node(self, endpoint: Endpoint) -> Node:
        return Node(self.client(endpoint), self.network.l2_chain_id)

    def l1(self) -> L1Quorum:
        with self._lock:
            if self._l1 is None:
                self._l1 = _LockedQuorum([Node(self.client(e), self.network.l1_chain_id)
                                          for e in self.network.l1_rpc])
            return self._l1

    def requests_made(self) -> int:
        return sum(c.requests for c in self._clients.values())


class _LockedQuorum(L1Quorum):
    """The quorum shared by concurrently running checks: the head is resolved once."""

    def __init__(self, nodes: Sequence[Node]) -> None:
        super().__init__(nodes)
        self._head_lock = threading.Lock()

    def head(self):  # type: ignore[no-untyped-def]
        with self._head_lock:
            return super().head()


def evaluate(check: Check, ctx: Context) -> list[Finding]:
    network = ctx.network
    targets = list(check.targets(network))
    try:
        shared = check.prepare(ctx)
    except ChainError as exc:
        return [_unknown(check, ctx, target, exc) for target in targets]

    def one(target: str) -> Finding:
        try:
            verdict = check.measure(ctx, shared, target)
        except ChainError as exc:
            return _unknown(check, ctx, target, exc)
        return _finding(check, ctx, target, verdict)

    if check.parallel_targets and len(targets) > 1:
        # A thread per target (up to 128): the run then lasts as long as the slowest node.
        with ThreadPoolExecutor(max_workers=min(128, len(targets))) as pool:
            return list(pool.map(one, targets))
    return [one(target) for target in targets]


def _finding(check: Check, ctx: Context, target: str, verdict: Verdict) -> Finding:
    severity = {Status.OK: Severity.INFO, Status.FIRING: check.firing_severity,
                Status.UNKNOWN: Severity.WARNING}[verdict.status]
    return Finding(
        network=ctx.network.name, check=check.id, target=target, status=verdict.status,
        severity=severity, summary=verdict.summary, observed=verdict.observed,
        threshold=verdict.threshold, observed_at=utc_now_iso(ctx.now()), details=verdict.details,
    )


def _unknown(check: Check, ctx: Context, target: str, exc: ChainError) -> Finding:
    threshold = check.threshold(ctx.network)
    verdict = Verdict(
        status=Status.UNKNOWN,
        summary=f"cannot tell: {exc}",
        observed=Measure(None, threshold.unit),
        threshold=threshold,
        details={"reason": exc.reason, "endpoint": exc.endpoint, "error": type(exc).__name__},
    )
    return _finding(check, ctx, target, verdict)
