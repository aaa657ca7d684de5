"""Time to detect a halted sequencer at 1 and at 100 networks in one deployment, measured
through the deployed AWS check function.

    .venv/bin/python -m bench.networks_ttd [--trials 5] [--networks 1 100] [--every 1s]

The harness is bench.fastlane's (tests/deployed's): for each network count N, the CDK app is
synthesized (with bundling) from a config with N networks, and the sequencer_liveness check
function(s) of the template run with their handler, environment and bundled config in warm
worker processes against a moto server, the findings topic subscribed to an SQS queue. With
`[aws] layout = "per_check"` that is one function over all N networks; with `per_network`, one
function per network, all invoked at once as their schedules would.

The N networks are one L2 (`devnet`, its sequencer and L1 endpoint keyless named URLs whose
keyed URLs are in the `rpc_endpoints` secret, as tests/deployed deploys it) and N - 1 others
(`l3-01`, ...), every one with endpoints of its own: bench.nodefarm nodes (a 50 ms round trip
each, one farm process per endpoint kind: L1, L2 sequencer, op-node rollup) in front of ONE
devnet, so a network costs the same round trips at every N, and halting the devnet's
sequencer stops every network's head at the same instant.

Fast lane (`fast_lane_every`, 1 s by default), per trial: the function's first sample is on
the queue as an ok for every network; the sequencer is halted; the time from the halt to the
first firing finding of the FIRST network and of the LAST network is recorded three ways: as
the function logged it (the sample that saw it, just before the publish), as SQS stamped its
arrival from the topic, and as received from the queue (the headline, as in bench.fastlane);
heal; wait for ok. Default schedule (no fast lane, a second synth with `fast_lane = false`):
after the halt has had time to show (the head older than its limit), the function is invoked
once, and the invocation's wall time (what one scheduled run adds to detection) is recorded,
with every network's finding asserted firing, the part before its last finding's log line (the
sample) and the worker's CPU time.
Nothing is computed: each figure is a halt and a message received, or an invocation timed.
Writes bench/results/networks-ttd.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from . import nodefarm
from .common import ROOT, save, summary
from .scale import LATENCY_S, _farm

WINDOW_S = 30.0  # the fast lane's sampling window per invocation (a Lambda's time left, minus its reserve)
CHECK = "sequencer_liveness"
_UPSTREAM_CONNECTS = 4  # concurrent connections to the op-node stand-in (see farms)
L2 = "devnet"  # the first network: the devnet's own endpoints, as tests/deployed deploys it
# Lines of the devnet's network block that name endpoints the other networks do not have
# (sequencer_liveness reads the sequencer and, when it fires, the op-node).
_DROPPED = ("rpc_nodes", "trusted_l2_rpc", "conductors", "sequencer_nodes", "rollup_nodes")


def network_names(count: int) -> list[str]:
    return [L2, *(f"l3-{i:02d}" for i in range(1, count))]


def config_text(devnet: Any, count: int, farms: dict[str, list[str]], every: str, fast_lane: bool) -> str:
    """tests/deployed's config (deployed.toml after the devnet's network block) with `count`
    networks, each with the devnet's thresholds, all in the deployed environment. Network i
    reads farm node i of each kind; the first network's sequencer and L1 endpoint are keyless
    named URLs, as tests/deployed deploys them (`secret_value` holds the farm URLs)."""
    from conftest import keyless_url, network_block

    static = (ROOT / "tests" / "deployed" / "deployed.toml").read_text()
    static = re.sub(r'^fast_lane_every = ".*"$', f'fast_lane_every = "{every}"', static, flags=re.M)
    static = re.sub(r"^fast_lane = .*$", f"fast_lane = {'true' if fast_lane else 'false'}", static, flags=re.M)
    names = network_names(count)
    static = re.sub(r'^networks = \["devnet"\]$', "networks = [" + ", ".join(f'"{n}"' for n in names) + "]",
                    static, count=1, flags=re.M)
    thresholds = re.search(r"^\[networks\.devnet\.thresholds\]\n(?:[^\[\n].*\n)+", static, re.M)
    assert thresholds is not None, "deployed.toml has no [networks.devnet.thresholds]"
    body = "\n".join(line for line in network_block(devnet).splitlines()
                     if not line.startswith(("[networks.", "#", *(f"{k} =" for k in _DROPPED))))
    blocks = []
    for i, name in enumerate(names):
        if i == 0:
            l1 = f'[{{ url = "{keyless_url("l1-0")}", name = "l1-0" }}]'
            l2 = f'{{ url = "{keyless_url("sequencer")}", name = "sequencer" }}'
        else:
            l1, l2 = f'["{farms["l1"][i]}"]', f'"{farms["l2"][i]}"'
        block = re.sub(r"^l1_rpc = .*$", _literal(f"l1_rpc = {l1}"), body, flags=re.M)
        block = re.sub(r"^l2_rpc = .*$", _literal(f"l2_rpc = {l2}"), block, flags=re.M)
        block = re.sub(r"^rollup_rpc = .*$", f'rollup_rpc = "{farms["rollup"][i]}"', block, flags=re.M)
        blocks.append(f"[networks.{name}]\n{block}\n" + ("" if i == 0 else "\n" + thresholds.group(0).replace(
            "[networks.devnet.thresholds]", f"[networks.{name}.thresholds]")))
    return "\n".join(blocks) + "\n" + static


def _literal(text: str) -> Callable[[re.Match[str]], str]:
    """A re.sub replacement taken as is (no group references)."""
    return lambda _match: text


def secret_value(farms: dict[str, list[str]]) -> str:
    """The `rpc_endpoints` secret: the first network's keyed URLs (farm node 0 of each kind)."""
    return json.dumps({"sequencer": farms["l2"][0], "l1-0": farms["l1"][0]})


