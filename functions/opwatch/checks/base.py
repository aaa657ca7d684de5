"""What a check is, and the one place where "could not tell" becomes `unknown`.

A check module defines a `Check`: which networks it applies to, its targets, an optional
`prepare` (reads shared by all targets, e.g. the sequencer head for every RPC node) and a
`measure` per target that returns a `Verdict`. `evaluate` runs it: any `ChainError` from
`prepare` makes every target `unknown`, from `measure` just that target. Checks never catch
exceptions themselves.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from ..backends import core_registry
from ..chain.errors import ChainError
from ..chain.node import L1Quorum, Node
from ..chain.rpc import RpcClient, Transport
from ..config import Config, Endpoint, Network, RpcSettings
from ..findings import Finding, Measure, Severity, Status, observed_iso
from ..memory import Memory, MemoryStore, Observation
from ..registry import Registry


@dataclass(frozen=True, slots=True)
class Verdict:
    status: Status
    summary: str
    observed: Measure
    threshold: Measure
    details: dict[str, Any] = field(default_factory=dict)
    # A firing verdict milder than the check's `firing_severity` (dispute_games: a game left
    # unresolved warns; a wrong root winning pages). None: the check's own.
    severity: Severity | None = None
    # What to remember for this target's next run (opwatch.memory): `evaluate` writes it with
    # the run's time. None: keep what is stored.
    remember: dict[str, Any] | None = None
    # Page at the first firing result, past the check's fire hold: for a condition that is never
    # transient and costs by the minute (two active sequencers; a wallet that cannot pay for its
    # next transaction or has less than an hour left). Only a firing verdict may be urgent.
    urgent: bool = False


@dataclass(frozen=True, slots=True)
class Hold:
    """A run is long enough after `evaluations` results in a row, or once it has lasted `seconds`."""

    evaluations: int
    seconds: float | None = None

    def reached(self, count: int, elapsed: float) -> bool:
        return count >= self.evaluations or (self.seconds is not None and count > 0 and elapsed >= self.seconds)


@dataclass(frozen=True, slots=True)
class Timing:
    """How long a check's alert waits before it opens, closes or says "cannot see" (alerting/policy.py).

    Defined here, not in alerting/, so a check can declare its own defaults without the checks
    importing the alert lifecycle (alerting imports checks, never the other way round).
    """

    fire: Hold  # firing results before an incident opens (ok → pending → firing)
    resolve: Hold  # ok results before it closes: the hysteresis against flapping
    blind: Hold  # unknown results before "opwatch cannot see this" is its own alert
    blind_severity: str = "warning"


# Evaluations run about once a minute (schedulers fire at most once a minute). A check whose
# signal has no particular noise keeps this; `[alerting.checks.<id>]` overrides any of it.
DEFAULT_TIMING = Timing(Hold(2), Hold(2), Hold(5, 600.0))


@dataclass(frozen=True, slots=True)
class Check:
    """One invariant and everything opwatch knows about it. Alerting defaults, inhibition,
    remedy triggers, dashboards, config validation and the deployments all read these fields
    from `CHECKS`: adding a check is its module, its registry line and its runbook."""

    id: str
    # Why the check cannot run on a network (a missing config key), or None when it can.
    missing: Callable[[Network], str | None]
    targets: Callable[[Network], Sequence[str]]
    threshold: Callable[[Network], Measure]
    measure: Callable[[Context, Any, str], Verdict]
    # What the measured value is, in words a responder reads on a dashboard graph
    # ("unsafe head age (s)"): the id says which invariant, the title what the number means.
    title: str
    prepare: Callable[[Context], Any] = lambda ctx: None
    firing_severity: Severity = Severity.CRITICAL
    # Measure targets concurrently (rpc_sync: time grows with the slowest node, not the count).
    parallel_targets: bool = False
    # Minutes between scheduled runs unless `[schedules]` says otherwise (schedulers fire at
    # most once a minute). Cheap, urgent checks every minute; slow-moving signals less often.
    every_minutes: int = 1
    # The alert lifecycle's defaults for this check (alerting/policy.py): the thresholds already
    # hold their own patience, so this adds only what the signal's noise needs.
    timing: Timing = DEFAULT_TIMING
    # Reads L1 through the quorum (ctx.l1()). When no L1 endpoint answers, these checks all go
    # unknown for one root cause; inhibition (alerting/inhibit.py) pages "opwatch cannot see
    # L1" once instead of once per check.
    reads_l1: bool = False
    # The remedy a firing finding of this check may trigger (policy permitting), or None.
    # remedies/request.py's TRIGGERS and the remedy subscriptions on both clouds derive from it.
    remedy: str | None = None
    # Sampled several times inside one scheduled invocation (`[schedules] fast_lane`), so its
    # firing is published within a few block times rather than a minute. Only checks cheap
    # enough to run every few seconds and urgent enough to need it: the sequencer's head.
    fast_lane: bool = False
    # Why the check cannot run in this context beyond the network's own keys (`missing`): a
    # config section it reads (snapshot_freshness: `[remediation]`), the cloud it is deployed
    # to. None when it can. Read through `why_skipped`, by the runner and the deployments.
    applies: Callable[[Context], str | None] = lambda ctx: None


class Resources:
    """What a runtime builds once and reuses for every run of its container (snapshot providers,
    beat readers: clients behind them stay lazy). Owned by a composition root, never global: a
    test or a second config builds its own. Thread-safe: checks of one run share it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._built: dict[Any, Any] = {}

    def get(self, key: Any, build: Callable[[], Any]) -> Any:
        with self._lock:
            if key not in self._built:
                self._built[key] = build()
            return self._built[key]


