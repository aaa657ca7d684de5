"""Custom metrics are emitted only when the stack asks for them (`[aws] check_metrics`): with
Powertools' `POWERTOOLS_METRICS_DISABLED=true` (the default stack) a check run writes no EMF
document, the values stay in the finding log lines the dashboard graphs."""

from __future__ import annotations

import json

import pytest
from opwatch.aws.telemetry import heartbeat, record_findings

from tests.alerting_fixtures import finding


def _emf(out: str) -> list[dict]:
    docs = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [d for d in docs if "_aws" in d]


@pytest.fixture(autouse=True)
def namespace(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "opwatch")
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)


def test_values_and_heartbeat_are_metrics_when_enabled(monkeypatch, capsys):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    record_findings([finding("ok"), finding("unknown", target="other")])
    heartbeat("mainnet", "sequencer_liveness")
    docs = _emf(capsys.readouterr().out)
    names = [m["Name"] for d in docs for m in d["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    assert names == ["sequencer_liveness", "Heartbeat"]  # an unknown (no value) is no datapoint
    assert docs[0]["target"] == "sequencer" and docs[0]["sequencer_liveness"] in (42.0, [42.0])


def test_no_metric_at_all_when_disabled(monkeypatch, capsys):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    record_findings([finding("ok"), finding("firing")])
    heartbeat("mainnet", "sequencer_liveness")
    assert _emf(capsys.readouterr().out) == []