@contextlib.contextmanager
def farms(devnet: Any) -> Iterator[dict[str, list[str]]]:
    """One bench.nodefarm process per endpoint kind, 100 nodes each, every node a 50 ms round trip
    to the devnet's own server of that kind: the L1 and sequencer anvils and the op-node stand-in
    themselves. Every network, the first included, reads through them, so a network costs the
    same round trips at every N. Not through the devnet's fault proxies: at 100 networks some of
    their answers came back HTTP 502 from the farm (`unknown` findings), as the op-node stand-in's
    did. The op-node stand-in, an HTTP/1.0 server with a listen backlog of 5, is reached over at
    most `_UPSTREAM_CONNECTS` connections at a time (bench.nodefarm's `--upstream-connections`):
    a queue the farm adds, counted in the figures against opwatch. Real op-nodes are a hundred
    machines."""
    with contextlib.ExitStack() as stack:
        yield {"l1": stack.enter_context(_farm([devnet.l1_url], "fast")),
               "l2": stack.enter_context(_farm([devnet.l2_url], "fast")),
               "rollup": stack.enter_context(nodefarm.running([devnet.rollup_url], count=100, latency=LATENCY_S,
                                                              upstream_connections=_UPSTREAM_CONNECTS))}


class Queue:
    """The findings queue: each receive stamps its messages, then deletes them in one batch call.
    Not one delete per message: at 100 networks that delayed the last network's message behind
    the first's. Nor none: messages left in flight made moto's every receive slower (a first run
    at 100 networks: the last network's arrival grew from 3.6 s to 13.4 s over five trials and
    the function's publishes slowed with it, moto and the devnet sharing this process)."""

    def __init__(self, deployment: Any, url: str) -> None:
        self.sqs = deployment.client("sqs")
        self.url = url

    def drain(self) -> None:
        while self.receive():
            pass

    def receive(self) -> list[tuple[float, float, dict[str, Any]]]:
        """(received, monotonic; queued, epoch seconds as SQS stamped it; finding) per message."""
        reply = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                         AttributeNames=["SentTimestamp"])
        now = time.monotonic()
        messages = reply.get("Messages", [])
        if messages:
            self.sqs.delete_message_batch(QueueUrl=self.url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
        return [(now, int(m["Attributes"]["SentTimestamp"]) / 1000, json.loads(json.loads(m["Body"])["Message"]))
                for m in messages]


def _invoke_all(deployment: Any, functions: Sequence[Any], remaining_s: float,
                replies: list[Any] | None = None) -> list[threading.Thread]:
    """Every function invoked at once, as their schedules fire; each reply appended to `replies`."""
    def one(fn: Any) -> None:
        reply = deployment.invoke(fn, {}, {}, remaining_s=remaining_s)
        if replies is not None:
            replies.append(reply)

    threads = [threading.Thread(target=one, args=(fn,)) for fn in functions]
    for t in threads:
        t.start()
    return threads


def fast_lane_trial(deployment: Any, functions: Sequence[Any], devnet: Any, queue: Queue,
                    names: Sequence[str]) -> dict[str, Any] | None:
    """Halt once every network's first sample is an ok on the queue; the time to each network's
    first firing finding. None when a first sample was not ok or a network never fired."""
    arrivals: list[tuple[float, float, dict[str, Any]]] = []

    def pump(until: float, done: Callable[[], bool]) -> None:
        while time.monotonic() < until and not done():
            arrivals.extend(queue.receive())

    def seen(status: str) -> set[str]:
        return {f["network"] for _, _, f in arrivals if f["status"] == status and f["check"] == CHECK}

    queue.drain()  # what earlier trials left
    replies: list[Any] = []
    threads = _invoke_all(deployment, functions, WINDOW_S + 10.0, replies)
    halted = halted_epoch = 0.0
    try:
        pump(time.monotonic() + 30, lambda: len(seen("ok") | seen("firing") | seen("unknown")) == len(names))
        if seen("ok") != set(names):
            odd = [f for _, _, f in arrivals if f["status"] != "ok"][:2]
            print(f"  first samples not all ok: {len(seen('ok'))} ok of {len(names)}; "
                  f"{[(f['network'], f['status'], f.get('summary')) for f in odd]}", flush=True)
            return None
        devnet.fault("halt-sequencer")
        halted, halted_epoch = time.monotonic(), time.time()
        pump(halted + WINDOW_S, lambda: seen("firing") == set(names))
    finally:
        devnet.heal()
        for t in threads:
            t.join(WINDOW_S + 60)
        pump(time.monotonic() + 1, lambda: False)
    first: dict[str, tuple[float, float]] = {}
    for received, queued, f in arrivals:
        if f["status"] == "firing" and f["check"] == CHECK and f["network"] not in first and received >= halted:
            first[f["network"]] = (received - halted, queued - halted_epoch)
    if set(first) != set(names):
        print(f"  {len(names) - len(first)} networks never fired in the window", flush=True)
        return None
    sampled = _sampled(deployment, functions, halted_epoch)
    if set(sampled) != set(names):
        print(f"  {len(names) - len(sampled)} networks have no firing finding in the function's log", flush=True)
        return None
    received_s = sorted(r for r, _ in first.values())
    queued_s = sorted(q for _, q in first.values())
    return {"first_network_sampled_s": min(sampled.values()), "last_network_sampled_s": max(sampled.values()),
            "samples": sum(r["samples"] for r in replies) / max(1, len(replies)),
            "first_network_s": received_s[0], "last_network_s": received_s[-1],
            "first_network_queued_s": queued_s[0], "last_network_queued_s": queued_s[-1]}


def _sampled(deployment: Any, functions: Sequence[Any], since_epoch: float) -> dict[str, float]:
    """Network -> seconds from `since_epoch` to its first firing finding in the function's own log
    (the finding's log line, written as its sample ends and just before the publish): detection in
    the function, before the topic and the queue."""
    from datetime import datetime

    out: dict[str, float] = {}
    for fn in functions:
        for line in deployment.workers[fn.name].log.read_text().splitlines():
            if '"status":"firing"' not in line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            at = datetime.fromisoformat(record["time"]).timestamp()
            if record.get("check") == CHECK and at >= since_epoch and record["network"] not in out:
                out[record["network"]] = at - since_epoch
    return out


def default_schedule_trial(deployment: Any, functions: Sequence[Any], devnet: Any, queue: Queue,
                           names: Sequence[str], limit_s: float) -> dict[str, float] | None:
    """One scheduled run (no fast lane) after the halt has had time to show: its wall time, with
    every network's finding on the queue asserted firing, and how much of it came before the
    last finding's log line (the sample over every network; the rest is the publish to the
    topic, here moto's, and the reply). The clock starts at the invocations."""
    devnet.fault("halt-sequencer")
    try:
        time.sleep(limit_s + 2.0)  # the head past its limit, with a block time to spare
        queue.drain()  # what earlier runs left
        cpu_before = _cpu_s(deployment, functions)
        started, started_epoch = time.monotonic(), time.time()
        for t in _invoke_all(deployment, functions, 60.0):
            t.join(120)
        wall = time.monotonic() - started
        cpu = _cpu_s(deployment, functions) - cpu_before
    finally:
        devnet.heal()
    statuses: dict[str, str] = {}
    deadline = time.monotonic() + 10
    while len(statuses) < len(names) and time.monotonic() < deadline:
        statuses.update({f["network"]: f["status"] for _, _, f in queue.receive() if f["check"] == CHECK})
    sampled = _sampled(deployment, functions, started_epoch)
    if set(statuses) != set(names) or set(statuses.values()) != {"firing"} or set(sampled) != set(names):
        print(f"  default schedule: {sum(s == 'firing' for s in statuses.values())} firing of {len(names)}",
              flush=True)
        return None
    return {"invocation_s": wall, "until_last_finding_logged_s": max(sampled.values()), "cpu_s": cpu}


def _cpu_s(deployment: Any, functions: Sequence[Any]) -> float:
    """The CPU time (user + system) the functions' warm worker processes have used so far: what
    Lambda's share of a vCPU at the function's memory size would have to supply."""
    total = 0
    for fn in functions:
        fields = Path(f"/proc/{deployment.workers[fn.name].proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


def measure(devnet: Any, count: int, trials: int, every: str, work: Path) -> dict[str, Any]:
    import boto3
    from aws_deployed import REGION, AwsDeployment, subscribe_queue, synthesize
    from opwatch.config import load_config, parse_config
    from opwatch.runner import run_checks
    from remedies_fixtures import start_moto

    names = network_names(count)
    healthy = load_config(devnet.write_config(work / "healthy.toml"))
    row: dict[str, Any] = {"networks": count, "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    with farms(devnet) as urls:
        for lane in (True, False):
            out = work / f"n{count}-{'fast' if lane else 'default'}"
            out.mkdir()
            text = config_text(devnet, count, urls, every, lane)
            config = out / "opwatch.toml"
            config.write_text(text)
            limit_s = parse_config(text).network(L2).thresholds.sequencer_max_head_age
            started = time.monotonic()
            [template] = synthesize(config, out / "cdk.out").values()
            synth_s = time.monotonic() - started
            server, endpoint = start_moto()
            os.environ.update({"AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": REGION,
                               "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                               "POWERTOOLS_TRACE_DISABLED": "true"})
            def client(service: str, endpoint: str = endpoint) -> Any:
                return boto3.client(service, endpoint_url=endpoint, region_name=REGION)

            d = AwsDeployment(template, out / "cdk.out", client)
            try:
                d.provision({"opwatch/rpc-endpoints-AbCdEf": secret_value(urls)})
                functions = [f for n, f in sorted(d.functions().items()) if n.endswith("-sequencer-liveness")]
                served = sorted(n for f in functions for n in d.environment(f)["OPWATCH_NETWORK"].split(","))
                assert served == sorted(names), f"the functions serve {len(served)} networks, not {count}"
                topic = d.environment(functions[0])["FINDINGS_TOPIC_ARN"]
                queue = Queue(d, subscribe_queue(d, topic, f"bench-n{count}-{int(lane)}", None))
                stack = {"functions": len(functions), "function_names": [f.name for f in functions][:3],
                         "resources": len(template["Resources"]), "synth_s": round(synth_s, 1)}

                def wait_healthy() -> None:
                    devnet.wait_for(lambda: run_checks(healthy, [L2], [CHECK]).findings[0].status == "ok",
                                    timeout=90)

                if lane:
                    results = []
                    for i in range(trials):
                        wait_healthy()
                        result = fast_lane_trial(d, functions, devnet, queue, names)
                        print(f"N={count} fast lane trial {i + 1}: "
                              f"{result and {k: round(v, 2) for k, v in result.items()}}", flush=True)
                        if result is not None:
                            results.append(result)
                    row["fast_lane"] = {"stack": stack, "trials": trials, **{
                        key: summary([r[key] for r in results]) for key in
                        ("first_network_sampled_s", "last_network_sampled_s", "first_network_s",
                         "last_network_s", "first_network_queued_s", "last_network_queued_s")},
                        "last_network_s_each": [round(r["last_network_s"], 3) for r in results],
                        # One invocation's samples in its window: the window over this is the mean
                        # sample period (a sample that takes longer than fast_lane_every delays the next).
                        "samples_per_invocation": summary([r["samples"] for r in results])}
                else:
                    wait_healthy()
                    for t in _invoke_all(d, functions, 60.0):  # warm the containers (a cold start is not the figure)
                        t.join(120)
                    runs = []
                    for i in range(trials):
                        wait_healthy()
                        run = default_schedule_trial(d, functions, devnet, queue, names, limit_s)
                        print(f"N={count} default schedule trial {i + 1}: "
                              f"{run and {k: round(v, 3) for k, v in run.items()}}", flush=True)
                        if run is not None:
                            runs.append(run)
                    keys = ("invocation_s", "until_last_finding_logged_s", "cpu_s")
                    row["default_schedule"] = {"stack": stack, "trials": trials, "head_age_limit_s": limit_s,
                                               **{key: summary([r[key] for r in runs]) for key in keys}}
            finally:
                d.close()
                server.stop()
    return row


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--networks", type=int, nargs="+", default=[1, 100])
    parser.add_argument("--every", default="1s", help="[schedules] fast_lane_every for the synthesized app")
    parser.add_argument("--no-save", action="store_true", help="print the result, do not write the JSON file")
    args = parser.parse_args(argv)
    assert all(1 <= n <= 100 for n in args.networks), "1 to 100 networks (the farms hold 100 nodes each)"
    sys.path[:0] = [str(ROOT / "tests" / "deployed"), str(ROOT / "tests")]
    from opwatch_devnet.topology import Devnet

    work = Path(tempfile.mkdtemp(prefix="bench-networks-ttd-"))
    load_before = os.getloadavg()
    rows = []
    with Devnet.start(work / "devnet") as devnet:
        for count in args.networks:
            rows.append(measure(devnet, count, args.trials, args.every, work))
    by = {r["networks"]: r for r in rows}
    lo, hi = min(by), max(by)
    ratios = {}
    if lo != hi:
        for lane, key in (("fast_lane", "first_network_s"), ("fast_lane", "last_network_s"),
                          ("fast_lane", "first_network_sampled_s"), ("fast_lane", "last_network_sampled_s"),
                          ("default_schedule", "invocation_s")):
            a, b = by[lo][lane][key]["median"], by[hi][lane][key]["median"]
            if a and b:
                ratios[f"{lane}.{key}.median_{hi}_vs_{lo}"] = round(b / a, 2)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    result = {"commit": commit.stdout.strip(),
              "fast_lane_every": args.every, "farm_round_trip_s": LATENCY_S, "window_s": WINDOW_S, "rows": rows,
              "ratios": ratios, "layout": "as the synthesized app deploys it (see each row's stack)",
              "load_average": {"before": [round(x, 2) for x in load_before],
                               "after": [round(x, 2) for x in os.getloadavg()]},
              "command": f"python -m bench.networks_ttd --trials {args.trials} --networks "
                         f"{' '.join(map(str, args.networks))} --every {args.every}"}
    print(json.dumps(result, indent=2))
    if not args.no_save:
        print(save("networks-ttd", result))


if __name__ == "__main__":
    main()
