"""docs/grafana/: the dashboards scripts/grafana.py builds with grafana-foundation-sdk are the
committed ones, load back into the SDK's typed model, and query only metrics opwatch emits."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from grafana_foundation_sdk.models.dashboard import Dashboard as DashboardModel
from opwatch.checks import CHECKS
from prometheus_server import exported_metric_names

ROOT = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("opwatch_grafana", ROOT / "scripts" / "grafana.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


grafana = _script()


def _panels(name: str) -> list[dict[str, Any]]:
    data = json.loads((ROOT / "docs" / "grafana" / name).read_text())
    return [p for p in data["panels"] if p["type"] != "row"]


def test_committed_json_is_what_the_script_builds() -> None:
    for name, text in grafana.render().items():
        assert (ROOT / "docs" / "grafana" / name).read_text() == text, f"stale {name}: run scripts/grafana.py"


@pytest.mark.parametrize("name", ["opwatch-prometheus.json", "opwatch-cloudwatch.json"])
def test_each_dashboard_loads_into_the_sdk_model_unchanged(name: str) -> None:
    data = json.loads((ROOT / "docs" / "grafana" / name).read_text())
    model = DashboardModel.from_json(data)
    again = json.loads(json.dumps(model, cls=grafana.JSONEncoder))
    assert again == data
    assert data["uid"] and data["title"] and data["schemaVersion"] >= 39  # Grafana 11+
    ids = [p.get("id") for p in data["panels"]]
    assert len(ids) == len(set(ids))


def test_every_prometheus_panel_queries_metrics_opwatch_exports() -> None:
    exported = exported_metric_names()
    checks_shown = set()
    for panel in _panels("opwatch-prometheus.json"):
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = set(re.findall(r"\bopwatch_[a-z0-9_]+", target["expr"]))
            assert names and names <= exported, (panel["title"], target["expr"])
            checks_shown.update(re.findall(r'check="([a-z_]+)"', target["expr"]))
    # The operators' four signals: block production, batcher, wallets against gas, RPC sync.
    assert {"sequencer_liveness", "batcher_lag", "batch_submission", "wallet_runway", "rpc_sync"} <= checks_shown


def test_every_cloudwatch_panel_reads_a_metric_the_aws_functions_emit() -> None:
    from opwatch.aws.telemetry import HEARTBEAT

    shown = set()
    for panel in _panels("opwatch-cloudwatch.json"):
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["namespace"] == "$namespace"
            assert target["metricName"] in set(CHECKS) | {HEARTBEAT}, target["metricName"]
            assert set(target["dimensions"]) <= {"network", "check", "target"}
            shown.add(target["metricName"])
    assert shown == set(CHECKS) | {HEARTBEAT}, "a check without a CloudWatch panel: add it to scripts/grafana.py"
