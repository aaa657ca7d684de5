"""The fast lane's time to publish, measured through the deployed AWS check function.

    .venv/bin/python -m bench.fastlane [--trials 5] [--every 1s]

Reuses tests/deployed's harness: the CDK app synthesized (with bundling) from
tests/deployed/deployed.toml after a fresh devnet's endpoints, the sequencer_liveness function
invoked in a process of its own (a warm container running the asset's code) with its
template's handler, environment and bundled config, against a moto server. Each trial: the
function samples its window; once its first sample is on the topic (an SQS queue subscribed
to it) the sequencer is halted; the time from the halt to the firing finding on the queue is
recorded. Then heal and wait for ok. Nothing is computed: each
figure is a halt and a message received. Writes bench/results/fastlane.json.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from .common import ROOT, save, summary

WINDOW_S = 30.0


def trial(deployment: Any, check: Any, devnet: Any, queue: str) -> float | None:
    from aws_deployed import receive

    arrivals: list[tuple[float, str]] = []

    def pump(until: float, stop: Any) -> None:
        while time.monotonic() < until and not stop():
            arrivals.extend((time.monotonic(), json.loads(e["Message"])["status"]) for e in receive(deployment, queue))

    worker = threading.Thread(target=lambda: deployment.invoke(check, {}, {}, remaining_s=WINDOW_S + 10.0))
    worker.start()
    try:
        pump(time.monotonic() + 20, lambda: bool(arrivals))
        if not arrivals or arrivals[0][1] != "ok":
            return None
        devnet.fault("halt-sequencer")
        halted = time.monotonic()
        pump(halted + WINDOW_S, lambda: any(s == "firing" for _, s in arrivals))
    finally:
        devnet.heal()
        worker.join(WINDOW_S + 60)
        pump(time.monotonic() + 1, lambda: False)
    firing = [t for t, s in arrivals if s == "firing"]
    return firing[0] - halted if firing else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--every", default="1s", help="[schedules] fast_lane_every for the synthesized app")
    args = parser.parse_args(argv)
    sys.path[:0] = [str(ROOT / "tests" / "deployed"), str(ROOT / "tests")]
    import os

    import boto3
    from aws_deployed import REGION, AwsDeployment, subscribe_queue, synthesize
    from conftest import keyed_urls, network_block
    from opwatch.config import load_config
    from opwatch.runner import run_checks
    from opwatch_devnet.topology import Devnet
    from remedies_fixtures import start_moto

    work = Path(tempfile.mkdtemp(prefix="bench-fastlane-"))
    with Devnet.start(work / "devnet") as devnet:
        # As tests/deployed configures it: keyless named URLs in the bundle, the keyed ones in the secret.
        network = network_block(devnet)
        static = (ROOT / "tests" / "deployed" / "deployed.toml").read_text()
        static = re.sub(r'^fast_lane_every = ".*"$', f'fast_lane_every = "{args.every}"', static, flags=re.M)
        config = work / "opwatch.toml"
        config.write_text(network + "\n" + static)
        [template] = synthesize(config, work / "cdk.out").values()
        server, endpoint = start_moto()
        os.environ.update({"AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                           "AWS_SECRET_ACCESS_KEY": "testing", "POWERTOOLS_TRACE_DISABLED": "true"})
        d = AwsDeployment(template, work / "cdk.out",
                          lambda s: boto3.client(s, endpoint_url=endpoint, region_name=REGION))
        try:
            d.provision({"opwatch/rpc-endpoints-AbCdEf": json.dumps(keyed_urls(devnet))})
            [check] = [f for n, f in d.functions().items() if n.endswith("-devnet-sequencer-liveness")]
            queue = subscribe_queue(d, d.environment(check)["FINDINGS_TOPIC_ARN"], "bench", None)
            healthy = load_config(devnet.write_config(work / "healthy.toml"))
            latencies = []
            for i in range(args.trials):
                devnet.wait_for(lambda: run_checks(healthy, ["devnet"], ["sequencer_liveness"]).findings[0].status
                                == "ok", timeout=90)
                latency = trial(d, check, devnet, queue)
                print(f"trial {i + 1}: {latency if latency is None else round(latency, 2)} s", flush=True)
                if latency is not None:
                    latencies.append(latency)
        finally:
            d.close()  # the warm containers (one process per function)
            server.stop()
    limit = load_config(config).network("devnet")
    result = {"fast_lane_every": args.every, "block_time_s": limit.block_time,
              "halt_to_topic_s": summary(latencies), "trials": args.trials,
              "command": f"python -m bench.fastlane --trials {args.trials} --every {args.every}"}
    print(json.dumps(result, indent=2))
    print(save("fastlane", result))


if __name__ == "__main__":
    main()
