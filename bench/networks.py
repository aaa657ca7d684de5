"""Networks in one deployment: 1, 10, 30 and 100 networks (an L2 and its L3s), both AWS layouts.

    .venv/bin/python -m bench.networks            (also: .venv/bin/python -m bench.run networks)

Three parts, each stated in the output:
- counts: the CDK app synthesised from a config of N networks under `[aws] layout =
  "per_check"` and `"per_network"` (functions, alarms, CloudFormation resources against the
  500 a stack may hold, dashboards and their widgets), and the GCP plan's counts
  (bench/gcp_counts.py) when that module is there;
- run time, measured: one evaluation of each check over N networks through
  `opwatch.runner.run_checks`, what both clouds' handlers call, in a fresh interpreter per
  (N, check) as a function container is (its peak RSS is that run's), each network with
  endpoints of its own: bench.nodefarm, one process per endpoint kind, holds every request for
  a 50 ms round trip and answers from the devnet's nodes and stand-ins. The farm's own floor
  (one request to every endpoint of the N networks at once from one thread) is measured too;
- monthly cost per cloud, layout and N: bench.monthly's prices and bills, with invocations,
  billed durations (per_check: one invocation lasts the measured run over N networks;
  per_network: N invocations of the one-network run), findings and the synthesised counts.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import resource
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from . import nodefarm
from .common import ROOT, load, summary

COUNTS = (1, 10, 30, 100)
SYNTH_COUNTS = (1, 3, 10, 30, 100)
LAYOUTS = ("per_check", "per_network")
TRIALS = 7
LATENCY_S = 0.05
STACK_RESOURCE_LIMIT = 500  # CloudFormation: resources per stack
DASHBOARD_WIDGET_LIMIT = 500  # CloudWatch: widgets per dashboard
SYNTH_BUDGET_S = 300.0  # past this (projected), per_network at 100 is extrapolated, and says so
COMMAND = ".venv/bin/python -m bench.run networks"
BEGIN, END = "<!-- bench:networks:begin -->", "<!-- bench:networks:end -->"


# -- the configs ----------------------------------------------------------------------------------

def _address(kind: int, i: int) -> str:
    return f"0x{kind:02x}{i:038x}"  # lower case: a checksum is only checked when mixed-case


def synthetic_config(n: int, layout: str) -> str:
    """bench.monthly's ONE_NETWORK (the L2, `mainnet`) and n - 1 L3s settling on it: an L3's
    "L1" is the L2 (its l1_rpc the L2's sequencer, its l1_chain_id the L2's chain id)."""
    from .monthly import ONE_NETWORK

    l2, aws = ONE_NETWORK.split("[aws.environments.production]")
    blocks = [l2.strip()]
    for i in range(1, n):
        blocks.append("\n".join([
            f"[networks.l3-{i:03d}]",
            'l1_rpc = ["https://sequencer.example"]',
            f'l2_rpc = "https://l3-{i:03d}-sequencer.example"',
            f'rollup_rpc = "https://l3-{i:03d}-op-node.example"',
            f'rpc_nodes = ["https://l3-{i:03d}-rpc-1.example", "https://l3-{i:03d}-rpc-2.example"]',
            "l1_chain_id = 10",
            f"l2_chain_id = {900_000 + i}",
            'block_time = "2s"',
            f'batcher = "{_address(0x61, i)}"',
            f'batch_inbox = "{_address(0xff, i)}"',
            f'proposer = "{_address(0x47, i)}"',
            f'l2_output_oracle = "{_address(0xdf, i)}"']))
    return "\n\n".join(blocks) + f'\n\n[aws]\nlayout = "{layout}"\n\n[aws.environments.production]{aws}'


def devnet_networks(devnet_text: str, farms: dict[str, list[str]], n: int) -> tuple[str, list[str]]:
    """n copies of the devnet's network, network k's endpoints being the farms' k-th slice."""
    network, _, rest = devnet_text.partition("[networks.devnet.thresholds]")
    thresholds = "[networks.devnet.thresholds]" + rest
    names, blocks = [], []
    for k in range(n):
        name = f"net-{k:03d}"
        lines = []
        for line in network.splitlines():
            key = line.split("=", 1)[0].strip()
            if key in farms:
                urls = _URL.findall(line)
                for j, url in enumerate(urls):
                    line = line.replace(f'"{url}"', f'"{farms[key][k * len(urls) + j]}"', 1)
            lines.append(line.replace("[networks.devnet]", f"[networks.{name}]"))
        names.append(name)
        blocks.append("\n".join(lines) + "\n" + thresholds.replace("networks.devnet.", f"networks.{name}."))
    return "\n".join(blocks), names


