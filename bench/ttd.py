"""Time to detect, per fault: from injection to the finding firing and to the page.

Measured on the devnet (1 s blocks, the demo's thresholds) with the watchdog sampling every
`SAMPLE_S` (what the sequencer fast lane does inside one invocation), through the real alert
manager and PagerDuty client to the Events v2 stand-in. Each trial injects one fault, waits for
the page, heals, and waits for the resolve.

The default cloud schedules run a check once per interval P (1 to 10 minutes, see
`opwatch.deploy.schedules`); their time to detect is computed from the measured detection
time t plus the phase of the schedule (uniform in [0, P)) plus the extra evaluations the
alert lifecycle waits ((N-1)·P), over 10,000 draws per fault; it is stated as computed.
So is the usual Prometheus + Alertmanager setup on the same signal, from their documented
defaults (scrape and evaluation every 15 s, a rule `for: 1m`, Alertmanager `group_wait: 30s`).
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import Any

from opwatch.config import load_config

from .common import summary
from .recompute import default_schedule

FAULTS = {  # fault -> the check whose alert counts as detection
    "halt-sequencer": "sequencer_liveness", "stop-batcher": "batch_submission", "drain-batcher": "wallet_runway",
    "stop-proposer": "proposer_freshness", "lag-rpc": "rpc_sync",
    # A wrong output root (oracle chain): detected once the proposer's next output lands, so
    # the time includes the wait for that output (the devnet proposes every 10 L2 blocks).
    "bad-output": "output_root",
    # A withdrawal proven on L1 against a forged root but never sent on L2: the proof lands in
    # the fault itself (on a fault-proof chain, a forged game nobody counters), so the time is
    # the next sample reading the portal's logs and asking the trusted node.
    "forged-withdrawal": "withdrawals",
    # The on-call faults (devnet ops_faults.py): stuck-batcher-tx and conductor-pause fire after
    # the memory-backed limits OPS_LIMITS sets short for the bench, so their times include them.
    "stuck-batcher-tx": "tx_health", "halt-derivation": "batcher_lag", "conductor-split": "sequencer_ha",
    "conductor-pause": "sequencer_ha", "replica-no-peers": "rollup_nodes", "replica-diverge": "rollup_nodes",
}
OPS_FAULTS = ("stuck-batcher-tx", "halt-derivation", "conductor-split", "conductor-pause", "replica-no-peers",
              "replica-diverge")  # their results: bench/results/ttd-ops.json
# Memory-backed limits, shortened for the bench (opwatch's defaults: 10 min and 15 min).
OPS_LIMITS = {"tx_max_stuck": "10s", "conductor_max_paused": "10s"}
# No Prometheus rule recomputes output roots or joins L1 proofs to L2's message passer: that
# column is left empty for these checks.
NO_PROMETHEUS_EQUIVALENT = {"output_root", "withdrawals", "sequencer_ha", "rollup_nodes", "tx_health"}
SAMPLE_S = 1.0
FAST_LANE_EVERY_S = 5.0  # [schedules] fast_lane_every default
PROM = {"scrape_s": 15.0, "eval_s": 15.0, "for_s": 60.0, "group_wait_s": 30.0}


def run(devnet: Any, trials: int = 5, faults: list[str] | None = None) -> dict[str, Any]:
    """`faults`: a subset of FAULTS (default: all of them)."""
    from opwatch_devnet import timeline
    from opwatch_devnet.demo import demo_thresholds
    from opwatch_devnet.paging import DevnetPaging
    from opwatch_devnet.timeline import Wait, Watchdog, run_scenario

    chosen = {f: FAULTS[f] for f in (faults or FAULTS)}

    # The demo's thresholds: rewrite the config the devnet wrote with them.
    from dataclasses import replace

    from opwatch.memory import SqliteMemoryStore
    from opwatch.runner import run_checks

    devnet.thresholds = replace(demo_thresholds(), **OPS_LIMITS)
    devnet.write_config(devnet.config_path)
    config = load_config(devnet.config_path)
    network = config.network("devnet")
    scenarios = {**timeline.standard_scenarios(network), **timeline.proof_scenarios(network, devnet.proofs_mode),
                 **timeline.l1_contract_scenarios(network, devnet.proofs_mode), **timeline.ops_scenarios(network)}
    limits = {"output_root": 0.0, "withdrawals": 0.0, "sequencer_liveness": network.thresholds.sequencer_max_head_age,
              "batch_submission": network.thresholds.batcher_max_submission_age,
              "wallet_runway": 0.0, "proposer_freshness": network.thresholds.proposer_max_output_age,
              "rpc_sync": 5 * network.block_time, "tx_health": network.thresholds.tx_max_stuck,
              "batcher_lag": network.thresholds.batcher_max_safe_lag, "sequencer_ha": 0.0, "rollup_nodes": 0.0,
              "conductor-pause": network.thresholds.conductor_max_paused}  # per fault where it differs
    with tempfile.TemporaryDirectory() as tmp:
        paging = DevnetPaging(Path(tmp), config.section("alerting"))
        memory = SqliteMemoryStore(Path(tmp) / "memory.db")  # what tx_health and sequencer_ha remember
        playing = {"fault": ""}
        urgent: set[str] = set()  # faults whose check's firing findings were urgent (no fire hold)

        def on_round(r: Any) -> None:
            urgent.update(playing["fault"] for f in r.findings if f.urgent and f.check == chosen.get(playing["fault"]))
            paging.process(r.findings)

        watchdog = Watchdog(config, SAMPLE_S, on_round=on_round,
                            runner=lambda cfg: run_checks(cfg, memory=memory).findings)
        watchdog.settle(60)
        rows: dict[str, dict[str, list[float]]] = {f: {"finding": [], "page": []} for f in chosen}
        for _ in range(trials):
            for fault, check in chosen.items():
                started = time.monotonic()
                playing["fault"] = fault

                def paged(check: str = check, started: float = started) -> bool:
                    return any(check in p.dedup_key for p in paging.since(started, "trigger"))

                outcome = run_scenario(devnet, watchdog, scenarios[fault],
                                       before_heal=Wait(paged, 30.0),
                                       after_recovery=Wait(lambda: not paging.open_incidents(), 40.0))
                hits = [p for p in paging.since(outcome.injected_at, "trigger") if check in p.dedup_key]
                if outcome.detect_s is not None:
                    rows[fault]["finding"].append(outcome.detect_s)
                if hits:
                    rows[fault]["page"].append(hits[0].at - outcome.injected_at)
        paging.close()
        memory.close()
    rng = random.Random(7)
    out = []
    for fault, check in chosen.items():
        finding, page = rows[fault]["finding"], rows[fault]["page"]
        # An urgent finding (two active sequencers, a wallet that cannot pay) skips the hold:
        # as seen in this run's rounds.
        computed = default_schedule(check, finding, fault in urgent)
        period, extra = computed["period_s"], computed["hold_s"]
        extra_evals = round(extra / period)
        fast = [rng.choice(finding) + rng.uniform(0, FAST_LANE_EVERY_S) for _ in range(10_000)] \
            if finding and check == "sequencer_liveness" else []
        prom = [limits[check] + rng.uniform(0, PROM["scrape_s"]) + rng.uniform(0, PROM["eval_s"])
                + PROM["for_s"] + PROM["group_wait_s"] for _ in range(10_000)] \
            if check not in NO_PROMETHEUS_EQUIVALENT else []
        out.append({"fault": fault, "check": check, "trials": trials, "trials_finding_s": finding,
                    "trials_page_s": page, "measured_finding_s": summary(finding),
                    "measured_page_s": summary(page), "schedule_period_s": period,
                    "extra_evaluations": extra_evals, "alert_hold_s": extra, "urgent": fault in urgent,
                    "computed_default_schedule_finding_s": computed["finding"],
                    "computed_default_schedule_s": computed["page"],
                    "computed_fast_lane_s": summary(fast) if fast else None,
                    "computed_prometheus_s": summary(prom) if prom else None,
                    "threshold_s": limits.get(fault, limits[check])})
    return {"sample_s": SAMPLE_S, "fast_lane_every_s": FAST_LANE_EVERY_S, "prometheus_defaults": PROM,
            "block_time_s": network.block_time, "rows": out, "table": table(out, network.block_time)}


def table(rows: list[dict[str, Any]], block_time: float) -> str:
    def s(x: Any) -> str:
        return "—" if x is None else f"{x:.1f} s"

    lines = ["### Time to detect (devnet, 1 s blocks; measured = sampled every 1 s; computed = stated)", "",
             "| fault | threshold | finding fires, median / p95 (measured) | page, median / p95 (measured) "
             "| default schedule: finding, p95 (computed) | default schedule: page, median / p95 (computed) "
             "| Prometheus + Alertmanager, median (computed) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        f, p, d, q = (r["measured_finding_s"], r["measured_page_s"], r["computed_default_schedule_s"],
                      r["computed_prometheus_s"] or {"median": None})
        fs = r["computed_default_schedule_finding_s"]
        lines.append(f"| {r['fault']} | {s(r['threshold_s'])} | {s(f['median'])} / {s(f['p95'])} | "
                     f"{s(p['median'])} / {s(p['p95'])} | {s(fs['p95'])} (every {r['schedule_period_s'] / 60:.0f} min) "
                     f"| {s(d['median'])} / {s(d['p95'])} (+{r['alert_hold_s']:.0f} s hold) | {s(q['median'])} |")
    fast = next((r["computed_fast_lane_s"] for r in rows if r["computed_fast_lane_s"]), None)
    if fast:
        lines += ["", f"Sequencer fast lane (sampling every {FAST_LANE_EVERY_S:g} s inside one invocation, "
                  f"computed from the measured detection): median {s(fast['median'])}, p95 {s(fast['p95'])}; "
                  f"floor: one block time ({block_time:g} s)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.ttd --faults bad-output --trials 5`: some faults only, on a devnet of
    their own (bench.run ttd runs every fault); writes bench/results/ttd-<faults>.json.
    `--proofs fault`: a fault-proof devnet (forged-withdrawal through an unchallenged game)."""
    import argparse
    import sys

    from opwatch_devnet.topology import Devnet

    from .common import save

    parser = argparse.ArgumentParser(prog="bench.ttd")
    parser.add_argument("--faults", nargs="+", choices=sorted(FAULTS), default=sorted(FAULTS))
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--proofs", choices=("oracle", "fault"), default="oracle")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="opwatch-bench-ttd-") as workdir, \
            Devnet.start(workdir, proofs_mode=args.proofs) as devnet:
        data = run(devnet, args.trials, args.faults)
    suffix = "" if args.proofs == "oracle" else "-" + args.proofs
    name = "ops" if sorted(args.faults) == sorted(OPS_FAULTS) else "-".join(args.faults)
    path = save("ttd-" + name + suffix, {**data, "bench_wall_s": round(time.monotonic() - started, 1)})
    print(data["table"])
    print(f"bench: ttd {' '.join(args.faults)} done in {time.monotonic() - started:.0f} s -> {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
