"""Run the benchmarks and write bench/results/*.json and the tables in docs/benchmarks.md.

    .venv/bin/python -m bench.run [all|cost|scale|ttd|noise|anchor|networks|coldstart|monthly] [--minutes N]

Each benchmark that needs a chain starts its own devnet (real anvil nodes) and stops it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time

from .common import save

CHAIN = ("cost", "scale", "ttd", "noise", "anchor", "networks")
OFFLINE = ("coldstart", "monthly")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.run")
    parser.add_argument("which", nargs="*", default=["all"], choices=("all", *CHAIN, *OFFLINE))
    parser.add_argument("--minutes", type=float, default=30.0, help="noise: how long to run (default 30)")
    parser.add_argument("--trials", type=int, default=5, help="ttd, anchor: trials per fault (default 5)")
    args = parser.parse_args(argv)
    chosen = [*CHAIN, *OFFLINE] if "all" in args.which else args.which
    chain = [name for name in chosen if name in CHAIN]
    if chain:
        from opwatch_devnet.topology import Devnet

        for name in chain:  # a fresh devnet each, so one benchmark's faults never leak into the next
            with tempfile.TemporaryDirectory(prefix=f"opwatch-bench-{name}-") as workdir, \
                    Devnet.start(workdir) as devnet:
                _run(name, devnet, args)
    for name in chosen:
        if name in OFFLINE:
            _run(name, None, args)
    from . import report

    report.write()
    if "networks" in chosen:  # its own markers (bench.networks.write_doc), as the anchor has
        from .networks import write_doc

        write_doc()
    return 0


def _run(name: str, devnet: object, args: argparse.Namespace) -> None:
    module = importlib.import_module(f"bench.{name}")
    started = time.monotonic()
    print(f"bench: {name} ...", file=sys.stderr, flush=True)
    kwargs = {"minutes": args.minutes} if name == "noise" else {"trials": args.trials} if name in ("ttd", "anchor") \
        else {}
    data = module.run(devnet, **kwargs) if devnet is not None else module.run(**kwargs)
    path = save(name, {**data, "bench_wall_s": round(time.monotonic() - started, 1)})
    print(f"bench: {name} done in {time.monotonic() - started:.0f} s -> {path}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
