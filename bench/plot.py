"""A dependency-free SVG of the time-to-detect distributions (bench/results/ttd.json):
one row per fault, a dot per measured trial (finding fires, page sent), and the computed
default-schedule median and p95 as a bar."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from .common import ROOT, load

OUT = ROOT / "docs" / "ttd.svg"
W, ROW, LEFT, RIGHT, TOP = 900, 46, 150, 30, 40


def render(ttd: dict[str, Any]) -> str:
    rows = ttd["rows"]
    top = max([*(r["computed_default_schedule_s"]["p95"] or 0 for r in rows),
               *(max(r.get("trials_finding_s") or [0]) for r in rows), 1.0])
    scale = (W - LEFT - RIGHT) / top

    def x(seconds: float) -> float:
        return LEFT + seconds * scale

    h = TOP + ROW * len(rows) + 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" font-family="sans-serif" '
           f'font-size="12">', f'<rect width="{W}" height="{h}" fill="white"/>',
           f'<text x="{LEFT}" y="20" font-size="14">Time to detect per fault (s): dots = measured trials '
           f'(blue: finding fires, red: page sent); bar = default schedule median..p95 (computed)</text>']
    for i, r in enumerate(rows):
        y = TOP + ROW * i + ROW / 2
        d = r["computed_default_schedule_s"]
        out.append(f'<text x="{LEFT - 8}" y="{y + 4}" text-anchor="end">{escape(r["fault"])}</text>')
        out.append(f'<line x1="{LEFT}" y1="{y}" x2="{W - RIGHT}" y2="{y}" stroke="#eee"/>')
        if d["median"] is not None:
            out.append(f'<rect x="{x(d["median"])}" y="{y - 6}" width="{max(1, (d["p95"] - d["median"]) * scale)}"'
                       f' height="12" fill="#ccc"/>')
        for t in r.get("trials_finding_s") or []:
            out.append(f'<circle cx="{x(t)}" cy="{y - 4}" r="3" fill="#1f77b4"/>')
        for t in r.get("trials_page_s") or []:
            out.append(f'<circle cx="{x(t)}" cy="{y + 4}" r="3" fill="#d62728"/>')
    axis_y = TOP + ROW * len(rows) + 10
    out.append(f'<line x1="{LEFT}" y1="{axis_y}" x2="{W - RIGHT}" y2="{axis_y}" stroke="black"/>')
    step = next(s for s in (1, 2, 5, 10, 30, 60, 120, 300, 600) if top / s <= 10)
    t = 0.0
    while t <= top:
        out.append(f'<text x="{x(t)}" y="{axis_y + 16}" text-anchor="middle">{t:g}</text>')
        t += step
    out.append("</svg>")
    return "\n".join(out)


def write() -> Path | None:
    ttd = load("ttd")
    if not ttd:
        return None
    OUT.write_text(render(ttd) + "\n")
    return OUT
