"""`opwatch alerts` (open alerts, recent transitions, dead letters) and `opwatch silence
add|list|remove`, on any alert store: the service's SQLite file or a deployed pager's store.

Wired into the `opwatch` command by cli/main.py (`_EXTENSIONS`): `add_parser(subparsers)` adds
both commands and `run(args)` serves them.

A store is named as the config names stores, `KIND:WHERE`, and built through the local
runtime's registry (`opwatch.cli.compose`), so this module imports no cloud:
- `sqlite:PATH`: the file `opwatch watch --page --state PATH` keeps (it must exist: a silence
  written to a new file would mute nothing);
- `dynamodb:TABLE`: the AWS stack's alert table, the stack's `AlertTable` output (the pager function's `ALERTS_TABLE`);
- `firestore:PROJECT/DATABASE`: the GCP pager's database, `[gcp] firestore_database`
  (`(default)` unless set), the pager's `OPWATCH_STATE_STORE`.
The operator's own credentials are used (AWS: the default chain; GCP: application default
credentials); the deployed pagers only read silences.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from .model import AlertState, Phase, Transition
from .silences import StoredSilence

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
STORE_HELP = ("the alert store: sqlite:PATH (the service's --state file) | dynamodb:TABLE (AWS: the stack's "
              "alert table: its AlertTable output, the pager's ALERTS_TABLE) | firestore:PROJECT/DATABASE "
              "(GCP: the pager's database, [gcp] firestore_database, '(default)' unless set)")
_EXITS = {"alerts": "0 shown, 1 the store could not be read, 2 bad usage or no such store",
          "add": "0 added (its id printed), 1 the store refused or could not be reached, 2 bad usage",
          "list": "0 listed, 1 the store could not be read, 2 bad usage",
          "remove": "0 removed (or already removed), 1 no such silence or the store failed, 2 bad usage"}


class _Refused(Exception):
    """Bad usage: a store that cannot be named or does not exist (exit 2)."""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "alerts", help="open alerts, recent transitions and undelivered pages from an alert store",
        epilog=f"exit codes: {_EXITS['alerts']}")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--store", metavar="SPEC", help=STORE_HELP)
    where.add_argument("--state", metavar="FILE", help="the SQLite alert state file (same as --store sqlite:FILE)")
    parser.add_argument("--key", help="only this dedup_key's history")
    parser.add_argument("--limit", type=int, default=20, help="recent transitions to show (default 20)")
    parser.add_argument("--format", choices=("table", "json"), default="table")

    silence = subparsers.add_parser(
        "silence", help="add, list or remove silences in the deployed alert store (no redeploy)",
        description="Silences stored next to the alert state: the pager reading that store honours them on "
                    "its next evaluation, beside the config's [[alerting.silences]]. Every silence records who "
                    "added it (OS account and host), when and why; removing one records who ended it.",
        epilog="exit codes: see each action's --help")
    actions = silence.add_subparsers(dest="action", required=True, metavar="add|list|remove")
    add = actions.add_parser("add", help="mute a network (or one check on it) until a time; prints the id",
                             epilog=f"exit codes: {_EXITS['add']}")
    add.add_argument("--store", required=True, metavar="SPEC", help=STORE_HELP)
    add.add_argument("--network", required=True, help="the network to mute")
    add.add_argument("--check", metavar="ID", help="only this check (also mutes 'opwatch cannot see' it); "
                                                   "omit to mute the whole network")
    until = add.add_mutually_exclusive_group(required=True)
    until.add_argument("--until", metavar="TIME", help="end, RFC 3339 with a zone, e.g. 2026-12-03T00:00:00Z")
    until.add_argument("--for", dest="duration", metavar="DURATION", help="end after this long, e.g. 2h or 1h30m")
    add.add_argument("--reason", required=True, help="why (kept in the audit, shown on suppressed transitions)")
    add.add_argument("--format", choices=("table", "json"), default="table")
    lst = actions.add_parser("list", help="active silences (--all: expired and removed too, the audit)",
                             epilog=f"exit codes: {_EXITS['list']}")
    lst.add_argument("--store", required=True, metavar="SPEC", help=STORE_HELP)
    lst.add_argument("--all", action="store_true", help="include expired and removed silences")
    lst.add_argument("--format", choices=("table", "json"), default="table")
    rm = actions.add_parser("remove", help="end a silence now (alerts still firing page on the next evaluation)",
                            epilog=f"exit codes: {_EXITS['remove']}")
    rm.add_argument("--store", required=True, metavar="SPEC", help=STORE_HELP)
    rm.add_argument("id", help="the silence id (sil-...), as add printed it")
    rm.add_argument("--format", choices=("table", "json"), default="table")
    return parser


def open_store(spec: str) -> Any:
    """The alert store `spec` names, built by the local runtime's registry."""
    from ..cli.compose import registry
    from ..registry import NotAvailable

    kind, sep, where = spec.partition(":")
    if not sep or not where:
        raise _Refused(f"--store: expected KIND:WHERE (sqlite:PATH, dynamodb:TABLE, firestore:PROJECT/DATABASE), "
                       f"got {spec!r}")
    if kind == "sqlite" and not Path(where).is_file():
        raise _Refused(f"{where}: no such state file (opwatch watch --page --state creates it)")
    try:
        return registry().build("alert_store", kind, where, None)
    except NotAvailable as exc:
        raise _Refused(f"--store: {exc}") from None


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from ..redact import redact_text

    out = out or sys.stdout
    command = "silence " + args.action if args.command == "silence" else "alerts"
    try:
        spec = args.store if getattr(args, "store", None) else f"sqlite:{args.state}"
        store = open_store(spec)
    except _Refused as exc:
        print(f"opwatch {command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.command == "alerts":
            return _alerts(store, args, out)
        return {"add": _add, "list": _list, "remove": _remove}[args.action](store, args, out)
    except _Refused as exc:
        print(f"opwatch {command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # the store's own errors (unreachable, denied): said, never a traceback
        print(f"opwatch {command}: {spec}: {redact_text(f'{type(exc).__name__}: {exc}')}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        store.close()


# --- alerts ------------------------------------------------------------------------------

def _alerts(store: Any, args: argparse.Namespace, out: TextIO) -> int:
    alerts = store.open_alerts()
    if args.key:
        alerts = [a for a in alerts if a.key == args.key]
    history = store.transitions(args.key, limit=args.limit)
    letters = store.dead_letters(limit=args.limit)
    now = time.time()
    silences = [s for s in store.stored_silences() if s.active(now)] if hasattr(store, "stored_silences") else []
    if args.format == "json":
        json.dump({"open": [a.to_dict() for a in alerts], "transitions": [t.to_dict() for t in history],
                   "dead_letters": [d.to_dict() for d in letters],
                   "silences": [s.to_dict() for s in silences]}, out, indent=2, sort_keys=True)
        out.write("\n")
        return EXIT_OK
    out.write(render(alerts, history) + "\n")
    if letters:
        out.write("\nUNDELIVERED\n")
        for d in letters:
            out.write(f"{d.at}  {d.action} {d.dedup_key} via {d.channel}: {d.error}\n")
    if silences:
        out.write("\nSTORED SILENCES (opwatch silence list)\n" + render_silences(silences, now) + "\n")
    return EXIT_OK


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


# --- silence add | list | remove ------------------------------------------------------------

def _add(store: Any, args: argparse.Namespace, out: TextIO) -> int:
    from ..config import parse_duration
    from ..findings import utc_now_iso
    from .policy import DEFAULT_TIMINGS
    from .silences import new_silence

    now = time.time()
    try:
        if args.duration is not None:
            until = now + parse_duration(args.duration)
        else:
            until = _moment(args.until)
        silence = new_silence(args.network, args.check, until, args.reason, now, known_checks=set(DEFAULT_TIMINGS))
    except ValueError as exc:
        raise _Refused(str(exc)) from None
    store.add_silence(silence)
    if args.format == "json":
        out.write(json.dumps(silence.to_dict(), sort_keys=True) + "\n")
    else:
        out.write(f"{silence.id}\n")
        print(f"silenced {silence.network}/{silence.check or '*'} until {utc_now_iso(silence.until)}", file=sys.stderr)
    return EXIT_OK


def _moment(text: str) -> float:
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--until: expected a time like 2026-12-03T00:00:00Z, got {text!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"--until: {text!r} has no zone; add Z (UTC) or an offset")
    return moment.timestamp()


def _list(store: Any, args: argparse.Namespace, out: TextIO) -> int:
    now = time.time()
    silences = [s for s in store.stored_silences() if args.all or s.active(now)]
    if args.format == "json":
        json.dump([s.to_dict() for s in silences], out, indent=2, sort_keys=True)
        out.write("\n")
    else:
        out.write((render_silences(silences, now) if silences else
                   "no silences" if args.all else "no active silences (--all: expired and removed too)") + "\n")
    return EXIT_OK


def _remove(store: Any, args: argparse.Namespace, out: TextIO) -> int:
    from .silences import is_silence_id, operator

    if not is_silence_id(args.id):
        raise _Refused(f"{args.id!r} is not a silence id (sil- and 12 hex digits, as add printed it)")
    silence = store.remove_silence(args.id, operator(), time.time())
    if silence is None:
        print(f"opwatch silence remove: no silence {args.id} in this store", file=sys.stderr)
        return EXIT_FAILED
    if args.format == "json":
        out.write(json.dumps(silence.to_dict(), sort_keys=True) + "\n")
    else:
        out.write(render_silences([silence], time.time()) + "\n")
    return EXIT_OK


def render_silences(silences: list[StoredSilence], now: float) -> str:
    from ..findings import utc_now_iso

    lines = [f"  {'ID':<16} {'STATE':<8} {'NETWORK/CHECK':<32} {'UNTIL':<21} WHO / WHY"]
    for s in silences:
        state = "removed" if s.removed_at else "active" if s.active(now) else "expired"
        ended = f"; removed {utc_now_iso(s.removed_at)} by {s.removed_by}" if s.removed_at else ""
        lines.append(f"  {s.id:<16} {state:<8} {s.network + '/' + (s.check or '*'):<32} {utc_now_iso(s.until):<21} "
                     f"{s.created_by} at {utc_now_iso(s.created_at)}: {s.reason}{ended}")
    return "\n".join(lines)
