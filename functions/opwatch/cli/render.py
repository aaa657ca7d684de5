"""How findings look in a terminal at 3 a.m.: worst first, aligned, value against limit."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TextIO

from ..findings import Finding, Status

_COLOURS = {Status.OK: "32", Status.FIRING: "1;31", Status.UNKNOWN: "33"}
_MARKS = {Status.OK: "ok", Status.FIRING: "FIRING", Status.UNKNOWN: "unknown"}
_ORDER = {Status.FIRING: 0, Status.UNKNOWN: 1, Status.OK: 2}


def use_colour(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def paint(text: str, status: Status, colour: bool) -> str:
    return f"\033[{_COLOURS[status]}m{text}\033[0m" if colour else text


def table(findings: Sequence[Finding], colour: bool = False) -> str:
    rows = sorted(findings, key=lambda f: (_ORDER[f.status], f.network, f.check, f.target))
    headers = ("STATUS", "NETWORK", "CHECK", "TARGET", "OBSERVED", "LIMIT", "SUMMARY")
    cells = [(_MARKS[f.status], f.network, f.check, f.target, f.observed.render(), f.threshold.render(), f.summary)
             for f in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(headers[:-1])]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers[:-1], widths, strict=True)) + "  " + headers[-1]]
    for f, row in zip(rows, cells, strict=True):
        padded = [c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)]
        padded[0] = paint(padded[0], f.status, colour)
        lines.append("  ".join(padded) + "  " + row[-1])
        if f.status == Status.FIRING:
            lines += _diagnosis_lines(f)
    return "\n".join(lines)


def _diagnosis_lines(finding: Finding) -> list[str]:
    """Under a firing row: the leading cause, then what was ruled out and what could not be told."""
    causes = finding.details.get("diagnosis")
    if not isinstance(causes, list) or not causes:
        return []
    held = [c for c in causes if isinstance(c, dict) and c.get("holds") is True]
    lines = [f"    why: {c.get('text')} ({c.get('measured')})" for c in held[:2]]
    for label, value in (("ruled out", False), ("could not tell", None)):
        names = [str(c.get("cause")) for c in causes if isinstance(c, dict) and c.get("holds") is value]
        if names:
            lines.append(f"    {label}: {', '.join(names)}")
    return lines


def skipped(rows: Sequence[tuple[str, str, str]]) -> str:
    """Under the table: the checks that did not run on a network, and why (a missing key, a section)."""
    width = max(len(f"{n}/{c}") for n, c, _ in rows)
    lines = ["SKIPPED (not configured for this network)"]
    lines += [f"  {f'{n}/{c}'.ljust(width)}  {why}" for n, c, why in sorted(rows)]
    return "\n".join(lines)


def tally(findings: Sequence[Finding]) -> str:
    counts = {s: sum(1 for f in findings if f.status == s) for s in Status}
    return f"{counts[Status.FIRING]} firing, {counts[Status.UNKNOWN]} unknown, {counts[Status.OK]} ok"


def exit_code(findings: Sequence[Finding]) -> int:
    """0 all ok, 1 any firing, 3 unknown but none firing."""
    statuses = {f.status for f in findings}
    if Status.FIRING in statuses:
        return 1
    if Status.UNKNOWN in statuses:
        return 3
    return 0


def err(message: str) -> None:
    print(f"opwatch: {message}", file=sys.stderr)
