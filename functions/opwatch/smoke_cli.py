"""`opwatch smoke`: the deployment gate (see `opwatch.smoke`).

  opwatch smoke --config FILE --network N [--format table|json] [--max-heartbeat-age 5m]
                [--heartbeat [NAME=]URL_TEMPLATE ...]

Exit codes: 0 every gate passed (or was skipped), 1 a gate failed, 2 bad usage/config.
Heartbeat peers come from `--heartbeat` (repeatable; `{network}` in the URL is replaced)
or, without it, from the config's `[heartbeat]` (every peer it names, read as the deployed
check reads it, with the read keys from the secret stores `read_key` names).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from .checks import heartbeat as heartbeat_check
from .checks.heartbeat import HeartbeatSource
from .cli import render
from .config import ConfigError, load_config, parse_duration

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    smoke: argparse.ArgumentParser = subparsers.add_parser(
        "smoke", help="deployment gate: the rollup is healthy and the deployed watchdog is alive")
    smoke.add_argument("--config", required=True, help="the opwatch TOML file")
    smoke.add_argument("--network", required=True, help="the network to gate on")
    smoke.add_argument("--format", choices=("table", "json"), default="table")
    smoke.add_argument("--heartbeat", action="append", metavar="[NAME=]URL",
                       help="a deployed watchdog's heartbeat URL template, e.g. "
                            "https://storage.googleapis.com/B/heartbeat/gcp/{network}.json (repeatable)")
    smoke.add_argument("--max-heartbeat-age", type=_duration, default=heartbeat_check.DEFAULT_MAX_AGE_S,
                       help="e.g. 5m (default)")
    return smoke


def heartbeat_sources(flags: Sequence[str] | None) -> dict[str, HeartbeatSource]:
    """`--heartbeat` items (a bare URL is named `deployed`, `deployed-2`, ...); none: `[heartbeat]`'s peers."""
    items = []
    for i, flag in enumerate(flags or ()):
        named = not flag.startswith(("http://", "https://"))
        items.append(flag if named else f"deployed{'' if i == 0 else f'-{i + 1}'}={flag}")
    return heartbeat_check.sources_from_urls(items)


def run(args: argparse.Namespace) -> int:
    from .smoke import render_text, run_smoke  # imported here: the other commands never pay for it

    try:
        config = load_config(args.config)
        config.network(args.network)
        sources = heartbeat_sources(args.heartbeat)
    except (ConfigError, ValueError) as exc:
        render.err(str(exc))
        return EXIT_USAGE
    from .cli.compose import registry

    report = run_smoke(config, args.network, sources, args.max_heartbeat_age, registry=registry())
    if args.format == "json":
        print(json.dumps(report.to_dict(), indent=2, sort_keys=True))
    else:
        print(render_text(report))
    return EXIT_OK if report.passed else EXIT_FAILED