_URL = re.compile(r"http://[^\"\s]+")


# -- counts ---------------------------------------------------------------------------------------

def _widgets(template: dict[str, Any]) -> int:
    total = 0
    for r in template["Resources"].values():
        if r["Type"] == "AWS::CloudWatch::Dashboard":
            body = r["Properties"]["DashboardBody"]
            text = body if isinstance(body, str) else json.dumps(body)
            total += len(re.findall(r'\\*"type\\*":\\*"(?:text|metric|log)', text))
    return total


def aws_counts(n: int, layout: str) -> dict[str, Any]:
    from .monthly import aws_template, counts_of

    started = time.monotonic()
    # CDK refuses a stack over CloudFormation's 500 resources at synth; lifted here to count past it.
    template = aws_template(synthetic_config(n, layout), context={"@aws-cdk/core:stackResourceLimit": 0})
    return {**counts_of(template), "resources": len(template["Resources"]), "dashboard_widgets": _widgets(template),
            "synth_s": round(time.monotonic() - started, 1), "measured": True}


def _extrapolated(rows: dict[int, dict[str, Any]], n: int) -> dict[str, Any]:
    """Linear in N from the synthesised 1 and 10 (3 and 30 show whether it is linear)."""
    a, b = rows[1], rows[10]
    out = {k: round(a[k] + (b[k] - a[k]) * (n - 1) / 9) for k in a
           if isinstance(a[k], int) and not isinstance(a[k], bool)}
    return {**out, "measured": False, "synth_s": None}


def all_aws_counts() -> dict[str, dict[int, dict[str, Any]]]:
    out: dict[str, dict[int, dict[str, Any]]] = {}
    for layout in LAYOUTS:
        rows: dict[int, dict[str, Any]] = {}
        for n in SYNTH_COUNTS:
            projected = rows[30]["synth_s"] * n / 30 if n > 30 and 30 in rows else 0.0
            if projected > SYNTH_BUDGET_S:
                rows[n] = {**_extrapolated(rows, n), "projected_synth_s": round(projected)}
            else:
                rows[n] = aws_counts(n, layout)
            print(f"bench.networks: synth {layout} {n}: {rows[n].get('synth_s')} s", file=sys.stderr, flush=True)
        out[layout] = rows
    return out


def gcp_counts() -> dict[int, Any]:
    if importlib.util.find_spec("bench.gcp_counts") is None:
        return {}
    from . import gcp_counts as g  # type: ignore[attr-defined]

    out: dict[int, Any] = {}
    for n in COUNTS:
        try:
            out[n] = g.plan_counts(synthetic_config(n, "per_check") + '\n[gcp]\nregion = "us-central1"\n')
        except Exception as e:  # recorded: a plan that does not render at N is a result
            out[n] = {"error": f"{type(e).__name__}: {e}"}
    return out


# -- run time over N networks ---------------------------------------------------------------------

