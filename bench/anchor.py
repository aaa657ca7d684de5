"""The anchor, run for real: Prometheus + Alertmanager beside opwatch, on the same faults.

    .venv/bin/python -m bench.anchor [--trials 5] [--faults halt-sequencer stop-batcher ...] [--deployed]

One devnet (real anvil nodes, 1 s blocks) whose op-node, op-batcher and op-geth stand-ins
expose the real components' metrics (devnet/opwatch_devnet/metrics.py). Against it, in the
same run and on the same injected faults:

- the real Prometheus and Alertmanager (Debian's `prometheus`, `prometheus-alertmanager`)
  twice, with the rules and settings in bench/anchor/: *common* (scrape and evaluate every
  15 s, `for: 1m`, `group_wait: 30s`) and *aggressive* (5 s, no `for`, `group_wait: 0s`), each
  delivering to a webhook receiver here that records when each notification arrives;
- opwatch as bench.ttd runs it: every check every 1 s in this process (the cadence of the
  sequencer fast lane's sampling), through the real alert manager with its default holds to
  the PagerDuty Events v2 stand-in (warnings to the chat stand-in). Not through a deployed
  handler: bench.fastlane measures that path for the halted sequencer, and so does this
  bench with `--deployed`, in the same trials (bench/results/anchor-...-deployed.json).

Each trial: wait until all three are quiet, inject, wait for opwatch's page and both anchors'
notifications (or a deadline), heal. Reported per fault: opwatch's time to finding and to page,
each anchor's time to its webhook, medians, p95 and the anchor ÷ opwatch ratio; opwatch on its
default cloud schedules is computed from this run's measured findings (schedule phase and
holds, as bench.ttd computes it) and labelled so. Writes bench/results/anchor.json.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .common import ROOT, summary

ANCHOR = ROOT / "bench" / "anchor"
SETTINGS = {
    "common": {"scrape_s": 15, "eval_s": 15, "for_s": 60, "group_wait_s": 30},
    "aggressive": {"scrape_s": 5, "eval_s": 5, "for_s": 0, "group_wait_s": 0},
}
# fault -> (opwatch's check, as bench.ttd counts it; the anchor alerts that detect it)
FAULTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "halt-sequencer": ("sequencer_liveness", ("OpNodeUnsafeHeadStalled",)),
    "stop-batcher": ("batch_submission", ("OpBatcherNoBatchLanded", "OpNodeSafeHeadLag")),
    "drain-batcher": ("wallet_runway", ("OpBatcherBalanceCritical",)),
    "lag-rpc": ("rpc_sync", ("OpGethReplicaBehind",)),
}
SAMPLE_S = 1.0
DETECT_DEADLINE_S = 240.0  # common settings need ~2 min: a generous margin on a busy machine
SETTLE_DEADLINE_S = 240.0
# Alertmanager removes an emptied group only at its next maintenance (every 30 s); an alert
# that arrives before then joins the old group and is sent at its group_interval, not after
# group_wait. Each trial leaves that long after the previous notification of its alerts.
GROUP_GONE_S = 35.0


def binary(name: str) -> str:
    found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if not found:
        raise RuntimeError(f"'{name}' is not installed: run scripts/bootstrap as root (it apt-installs Debian's "
                           "prometheus and prometheus-alertmanager packages)")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return json.load(reply)


@dataclass(frozen=True)
class Notification:
    at: float  # monotonic, when the webhook received it
    stack: str  # "common" | "aggressive"
    status: str  # "firing" | "resolved"
    alertnames: tuple[str, ...]


@dataclass
class Webhook:
    """The receiver both Alertmanagers notify (the webhook_config payload, version 4) at
    /hook/<stack>; it records each notification's arrival."""

    notifications: list[Notification] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def start(self) -> Webhook:
        received = self.notifications

        class Hook(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                at = time.monotonic()
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                names = tuple(sorted({a["labels"].get("alertname", "") for a in body.get("alerts", [])
                                      if a.get("status") == body.get("status")}))
                received.append(Notification(at, self.path.rsplit("/", 1)[-1], body.get("status", ""), names))
                self.send_response(200)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="anchor-webhook", daemon=True).start()
        return self

    @property
    def address(self) -> str:
        assert self.server is not None
        return f"127.0.0.1:{self.server.server_address[1]}"

    def first(self, stack: str, alerts: tuple[str, ...], since: float) -> Notification | None:
        for n in list(self.notifications):
            if n.stack == stack and n.status == "firing" and n.at >= since and set(alerts) & set(n.alertnames):
                return n
        return None

    def last_about(self, stack: str, alerts: tuple[str, ...]) -> float:
        times = [n.at for n in list(self.notifications) if n.stack == stack and set(alerts) & set(n.alertnames)]
        return max(times, default=-math.inf)

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def write_targets(directory: Path, metrics_urls: dict[str, str]) -> None:
    """file_sd target files from the devnet's state ("metrics": component -> URL)."""
    directory.mkdir(parents=True, exist_ok=True)

    def entry(url: str, **labels: str) -> dict[str, Any]:
        rest = url.split("://", 1)[1]
        host, path = rest.split("/", 1)
        return {"targets": [host], "labels": {"__metrics_path__": "/" + path, **labels}}

    geth = [entry(url, node=name.split("/", 1)[1],
                  role="sequencer" if name.endswith("sequencer") else "replica")
            for name, url in sorted(metrics_urls.items()) if name.startswith("op-geth/")]
    files = {"op-node": [entry(metrics_urls["op-node"])], "op-batcher": [entry(metrics_urls["op-batcher"])],
             "op-geth": geth}
    for name, content in files.items():
        (directory / f"{name}.json").write_text(json.dumps(content, indent=1))


