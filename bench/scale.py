"""`rpc_sync` from 1 to 100 RPC nodes: the run must last as long as the slowest node, not the sum.

Each node is a real HTTP endpoint on loopback: a fault proxy in front of one of the devnet's
two following anvil nodes, adding a fixed round-trip latency (what a node across a network
costs; on loopback a request costs almost nothing, which would hide the question). One
variant makes a single node of the set much slower, to show the run tracks it.
"""

from __future__ import annotations

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
    from opwatch_devnet.proxy import FaultProxy, ProxyMode

    base = devnet.config_text().split("rpc_nodes = ")[0]
    rest = devnet.config_text().split("rpc_nodes = ")[1].split("\n", 1)[1]
    proxies = [FaultProxy(f"bench-{i}", devnet.rpc_nodes[i % len(devnet.rpc_nodes)].url).start()
               for i in range(max(COUNTS))]
    for p in proxies:
        p.set_mode(ProxyMode("pass", latency=LATENCY_S))
    rows = []
    try:
        for slow in (False, True):
            proxies[0].set_mode(ProxyMode("pass", latency=SLOW_S if slow else LATENCY_S))
            for count in COUNTS:
                urls = ", ".join(f'"{p.url}"' for p in proxies[:count])
                config = parse_config(base + f"rpc_nodes = [{urls}]\n" + rest)
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
        for p in proxies:
            p.close()
    by = {(r["nodes"], r["one_slow_node"]): r["wall_s"]["median"] for r in rows}
    return {"latency_s": LATENCY_S, "slow_node_s": SLOW_S, "trials": TRIALS, "rows": rows,
            "ratio_100_vs_1": round(by[(100, False)] / by[(1, False)], 2),
            "ratio_100_vs_1_one_slow": round(by[(100, True)] / by[(1, True)], 2)}