class Context:
    """Per network and per run: configuration, clock, lazily built chain access, and what a
    check needs from outside the chain, all from the runtime's composition root.

    Clients are built on first use and shared by the checks of one run, so the L1 head is
    read once per run, not once per check. `config` is the whole config (a check reads its
    section, e.g. snapshot_freshness `[remediation]`); `registry` builds what the config names
    (snapshot providers, beat sources) with this runtime's implementations, `seams` are the
    injected clients handed to those factories; `cloud` is where a deployed function runs
    ("aws", "gcp"; None: the CLI); `resources` caches what was built for the container.
    `memory` is the running check's memory (opwatch.memory): `evaluate` hands each check a view
    of this context bound to its id (`for_check`), sharing the clients and the L1 quorum.
    """

    def __init__(self, network: Network, rpc: RpcSettings | None = None,
                 transport: Transport | None = None, clock: Callable[[], float] = time.time, *,
                 config: Config | None = None, registry: Registry | None = None, cloud: str | None = None,
                 seams: Any = None, resources: Resources | None = None,
                 memory_store: MemoryStore | None = None) -> None:
        self.network = network
        self.rpc = rpc or RpcSettings()
        self.transport = transport
        self.clock = clock
        self.config = config
        self.registry = registry if registry is not None else core_registry()
        self.cloud = cloud
        self.seams = seams
        self.resources = resources if resources is not None else Resources()
        self._lock = threading.RLock()  # l1() builds clients while holding it
        self._clients: dict[str, RpcClient] = {}
        self._quorum: list[L1Quorum] = []  # a list, so views made by for_check share it
        self.memory_store = memory_store
        self.memory = Memory(memory_store, network.name, "")

    def for_check(self, check_id: str) -> Context:
        """This context as `check_id` sees it: the same clients, quorum and lock, its own memory."""
        view = copy.copy(self)
        view.memory = Memory(self.memory_store, self.network.name, check_id)
        return view

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
            if not self._quorum:
                self._quorum.append(_LockedQuorum([Node(self.client(e), self.network.l1_chain_id)
                                                   for e in self.network.l1_rpc]))
            return self._quorum[0]

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


def why_skipped(check: Check, ctx: Context) -> str | None:
    """Why `check` does not run on `ctx.network` here (a missing key, a config section, the cloud),
    or None when it does. The runner, the CDK app and the GCP plan all ask this."""
    return check.missing(ctx.network) or check.applies(ctx)


def evaluate(check: Check, ctx: Context) -> list[Finding]:
    ctx = ctx.for_check(check.id)
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
        if verdict.remember is not None:
            failed = ctx.memory.put(target, Observation(ctx.now(), verdict.remember))
            if failed:  # never changes the finding: the next run just has no memory to use
                verdict = replace(verdict, details=verdict.details | {"memory_error": failed})
        return _finding(check, ctx, target, verdict)

    if check.parallel_targets and len(targets) > 1:
        # A thread per target (up to 128): the run then lasts as long as the slowest node. The
        # threads are the container's (`Resources`), started once: starting a hundred threads
        # per run cost more than the hundred round trips they wait for side by side.
        pool = ctx.resources.get(_TARGET_POOL, lambda: ThreadPoolExecutor(max_workers=_TARGET_THREADS,
                                                                          thread_name_prefix="opwatch-targets"))
        return list(pool.map(one, targets))
    return [one(target) for target in targets]


# The pool that measures a check's targets side by side (`Check.parallel_targets`). Its tasks
# only read endpoints (each bounded by its RPC deadline) and never wait on the pool themselves.
_TARGET_POOL = "checks.parallel_targets"
_TARGET_THREADS = 128


def _finding(check: Check, ctx: Context, target: str, verdict: Verdict) -> Finding:
    severity = {Status.OK: Severity.INFO, Status.FIRING: verdict.severity or check.firing_severity,
                Status.UNKNOWN: Severity.WARNING}[verdict.status]
    return Finding(
        network=ctx.network.name, check=check.id, target=target, status=verdict.status,
        severity=severity, summary=verdict.summary, observed=verdict.observed,
        threshold=verdict.threshold, observed_at=observed_iso(ctx.now()), details=verdict.details,
        urgent=verdict.urgent and verdict.status == Status.FIRING,
    )


def failed(check: Check, ctx: Context, exc: BaseException) -> list[Finding]:
    """The findings of an evaluation that failed inside opwatch (a defect, not the chain's
    answer): `unknown` for each target, naming only the error's type (its text may quote an
    endpoint; the runtime logs it redacted). One network's failure is then that network's
    `unknown`, never the loss of every other network's findings in the same run."""
    ctx = ctx.for_check(check.id)
    try:
        targets = list(check.targets(ctx.network)) or [check.id]
        threshold = check.threshold(ctx.network)
    except Exception:  # the same defect may be in the targets or the threshold
        targets, threshold = [check.id], Measure(None, "")
    verdict = Verdict(status=Status.UNKNOWN,
                      summary=f"cannot tell: opwatch failed evaluating {check.id} ({type(exc).__name__}); "
                              "see the function's log",
                      observed=Measure(None, threshold.unit), threshold=threshold,
                      details={"error": type(exc).__name__, "internal": True})
    return [_finding(check, ctx, target, verdict) for target in targets]


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
