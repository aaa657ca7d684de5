"""Build the Grafana dashboards in docs/grafana/ with grafana-foundation-sdk (typed builders).

    .venv/bin/python scripts/grafana.py          # writes docs/grafana/*.json
    .venv/bin/python scripts/grafana.py --check  # exit 1 when a committed file is stale

- opwatch-prometheus.json: the metrics `opwatch watch --listen` serves (docs/metrics.md): block
  production, batcher lag and submission age, wallet runway against L1 gas, RPC sync per node,
  the findings, and opwatch's own health.
- opwatch-cloudwatch.json: the CloudWatch EMF metrics the AWS functions emit
  (functions/opwatch/aws/telemetry.py): one metric per check id, dimensions network, check,
  target, and `Heartbeat` per (network, check), in the namespace of `[aws] namespace`.

tests/unit/test_grafana_dashboards.py checks that every query names a metric opwatch emits
and that the committed JSON is what this script builds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from grafana_foundation_sdk.builders import cloudwatch as cw
from grafana_foundation_sdk.builders import stat, statetimeline, timeseries
from grafana_foundation_sdk.builders.dashboard import (
    ConstantVariable,
    Dashboard,
    DatasourceVariable,
    QueryVariable,
    Row,
    TextBoxVariable,
)
from grafana_foundation_sdk.builders.prometheus import Dataquery as PromQuery
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.cloudwatch import CloudWatchQueryMode, MetricEditorMode, MetricQueryType
from grafana_foundation_sdk.models.dashboard import DataSourceRef, ValueMap, ValueMappingResult

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "grafana"
PROM = DataSourceRef(type_val="prometheus", uid="${datasource}")
CLOUDWATCH = DataSourceRef(type_val="cloudwatch", uid="${datasource}")
NET = 'network=~"$network"'

# Checks whose value and limit get a graph on the CloudWatch dashboard, in reading order. The
# ids are the metric names telemetry.record_findings emits (one per check).
CLOUDWATCH_CHECKS = ("sequencer_liveness", "batcher_lag", "batch_submission", "wallet_runway",
                     "proposer_freshness", "rpc_sync", "output_root", "dispute_games", "withdrawals",
                     "l1_contracts", "snapshot_freshness", "heartbeat", "sequencer_ha", "rollup_nodes",
                     "finality", "tx_health")
CLOUDWATCH_UNITS = {"rpc_sync": "short", "sequencer_ha": "short", "rollup_nodes": "short",
                    "wallet_runway": "h", "output_root": "short", "dispute_games": "short",
                    "withdrawals": "short", "l1_contracts": "short"}


def _prom(expr: str, legend: str, ref: str = "A") -> PromQuery:
    return PromQuery().expr(expr).legend_format(legend).ref_id(ref).datasource(PROM)


def _value_and_limit(title: str, check: str, unit: str, description: str) -> timeseries.Panel:
    return (timeseries.Panel().title(title).description(description).datasource(PROM).unit(unit).span(12)
            .height(8)
            .with_target(_prom(f'opwatch_observed{{check="{check}",{NET}}}', "{{network}} {{target}}"))
            .with_target(_prom(f'max by (network) (opwatch_threshold{{check="{check}",{NET}}})',
                               "{{network}} limit", "B")))


def _status_mappings() -> list[ValueMap]:
    return [ValueMap(options={
        "0": ValueMappingResult(text="ok", color="green", index=0),
        "1": ValueMappingResult(text="firing", color="red", index=1),
        "2": ValueMappingResult(text="unknown", color="orange", index=2),
    })]


def prometheus_dashboard() -> Dashboard:
    return (
        Dashboard("opwatch (Prometheus)").uid("opwatch-prometheus").tags(["opwatch", "op-stack"])
        .refresh("30s").time("now-6h", "now").timezone("utc").editable()
        .with_variable(DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
        .with_variable(QueryVariable("network").label("network").datasource(PROM).multi(True).include_all(True)
                       .query("label_values(opwatch_finding_status, network)"))
        .with_row(Row("Findings"))
        .with_panel(statetimeline.Panel().title("Finding status").datasource(PROM).span(18).height(8)
                    .description("0 ok, 1 firing, 2 unknown (docs/metrics.md)").mappings(_status_mappings())
                    .with_target(_prom(f"opwatch_finding_status{{{NET}}}", "{{network}}/{{check}}/{{target}}")))
        .with_panel(stat.Panel().title("Firing now").datasource(PROM).span(3).height(8)
                    .with_target(_prom(f"count(opwatch_finding_status{{{NET}}} == 1) or vector(0)", "firing")))
        .with_panel(stat.Panel().title("Unknown now").datasource(PROM).span(3).height(8)
                    .with_target(_prom(f"count(opwatch_finding_status{{{NET}}} == 2) or vector(0)", "unknown")))
        .with_row(Row("Block production"))
        .with_panel(_value_and_limit("Unsafe head age", "sequencer_liveness", "s",
                                     "sequencer_liveness: age of the newest L2 block, and its limit"))
        .with_panel(_value_and_limit("Proposal age", "proposer_freshness", "s",
                                     "proposer_freshness: age of the newest output or dispute game"))
        .with_row(Row("Batcher"))
        .with_panel(_value_and_limit("Batcher lag (unsafe - safe)", "batcher_lag", "s",
                                     "batcher_lag: L2 time between the unsafe and the safe head"))
        .with_panel(_value_and_limit("Batch submission age", "batch_submission", "s",
                                     "batch_submission: age of the newest batch transaction on L1"))
        .with_row(Row("Wallets against L1 gas"))
        .with_panel(_value_and_limit("Wallet runway", "wallet_runway", "h",
                                     "wallet_runway: balance / projected spend at current fees"))
        .with_panel(timeseries.Panel().title("Wallet balance (ETH) and L1 fees (gwei)").datasource(PROM)
                    .span(12).height(8).unit("none")
                    .with_target(_prom(f"opwatch_wallet_balance_wei{{{NET}}} / 1e18", "{{network}} {{target}} ETH"))
                    .with_target(_prom(f"opwatch_l1_base_fee_wei{{{NET}}} / 1e9", "{{network}} base fee gwei", "B"))
                    .with_target(_prom(f"opwatch_l1_blob_base_fee_wei{{{NET}}} / 1e9",
                                       "{{network}} blob base fee gwei", "C")))
        .with_row(Row("RPC sync"))
        .with_panel(_value_and_limit("RPC node lag (blocks)", "rpc_sync", "short",
                                     "rpc_sync: blocks each node is behind the sequencer"))
        .with_panel(timeseries.Panel().title("RPC requests and errors per endpoint").datasource(PROM)
                    .span(12).height(8).unit("reqps")
                    .with_target(_prom("sum by (endpoint) (rate(opwatch_rpc_requests_total[$__rate_interval]))",
                                       "{{endpoint}} requests"))
                    .with_target(_prom("sum by (endpoint, kind) (rate(opwatch_rpc_errors_total[$__rate_interval]))",
                                       "{{endpoint}} {{kind}} errors", "B")))
        .with_row(Row("opwatch health"))
        .with_panel(timeseries.Panel().title("Check duration").datasource(PROM).span(12).height(8).unit("s")
                    .with_target(_prom(f"opwatch_check_duration_seconds{{{NET}}}", "{{network}}/{{check}}")))
        .with_panel(timeseries.Panel().title("Time since each check last ran").datasource(PROM).span(12)
                    .height(8).unit("s")
                    .with_target(_prom(f"time() - opwatch_last_run_timestamp_seconds{{{NET}}}",
                                       "{{network}}/{{check}}")))
    )


def _cloudwatch(metric: str, dimensions: dict[str, str | list[str]], statistic: str,
                ref: str) -> cw.CloudWatchMetricsQuery:
    return (cw.CloudWatchMetricsQuery().datasource(CLOUDWATCH).query_mode(CloudWatchQueryMode.METRICS)
            .metric_query_type(MetricQueryType.SEARCH).metric_editor_mode(MetricEditorMode.BUILDER)
            .region("$region").namespace("$namespace").metric_name(metric).dimensions(dimensions)
            .match_exact(False).statistic(statistic).period("").label("${PROP('Dim.target')}").ref_id(ref))


def cloudwatch_dashboard() -> Dashboard:
    board = (
        Dashboard("opwatch (CloudWatch)").uid("opwatch-cloudwatch").tags(["opwatch", "op-stack", "aws"])
        .refresh("1m").time("now-24h", "now").timezone("utc").editable()
        .with_variable(DatasourceVariable("datasource").label("CloudWatch").type("cloudwatch"))
        .with_variable(ConstantVariable("namespace").value("opwatch")
                       .description("[aws] namespace of the opwatch config (default opwatch)"))
        .with_variable(TextBoxVariable("region").label("region").default_value("default"))
        .with_variable(TextBoxVariable("network").label("network").default_value("mainnet"))
        .with_row(Row("Checks (value per target; unknown runs leave a gap)"))
    )
    for check in CLOUDWATCH_CHECKS:
        board = board.with_panel(
            timeseries.Panel().title(check).datasource(CLOUDWATCH).span(8).height(7)
            .unit(CLOUDWATCH_UNITS.get(check, "s"))
            .with_target(_cloudwatch(check, {"network": "$network", "check": check, "target": "*"}, "Maximum", "A")))
    board = board.with_row(Row("opwatch health"))
    return board.with_panel(
        timeseries.Panel().title("Heartbeat (runs per period, per check)").datasource(CLOUDWATCH).span(24)
        .height(7).unit("short")
        .with_target(_cloudwatch("Heartbeat", {"network": "$network", "check": "*"}, "SampleCount", "A")
                     .label("${PROP('Dim.check')}")))


DASHBOARDS = {"opwatch-prometheus.json": prometheus_dashboard, "opwatch-cloudwatch.json": cloudwatch_dashboard}


def render() -> dict[str, str]:
    rendered = {}
    for name, build in DASHBOARDS.items():
        model = build().build()
        for number, panel in enumerate(model.panels or (), start=1):
            panel.id_val = number  # stable ids: links to a panel survive re-imports
        rendered[name] = json.dumps(model, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"
    return rendered


def main(argv: list[str]) -> int:
    rendered = render()
    if "--check" in argv:
        stale = [n for n, text in rendered.items() if not (OUT / n).is_file() or (OUT / n).read_text() != text]
        for name in stale:
            print(f"docs/grafana/{name} is stale: run scripts/grafana.py", file=sys.stderr)
        return 1 if stale else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in rendered.items():
        (OUT / name).write_text(text)
        print(f"wrote docs/grafana/{name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
