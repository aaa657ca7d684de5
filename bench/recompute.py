"""Recompute the *computed* default-schedule columns of bench/results/ttd.json and anchor.json
from the findings they measured, with today's schedules and alert holds.

The measured figures (time to the finding, to the page, the anchor's webhooks) come from a
run and stay as they were; what opwatch would do on its default cloud schedules is computed
from them (a uniform schedule phase in [0, P) plus the hold's extra evaluations), so when a
check's schedule or hold changes, those columns can be brought up to date without rerunning
the trials:

    .venv/bin/python -m bench.recompute      # then: .venv/bin/python -c "from bench import report; report.write()"

A finding that is urgent (Verdict.urgent: it opens its incident at once) carries no hold. Which
faults' findings are urgent is what the checks decide; the two among the benchmarked faults
are listed in URGENT with the test that proves each.
"""

from __future__ import annotations

import math
import random
from typing import Any

from .common import load, save, summary

URGENT = {
    # test_checks_on_devnet.py::test_a_wallet_that_cannot_pay_is_urgent_a_runway_under_its_limit_is_not
    "drain-batcher": "a wallet that cannot pay for its next transaction",
    # tests/integration/test_sequencer_ha.py::test_two_active_sequencers_alone_are_a_split_brain
    "conductor-split": "two active sequencers",
}


def default_schedule(check: str, finding: list[float], urgent: bool, seed: int = 7) -> dict[str, Any]:
    """opwatch on its default cloud schedule, from measured times to the finding: a uniform
    schedule phase in [0, P) plus the hold's extra evaluations ("N in a row, or T seconds",
    whichever an evaluation reaches first); an urgent finding has no hold. The one place
    bench.ttd, bench.anchor and this module compute it."""
    from opwatch.alerting.policy import DEFAULT_TIMINGS
    from opwatch.deploy.schedules import DEFAULT_MINUTES

    period = DEFAULT_MINUTES[check] * 60.0
    hold = DEFAULT_TIMINGS[check].fire
    extra = 0.0 if urgent else (hold.evaluations - 1) * period
    if hold.seconds is not None and not urgent:
        extra = min(extra, math.ceil(hold.seconds / period) * period)
    rng = random.Random(seed)
    phases = [rng.choice(finding) + rng.uniform(0, period) for _ in range(10_000)] if finding else []
    return {"period_s": period, "hold_s": extra, "finding": summary(phases),
            "page": summary([t + extra for t in phases])}


def ttd() -> None:
    from .ttd import table

    data = load("ttd")
    if data is None:
        return
    for row in data["rows"]:
        computed = default_schedule(row["check"], row["trials_finding_s"], row["fault"] in URGENT)
        row.update({"schedule_period_s": computed["period_s"], "alert_hold_s": computed["hold_s"],
                    "extra_evaluations": None if computed["period_s"] == 0 else round(computed["hold_s"]
                                                                                       / computed["period_s"]),
                    "computed_default_schedule_finding_s": computed["finding"],
                    "computed_default_schedule_s": computed["page"], "urgent": row["fault"] in URGENT})
    data["table"] = table(data["rows"], data["block_time_s"])
    data["recomputed"] = "computed columns recomputed by bench.recompute with the schedules and holds of the time"
    save("ttd", data)


def anchor() -> None:
    from .anchor import SETTINGS

    data = load("anchor")
    if data is None:
        return
    for row in data["rows"]:
        trials = data["raw"][row["fault"]]
        finding = [t["opwatch_finding_s"] for t in trials if t.get("opwatch_finding_s") is not None]
        computed = default_schedule(row["check"], finding, row["fault"] in URGENT)
        row["opwatch_default_schedule_page_s"] = {**computed["page"], "period_s": computed["period_s"],
                                                  "hold_s": computed["hold_s"]}
        sched = computed["page"]["median"]
        for s in SETTINGS:
            anchor_median = row[f"{s}_s"]["median"]
            row[f"ratio_{s}_vs_default_schedule"] = round(anchor_median / sched, 2) if anchor_median and sched else None
    data["recomputed"] = "computed columns recomputed by bench.recompute with the schedules and holds of the time"
    save("anchor", data)


def main() -> int:
    ttd()
    anchor()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
