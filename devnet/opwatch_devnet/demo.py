"""`opwatch demo`: the whole job on a local devnet, no cloud account needed.

Starts the devnet, shows a healthy baseline, then runs a scripted incident timeline (one fault
at a time: inject, detect, heal, recover) and ends with a report. The logic lives in
`timeline`; this module is the presentation (a live view, the report table, `--json`).

Exit codes: 0 every fault detected and recovered with no false alarm, 1 otherwise, 2 bad
usage, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from opwatch.cli.render import paint, table, use_colour
from opwatch.config import load_config
from opwatch.findings import Status

from opwatch_devnet.paging import DevnetPaging, Page
from opwatch_devnet.remediation import Action, DevnetRemedies, policy_text
from opwatch_devnet.timeline import (
    STANDARD_FAULTS,
    Outcome,
    Round,
    Scenario,
    Wait,
    Watchdog,
    l1_contract_scenarios,
    proof_scenarios,
    run_scenario,
    standard_scenarios,
)

# Sized so the whole timeline takes 2-3 minutes on 1 s blocks; a real chain uses minutes.
DEMO_SUBMISSION_INTERVAL = 4  # L2 blocks per output root: with 1 s blocks, an output every ~4 s
FAST_FAULTS = ("halt-sequencer", "drain-batcher", "lag-rpc", "kill-l1")
# Settlement scenarios per proof mode (timeline.proof_scenarios); `--only` may name them too.
# forged-withdrawal and pause (timeline.l1_contract_scenarios) are played on both modes.
PROOF_SCENARIOS = {"oracle": ("bad-output", "forged-withdrawal", "pause"),
                   "fault": ("bad-game", "bad-game-unchallenged", "forged-withdrawal", "pause")}
DEMO_CLOCK_S = 60  # a dispute game's maxClockDuration on the fault-proof demo chain
ROUND_INTERVAL = 1.0
BASELINE_TIMEOUT = 60.0  # the first batch and output must land after start-up
PAGE_TIMEOUT = 20.0  # after detection: the alert lifecycle's own holds (a few rounds) before the page
RESOLVE_TIMEOUT = 30.0  # after recovery: resolve holds (wallet_runway waits 5 ok rounds)


def demo_thresholds() -> Any:
    from opwatch_devnet.topology import Thresholds

    return Thresholds(
        sequencer_max_head_age="3s",  # three missed 1 s blocks
        batcher_max_submission_age="8s",  # four missed 2 s batches
        batcher_max_safe_lag="15s",
        wallet_min_runway="24h",
        proposer_max_output_age="20s",  # outputs land every ~4 s: five missed
        rpc_max_lag_blocks=5,
        output_root_lookback="30s",  # a wrong output leaves the window (and output_root recovers) in 30 s
        withdrawals_lookback="30s",  # so does a forged proof whose output was deleted (oracle chains)
    )


@dataclass
class Report:
    outcomes: list[Outcome]
    wall_s: float
    baseline_ok: bool
    settings: dict[str, Any] = field(default_factory=dict)  # what the timings depend on

    @property
    def passed(self) -> bool:
        return self.baseline_ok and bool(self.outcomes) and all(passed(o) for o in self.outcomes)

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "wall_s": round(self.wall_s, 1), "baseline_ok": self.baseline_ok,
                "faults": [{**o.to_dict(), "passed": passed(o)} for o in self.outcomes], "settings": self.settings}


def passed(o: Outcome) -> bool:
    """Detected, recovered, no false alarm; and paged once and resolved (noise: nobody paged)."""
    pages = o.extra.get("paging")
    if pages is None:
        return o.passed
    if o.noise:
        return o.passed and not pages["triggers"]
    return o.passed and bool(pages["triggers"]) and not pages["still_open"]


def paging_summary(paging: DevnetPaging, o: Outcome) -> dict[str, Any]:
    """What reached PagerDuty and chat during one fault: keys paged, first page and last resolve times."""
    triggers = paging.since(o.injected_at, "trigger")
    resolves = [p for p in paging.since(o.healed_at, "resolve")] if o.healed_at else []
    return {
        "triggers": [f"{p.channel}:{p.dedup_key}" for p in triggers],
        "resolves": [f"{p.channel}:{p.dedup_key}" for p in resolves],
        "page_s": round(triggers[0].at - o.injected_at, 2) if triggers else None,
        "resolve_s": round(resolves[-1].at - o.healed_at, 2) if resolves else None,
        "still_open": paging.open_incidents(),
    }


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    argv = list(argv)
    if argv[:1] == ["--"]:
        # `opwatch demo --fast` does not reach us (the top-level parser rejects an option right
        # after `demo`), so the documented spelling is `opwatch demo -- --fast`.
        argv = argv[1:]
    parser = argparse.ArgumentParser(prog="opwatch demo", description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="devnet directory (default: a temporary one, removed after)")
    parser.add_argument("--only", action="append", metavar="FAULT", help="run only this fault (repeatable)")
    parser.add_argument("--fast", action="store_true", help=f"a short timeline: {', '.join(FAST_FAULTS)}")
    parser.add_argument("--proofs", choices=("oracle", "fault"), default="oracle",
                        help="oracle: the standard timeline and bad-output on an L2OutputOracle chain; "
                             "fault: bad-game with and without the challenger on a fault-proof chain")
    parser.add_argument("--no-colour", "--no-color", dest="no_colour", action="store_true")
    parser.add_argument("--json", action="store_true",
                        help="print a machine-readable report on stdout at the end (the live view goes to stderr)")
    return parser.parse_args(argv)


def choose(scenarios: dict[str, Scenario], only: Sequence[str] | None, fast: bool) -> list[Scenario]:
    names = list(only) if only else list(FAST_FAULTS if fast else scenarios)
    unknown = [n for n in names if n not in scenarios]
    if unknown:
        raise ValueError(f"no demo scenario for {', '.join(unknown)} (have: {', '.join(scenarios)})")
    return [scenarios[n] for n in names]


def choose_for(network: Any, proofs_mode: str, only: Sequence[str] | None, fast: bool, out: TextIO) -> list[Scenario]:
    """The standard timeline then bad-output (oracle chains), or the dispute-game scenarios (fault-proof
    chains). A settlement scenario whose check is not registered is skipped, saying so."""
    settlement = {**proof_scenarios(network, proofs_mode, DEMO_CLOCK_S), **l1_contract_scenarios(network, proofs_mode)}
    wanted = [n for n in PROOF_SCENARIOS[proofs_mode] if not only or n in only]
    for name in wanted:
        if name not in settlement:
            print(f"  (skipping {name}: its check is not registered in this opwatch)", file=out)
    if proofs_mode == "fault":
        return [settlement[n] for n in wanted if n in settlement]
    standard = standard_scenarios(network)
    chosen = choose({**standard, **settlement}, [n for n in only if n in standard or n in settlement], fast) if only \
        else choose(standard, None, fast)
    if not only and not fast:
        chosen += [settlement[n] for n in wanted if n in settlement]
    return chosen


# -- the live view --------------------------------------------------------------------------------

class LiveView:
    """Narrates rounds and timeline events. Transitions are permanent lines; on a TTY a status
    line under them is rewritten every round."""

    def __init__(self, out: TextIO, colour: bool) -> None:
        self.out = out
        self.colour = colour
        self.tty = out.isatty()
        self.last: dict[str, Status] = {}
        self.phase_start = time.monotonic()
        self._status_shown = False
        self._last_action: dict[str, str] = {}

    def line(self, text: str = "") -> None:
        self._clear_status()
        print(text, file=self.out, flush=True)

    def _clear_status(self) -> None:
        if self._status_shown:
            self.out.write("\r\033[K")
            self._status_shown = False

    def _bold(self, text: str) -> str:
        return f"\033[1m{text}\033[0m" if self.colour else text

    def on_round(self, result: Round) -> None:
        since = result.ended - self.phase_start
        for f in result.findings:
            key = f"{f.check}/{f.target}"
            before, self.last[key] = self.last.get(key), f.status
            if before is not None and before != f.status:
                arrow = f"{before} → {paint(str(f.status), f.status, self.colour)}"
                self.line(f"      +{since:5.1f}s  {key}  {arrow}")
        if self.tty:
            counts = {s: sum(1 for f in result.findings if f.status == s) for s in Status}
            parts = [paint(f"{counts[s]} {s}", s, self.colour) for s in Status if counts[s]]
            self._clear_status()
            self.out.write(f"      +{since:5.1f}s  round {result.ended - result.started:.1f} s: {', '.join(parts)}")
            self.out.flush()
            self._status_shown = True

    def on_pages(self, pages: Sequence[Page]) -> None:
        for p in pages:
            since = p.at - self.phase_start
            where = "PagerDuty" if p.channel == "pagerduty" else "chat     "
            mark = "⇒" if p.action == "trigger" else "✓"
            text = f"      +{since:5.1f}s  {mark} {where} {p.action:<7} {p.dedup_key}"
            self.line(self._bold(text) if p.action == "trigger" else text)
            why = here_is_why(p.summary) if p.action == "trigger" else None
            if why:
                self.line(f"               {_clip(why, 160)}")

    def on_actions(self, actions: Sequence[Action]) -> None:
        for a in actions:
            # A remedy asked every round mostly says "already funded": show each change once.
            if a.status != "sent" and self._last_action.get(a.target) == a.status:
                continue
            self._last_action[a.target] = a.status
            since = time.monotonic() - self.phase_start
            text = f"      +{since:5.1f}s  ⚙ {a.text}"
            self.line(self._bold(text) if a.status == "sent" else text)

    def on_event(self, phase: str, o: Outcome) -> None:
        now = time.monotonic()
        if phase == "injected":
            self.phase_start = now
            self.line(f"      {'+0.0s':>7}  inject {o.fault}")
        elif phase == "detected" and not o.noise:
            self.line(self._bold(f"   ✔ detected in {o.detect_s:.1f} s") + self._detections(o))
            for text in _grouped(o.detected_by):
                self.line(f"       {_clip(text)}")
        elif phase == "detected":
            verdict = "no false alarm" if not o.unexpected else f"{len(o.unexpected)} false alarm(s)"
            self.line(self._bold(f"   ✔ held for {now - self.phase_start:.1f} s: {verdict}"))
        elif phase == "missed":
            self.line(paint(f"   ✖ NOT detected: {', '.join(k for k, v in o.detections.items() if v is None)}",
                            Status.FIRING, self.colour))
        elif phase == "healed":
            self.phase_start = now
            self.line(f"      {'+0.0s':>7}  heal {o.fault}")
        elif phase == "recovered":
            self.line(self._bold(f"   ✔ recovered in {o.recover_s:.1f} s: every check ok"))
        elif phase == "not-recovered":
            self.line(paint("   ✖ did NOT recover within the timeout", Status.FIRING, self.colour))
        if phase in ("detected", "missed") and o.unexpected:
            for text in o.unexpected:
                self.line(paint(f"   ! unexpected: {text}", Status.FIRING, self.colour))

    @staticmethod
    def _detections(o: Outcome) -> str:
        if len(o.detections) < 2:
            return ""
        return " (" + ", ".join(f"{k} after {v:.1f} s" for k, v in o.detections.items() if v is not None) + ")"


WHY = "here's why: "


def here_is_why(summary: str) -> str | None:
    """The diagnosis a firing summary ends with ("here's why: <leading cause> (<measured>)")."""
    _, found, why = summary.partition(WHY)
    return WHY + why if found else None


def _clip(text: str, width: int = 200) -> str:
    """At most `width` characters; a summary's "here's why" tail is kept whole where it fits
    (it is what the on-call engineer reads first), the measurement before it shortened."""
    if len(text) <= width:
        return text
    head, found, why = text.partition(WHY)
    if found and len(WHY) + len(why) < width - 10:
        return head[: width - len(WHY) - len(why) - 3] + "…: " + WHY + why
    return text[: width - 1] + "…"


def _grouped(described: Sequence[str]) -> list[str]:
    """'a/x unknown: why', 'b/y unknown: why' → 'a/x, b/y unknown: why' (one line per reason)."""
    reasons: dict[str, list[str]] = {}
    for text in dict.fromkeys(described):
        subject, _, reason = text.partition(": ")
        name, _, status = subject.rpartition(" ")
        reasons.setdefault(f"{status}: {reason}", []).append(name)
    return [f"{', '.join(names)} {why}" for why, names in reasons.items()]


def report_table(report: Report, colour: bool) -> str:
    headers = ("FAULT", "EXPECTED", "DETECTED", "DETECT", "PAGED", "REMEDY", "RECOVER", "RESOLVED",
               "FALSE ALARMS")
    rows = []
    for o in report.outcomes:
        expected = compact_expected(o.expected) if o.expected else "nothing fires"
        detected = ("held" if o.detected else "no") if o.noise else ("yes" if o.detected else "NO")
        pages = o.extra.get("paging") or {}
        paged = f"{len(pages.get('triggers', []))} in {_secs(pages.get('page_s'))}" if pages.get("triggers") else (
            "none" if o.noise else "NO")
        resolved = ("-" if not pages.get("triggers") else "NO" if pages.get("still_open")
                    else f"in {_secs(pages.get('resolve_s'))}")
        remedy = "top-up" if o.extra.get("remedies") else "-"
        rows.append((o.fault, expected, detected, _secs(o.detect_s), paged, remedy, _secs(o.recover_s), resolved,
                     str(len(o.unexpected)) if o.unexpected else "none"))
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    for o, row in zip(report.outcomes, rows, strict=True):
        text = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
        lines.append(paint(text, Status.OK if passed(o) else Status.FIRING, colour))
    return "\n".join(lines)


def compact_expected(labels: Sequence[str]) -> str:
    """['batch_submission unknown', 'wallet_runway/batcher unknown', ...] → 'batch_submission,
    wallet_runway unknown': the table names checks; targets are in the live view and the JSON."""
    by_status: dict[str, list[str]] = {}
    for label in labels:
        subject, status = label.rsplit(" ", 1)
        check = subject.split("/", 1)[0]
        if check not in by_status.setdefault(status, []):
            by_status[status].append(check)
    return "; ".join(f"{', '.join(checks)} {status}" for status, checks in by_status.items())


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


