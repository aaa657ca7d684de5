"""`rpc_sync` from 1 to 100 RPC nodes: the run must last as long as the slowest node, not the sum.

Each node is a real HTTP endpoint on loopback (bench.nodefarm, in its own process: one event
loop standing in for nodes in another region) that holds every request for a fixed round trip
and answers with what one of the devnet's two following anvil nodes answered (on loopback a
request costs almost nothing, which would hide the question). Variants: every node at the
same round trip; one node ten times slower (the run tracks it); one node that never answers
(the run ends at the RPC timeout, that node `unknown`, the others measured).

The runs of one node count share one `Resources`, as the invocations of a warm function
container do (the threads that measure targets side by side are the container's). The farm's
own floor is measured too: a minimal one-thread client sending the same JSON-RPC batch to the
same nodes, so the ratio can be read against what the machine and the farm allow.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from opwatch.chain.rpc import RpcClient
from opwatch.checks.base import Resources
from opwatch.config import Endpoint, parse_config
from opwatch.runner import run_checks

from . import nodefarm
from .common import summary

COUNTS = (1, 10, 50, 100)
LATENCY_S = 0.05  # a round trip to a node in another region
SLOW_S = 0.5  # one node answering ten times slower
TRIALS = 7
HUNG_COUNTS = (1, 100)
HUNG_TRIALS = 3  # each lasts the RPC timeout (5 s by default)


@contextlib.contextmanager
def _farm(upstreams: Sequence[str], variant: str) -> Iterator[list[str]]:
    extra = {"fast": [], "slow": ["--slow-first", str(SLOW_S)], "hung": ["--hang-first"]}[variant]
    with nodefarm.running(upstreams, count=max(COUNTS), latency=LATENCY_S, extra=extra) as urls:
        yield urls


def _floor(urls: Sequence[str], height: int) -> float:
    """The same batch a node read sends, to every node at once (bench.nodefarm.floor)."""
    body = json.dumps([{"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
                       {"jsonrpc": "2.0", "id": 2, "method": "eth_getBlockByNumber", "params": ["latest", False]},
                       {"jsonrpc": "2.0", "id": 3, "method": "eth_getBlockByNumber",
                        "params": [hex(height), False]}]).encode()
    return nodefarm.floor(urls, body)[0]


def run(devnet: Any) -> dict[str, Any]:
    text = devnet.config_text()
    base = text.split("rpc_nodes = ")[0]
    rest = text.split("rpc_nodes = ")[1].split("\n", 1)[1]
    upstreams = [n.url for n in devnet.rpc_nodes]
    load_before = os.getloadavg()
    rows: list[dict[str, Any]] = []
    hung_rows: list[dict[str, Any]] = []
    floor: dict[str, Any] = {}
    timeout_s = None
    for variant in ("fast", "slow", "hung"):
        with _farm(upstreams, variant) as urls:
            if variant == "fast":
                height = int(RpcClient(Endpoint(upstreams[0], "node")).call("eth_blockNumber"), 16)
                for n in (1, max(COUNTS)):
                    _floor(urls[:n], height)
                    floor[str(n)] = summary([_floor(urls[:n], height) for _ in range(TRIALS)])
            for count in HUNG_COUNTS if variant == "hung" else COUNTS:
                listed = ", ".join(f'"{u}"' for u in urls[:count])
                config = parse_config(base + f"rpc_nodes = [{listed}]\n" + rest)
                timeout_s = config.rpc.timeout
                resources = Resources()  # one warm container for the runs of this count
                walls, requests, statuses = [], [], Counter[str]()
                run_checks(config, check_ids=["rpc_sync"], resources=resources)  # warm-up
                for _ in range(HUNG_TRIALS if variant == "hung" else TRIALS):
                    started = time.perf_counter()
                    result = run_checks(config, check_ids=["rpc_sync"], resources=resources)
                    walls.append(time.perf_counter() - started)
                    requests.append(result.rpc_requests)
                    assert len(result.findings) == count
                    statuses.update(f.status.value for f in result.findings)
                row = {"nodes": count, "one_slow_node": variant == "slow", "variant": variant,
                       "wall_s": summary(walls), "rpc_requests": max(requests), "statuses": dict(statuses)}
                (hung_rows if variant == "hung" else rows).append(row)
    by = {(r["nodes"], r["one_slow_node"]): r["wall_s"]["median"] for r in rows}
    top = max(COUNTS)
    return {"latency_s": LATENCY_S, "slow_node_s": SLOW_S, "trials": TRIALS, "rows": rows,
            "hung_rows": hung_rows, "hung_trials": HUNG_TRIALS, "rpc_timeout_s": timeout_s,
            "proxies": "bench.nodefarm: one event loop in a separate process, kept-alive upstream connections",
            "warm_container": "the runs of one node count share one Resources (the target threads persist)",
            "floor_s": floor, "floor_ratio_100_vs_1": round(floor[str(top)]["median"] / floor["1"]["median"], 2),
            "ratio_100_vs_1": round(by[(top, False)] / by[(1, False)], 2),
            "ratio_100_vs_1_one_slow": round(by[(top, True)] / by[(1, True)], 2),
            "load_average": {"before": [round(x, 2) for x in load_before],
                             "after": [round(x, 2) for x in os.getloadavg()]}}

