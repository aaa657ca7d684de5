"""`opwatch watch`: the whole watchdog as one long-running process, beside the chain.

    opwatch watch --config FILE [--listen ADDR:PORT] [--page --state FILE] [--format table|json]

- **Schedules.** Each check runs every `[schedules]` minutes (its `Check.every_minutes` unless
  the config says otherwise); with `[schedules] fast_lane = true`, the fast-lane checks
  (`sequencer_liveness`) run every `fast_lane_every` instead: a process has no once-a-minute
  scheduler to work around, so the fast lane is simply its period. `--interval D` runs every
  check every D instead (a terminal, a test). Checks due together run concurrently; a tick
  lasts as long as its slowest check (bounded by `[rpc]` timeouts and retries).
- **Paging** (`--page`, needs `--state`): the alert lifecycle of the cloud pagers, built by the
  same composition root (`opwatch.compose.alert_manager`) from `[alerting]`: routes, timings,
  silences, the declared sinks. Alert state is SQLite at `--state` (the checks' memory lives in
  the same file), so a restart neither pages again nor forgets an open incident. Secrets come
  from the environment: PagerDuty's routing key from `OPWATCH_SECRET_PAGERDUTY`, a declared
  sink's `secret = "NAME"` from `OPWATCH_SECRET_<NAME>` (`alerting.sinks.EnvSecret`); a
  missing one is refused at start, not discovered at the first page. `OPWATCH_PAGERDUTY_URL`
  points the Events API elsewhere (a stand-in in tests), as on GCP.
- **Logs**: JSON lines on stderr in the schema the cloud functions share (`opwatch.logschema`):
  each finding when its status changes (and when first seen), each alert transition, start,
  stop and errors. **stdout** is the findings stream: the table then one line per change
  (`--format table`), or every finding as evaluated, one JSON object per line (`--format json`).
- **Metrics** on `--listen` (`cli/metrics.py`, docs/metrics.md).
- **SIGTERM / SIGINT**: the tick in progress finishes (its notifications are sent and recorded),
  the stores close, exit 0. A second signal while stopping changes nothing: the tick is
  bounded.

Exit codes: 0 stopped by a signal; 2 bad usage or configuration (a missing secret, a port in
use); with the hidden `--iterations N`, the `opwatch check` codes of the last tick.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from ..config import Config, ConfigError
from ..findings import Finding, Status, utc_now_iso
from ..logschema import JsonLines
from ..redact import redact_text
from ..runner import RunResult, run_checks, select_checks
from . import render

EXIT_USAGE = 2
PAGERDUTY_SECRET = "pagerduty"  # the sink every runtime builds: OPWATCH_SECRET_PAGERDUTY here


def log_finding(logger: JsonLines, f: Finding) -> None:
    """A finding's log line (the common schema), at the level its status gives."""
    logger.finding(f)


def transitions(last: dict[str, Status], findings: Sequence[Finding], colour: bool = False) -> list[str]:
    """Lines for findings whose status changed since the previous round; updates `last`."""
    lines = []
    for f in findings:
        before = last.get(f.dedup_key)
        last[f.dedup_key] = f.status
        if before is None or before == f.status:
            continue
        arrow = f"{before} → {render.paint(str(f.status), f.status, colour)}"
        lines.append(f"{utc_now_iso()}  {f.network}/{f.check}/{f.target}  {arrow}  {f.summary}")
    return lines


@dataclass
class Schedule:
    """When each check is next due, on the monotonic clock."""

    period_s: dict[str, float]
    next_at: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, config: Config, check_ids: Sequence[str], interval_s: float | None) -> Schedule:
        from ..checks import CHECKS

        schedules = config.section("schedules")
        periods = {}
        for cid in check_ids:
            if interval_s:
                periods[cid] = interval_s
            elif schedules.fast_lane and CHECKS[cid].fast_lane:
                periods[cid] = schedules.fast_lane_every_s
            else:
                periods[cid] = 60.0 * schedules.every(cid)
        return cls(periods)

    def due(self, now: float) -> list[str]:
        return [cid for cid in self.period_s if self.next_at.get(cid, now) <= now]

    def ran(self, check_ids: Sequence[str], started: float, now: float) -> None:
        """The checks ran in the tick that started at `started`; a check that fell behind runs
        at once next time, once, rather than catching up every missed period."""
        for cid in check_ids:
            self.next_at[cid] = max(self.next_at.get(cid, started) + self.period_s[cid], now)

    def wait_s(self, now: float) -> float:
        return max(0.0, min(self.next_at.get(cid, now) for cid in self.period_s) - now)


def missing_secrets(config: Config, environ: dict[str, str] | os._Environ[str] = os.environ) -> list[str]:
    """Environment variables the routed sinks need and that are not set."""
    from ..alerting.sinks import EnvSecret

    policy = config.section("alerting")
    routed = {name for names in policy.routes.values() for name in names}
    needed = [PAGERDUTY_SECRET] if PAGERDUTY_SECRET in routed else []
    needed += [spec.secret for spec in policy.sinks.values() if spec.secret]
    return [EnvSecret(name).variable for name in needed if not environ.get(EnvSecret(name).variable, "").strip()]


def build_pager(config: Config, state: str) -> Any:
    from .. import compose
    from ..alerting import SqliteStore
    from ..alerting.sinks import EnvSecret

    return compose.alert_manager(config, SqliteStore(state), EnvSecret(PAGERDUTY_SECRET),
                                 pagerduty_base_url=os.environ.get("OPWATCH_PAGERDUTY_URL") or None,
                                 secret=EnvSecret)


