"""`opwatch alerts --state FILE`: open alerts, recent transitions and dead letters.

Wired into the `opwatch` command by cli/main.py:

    from ..alerting import cli as alerts_cli
    alerts_cli.add_parser(sub)            # in build_parser
    if args.command == "alerts": return alerts_cli.run(args)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from .model import AlertState, Phase, Transition
from .store.sqlite import SqliteStore

EXIT_USAGE = 2


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "alerts", help="open alerts and recent transitions from a state file")
    parser.add_argument("--state", required=True, help="the SQLite alert state file")
    parser.add_argument("--key", help="only this dedup_key's history")
    parser.add_argument("--limit", type=int, default=20, help="recent transitions to show (default 20)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    return parser


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if not Path(args.state).is_file():
        print(f"opwatch: {args.state}: no such state file", file=sys.stderr)
        return EXIT_USAGE
    store = SqliteStore(args.state)
    try:
        alerts = store.open_alerts()
        if args.key:
            alerts = [a for a in alerts if a.key == args.key]
        history = store.transitions(args.key, limit=args.limit)
        letters = store.dead_letters(limit=args.limit)
    finally:
        store.close()
    if args.format == "json":
        json.dump({"open": [a.to_dict() for a in alerts], "transitions": [t.to_dict() for t in history],
                   "dead_letters": [d.to_dict() for d in letters]}, out, indent=2, sort_keys=True)
        out.write("\n")
        return 0
    out.write(render(alerts, history) + "\n")
    if letters:
        out.write("\nUNDELIVERED\n")
        for d in letters:
            out.write(f"{d.at}  {d.action} {d.dedup_key} via {d.channel}: {d.error}\n")
    return 0


def _status(a: AlertState) -> str:
    parts = []
    if a.phase in (Phase.PENDING, Phase.FIRING):
        parts.append(f"{a.phase.upper()}" + (f" #{a.incident}" if a.phase == Phase.FIRING else ""))
    if a.blind:
        parts.append("BLIND")
    return "+".join(parts)


def render(alerts: list[AlertState], history: list[Transition]) -> str:
    lines = ["OPEN ALERTS" if alerts else "no open alerts"]
    for a in alerts:
        what = a.unknown_reason if a.blind and a.phase not in (Phase.PENDING, Phase.FIRING) else a.summary
        lines.append(f"  {_status(a):<14} {a.severity:<8} {a.network}/{a.check}/{a.target}  "
                     f"{a.observed or '?'} (limit {a.threshold or '?'})  "
                     f"since {a.bad_since or a.unknown_since}  {what}")
    lines.append("")
    lines.append("RECENT TRANSITIONS" if history else "no transitions recorded")
    for t in history:
        extra = f"  [{t.detail}]" if t.detail else ""
        lines.append(f"  {t.at}  {t.kind:<13} {t.network}/{t.check}/{t.target}  {t.observed}  {t.summary}{extra}")
    return "\n".join(lines)
