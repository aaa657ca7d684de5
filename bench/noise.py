"""False pages under noise: a healthy devnet, unreliable RPC, and the pages it produces.

For `minutes`, every endpoint opwatch reads (through the devnet's fault proxies) fails or
answers late on a share P of requests (HTTP 503, a JSON-RPC error, or an answer past the
client's timeout), and one of the three L1 endpoints is down. The watchdog evaluates every
check every `SAMPLE_S` through the real alert manager; every notification is counted. The
target is zero. The margin: short runs at rising P report the first share that pages.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from opwatch.config import load_config

SAMPLE_S = 5.0  # a watchdog more eager than the default schedules (1 to 10 min)
BASE_P = 0.10
MARGIN_PS = (0.2, 0.3, 0.5)
MARGIN_MINUTES = 5.0


def _soak(devnet: Any, p: float, minutes: float, late_s: float) -> dict[str, Any]:
    from opwatch_devnet.paging import DevnetPaging
    from opwatch_devnet.timeline import Watchdog

    config = load_config(devnet.config_path)
    with tempfile.TemporaryDirectory() as tmp:
        paging = DevnetPaging(Path(tmp), config.section("alerting"))
        statuses: dict[str, int] = {"ok": 0, "firing": 0, "unknown": 0}
        watchdog = Watchdog(config, SAMPLE_S, on_round=lambda r: paging.process(r.findings))
        watchdog.settle(60)
        devnet.fault("flaky-rpc", p=p, delay=late_s)
        devnet.fault("l1-endpoint-down", index=0)
        rounds, started = 0, time.monotonic()
        try:
            while time.monotonic() - started < minutes * 60:
                for f in watchdog.round().findings:
                    statuses[str(f.status)] += 1
                rounds += 1
        finally:
            devnet.heal()
        pages = [{"channel": x.channel, "action": x.action, "key": x.dedup_key, "summary": x.summary}
                 for x in paging.pages]
        paging.close()
    return {"p": p, "minutes": minutes, "rounds": rounds, "findings_by_status": statuses,
            "notifications": len(pages), "pages": pages}


def run(devnet: Any, minutes: float = 30.0) -> dict[str, Any]:
    timeout = load_config(devnet.config_path).rpc.timeout
    late = timeout + 1.0  # past the client's timeout: a late answer is a failed attempt
    main = _soak(devnet, BASE_P, minutes, late)
    margin = []
    for p in MARGIN_PS:
        result = _soak(devnet, p, min(MARGIN_MINUTES, minutes), late)
        margin.append(result)
        if result["notifications"]:
            break
    first = next((m["p"] for m in margin if m["notifications"]), None)
    return {"main": main, "margin": margin, "first_p_that_pages": first, "sample_s": SAMPLE_S,
            "table": table(main, margin, first)}


def table(main: dict[str, Any], margin: list[dict[str, Any]], first: float | None) -> str:
    lines = ["### False pages under noise", "",
             f"{main['minutes']:g} min of a healthy devnet, {main['p']:.0%} of RPC answers failing or late "
             f"on every endpoint and 1 of 3 L1 endpoints down, every check evaluated every {SAMPLE_S:g} s "
             f"({main['rounds']} rounds): **{main['notifications']} notifications** "
             f"(findings: {main['findings_by_status']}).", "",
             "| share of RPC answers failing or late | minutes | rounds | notifications |", "|---|---|---|---|"]
    for m in [main, *margin]:
        lines.append(f"| {m['p']:.0%} | {m['minutes']:g} | {m['rounds']} | {m['notifications']} |")
    lines += ["", "Margin: " + (f"the first share that produced a notification was {first:.0%}." if first
                                else f"no notification up to {margin[-1]['p']:.0%} (the highest share tried).")]
    return "\n".join(lines)