@contextlib.contextmanager
def _farms(devnet: Any, n_max: int) -> Iterator[dict[str, list[str]]]:
    """One bench.nodefarm per endpoint kind (a config key), n_max networks' worth of endpoints,
    each answering from the real node or stand-in behind the devnet's fault proxy."""
    direct = {p.url: p.upstream for p in devnet.proxies.values()}
    network = devnet.config_text().partition("[networks.devnet.thresholds]")[0]
    kinds = {line.split("=", 1)[0].strip(): _URL.findall(line) for line in network.splitlines() if _URL.search(line)}
    with contextlib.ExitStack() as stack:
        # The op-node, conductor and replica stand-ins are one-process Python servers (a listen
        # backlog of 5): a hundred networks' requests at once overflowed them and the run measured
        # the devnet, not the watchdog. Their farms queue requests over a few connections instead.
        yield {key: stack.enter_context(nodefarm.running(
                   [direct.get(u, u) for u in urls], count=n_max * len(urls), latency=LATENCY_S,
                   upstream_connections=STAND_IN_CONNECTIONS if key in FLOOR_METHOD else 0))
               for key, urls in kinds.items()}


def _child() -> int:
    """One (N, check) in this fresh interpreter: a first run, then TRIALS runs, one container."""
    spec = json.loads(sys.stdin.read())
    from opwatch.checks.base import Resources
    from opwatch.config import parse_config
    from opwatch.runner import run_checks

    config = parse_config(spec["config"])
    rss_ready = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    resources = Resources()
    started = time.perf_counter()
    first = run_checks(config, spec["networks"], [spec["check"]], resources=resources)
    first_s = time.perf_counter() - started
    walls, requests, statuses = [], [], Counter[str]()
    for _ in range(spec["trials"] if first.findings else 0):
        started = time.perf_counter()
        result = run_checks(config, spec["networks"], [spec["check"]], resources=resources)
        walls.append(time.perf_counter() - started)
        requests.append(result.rpc_requests)
        statuses.update(f.status.value for f in result.findings)
    print(json.dumps({"first_run_s": round(first_s, 4), "wall_s": summary(walls),
                      "rpc_requests": max(requests, default=first.rpc_requests),
                      "findings_per_run": len(first.findings), "skipped": len(first.skipped),
                      "statuses": dict(statuses), "rss_mib_before_run": round(rss_ready / 1024, 1),
                      "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
    return 0


def _in_child(config_text: str, networks: list[str], check: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "bench.networks", "--child"], cwd=str(ROOT), check=True,
                          input=json.dumps({"config": config_text, "networks": networks, "check": check,
                                            "trials": TRIALS}), capture_output=True, text=True, timeout=900)
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# A method each endpoint kind answers, for the floor (what the checks ask them most).
FLOOR_METHOD = {"rollup_rpc": "optimism_syncStatus", "rollup_nodes": "optimism_syncStatus",
                "conductors": "conductor_leader", "sequencer_nodes": "admin_sequencerActive"}
# And output_root's own question of op-node, which the stand-in answers by reading a state proof
# and a block from anvil (several round trips per answer): floor name -> (kind, method, params).
EXTRA_FLOORS = {"rollup_rpc: output at block": ("rollup_rpc", "optimism_outputAtBlock", ["0x1"])}


FLOOR_DEADLINE_S = 20.0
# Without it, at 100 networks the stand-ins' full backlog delayed connections by the kernel's SYN
# retries (1 s, 3 s) and the checks reading them ran into their 5 s RPC deadline.
STAND_IN_CONNECTIONS = 4


def _floor(urls: list[str], method: str, params: list[Any] | None = None) -> tuple[float, int]:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    return nodefarm.floor(urls, body, FLOOR_DEADLINE_S)


def measure(devnet: Any) -> dict[str, Any]:
    from opwatch.checks import CHECKS

    text = devnet.config_text()
    rows: dict[str, dict[str, Any]] = {}
    floor: dict[str, Any] = {}
    with _farms(devnet, max(COUNTS)) as farms:
        checks: list[str] = list(CHECKS)
        for n in COUNTS:
            config_text, names = devnet_networks(text, farms, n)
            floor[str(n)] = {}
            floors = {kind: (kind, FLOOR_METHOD.get(kind, "eth_blockNumber"), []) for kind in farms}
            floors.update({name: spec for name, spec in EXTRA_FLOORS.items() if spec[0] in farms})
            for name, (kind, method, params) in floors.items():
                urls = farms[kind]
                mine = urls[:n * len(urls) // max(COUNTS)]
                _floor(mine, method, params)
                runs = [_floor(mine, method, params) for _ in range(TRIALS)]
                floor[str(n)][name] = {"endpoints": len(mine), "method": method,
                                       "wall_s": summary([w for w, _ in runs]),
                                       "unanswered_at_deadline": max(u for _, u in runs)}
            for check in checks:
                row = _in_child(config_text, names, check)
                print(f"bench.networks: {n} networks, {check}: {row['wall_s']['median']} s median, "
                      f"{row['peak_rss_mib']} MiB", file=sys.stderr, flush=True)
                rows.setdefault(check, {})[str(n)] = row
            if n == COUNTS[0]:  # the checks that apply to the devnet's network; the others skip at every N
                checks = [c for c in checks if rows[c][str(n)]["findings_per_run"]]
    return {"per_check": {c: r for c, r in rows.items() if c in checks},
            "not_applicable_on_devnet": [c for c in rows if c not in checks], "floor": floor}


# -- monthly cost ---------------------------------------------------------------------------------

def _lambda_mb(peak_mib: float) -> int:
    """The smallest of 256 MB and up (128 MB steps) that holds the run's peak with a quarter spare."""
    return max(256, -(-int(peak_mib * 1.25) // 128) * 128)


def monthly(aws: dict[str, dict[int, dict[str, Any]]], gcp: dict[int, Any], measured: dict[str, Any]) -> dict[str, Any]:
    from opwatch.checks import CHECKS
    from opwatch.config import parse_config
    from opwatch.deploy.gcp import GcpSettings
    from opwatch.deploy.gcp_monitoring import conditions

    from .monthly import COLD_SHARE, FINDINGS_PER_RUN, MINUTES_PER_MONTH, ONE_NETWORK, RTT_S, aws_bill, gcp_bill

    config = parse_config(ONE_NETWORK)
    network, schedules = config.network("mainnet"), config.section("schedules")
    checks = [c for c in CHECKS if CHECKS[c].missing(network) is None]
    cost = load("cost") or {"per_check": {}}
    coldstart = load("coldstart") or {"handlers": {}}
    cold_s = coldstart["handlers"].get("opwatch.aws.check_handler", {}).get("import_s", 0.4)
    runs = {c: MINUTES_PER_MONTH / schedules.every(c) for c in checks}
    per = measured["per_check"]
    unmeasured = [c for c in checks if c not in per]

    def seconds(c: str, n: int) -> float:
        if c in per:
            return float(per[c][str(n)]["wall_s"]["median"]) + COLD_SHARE * float(cold_s)
        one = cost["per_check"].get(c, {"wall_s": {"median": 0.05}, "rpc_requests": 6})  # bench.monthly's model
        return float(one["wall_s"]["median"]) + float(one["rpc_requests"]) * RTT_S + COLD_SHARE * float(cold_s)

    def mb(c: str, n: int) -> int:
        return _lambda_mb(per[c][str(n)]["peak_rss_mib"]) if c in per else 256

    out: dict[str, Any] = {"checks": checks, "not_measured_over_n": unmeasured, "cold_s": cold_s, "rows": []}
    for n in COUNTS:
        findings = sum(runs[c] * FINDINGS_PER_RUN.get(c, 1) for c in checks) * n
        plan = gcp.get(n) or {}
        for layout in LAYOUTS:
            counts = aws[layout][n]
            fanout = 1 if layout == "per_check" else n
            at = n if layout == "per_check" else 1
            invocations = sum(runs.values()) * fanout
            gb_s = sum(runs[c] * fanout * seconds(c, at) * mb(c, at) / 1024 for c in checks)
            log_gb = (invocations + findings) * 2_000 / 1e9
            bill = aws_bill(invocations=invocations, findings=findings, check_gb_s=gb_s, counts=counts, metrics=0,
                            log_gb=log_gb, memory_gb=0.25)
            row = {"networks": n, "layout": layout, "invocations_per_month": round(invocations),
                   "findings_per_month": round(findings), "lambda_mb": {c: mb(c, at) for c in checks}, "aws": bill}
            if layout == "per_check":  # GCP deploys one function per check over every network
                jobs, conds, fns = plan.get("scheduler_jobs"), plan.get("alert_conditions"), plan.get("functions")
                row["gcp"] = gcp_bill(invocations=sum(runs.values()), findings=findings,
                                      check_busy_s=sum(runs[c] * seconds(c, n) for c in checks),
                                      scheduler_jobs=jobs if jobs is not None else len(checks),
                                      conditions=conds if conds is not None else conditions(GcpSettings()),
                                      series_per_minute=(fns + 1) if fns is not None else len(checks) + 2)
                row["gcp_counts_from"] = "plan" if plan and "error" not in plan else "bench.monthly's one-network model"
                row["gcp_peak_rss_over_256_mib"] = [c for c in checks if c in per
                                                    and per[c][str(n)]["peak_rss_mib"] > 256]
            out["rows"].append(row)
    return out


# -- the run, the table, the doc ------------------------------------------------------------------

def run(devnet: Any, **_: Any) -> dict[str, Any]:
    load_before = os.getloadavg()
    started = time.monotonic()
    measured = measure(devnet)
    measure_s = time.monotonic() - started
    aws = all_aws_counts()
    gcp = gcp_counts()
    result = {"command": COMMAND, "latency_s": LATENCY_S, "trials": TRIALS, "counts": list(COUNTS),
              "measured": measured, "measure_wall_s": round(measure_s), "aws_counts": aws, "gcp_counts": gcp,
              "monthly": monthly(aws, gcp, measured), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "load_average": {"before": [round(x, 2) for x in load_before],
                               "after": [round(x, 2) for x in os.getloadavg()]}}
    return json.loads(json.dumps(result))  # int keys become strings, as the saved file has them


def _deployable_up_to(rows: dict[str, dict[str, Any]]) -> int:
    a, b = rows["1"]["resources"], rows["10"]["resources"]
    per_network = (b - a) / 9
    return int(1 + (STACK_RESOURCE_LIMIT - a) // per_network) if per_network > 0 else 10**9


def table(r: dict[str, Any]) -> str:
    m, aws, per = r["machine"], r["aws_counts"], r["measured"]["per_check"]
    counts = [str(n) for n in r["counts"]]
    lines = [f"### Networks in one deployment (measured {r['date']}; `{r['command']}`)", "",
             f"Machine: {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, Python {m['python']}; load average "
             f"{r['load_average']['before'][0]} at the start, {r['load_average']['after'][0]} at the end.", "",
             "**Deployment size** (the CDK app synthesised from N networks: `mainnet` and N − 1 L3s settling on it; "
             f"CloudFormation holds {STACK_RESOURCE_LIMIT} resources a stack, a dashboard "
             f"{DASHBOARD_WIDGET_LIMIT} widgets):", "",
             "| networks | per_check: functions / alarms / resources / dashboards (widgets) / synth | "
             "per_network: functions / alarms / resources / dashboards (widgets) / synth | GCP plan (one layout) |",
             "|---|---|---|---|"]

    def cell(c: dict[str, Any]) -> str:
        over = " **over the limit**" if c["resources"] > STACK_RESOURCE_LIMIT else ""
        synth = (f"{c['synth_s']} s" if c.get("measured")
                 else f"extrapolated from 1 and 10 (synth projected {c.get('projected_synth_s')} s)")
        return (f"{c['functions']} / {c['alarms']} / {c['resources']}{over} / {c['dashboards']} "
                f"({c.get('dashboard_widgets', '—')}) / {synth}")

    for n in sorted(aws["per_check"], key=int):
        plan = r["gcp_counts"].get(n)
        gcp_cell = ("—" if plan is None
                    else plan["error"] if "error" in plan
                    else f"{plan['functions']} functions / {plan['scheduler_jobs']} scheduler jobs / "
                    f"{plan['subscriptions']} subscriptions / {plan['alert_conditions']} alert conditions")
        lines.append(f"| {n} | {cell(aws['per_check'][n])} | {cell(aws['per_network'][n])} | {gcp_cell} |")
    fits = {layout: _deployable_up_to(aws[layout]) for layout in LAYOUTS}
    lines += ["", "One stack holds per_network up to **" + str(fits["per_network"]) + " networks** (resources "
              "linear in N from the synthesised 1 and 10; CDK refuses a larger stack at synth, lifted here to "
              "count it); per_check " + (f"up to {fits['per_check']}" if fits["per_check"] < 10**9
                                         else "at every N: its resources do not grow with N") + ".", "",
              f"**Run time of one evaluation over N networks** (median / p95 of {r['trials']} runs after a first; "
              f"{r['latency_s'] * 1000:.0f} ms round trip; RPC requests per run; peak RSS of the fresh interpreter):",
              "", "| check | " + " | ".join(f"{n} network(s)" for n in counts)
              + f" | {counts[-1]} ÷ 1 | requests at 1 / {counts[-1]} |"
              f" peak RSS at 1 / {counts[-1]} | unknown findings at 1 / {counts[-1]} |",
              "|---|" + "---|" * (len(counts) + 4)]
    for c, row in per.items():
        cells = [f"{row[n]['wall_s']['median']:.3f} / {row[n]['wall_s']['p95']:.3f} s" for n in counts]
        ratio = row[counts[-1]]["wall_s"]["median"] / row[counts[0]]["wall_s"]["median"]
        lines.append(f"| {c} | " + " | ".join(cells) + f" | {ratio:.2f}× | {row[counts[0]]['rpc_requests']} / "
                     f"{row[counts[-1]]['rpc_requests']} | {row[counts[0]]['peak_rss_mib']:.0f} / "
                     f"{row[counts[-1]]['peak_rss_mib']:.0f} MiB | {_unknown(row[counts[0]])} / "
                     f"{_unknown(row[counts[-1]])} |")
    floor = r["measured"]["floor"]
    for kind in floor[counts[0]]:
        f = {n: floor[n][kind] for n in counts}
        lines.append(f"| floor: `{kind}` (`{f[counts[0]]['method']}` to each of its endpoints at once, one thread) | "
                     + " | ".join(f"{f[n]['wall_s']['median']:.3f} / {f[n]['wall_s']['p95']:.3f} s "
                                  f"({f[n]['endpoints']}"
                                  + (f", {f[n]['unanswered_at_deadline']} unanswered at {FLOOR_DEADLINE_S:g} s"
                                     if f[n].get("unanswered_at_deadline") else "") + ")" for n in counts)
                     + f" | {f[counts[-1]]['wall_s']['median'] / f[counts[0]]['wall_s']['median']:.2f}× | — | — | — |")
    lines.append("")
    if r["measured"]["not_applicable_on_devnet"]:
        lines += ["Not run (their inputs are not on the devnet's network): "
                  + ", ".join(f"`{c}`" for c in r["measured"]["not_applicable_on_devnet"]) + ".", ""]
    mo = r["monthly"]
    lines += ["**Monthly cost** (computed: bench.monthly's prices and bills; a check's billed duration is its measured "
              "median above plus the cold import on 5 % of invocations; Lambda memory the smallest from 256 MB that "
              "holds the run's peak RSS with a quarter spare):", "",
              "| networks | layout | check invocations a month | AWS list / after free tier | per network, after free "
              "tier | GCP list / after free tier | per network, after free tier |", "|---|---|---|---|---|---|---|"]
    for row in mo["rows"]:
        n, a = row["networks"], row["aws"]
        g = row.get("gcp")
        gcp_cells = (f"${g['total']:.2f} / ${g['total_after_free_tier']:.2f} | "
                     f"${g['total_after_free_tier'] / n:.2f}" if g else "(one layout: per check) | —")
        lines.append(f"| {n} | {row['layout']} | {row['invocations_per_month']:,} | ${a['total']:.2f} / "
                     f"${a['total_after_free_tier']:.2f} | ${a['total_after_free_tier'] / n:.2f} | {gcp_cells} |")
    if mo["not_measured_over_n"]:
        lines += ["", "Priced at their one-network cost at every N (not measured on the devnet): "
                  + ", ".join(f"`{c}`" for c in mo["not_measured_over_n"]) + "."]
    lines += ["", _ttd_part()]
    return "\n".join(lines)


def _unknown(row: dict[str, Any]) -> str:
    total = sum(row["statuses"].values())
    return f"{row['statuses'].get('unknown', 0)} of {total}"


def _ttd_part() -> str:
    data = load("networks-ttd")
    if data is None:
        return ("**Time to detect at 100 networks against 1**: not measured here (bench/results/networks-ttd.json, "
                "fault to page through the deployed handler, is written by its own bench).")
    if "table" in data:
        return str(data["table"])

    def cell(part: dict[str, Any], key: str) -> str:
        v = part.get(key) or {}
        return f"{v['median']:.2f} / {v['p95']:.2f} s" if "median" in v else "—"

    lines = [f"**Time to detect, a halted sequencer, through the deployed AWS `sequencer_liveness` function** "
             f"(`.venv/bin/{data.get('command', '')}`; bench/results/networks-ttd.json; "
             f"one per_check function over every network, each network behind the farm, 5 trials; seconds from the "
             f"halt, median / p95):", "",
             "| networks | fast lane (1 s): first network's firing finding on the queue | last network's on the queue "
             "| last network's sampled in the function | last network's received by the bench "
             "| default schedule: one invocation | its CPU time |",
             "|---|---|---|---|---|---|---|"]
    for row in data.get("rows", []):
        fl, ds = row.get("fast_lane", {}), row.get("default_schedule", {})
        lines.append(f"| {row.get('networks')} | {cell(fl, 'first_network_queued_s')} "
                     f"| {cell(fl, 'last_network_queued_s')} "
                     f"| {cell(fl, 'last_network_sampled_s')} | {cell(fl, 'last_network_s')} "
                     f"| {cell(ds, 'invocation_s')} | {cell(ds, 'cpu_s')} |")
    ratios = ", ".join(f"`{k}` {v}×" for k, v in sorted(data.get("ratios", {}).items()))
    load_avg = data.get("load_average", {})
    lines += ["", f"100 networks ÷ 1, medians: {ratios}. Load average {load_avg.get('before', ['?'])[0]} at the "
              f"start, {load_avg.get('after', ['?'])[0]} at the end; commit {data.get('commit', '?')}."]
    return "\n".join(lines)


def write_doc() -> None:
    """This section's tables between its markers in docs/benchmarks.md; nothing else changes."""
    data = load("networks")
    doc = ROOT / "docs" / "benchmarks.md"
    if data is None or not doc.exists():
        return
    text = doc.read_text()
    if BEGIN not in text:
        return  # the doc decides where the section goes
    head, rest = text.split(BEGIN, 1)
    doc.write_text(f"{head}{BEGIN}\n{table(data)}\n{END}{rest.split(END, 1)[1]}")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--child"]:
        return _child()
    from . import run as bench_run

    return bench_run.main(["networks"])


if __name__ == "__main__":
    raise SystemExit(main())
