"""One `opwatch check` of every check of one network on the devnet: wall time and RPC calls."""

from __future__ import annotations

import time
from typing import Any

from opwatch.checks import CHECKS
from opwatch.config import parse_config
from opwatch.runner import run_checks

from .common import summary

TRIALS = 20


def run(devnet: Any) -> dict[str, Any]:
    config = parse_config(devnet.config_text())
    run_checks(config)  # warm-up
    walls, requests = [], []
    for _ in range(TRIALS):
        started = time.perf_counter()
        result = run_checks(config)
        walls.append(time.perf_counter() - started)
        requests.append(result.rpc_requests)
    per_check = {}
    for check_id in CHECKS:
        w, r = [], []
        for _ in range(5):
            started = time.perf_counter()
            result = run_checks(config, check_ids=[check_id])
            w.append(time.perf_counter() - started)
            r.append(result.rpc_requests)
        per_check[check_id] = {"wall_s": summary(w), "rpc_requests": max(r)}
    return {"trials": TRIALS, "all_checks": {"wall_s": summary(walls), "rpc_requests": summary(requests)},
            "per_check": per_check}
