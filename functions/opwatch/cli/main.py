"""`opwatch`: the command line.

  opwatch check --config FILE [--network N] [--check ID ...] [--format table|json]
  opwatch watch --config FILE [--listen ADDR:PORT] [--page --state FILE] [--format table|json]
                                                   (the long-running service: cli/service.py)
  opwatch devnet up|down|status|fault|heal ...     (local devnet; a checkout only)
  opwatch demo                                     (the whole job on the devnet)
  opwatch alerts --store SPEC | --state FILE       (open alerts, transitions, undelivered pages)
  opwatch silence add|list|remove --store SPEC     (silences in the deployed store: alerting/cli.py)

Exit codes of check: 0 all ok, 1 any firing, 3 unknown but none firing, 2 bad usage/config.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from ..config import ConfigError, load_config, parse_duration
from ..memory import MemoryStore
from ..runner import run_checks, select_checks
from . import render, usage
from .compose import registry as local_registry
from .service import transitions as transitions  # the watch's change lines (tests read them)

EXIT_USAGE = 2


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _listen(text: str) -> tuple[str, int]:
    try:
        from .metrics import parse_listen  # loads prometheus_client: only the service needs it
    except ModuleNotFoundError as exc:
        raise argparse.ArgumentTypeError(f"--listen needs {exc.name} (pip install 'opwatch[service]')") from None
    try:
        return parse_listen(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opwatch", description="Watchdog for OP Stack rollups.")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", required=True, help="the opwatch TOML file")
        p.add_argument("--network", action="append", help="only this network (repeatable)")
        p.add_argument("--check", action="append", dest="checks", metavar="ID", help="only this check (repeatable)")
        p.add_argument("--state", metavar="FILE", help="SQLite file where checks remember their last observation "
                       "(e.g. the alert state file); without it, diagnosis has no memory")

    check = sub.add_parser("check", help="run the checks once")
    common(check)
    check.add_argument("--format", choices=("table", "json"), default="table")

    watch = sub.add_parser("watch", help="the watchdog as a service: checks on their [schedules], alerts, "
                           "metrics, JSON logs (exit 0 on SIGTERM, 2 on bad usage)")
    common(watch)
    watch.add_argument("--interval", type=_duration, default=None,
                       help="run every check every D (e.g. 10s) instead of on its [schedules] period")
    watch.add_argument("--page", action="store_true",
                       help="run the alert lifecycle and notify the sinks [alerting] routes to (needs --state; "
                            "secrets from OPWATCH_SECRET_<NAME>)")
    watch.add_argument("--format", choices=("table", "json"), default="table",
                       help="stdout: a table then changes, or every finding as a JSON line")
    watch.add_argument("--iterations", type=int, default=0, help=argparse.SUPPRESS)
    watch.add_argument("--listen", metavar="ADDR:PORT", type=_listen,
                       help="serve Prometheus metrics on http://ADDR:PORT/metrics (docs/metrics.md)")

    devnet = sub.add_parser("devnet", help="local OP Stack devnet (anvil) with fault injection",
                            add_help=False)
    devnet.add_argument("rest", nargs=argparse.REMAINDER)
    demo = sub.add_parser("demo", help="the whole job on a local devnet, with a scripted incident timeline",
                          add_help=False)
    demo.add_argument("rest", nargs=argparse.REMAINDER)
    for module_name in _EXTENSIONS:
        _add_extension(sub, module_name)
    return usage.finish(parser)


# Subcommands owned by other parts of opwatch: each module offers add_parser(subparsers)
# and run(args) -> int. A module that is not installed simply adds no command.
_EXTENSIONS = ("opwatch.alerting.cli", "opwatch.cli.remedies", "opwatch.deploy.gcp_cli", "opwatch.smoke_cli",
               "opwatch.cli.config_cmd", "opwatch.cli.completion", "opwatch.cli.init")


def _add_extension(sub: argparse._SubParsersAction, module_name: str) -> None:  # type: ignore[type-arg]
    import importlib

    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            return
        raise
    before = set(sub.choices)
    module.add_parser(sub)
    for name in set(sub.choices) - before:
        sub.choices[name].set_defaults(_extension=module.run)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("devnet", "demo"):
        # Their options belong to the devnet tool: pass them through unparsed (argparse's
        # REMAINDER would reject an option right after the subcommand).
        return _devnet_tool(argv[0], argv[1:])
    args = build_parser().parse_args(argv)
    if getattr(args, "_extension", None):
        return int(args._extension(args))
    try:
        config = load_config(args.config)
        select_checks(args.checks)
        for name in args.network or ():
            config.network(name)
    except (ConfigError, ValueError) as exc:
        render.err(str(exc))
        return EXIT_USAGE
    if args.command == "check":
        return _check(config, args)
    return _watch(config, args)


def _check(config, args) -> int:  # type: ignore[no-untyped-def]
    result = run_checks(config, args.network, args.checks, registry=local_registry(), memory=_memory(args))
    if args.format == "json":
        print(json.dumps([f.to_dict() for f in result.findings], indent=2, sort_keys=True))
        for network, check_id, why in result.skipped:  # stdout stays the findings array
            render.err(f"{network}/{check_id} not run: {why}")
    else:
        colour = render.use_colour(sys.stdout)
        print(render.table(result.findings, colour))
        print(f"\n{render.tally(result.findings)}  ({result.wall_s:.2f} s, {result.rpc_requests} RPC requests)")
        if result.skipped:
            print("\n" + render.skipped(result.skipped))
    for network, check_id, error in result.errors:  # their targets are in the findings, as unknown
        render.err(f"{network}/{check_id} failed inside opwatch: {error}")
    unrunnable = _named_but_not_run(args, list(config.networks), result.skipped)
    for network, check_id, why in unrunnable:
        render.err(f"{network}/{check_id} cannot run here: {why}")
    return EXIT_USAGE if unrunnable else render.exit_code(result.findings)


def _named_but_not_run(args: argparse.Namespace, configured: list[str],
                       skipped: Sequence[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Checks asked for by --check that cannot run where they were asked: on a network named with
    --network, or (no --network) on any configured network. Exit 2: the question was wrong."""
    if not args.checks:
        return []
    networks = set(args.network or configured)
    out = []
    for check_id in dict.fromkeys(args.checks):
        misses = [(n, c, why) for n, c, why in skipped if c == check_id and n in networks]
        if args.network or len({n for n, _, _ in misses}) == len(networks):
            out += misses
    return out


def _memory(args: argparse.Namespace) -> MemoryStore | None:
    from ..memory import SqliteMemoryStore

    return SqliteMemoryStore(args.state) if getattr(args, "state", None) else None


def _watch(config, args) -> int:  # type: ignore[no-untyped-def]
    from . import service

    return service.run(config, args, registry=local_registry(), memory=_memory(args))


def _devnet_tool(command: str, rest: list[str]) -> int:
    # The devnet ships with a checkout, not with the deployed functions: import it by name.
    import importlib

    module = "opwatch_devnet.demo" if command == "demo" else "opwatch_devnet.cli"
    try:
        tool = importlib.import_module(module)
    except ImportError:
        render.err(f"'{command}' needs the devnet package from an opwatch checkout (make setup)")
        return EXIT_USAGE
    return int(tool.run(rest))


if __name__ == "__main__":
    raise SystemExit(main())