# -- the run ---------------------------------------------------------------------------------------

def describe_devnet(devnet: Any) -> list[str]:
    t = devnet.thresholds
    seq_port = devnet.sequencer.port
    return [
        f"  L1          anvil :{devnet.l1.port} (chain 900, {devnet.l1_block_time} s blocks), "
        f"behind {len(devnet.l1_proxies)} fault proxies (opwatch's L1 quorum)",
        f"  sequencer   anvil :{seq_port} (chain 901, {devnet.l2_block_time} s blocks)",
        f"  RPC nodes   {len(devnet.rpc_nodes)} anvil replicas following the sequencer "
        f"(:{', :'.join(str(n.port) for n in devnet.rpc_nodes)})",
        "  op-node     stand-in serving optimism_syncStatus; safe head = newest batch landed on L1",
        f"  batcher     posts a batch to {devnet.batch_inbox} every {devnet.batcher.interval:g} s",
        (f"  proposer    creates dispute games at DisputeGameFactory {devnet.deployment.dispute_game_factory} "
         f"({devnet.deployment.max_clock_duration} s clocks); an honest challenger counters wrong roots"
         if devnet.proofs_mode == "fault" else
         f"  proposer    posts output roots to L2OutputOracle {devnet.deployment.l2_output_oracle}"),
        "  remedies    top-up of the batcher/proposer wallet, unattended (policy: auto), from anvil's account 0",
        f"  opwatch     {devnet.config_path} (limits: head age {t.sequencer_max_head_age}, "
        f"batch age {t.batcher_max_submission_age}, safe lag {t.batcher_max_safe_lag}, "
        f"output age {t.proposer_max_output_age}, runway {t.wallet_min_runway}, "
        f"RPC lag {t.rpc_max_lag_blocks} blocks)",
    ]