class Service:
    def __init__(self, config: Config, args: argparse.Namespace, *, registry: Any, memory: Any = None,
                 pager: Any = None, exporter: Any = None, transport: Any = None,
                 out: TextIO | None = None, logger: JsonLines | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.args = args
        self.ids = select_checks(args.checks)
        self.schedule = Schedule.of(config, self.ids, args.interval)
        self.registry, self.memory, self.pager = registry, memory, pager
        self.exporter, self.transport = exporter, transport
        self.out = out or sys.stdout
        self.log = logger or JsonLines()
        self.clock = clock
        self.stop = threading.Event()
        self.signalled = ""
        self.colour = args.format != "json" and render.use_colour(self.out)
        self._last: dict[str, Status] = {}  # dedup key -> status, for the table's change lines
        self._logged: dict[str, Status] = {}  # dedup key -> status last logged
        self._skips: set[tuple[str, str]] = set()
        self.latest: dict[str, Finding] = {}

    def run(self) -> int:
        self.log.info("opwatch watch started", checks=self.ids, page=self.pager is not None,
                      periods_s=self.schedule.period_s)
        ticks = 0
        while not self.stop.is_set():
            started = self.clock()
            due = self.schedule.due(started)
            if due:
                self.tick(due, first=ticks == 0)
                self.schedule.ran(due, started, self.clock())
                ticks += 1
                if self.args.iterations and ticks >= self.args.iterations:
                    return render.exit_code(list(self.latest.values()))
            self.stop.wait(self.schedule.wait_s(self.clock()))
        self.log.info(f"opwatch watch stopped ({self.signalled or 'asked to'}): the last tick finished",
                      ticks=ticks)
        return 0

    def tick(self, due: list[str], first: bool) -> None:
        try:
            result = run_checks(self.config, self.args.network, due, registry=self.registry,
                                memory=self.memory, transport=self.transport)
        except Exception as exc:  # a bug or a broken store must not stop the watchdog: say so, go on
            self.log.error(f"checks {', '.join(due)} could not run: {redact_text(f'{type(exc).__name__}: {exc}')}")
            return
        self._skipped(result)
        for network, check_id, error in result.errors:  # their targets are unknown in the findings
            self.log.error(f"{check_id} on {network} failed inside opwatch: {error}", network=network, check=check_id)
        if self.exporter is not None:
            self.exporter.record(result, time.time())
        self._print(result.findings, first)
        for f in result.findings:
            self.latest[f.dedup_key] = f
            if self._logged.get(f.dedup_key) != f.status:
                self._logged[f.dedup_key] = f.status
                log_finding(self.log, f)
        if self.pager is not None and result.findings:
            self._page(result.findings)

    def _page(self, findings: list[Finding]) -> None:
        try:
            recorded = self.pager.process(findings)
        except Exception as exc:  # the store or a sink's bug; the next tick tries again
            self.log.error(f"alert lifecycle failed: {redact_text(f'{type(exc).__name__}: {exc}')}")
            return
        for t in recorded:
            level = "WARNING" if str(t.kind) == "undeliverable" else "INFO"
            self.log.log(level, f"{t.kind}: {t.summary or t.key}", network=t.network, check=t.check,
                         target=t.target, dedup_key=t.key, transition=str(t.kind), detail=t.detail)

    def _skipped(self, result: RunResult) -> None:
        for network, cid, why in result.skipped:
            if (network, cid) not in self._skips:
                self._skips.add((network, cid))
                self.log.info(f"{network}/{cid} not run: {why}", network=network, check=cid)

    def _print(self, findings: list[Finding], first: bool) -> None:
        if self.args.format == "json":
            for f in findings:
                self.out.write(json.dumps(f.to_dict(), sort_keys=True) + "\n")
        else:
            if first:
                self.out.write(render.table(findings, self.colour) + "\n")
            for text in transitions(self._last, findings, self.colour):
                self.out.write(text + "\n")
        self.out.flush()


def run(config: Config, args: argparse.Namespace, registry: Any, memory: Any) -> int:
    """`opwatch watch`, from parsed arguments: refuse what cannot work, build, serve, loop."""
    log = JsonLines()
    pager = None
    if args.page:
        if not args.state:
            render.err("--page needs --state FILE: without it a restart forgets every open alert and pages again")
            return EXIT_USAGE
        missing = missing_secrets(config)
        if missing:
            render.err(f"--page: set {', '.join(missing)} (the secrets the routes in [alerting] need)")
            return EXIT_USAGE
        try:
            pager = build_pager(config, args.state)
        except ConfigError as exc:
            render.err(str(exc))
            return EXIT_USAGE
    exporter, transport = None, None
    if args.listen:
        from .metrics import Exporter

        exporter = Exporter(config)
        transport = exporter.transport()
        try:
            exporter.serve(args.listen)
        except OSError as exc:
            render.err(f"cannot listen on {args.listen[0]}:{args.listen[1]}: {exc.strerror or exc}")
            return EXIT_USAGE
    service = Service(config, args, registry=registry, memory=memory, pager=pager, exporter=exporter,
                      transport=transport, logger=log)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: _stopping(service, signum))
    try:
        return service.run()
    finally:
        for store in (memory, getattr(pager, "store", None)):
            close = getattr(store, "close", None)
            if close is not None:
                close()


def _stopping(service: Service, signum: int) -> None:
    # Only a flag: the handler runs between two bytecodes of the main thread, which may hold the
    # log's lock mid-line. The loop logs the stop.
    service.signalled = signal.Signals(signum).name
    service.stop.set()
