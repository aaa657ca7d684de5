"""Run checks for one or more networks, concurrently, and collect their findings."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .chain.rpc import Transport
from .checks import CHECKS, Context, evaluate
from .checks.base import Check, Resources, failed, why_skipped
from .config import Config
from .findings import Finding
from .memory import MemoryStore
from .redact import redact_text
from .registry import Registry


@dataclass
class RunResult:
    findings: list[Finding]
    # (network, check id, why it was not run): a check whose inputs are not configured.
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    rpc_requests: int = 0
    wall_s: float = 0.0
    # (network, check id) -> seconds its evaluation took (for the service's metrics).
    durations: dict[tuple[str, str], float] = field(default_factory=dict)
    # (network, check id, error): evaluations that failed inside opwatch (a defect, not the
    # chain): their targets are `unknown` in `findings`, every other evaluation's findings stand,
    # and the runtime then fails the run (after publishing) so its error alarm says so.
    errors: list[tuple[str, str, str]] = field(default_factory=list)

    def raise_errors(self) -> None:
        """Raise EvaluationError if any evaluation failed (call after the findings are out)."""
        if self.errors:
            raise EvaluationError(self.errors)


class EvaluationError(RuntimeError):
    def __init__(self, errors: list[tuple[str, str, str]]) -> None:
        self.errors = list(errors)
        shown = "; ".join(f"{c} on {n}: {e}" for n, c, e in self.errors[:5])
        more = f" (and {len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        super().__init__(f"{len(self.errors)} evaluation(s) failed inside opwatch, their targets published as "
                         f"unknown: {shown}{more}")


def select_checks(ids: Iterable[str] | None) -> list[str]:
    if not ids:
        return list(CHECKS)
    chosen = list(dict.fromkeys(ids))
    unknown = [c for c in chosen if c not in CHECKS]
    if unknown:
        raise ValueError(f"unknown check id(s): {', '.join(unknown)} (known: {', '.join(CHECKS)})")
    return chosen


def run_checks(config: Config, networks: Iterable[str] | None = None, check_ids: Iterable[str] | None = None,
               transport: Transport | None = None, clock: Callable[[], float] = time.time,
               registry: Registry | None = None, cloud: str | None = None, seams: Any = None,
               resources: Resources | None = None, memory: MemoryStore | None = None) -> RunResult:
    """`registry`, `cloud`, `seams`, `resources` and `memory` (where checks remember their last
    observation) come from the runtime's composition root and reach each check through its
    `Context` (default: the core registry, a local run, no memory)."""
    started = time.monotonic()
    ids = select_checks(check_ids)
    names = list(networks) if networks else list(config.networks)
    shared = resources if resources is not None else Resources()
    contexts = [Context(config.network(n), config.rpc, transport, clock, config=config, registry=registry,
                        cloud=cloud, seams=seams, resources=shared, memory_store=memory)
                for n in names]
    jobs, skipped = [], []
    for ctx in contexts:
        for cid in ids:
            why = why_skipped(CHECKS[cid], ctx)
            if why:
                skipped.append((ctx.network.name, cid, why))
            else:
                jobs.append((ctx, CHECKS[cid]))
    findings: list[Finding] = []
    durations: dict[tuple[str, str], float] = {}
    errors: list[tuple[str, str, str]] = []

    def timed(job: tuple[Context, Check]) -> list[Finding]:
        begun = time.monotonic()
        try:
            return evaluate(job[1], job[0])
        except Exception as exc:  # a defect in one evaluation must not cost the others their findings
            errors.append((job[0].network.name, job[1].id, redact_text(f"{type(exc).__name__}: {exc}")[:300]))
            return failed(job[1], job[0], exc)
        finally:
            durations[(job[0].network.name, job[1].id)] = time.monotonic() - begun

    if jobs:
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            for batch in pool.map(timed, jobs):
                findings.extend(batch)
    return RunResult(findings=findings, skipped=skipped,
                     rpc_requests=sum(ctx.requests_made() for ctx in contexts),
                     wall_s=time.monotonic() - started, durations=durations, errors=errors)