def run_demo(devnet: Any, scenarios: Sequence[Scenario] | None = None, out: TextIO | None = None,
             colour: bool = False, config_path: Path | None = None) -> Report:
    """The baseline and the timeline against a running devnet (the demo's and the tests')."""
    out = out or sys.stdout
    started = time.monotonic()
    view = LiveView(out, colour)
    config = load_config(config_path or devnet.config_path)
    network = config.network("devnet")
    chosen = list(scenarios) if scenarios is not None else list(standard_scenarios(network).values())
    paging = DevnetPaging(Path(devnet.workdir), config.section("alerting"))
    remedies = DevnetRemedies(config) if "remediation" in config.sections else None

    def on_round(result: Round) -> None:
        view.on_round(result)
        view.on_pages(paging.process(result.findings))
        if remedies is not None:
            view.on_actions(remedies.process(result.findings))

    watchdog = Watchdog(config, ROUND_INTERVAL, on_round=on_round)

    view.line(view._bold("Baseline") + ": the watchdog runs every second until every check is ok")
    view.phase_start = time.monotonic()
    baseline = watchdog.settle(BASELINE_TIMEOUT)
    view.line()
    outcomes: list[Outcome] = []
    if baseline is None:
        view.line(paint(f"   ✖ no healthy round within {BASELINE_TIMEOUT:.0f} s; not starting the timeline",
                        Status.FIRING, colour))
    else:
        view.line(table(baseline.findings, colour))
        view.line()
        view.line(view._bold("Incident timeline") + f": {len(chosen)} fault(s), one at a time")
        acted = 0
        for i, scenario in enumerate(chosen, 1):
            view.line()
            view.line(view._bold(f"[{i}/{len(chosen)}] {scenario.fault}") + f": {scenario.title}")
            fault_started = time.monotonic()
            outcome = run_scenario(
                devnet, watchdog, scenario, view.on_event,
                before_heal=Wait(lambda t=fault_started: bool(paging.since(t, "trigger")), PAGE_TIMEOUT),
                after_recovery=Wait(lambda: not paging.open_incidents(), RESOLVE_TIMEOUT),
            )
            outcome.extra["paging"] = paging_summary(paging, outcome)
            if remedies is not None:
                outcome.extra["remedies"] = [a.text for a in remedies.actions[acted:] if a.status == "sent"]
                acted = len(remedies.actions)
            outcomes.append(outcome)
    paging.close()
    view.line()
    settings = {"round_interval_s": ROUND_INTERVAL, "l1_block_time_s": devnet.l1_block_time,
                "l2_block_time_s": devnet.l2_block_time, "thresholds": asdict(devnet.thresholds),
                "rpc": asdict(config.rpc)}
    return Report(outcomes, time.monotonic() - started, baseline is not None, settings)


