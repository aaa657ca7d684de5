"""Many fault proxies in their own process, for benchmarks that need many endpoints.

    python -m opwatch_devnet.proxyfarm --count 100 --latency 0.05 UPSTREAM [UPSTREAM ...]

Starts `count` proxies (round-robin over the upstreams), each adding `latency` to every
answer (a network round trip), prints one JSON line with their URLs, then serves until
stdin closes or SIGTERM. Running them in their own process keeps their CPU work out of
the process being measured, as real nodes would be.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from opwatch_devnet.proxy import FaultProxy, ProxyMode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="proxyfarm")
    parser.add_argument("upstreams", nargs="+")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--slow-first", type=float, default=0.0, help="latency of proxy 0 instead")
    args = parser.parse_args(argv)
    proxies = []
    for i in range(args.count):
        proxy = FaultProxy(f"farm-{i}", args.upstreams[i % len(args.upstreams)]).start()
        latency = args.slow_first if i == 0 and args.slow_first else args.latency
        proxy.set_mode(ProxyMode("pass", latency=latency))
        proxies.append(proxy)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    print(json.dumps({"urls": [p.url for p in proxies]}), flush=True)
    stop.wait()
    for proxy in proxies:
        proxy.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
