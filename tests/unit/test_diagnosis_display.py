"""The diagnosis where responders read it: the PagerDuty page (custom_details.diagnosis, the
summary's "here's why" kept even when the summary is cut to fit) and `opwatch check`'s table
(a line under a firing row) and JSON."""

from __future__ import annotations

import json

from opwatch.alerting.model import Notification
from opwatch.alerting.pagerduty import SUMMARY_MAX, event_for
from opwatch.cli import render
from opwatch.findings import Finding, Measure, Severity, Status

DIAGNOSIS = [
    {"cause": "wallet_cannot_pay", "holds": True, "measured": "0.01 ETH < 0.03 ETH at 40 gwei + blob 12 gwei",
     "text": "batcher wallet cannot pay for one batch"},
    {"cause": "txs_stuck", "holds": False, "measured": "pending nonce 7, mined 7", "text": "batcher txs stuck"},
    {"cause": "fees_above_caps", "holds": None, "measured": "no caps configured", "text": "fees above caps"},
]
WHY = "here's why: batcher wallet cannot pay for one batch (0.01 ETH < 0.03 ETH at 40 gwei + blob 12 gwei)"


def _notification(summary: str) -> Notification:
    return Notification(action="trigger", dedup_key="opwatch/mainnet/batch_submission/batcher", severity="critical",
                        summary=summary, network="mainnet", check="batch_submission", target="batcher",
                        runbook="docs/runbooks/batch_submission.md", timestamp="2024-01-01T00:00:00Z",
                        details={"incident": "i-1", "details": {"l1_block": 7, "diagnosis": DIAGNOSIS}})


def test_the_page_carries_the_diagnosis_and_keeps_here_is_why_in_a_long_summary() -> None:
    event = event_for(_notification(f"no batch for 300 s: {WHY}"), "https://runbooks/batch_submission")
    assert event["payload"]["custom_details"]["diagnosis"] == DIAGNOSIS
    assert event["payload"]["custom_details"]["why"] == WHY.removeprefix("here's why: ")
    long = event_for(_notification("x" * 2000 + f": {WHY}"), "u")["payload"]["summary"]
    assert len(long) <= SUMMARY_MAX and long.endswith(WHY)


def _finding(status: Status, details: dict[str, object]) -> Finding:
    return Finding(network="mainnet", check="batch_submission", target="batcher", status=status,
                   severity=Severity.CRITICAL, summary=f"no batch: {WHY}", observed=Measure(300.0, "s"),
                   threshold=Measure(60.0, "s"), observed_at="2024-01-01T00:00:00Z", details=details)


def test_the_table_shows_the_leading_causes_under_a_firing_row() -> None:
    text = render.table([_finding(Status.FIRING, {"diagnosis": DIAGNOSIS})])
    lines = text.splitlines()
    assert lines[1].startswith("FIRING")
    assert "why: batcher wallet cannot pay for one batch (0.01 ETH < 0.03 ETH" in lines[2]
    assert "ruled out: txs_stuck" in text and "could not tell: fees_above_caps" in text
    assert len(render.table([_finding(Status.OK, {})]).splitlines()) == 2
    assert json.loads(json.dumps(_finding(Status.FIRING, {"diagnosis": DIAGNOSIS}).to_dict()))["details"][
        "diagnosis"] == DIAGNOSIS