def print_report(report: Report, out: TextIO, colour: bool) -> None:
    if report.outcomes:
        print(report_table(report, colour), file=out)
    for o in report.outcomes:
        for text in o.unexpected:
            print(paint(f"false alarm during {o.fault}: {text}", Status.FIRING, colour), file=out)
    verdict = ("every fault detected, paged, recovered and resolved; no false alarm" if report.passed
               else "FAILED")
    print(f"\n{paint(verdict, Status.OK if report.passed else Status.FIRING, colour)} "
          f"(timeline {report.wall_s:.0f} s)", file=out, flush=True)


class _Terminated(Exception):
    pass


@contextmanager
def _signals_end_the_run() -> Iterator[None]:
    """SIGTERM/SIGINT unwind the stack, so the devnet's context manager stops every process."""

    def stop(signum: int, _frame: object) -> None:
        raise _Terminated(signal.Signals(signum).name)

    try:
        previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    except ValueError:  # not the main thread: leave signals alone
        previous = {}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    known = (*STANDARD_FAULTS, *(n for names in PROOF_SCENARIOS.values() for n in names))
    unknown = [n for n in args.only or () if n not in known]
    if unknown:
        print(f"opwatch demo: no scenario for {', '.join(unknown)} (have: {', '.join(known)})", file=sys.stderr)
        return 2
    view_out = sys.stderr if args.json else sys.stdout
    colour = not args.no_colour and use_colour(view_out)
    from opwatch_devnet.topology import Devnet

    total = time.monotonic()
    temp = None if args.workdir else tempfile.TemporaryDirectory(prefix="opwatch-demo-")
    workdir = args.workdir or Path(temp.name)  # type: ignore[union-attr]
    try:
        with _signals_end_the_run():
            print("opwatch demo: a local OP Stack devnet, the watchdog, and an incident timeline\n",
                  file=view_out, flush=True)
            print(f"Starting the devnet in {workdir} ...", file=view_out, flush=True)
            with Devnet.start(workdir, thresholds=demo_thresholds(), submission_interval=DEMO_SUBMISSION_INTERVAL,
                              proofs_mode=args.proofs, max_clock_duration=DEMO_CLOCK_S) as devnet:
                with devnet.config_path.open("a") as config_file:  # the demo lets the top-up run unattended
                    config_file.write(policy_text(Path(devnet.workdir)))
                print("\n".join(describe_devnet(devnet)), file=view_out)
                print(f"  up in {time.monotonic() - total:.1f} s\n", file=view_out, flush=True)
                network = load_config(devnet.config_path).network("devnet")
                scenarios = choose_for(network, args.proofs, args.only, args.fast, view_out)
                report = run_demo(devnet, scenarios, view_out, colour)
                print("Stopping the devnet ...", file=view_out, flush=True)
        print_report(report, view_out, colour)
        print(f"demo wall time {time.monotonic() - total:.0f} s; nothing left running", file=view_out, flush=True)
        if args.json:
            print(json.dumps({**report.to_dict(), "total_wall_s": round(time.monotonic() - total, 1)}, indent=2))
        return 0 if report.passed else 1
    except _Terminated as exc:
        print(f"\nopwatch demo: {exc}; the devnet was stopped", file=sys.stderr)
        return 130
    finally:
        if temp is not None:
            temp.cleanup()


if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1:]))
