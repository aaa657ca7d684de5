"""`rpc_sync` from 1 to 100 RPC nodes: the run must last as long as the slowest node, not the sum.

Each node is a real HTTP endpoint on loopback: a fault proxy (in its own process) in front of
one of the devnet's two following anvil nodes, adding a fixed round-trip latency (what a node across a network
costs; on loopback a request costs almost nothing, which would hide the question). One
variant makes a single node of the set much slower, to show the run tracks it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from opwatch.config import parse_config
from opwatch.runner import run_checks

from .common import summary

COUNTS = (1, 10, 50, 100)
LATENCY_S = 0.05  # a round trip to a node in another region
SLOW_S = 0.5  # one node answering ten times slower
TRIALS = 7


def run(devnet: Any) -> dict[str, Any]:
    base = devnet.config_text().split("rpc_nodes = ")[0]
    rest = devnet.config_text().split("rpc_nodes = ")[1].split("\n", 1)[1]
    upstreams = [n.url for n in devnet.rpc_nodes]
    rows = []
    for slow in (False, True):
        # The proxies run in their own process: their CPU work must not land in the one measured.
        farm = subprocess.Popen([sys.executable, "-m", "opwatch_devnet.proxyfarm", "--count", str(max(COUNTS)),
                                 "--latency", str(LATENCY_S), *(["--slow-first", str(SLOW_S)] if slow else []),
                                 *upstreams], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert farm.stdout is not None
            urls = json.loads(farm.stdout.readline())["urls"]
            for count in COUNTS:
                listed = ", ".join(f'"{u}"' for u in urls[:count])
                config = parse_config(base + f"rpc_nodes = [{listed}]\n" + rest)
                walls, requests = [], []
                run_checks(config, check_ids=["rpc_sync"])  # warm-up
                for _ in range(TRIALS):
                    started = time.perf_counter()
                    result = run_checks(config, check_ids=["rpc_sync"])
                    walls.append(time.perf_counter() - started)
                    requests.append(result.rpc_requests)
                    assert len(result.findings) == count
                rows.append({"nodes": count, "one_slow_node": slow, "wall_s": summary(walls),
                             "rpc_requests": max(requests)})
        finally:
            farm.terminate()
            farm.wait(timeout=30)
    by = {(r["nodes"], r["one_slow_node"]): r["wall_s"]["median"] for r in rows}
    return {"latency_s": LATENCY_S, "slow_node_s": SLOW_S, "trials": TRIALS, "rows": rows,
            "proxies": "in a separate process (opwatch_devnet.proxyfarm)",
            "ratio_100_vs_1": round(by[(100, False)] / by[(1, False)], 2),
            "ratio_100_vs_1_one_slow": round(by[(100, True)] / by[(1, True)], 2)}
