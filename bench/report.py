"""Render bench/results/*.json into the tables of docs/benchmarks.md (between markers)."""

from __future__ import annotations

from .common import RESULTS, ROOT, load

DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"
# The anchor (bench.anchor): its own markers, so that it can be rewritten alone.
ANCHOR_BEGIN, ANCHOR_END = "<!-- bench:anchor:begin -->", "<!-- bench:anchor:end -->"


def _fmt(value: object, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3g}{unit}"
    return f"{value}{unit}"


def tables() -> str:
    out: list[str] = []
    cost = load("cost")
    if cost:
        m = cost["machine"]
        out += [f"### Check cost (one network, devnet) — {m['date']}, {m['cpu']}, {m['cores']} cores", "",
                "| checks | wall median | wall p95 | HTTP requests (JSON-RPC batches) |", "|---|---|---|---|",
                f"| every check | {_fmt(cost['all_checks']['wall_s']['median'], ' s')} | "
                f"{_fmt(cost['all_checks']['wall_s']['p95'], ' s')} | "
                f"{_fmt(cost['all_checks']['rpc_requests']['median'])} |"]
        for cid, row in cost["per_check"].items():
            out.append(f"| {cid} | {_fmt(row['wall_s']['median'], ' s')} | {_fmt(row['wall_s']['p95'], ' s')} "
                       f"| {row['rpc_requests']} |")
        out.append("")
    scale = load("scale")
    if scale:
        out += [f"### rpc_sync from 1 to 100 nodes ({scale['latency_s'] * 1000:.0f} ms per round trip; "
                f"one slow node: {scale['slow_node_s']} s)", "",
                "| nodes | wall median | wall p95 | wall median, one node slow |", "|---|---|---|---|"]
        rows = {(r["nodes"], r["one_slow_node"]): r for r in scale["rows"]}
        for n in sorted({r["nodes"] for r in scale["rows"]}):
            fast, slow = rows[(n, False)], rows[(n, True)]
            out.append(f"| {n} | {_fmt(fast['wall_s']['median'], ' s')} | {_fmt(fast['wall_s']['p95'], ' s')} | "
                       f"{_fmt(slow['wall_s']['median'], ' s')} |")
        out += ["", f"100 nodes ÷ 1 node: **{scale['ratio_100_vs_1']}×** (one slow node: "
                f"{scale['ratio_100_vs_1_one_slow']}×).", ""]
        if "floor_s" in scale:  # bench.scale since the nodes are bench.nodefarm's
            floor = scale["floor_s"]
            out += [f"The nodes' own floor (a one-thread client sending the same batch): "
                    f"{_fmt(floor['1']['median'], ' s')} for 1, {_fmt(floor['100']['median'], ' s')} for 100 "
                    f"({scale['floor_ratio_100_vs_1']}×). Runs share one `Resources`, as a warm container's do.", ""]
            for row in scale.get("hung_rows", []):
                counts = ", ".join(f"{n} {s}" for s, n in sorted(row["statuses"].items()))
                out.append(f"- {row['nodes']} node(s), one never answering: {_fmt(row['wall_s']['median'], ' s')} "
                           f"median (RPC timeout {scale['rpc_timeout_s']:g} s); findings over "
                           f"{scale['hung_trials']} runs: {counts}")
            out.append("")
    for name in ("ttd", "noise", "coldstart", "monthly"):
        data = load(name)
        if data and "table" in data:
            out += [data["table"], ""]
            if name == "ttd":
                out += ["![time to detect per fault](ttd.svg)", ""]
    return "\n".join(out)


def write() -> None:
    from . import plot

    plot.write()
    text = DOC.read_text() if DOC.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text:
        text += f"\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    DOC.write_text(f"{head}{BEGIN}\n{tables()}\n{END}{tail}")
    write_anchor()


def write_anchor() -> None:
    """The anchor table (bench/results/anchor.json) between its markers; nothing else changes."""
    from .anchor import table

    data = load("anchor")
    if data is None or not DOC.exists():
        return
    text = DOC.read_text()
    if ANCHOR_BEGIN not in text:
        return  # the doc decides where the table goes
    head, rest = text.split(ANCHOR_BEGIN, 1)
    tail = rest.split(ANCHOR_END, 1)[1]
    extra = [load(f.stem) for f in sorted(RESULTS.glob("anchor-*.json"))]  # subsets, --deployed runs
    body = "\n\n".join(table(d) for d in [data, *extra] if d)
    DOC.write_text(f"{head}{ANCHOR_BEGIN}\n{body}\n{ANCHOR_END}{tail}")