class Stack:
    """One Prometheus and its Alertmanager, configured from bench/anchor/ for one setting."""

    def __init__(self, setting: str, workdir: Path, metrics_urls: dict[str, str], webhook: str) -> None:
        self.setting = setting
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        for name in (f"prometheus-{setting}.yml", f"rules-{setting}.yml"):
            shutil.copy(ANCHOR / name, workdir / name)
        am_config = (ANCHOR / f"alertmanager-{setting}.yml").read_text().replace("127.0.0.1:9099", webhook)
        (workdir / f"alertmanager-{setting}.yml").write_text(am_config)
        write_targets(workdir / "targets", metrics_urls)
        am_port, prom_port = _free_port(), _free_port()
        (workdir / "targets" / f"alertmanager-{setting}.json").write_text(
            json.dumps([{"targets": [f"127.0.0.1:{am_port}"]}]))
        self.am_url, self.prom_url = f"http://127.0.0.1:{am_port}", f"http://127.0.0.1:{prom_port}"
        self._logs = [(workdir / "alertmanager.log").open("w"), (workdir / "prometheus.log").open("w")]
        self.procs = [
            subprocess.Popen([binary("prometheus-alertmanager"), f"--config.file={workdir}/alertmanager-{setting}.yml",
                              f"--storage.path={workdir}/am-data", f"--web.listen-address=127.0.0.1:{am_port}",
                              "--cluster.listen-address="], stdout=self._logs[0], stderr=subprocess.STDOUT),
            subprocess.Popen([binary("prometheus"), f"--config.file={workdir}/prometheus-{setting}.yml",
                              f"--storage.tsdb.path={workdir}/prom-data",
                              f"--web.listen-address=127.0.0.1:{prom_port}"],
                             stdout=self._logs[1], stderr=subprocess.STDOUT),
        ]

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        for url in (self.am_url, self.prom_url):
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as reply:
                        if reply.status == 200:
                            break
                except OSError:
                    pass
                if any(p.poll() is not None for p in self.procs) or time.monotonic() > deadline:
                    raise RuntimeError(f"anchor {self.setting} did not start: {self.log_tail()}")
                time.sleep(0.3)

    def log_tail(self) -> str:
        return "\n".join(p.read_text()[-2000:] for p in (self.workdir / "prometheus.log",
                                                          self.workdir / "alertmanager.log") if p.exists())

    def rule_alerts(self) -> list[dict[str, Any]]:
        """Prometheus's pending and firing alerts."""
        return list(_get(f"{self.prom_url}/api/v1/alerts")["data"]["alerts"])

    def manager_alerts(self) -> list[dict[str, Any]]:
        return [a for a in _get(f"{self.am_url}/api/v2/alerts") if a["status"]["state"] == "active"]

    def targets_up(self) -> bool:
        active = _get(f"{self.prom_url}/api/v1/targets")["data"]["activeTargets"]
        return bool(active) and all(t["health"] == "up" for t in active)

    def quiet(self) -> bool:
        return not self.rule_alerts() and not self.manager_alerts()

    def close(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in self._logs:
            log.close()


class Watcher:
    """opwatch in a thread: every check every SAMPLE_S, each round through DevnetPaging."""

    def __init__(self, config: Any, paging: Any) -> None:
        from opwatch_devnet.timeline import Watchdog

        self.paging = paging
        self.rounds: list[tuple[float, float, dict[str, str]]] = []  # started, ended, check -> worst status
        self._stop = threading.Event()
        self._watchdog = Watchdog(config, SAMPLE_S, on_round=lambda r: paging.process(r.findings))
        self._thread = threading.Thread(target=self._run, name="anchor-opwatch", daemon=True)

    def _run(self) -> None:
        rank = {"ok": 0, "unknown": 1, "firing": 2}
        while not self._stop.is_set():
            r = self._watchdog.round()
            worst: dict[str, str] = {}
            for f in r.findings:
                status = str(f.status)
                if rank.get(status, 0) >= rank.get(worst.get(f.check, "ok"), 0):
                    worst[f.check] = status
            self.rounds.append((r.started, r.ended, worst))

    def start(self) -> Watcher:
        self._thread.start()
        return self

    def finding_at(self, check: str, since: float) -> float | None:
        for started, ended, worst in list(self.rounds):
            if started >= since and worst.get(check) == "firing":
                return ended
        return None

    def page_at(self, check: str, since: float) -> float | None:
        hits = [p.at for p in self.paging.since(since, "trigger") if f"/{check}/" in p.dedup_key]
        return min(hits) if hits else None

    def quiet(self) -> bool:
        if not self.rounds or self.paging.open_incidents():
            return False
        return all(s == "ok" for s in self.rounds[-1][2].values())

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


class DeployedFastLane:
    """The halted sequencer through the deployed AWS check function, beside the anchor: the
    harness of bench.fastlane and tests/deployed (the CDK app synthesized with bundling, the
    `sequencer_liveness` function's handler, environment and bundled config in a warm worker
    process, moto SNS -> SQS), with `fast_lane_every = "1s"`. Per trial: invoke it (one
    sampling window), wait for its first finding (ok) on the topic, and after the fault record
    when its firing finding arrives."""

    def __init__(self, devnet: Any, work: Path) -> None:
        import re
        import sys

        sys.path[:0] = [str(ROOT / "tests" / "deployed"), str(ROOT / "tests")]
        import boto3
        from aws_deployed import REGION, AwsDeployment, subscribe_queue, synthesize
        from conftest import keyed_urls, network_block
        from remedies_fixtures import start_moto

        from .fastlane import WINDOW_S

        self.window_s = WINDOW_S
        static = (ROOT / "tests" / "deployed" / "deployed.toml").read_text()
        static = re.sub(r'^fast_lane_every = ".*"$', 'fast_lane_every = "1s"', static, flags=re.M)
        config = work / "opwatch-deployed.toml"
        config.write_text(network_block(devnet) + "\n" + static)
        [template] = synthesize(config, work / "cdk.out").values()
        self.server, endpoint = start_moto()
        os.environ.update({"AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": REGION,
                           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                           "POWERTOOLS_TRACE_DISABLED": "true"})
        self.d = AwsDeployment(template, work / "cdk.out",
                               lambda svc: boto3.client(svc, endpoint_url=endpoint, region_name=REGION))
        self.d.provision({"opwatch/rpc-endpoints-AbCdEf": json.dumps(keyed_urls(devnet))})
        [self.check] = [f for n, f in self.d.functions().items() if n.endswith("-devnet-sequencer-liveness")]
        self.queue = subscribe_queue(self.d, self.d.environment(self.check)["FINDINGS_TOPIC_ARN"], "anchor", None)
        self.arrivals: list[tuple[float, str]] = []
        self._worker: threading.Thread | None = None
        self._pump: threading.Thread | None = None
        self._done = threading.Event()

    def arm(self) -> bool:
        """Starts one sampling window; True once its first (ok) finding is on the topic."""
        from aws_deployed import receive

        self.arrivals = []
        self._done.clear()
        self._worker = threading.Thread(target=lambda: self.d.invoke(self.check, {}, {},
                                                                     remaining_s=self.window_s + 10.0), daemon=True)

        def pump() -> None:
            while not self._done.is_set():
                self.arrivals.extend((time.monotonic(), json.loads(e["Message"])["status"])
                                     for e in receive(self.d, self.queue))

        self._pump = threading.Thread(target=pump, daemon=True)
        self._worker.start()
        self._pump.start()
        return _wait("the deployed function's first finding", lambda: bool(self.arrivals), 30, poll=0.1) \
            and self.arrivals[0][1] == "ok"

    def firing_at(self, since: float) -> float | None:
        return next((t for t, status in list(self.arrivals) if status == "firing" and t >= since), None)

    def disarm(self) -> None:
        if self._worker is not None:
            self._worker.join(self.window_s + 60)
        self._done.set()
        if self._pump is not None:
            self._pump.join(10)

    def close(self) -> None:
        self.d.close()
        self.server.stop()


def _wait(what: str, ready: Any, timeout: float, poll: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ready():
                return True
        except OSError:
            pass
        time.sleep(poll)
    print(f"anchor: {what}: not within {timeout:.0f} s", flush=True)
    return False


def run(devnet: Any, trials: int = 5, faults: list[str] | None = None, deployed: bool = False) -> dict[str, Any]:
    """`deployed`: the halted sequencer also through the deployed AWS check function (its fast
    lane), in the same trials."""
    from opwatch.config import load_config
    from opwatch_devnet.demo import demo_thresholds
    from opwatch_devnet.paging import DevnetPaging

    chosen = faults or list(FAULTS)
    load_start = os.getloadavg()
    devnet.thresholds = demo_thresholds()  # the thresholds bench/anchor/rules-*.yml are written with
    devnet.write_config(devnet.config_path)
    config = load_config(devnet.config_path)
    urls = devnet.metrics.urls
    tmp = Path(tempfile.mkdtemp(prefix="opwatch-bench-anchor-"))
    webhook = Webhook().start()
    stacks = {s: Stack(s, tmp / s, urls, webhook.address) for s in SETTINGS}
    paging = DevnetPaging(tmp, config.section("alerting"))
    watcher = Watcher(config, paging).start()
    lane = DeployedFastLane(devnet, tmp) if deployed and "halt-sequencer" in chosen else None
    raw: dict[str, list[dict[str, Any]]] = {f: [] for f in chosen}
    started = time.monotonic()
    try:
        for stack in stacks.values():
            stack.wait_ready()
        _wait("every scrape target up", lambda: all(s.targets_up() for s in stacks.values()), 120)
        for trial in range(trials):
            for fault in chosen:
                raw[fault].append(_trial(devnet, fault, trial, watcher, stacks, webhook,
                                         lane if fault == "halt-sequencer" else None))
    finally:
        if lane is not None:
            lane.close()
        watcher.stop()
        for stack in stacks.values():
            stack.close()
        webhook.close()
        paging.close()
        shutil.rmtree(tmp, ignore_errors=True)
    rows = [_row(fault, raw[fault]) for fault in chosen]
    return {"trials": trials, "sample_s": SAMPLE_S, "settings": SETTINGS, "faults": {f: list(FAULTS[f][1])
                                                                                     for f in chosen},
            "thresholds": "opwatch_devnet.demo.demo_thresholds (1 s blocks)", "rows": rows, "raw": raw,
            "load_average_start": [round(x, 2) for x in load_start],
            "load_average_end": [round(x, 2) for x in os.getloadavg()],
            "run_s": round(time.monotonic() - started, 1), "deployed_fast_lane": lane is not None,
            "command": f"python -m bench.anchor --trials {trials} --faults {' '.join(chosen)}"
                       + (" --deployed" if lane is not None else "")}


def _trial(devnet: Any, fault: str, trial: int, watcher: Watcher, stacks: dict[str, Stack],
           webhook: Webhook, lane: DeployedFastLane | None = None) -> dict[str, Any]:
    check, alerts = FAULTS[fault]
    _wait(f"{fault} #{trial + 1}: all quiet before injecting",
          lambda: watcher.quiet() and all(s.quiet() for s in stacks.values()), SETTLE_DEADLINE_S)
    _wait(f"{fault} #{trial + 1}: old alert groups gone",
          lambda: all(time.monotonic() - webhook.last_about(s, alerts) > GROUP_GONE_S for s in stacks), 60)
    armed = lane is not None and lane.arm()
    injected = time.monotonic()
    devnet.fault(fault)
    try:
        if lane is not None and armed:
            _wait("the deployed function's firing finding", lambda: lane.firing_at(injected), lane.window_s)
        _wait(f"{fault} #{trial + 1}: every side notified",
              lambda: watcher.page_at(check, injected) is not None
              and all(webhook.first(s, alerts, injected) for s in stacks), DETECT_DEADLINE_S)
    finally:
        devnet.heal(fault)
        if lane is not None:
            lane.disarm()
    healed = time.monotonic()

    def since(at: float | None) -> float | None:
        return None if at is None else round(at - injected, 2)

    result = {"trial": trial + 1, "opwatch_finding_s": since(watcher.finding_at(check, injected)),
              "opwatch_page_s": since(watcher.page_at(check, injected))}
    if lane is not None:
        result["deployed_topic_s"] = since(lane.firing_at(injected)) if armed else None
    for s in stacks:
        hit = webhook.first(s, alerts, injected)
        result[f"{s}_s"] = since(hit.at if hit else None)
        result[f"{s}_alert"] = hit.alertnames if hit else None
        result[f"{s}_also"] = sorted({a for n in webhook.notifications if n.stack == s and n.status == "firing"
                                      and injected <= n.at <= healed for a in n.alertnames} - set(alerts))
    print(f"anchor: {fault} #{trial + 1}: {result}", flush=True)
    return result


def _values(trials: list[dict[str, Any]], key: str) -> list[float]:
    return [t[key] for t in trials if t.get(key) is not None]


def _median(trials: list[dict[str, Any]], key: str) -> float:
    return float(summary(_values(trials, key))["median"] or math.nan)


def _row(fault: str, trials: list[dict[str, Any]]) -> dict[str, Any]:
    check, alerts = FAULTS[fault]
    finding, page = _values(trials, "opwatch_finding_s"), _values(trials, "opwatch_page_s")
    row: dict[str, Any] = {"fault": fault, "check": check, "anchor_alerts": list(alerts),
                           "opwatch_finding_s": summary(finding), "opwatch_page_s": summary(page),
                           "opwatch_default_schedule_page_s": _default_schedule(check, fault, finding)}
    deployed = _values(trials, "deployed_topic_s")
    if deployed:
        row["deployed_topic_s"] = summary(deployed)
        row["deployed_ratio_common"] = round(_median(trials, "common_s") / row["deployed_topic_s"]["median"], 1)
    for s in SETTINGS:
        values = _values(trials, f"{s}_s")
        row[f"{s}_s"] = summary(values)
        row[f"{s}_missed"] = len(trials) - len(values)
        row[f"{s}_also"] = sorted({a for t in trials for a in t.get(f"{s}_also", [])})
        anchor, ours = row[f"{s}_s"]["median"], row["opwatch_page_s"]["median"]
        row[f"ratio_{s}"] = round(anchor / ours, 1) if anchor and ours else None
        sched = row["opwatch_default_schedule_page_s"]["median"]
        row[f"ratio_{s}_vs_default_schedule"] = round(anchor / sched, 2) if anchor and sched else None
    return row


def _default_schedule(check: str, fault: str, finding: list[float]) -> dict[str, Any]:
    """opwatch on its default cloud schedule, computed from this run's measured findings
    (bench.recompute.default_schedule)."""
    from .recompute import URGENT, default_schedule

    if not finding:
        return summary([])
    computed = default_schedule(check, finding, fault in URGENT)
    return {**computed["page"], "period_s": computed["period_s"], "hold_s": computed["hold_s"]}


def table(data: dict[str, Any]) -> str:
    def s(x: Any) -> str:
        return "—" if x is None else f"{x:.1f} s"

    def mp(d: dict[str, Any]) -> str:
        return f"{s(d['median'])} / {s(d['p95'])}"

    m = data.get("machine", {})
    scope = " (a run of its own: the halted sequencer, also through the deployed handler)" \
        if data.get("deployed_fast_lane") else ""
    lines = [f"### Against the anchor: Prometheus + Alertmanager, run for real{scope} (measured "
             f"{m.get('date', '?')}, {data['trials']} trials per fault)", "",
             "| fault | opwatch finding, median / p95 | opwatch page, median / p95 | anchor, common: webhook, "
             "median / p95 | ratio common ÷ opwatch | anchor, aggressive: webhook, median / p95 | "
             "ratio aggressive ÷ opwatch | opwatch, default schedule: page, median / p95 (computed) "
             "| ratio common ÷ default schedule |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in data["rows"]:
        missed = "".join(f" ({r[f'{k}_missed']} missed)" if r[f"{k}_missed"] else "" for k in ("common",))
        missed_a = f" ({r['aggressive_missed']} missed)" if r["aggressive_missed"] else ""
        d = r["opwatch_default_schedule_page_s"]
        ratio = r["ratio_common"], r["ratio_aggressive"], r["ratio_common_vs_default_schedule"]
        lines.append(
            f"| {r['fault']} → `{r['check']}` / {', '.join(f'`{a}`' for a in r['anchor_alerts'])} "
            f"| {mp(r['opwatch_finding_s'])} | {mp(r['opwatch_page_s'])} | {mp(r['common_s'])}{missed} "
            f"| {'—' if ratio[0] is None else f'{ratio[0]}×'} | {mp(r['aggressive_s'])}{missed_a} "
            f"| {'—' if ratio[1] is None else f'{ratio[1]}×'} "
            f"| {mp(d)} (every {d.get('period_s', 0) / 60:.0f} min, +{d.get('hold_s', 0):.0f} s hold) "
            f"| {'—' if ratio[2] is None else f'{ratio[2]}×'} |")
    for r in data["rows"]:
        if "deployed_topic_s" in r:
            lines += ["", f"{r['fault']}, the same trials through the deployed AWS check function's fast lane "
                      f"(`fast_lane_every = \"1s\"`; fault to the firing finding on the SNS topic): "
                      f"median / p95 {mp(r['deployed_topic_s'])} over {r['deployed_topic_s']['n']} trials; "
                      f"the anchor at common settings ÷ this: {r['deployed_ratio_common']}×."]
    also = {k: sorted({a for r in data["rows"] for a in r[f"{k}_also"]}) for k in SETTINGS}
    lines += ["", f"Machine: {m.get('cores', '?')} cores ({m.get('cpu', '?')}), load average "
              f"{data['load_average_start'][0]} at the start, {data['load_average_end'][0]} at the end; "
              f"run {data['run_s'] / 60:.0f} min; `.venv/bin/{data['command']}`."]
    if any(also.values()):
        lines += ["", "Other anchor alerts delivered while a fault was in (per fault in the raw results): "
                  + "; ".join(f"{k}: " + ", ".join(f"`{a}`" for a in names) for k, names in also.items() if names)
                  + "."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    from opwatch_devnet.topology import Devnet

    from .common import save

    parser = argparse.ArgumentParser(prog="bench.anchor", description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--faults", nargs="+", choices=list(FAULTS), default=list(FAULTS))
    parser.add_argument("--deployed", action="store_true",
                        help="the halted sequencer also through the deployed AWS check function (its fast lane)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="opwatch-bench-anchor-devnet-") as workdir, \
            Devnet.start(workdir) as devnet:
        data = run(devnet, args.trials, args.faults, args.deployed)
    # Every fault: bench/results/anchor.json; a subset or --deployed: a file of its own beside it.
    name = "anchor" + ("" if args.faults == list(FAULTS) else "-" + "-".join(args.faults)) \
        + ("-deployed" if args.deployed else "")
    path = save(name, {**data, "bench_wall_s": round(time.monotonic() - started, 1)})
    from . import report

    report.write_anchor()
    print(table({**data, "machine": {}}))
    print(f"bench: anchor done in {time.monotonic() - started:.0f} s -> {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
