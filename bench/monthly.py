"""Monthly cost of one network with every check, on AWS and on GCP, computed.

Inputs, each stated in the output:
- counts from the real deployment definitions: the CDK app synthesised from a one-network
  config (functions, alarms, dashboards, secrets, metrics) and the GCP plan (functions,
  scheduler jobs);
- invocations from the default schedules (`opwatch.deploy.schedules`);
- duration per invocation: the measured local wall time of each check (bench/results/cost.json)
  plus its measured HTTP request count times an assumed 50 ms round trip to a real RPC
  provider, plus the measured cold import on an assumed 5 % of invocations;
- unit prices as published by the providers (dates below); free tiers are shown apart,
  because an account's other workloads may already use them.

CloudWatch, as deployed: custom metric series are counted from what the check functions emit
(none unless `[aws] check_metrics = true`, the option is priced beside); alarms from the
synthesised template, each billed per metric it reads; the dashboard's Logs Insights graphs by
the bytes they scan (an assumed 100 views a month of a one-day window). GCP's self-watch: the
alert policies' conditions and, as an upper bound, one time series per function returned at
every one-minute evaluation.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from .common import ROOT, load

MINUTES_PER_MONTH = 30 * 24 * 60
RTT_S = 0.05
COLD_SHARE = 0.05
PRICES_AS_OF = ("AWS us-east-1 and GCP tier-1 list prices as published in 2025-2026 "
                "(AWS Lambda's page as archived 2026-06-18; CloudWatch's as read 2026-12-02; Cloud Monitoring "
                "alerting at Google's announced $0.10 per condition and $0.35 per million series, not checked "
                "against a stored copy of its page)")
# CloudWatch (aws.amazon.com/cloudwatch/pricing): a custom metric series $0.30 a month (first
# 10,000), a standard-resolution alarm $0.10 per metric it reads (metric math: per metric in
# the expression; a composite alarm $0.50 on top), a dashboard $3.00, Logs Insights $0.005 per
# GB scanned. Free tier: 10 custom metrics, 10 alarm metrics, 3 dashboards (up to 50 metrics
# each), 5 GB of logs (ingestion, storage and Insights scans together).
AWS = {"lambda_gb_s_arm": 0.0000133334, "lambda_request": 0.20 / 1e6, "scheduler_invocation": 1.00 / 1e6,
       "sns_publish": 0.50 / 1e6, "dynamodb_write": 0.625 / 1e6, "dynamodb_read": 0.125 / 1e6,
       "metric_month": 0.30, "alarm_month": 0.10, "dashboard_month": 3.00, "secret_month": 0.40,
       "logs_gb": 0.50, "insights_gb": 0.005}
AWS_FREE = {"lambda_requests": 1e6, "lambda_gb_s": 400_000, "scheduler_invocations": 14e6, "sns_publishes": 1e6,
            "dashboards": 3, "metrics": 10, "alarms": 10, "logs_gb": 5}
# Cloud Monitoring alerting (cloud.google.com/stackdriver/pricing): $0.10 per condition a month
# and $0.35 per million time series returned by the conditions' queries; no free allotment.
GCP = {"vcpu_s": 0.000024, "gib_s": 0.0000025, "invocation": 0.40 / 1e6, "scheduler_job_month": 0.10,
       "secret_version_month": 0.06, "secret_access": 0.03 / 10_000, "alert_condition_month": 0.10,
       "alert_series_returned": 0.35 / 1e6}
GCP_FREE = {"vcpu_s": 180_000, "gib_s": 360_000, "invocations": 2e6, "scheduler_jobs": 3}
DASHBOARD_VIEWS = 100  # a month, each over the last day
FINDINGS_PER_RUN = {"wallet_runway": 2, "rpc_sync": 2}  # one finding per wallet / per RPC node


ONE_NETWORK = """
[networks.mainnet]
l1_rpc = ["https://l1-a.example", "https://l1-b.example"]
l2_rpc = "https://sequencer.example"
rollup_rpc = "https://op-node.example"
rpc_nodes = ["https://rpc-1.example", "https://rpc-2.example"]
l1_chain_id = 1
l2_chain_id = 10
block_time = "2s"
batcher = "0x6887246668a3b87F54DeB3b94Ba47a6f63F32985"
batch_inbox = "0xFF00000000000000000000000000000000000010"
proposer = "0x473300df21D047806A082244b417f96b32f13A33"
l2_output_oracle = "0xdfe97868233d1aa22e815a266982f2cf17685a27"

[aws.environments.production]
region = "us-east-1"
"""


def aws_template(config_text: str, context: dict[str, Any] | None = None) -> dict[str, Any]:
    """The CloudFormation template the CDK app synthesises from `config_text` (one stack);
    `context`: more CDK context (bench.networks lifts the 500-resource check to count past it)."""
    sys.path.insert(0, str(ROOT))
    from aws_cdk import App

    import app as opwatch_app

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "opwatch.toml"
        path.write_text(config_text)
        assembly = opwatch_app.build(App(outdir=tmp, context={"aws:cdk:bundling-stacks": [],
                                                                "config": str(path), **(context or {})})).synth()
        (stack,) = assembly.stacks
        template: dict[str, Any] = json.loads(Path(stack.template_full_path).read_text())
    return template


def _aws_counts(config_text: str) -> dict[str, int]:
    return counts_of(aws_template(config_text))


def counts_of(template: dict[str, Any]) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for r in template["Resources"].values():
        kinds[r["Type"]] = kinds.get(r["Type"], 0) + 1
    alarm_metrics = sum(max(1, len([m for m in r["Properties"].get("Metrics", []) if "MetricStat" in m]))
                        for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm")
    custom = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"
              and not str(r["Properties"].get("Namespace", "AWS/")).startswith("AWS/")]
    emitting = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"
                and r["Properties"].get("Handler", "").endswith("check_handler.handler")
                and r["Properties"].get("Environment", {}).get("Variables", {})
                .get("POWERTOOLS_METRICS_DISABLED") != "true"]
    return {"functions": kinds.get("AWS::Lambda::Function", 0), "alarms": kinds.get("AWS::CloudWatch::Alarm", 0),
            "alarm_metrics": alarm_metrics, "alarms_on_custom_metrics": len(custom),
            "check_functions_emitting_metrics": len(emitting),
            "composite_alarms": kinds.get("AWS::CloudWatch::CompositeAlarm", 0),
            "dashboards": kinds.get("AWS::CloudWatch::Dashboard", 0),
            "secrets": kinds.get("AWS::SecretsManager::Secret", 0),
            "schedules": kinds.get("AWS::Scheduler::Schedule", 0)}


def aws_bill(*, invocations: float, findings: float, check_gb_s: float, counts: dict[str, int], metrics: int,
             log_gb: float, memory_gb: float) -> dict[str, float]:
    """A month on AWS at list price and after the free tier, from its volumes and the stack's counts."""
    pager_gb_s = findings * 0.1 * memory_gb  # pager: ~100 ms per finding (state read + write)
    items = {
        "lambda_compute": (check_gb_s + pager_gb_s) * AWS["lambda_gb_s_arm"],
        "lambda_requests": (invocations + findings) * AWS["lambda_request"],
        "scheduler": invocations * AWS["scheduler_invocation"],
        "sns": findings * AWS["sns_publish"],
        "dynamodb": findings * (AWS["dynamodb_write"] + AWS["dynamodb_read"]),
        "cloudwatch_metrics": metrics * AWS["metric_month"],
        "cloudwatch_alarms": counts["alarm_metrics"] * AWS["alarm_month"] + counts["composite_alarms"] * 0.50,
        "cloudwatch_dashboard": counts["dashboards"] * AWS["dashboard_month"],
        "logs_insights": DASHBOARD_VIEWS * log_gb / 30 * AWS["insights_gb"],
        "secrets": counts["secrets"] * AWS["secret_month"],
        "logs": log_gb * AWS["logs_gb"],
    }
    free = {
        "lambda_compute": min(check_gb_s + pager_gb_s, AWS_FREE["lambda_gb_s"]) * AWS["lambda_gb_s_arm"],
        "lambda_requests": min(invocations + findings, AWS_FREE["lambda_requests"]) * AWS["lambda_request"],
        "scheduler": min(invocations, AWS_FREE["scheduler_invocations"]) * AWS["scheduler_invocation"],
        "sns": min(findings, AWS_FREE["sns_publishes"]) * AWS["sns_publish"],
        "cloudwatch_dashboard": min(counts["dashboards"], AWS_FREE["dashboards"]) * AWS["dashboard_month"],
        "cloudwatch_metrics": min(metrics, AWS_FREE["metrics"]) * AWS["metric_month"],
        "cloudwatch_alarms": min(counts["alarm_metrics"], AWS_FREE["alarms"]) * AWS["alarm_month"],
        "logs": min(log_gb, AWS_FREE["logs_gb"]) * AWS["logs_gb"],
    }
    return {"total": round(sum(items.values()), 2),
            "total_after_free_tier": round(sum(items.values()) - sum(free.values()), 2),
            **{k: round(v, 3) for k, v in items.items()}}


def gcp_bill(*, invocations: float, findings: float, check_busy_s: float, scheduler_jobs: int,
             conditions: int, series_per_minute: int) -> dict[str, float]:
    """A month on GCP at list price and after the free tier. `series_per_minute`: the self-watch's
    upper bound, one series per function (the checks and the pager) and the dead-letter subscription."""
    vcpu, gib = 0.167, 0.25  # 256 MiB functions get 1/6 vCPU
    busy = check_busy_s + findings * 0.1  # the pager
    series = series_per_minute * MINUTES_PER_MONTH
    items = {"compute": busy * (vcpu * GCP["vcpu_s"] + gib * GCP["gib_s"]),
             "invocations": (invocations + findings) * GCP["invocation"],
             "scheduler": scheduler_jobs * GCP["scheduler_job_month"],
             "secrets": 2 * GCP["secret_version_month"] + invocations * 0.05 * GCP["secret_access"],
             "monitoring_alerts": conditions * GCP["alert_condition_month"]
             + series * GCP["alert_series_returned"]}
    free = {"compute": min(busy * vcpu, GCP_FREE["vcpu_s"]) * GCP["vcpu_s"]
            + min(busy * gib, GCP_FREE["gib_s"]) * GCP["gib_s"],
            "invocations": min(invocations + findings, GCP_FREE["invocations"]) * GCP["invocation"],
            "scheduler": min(scheduler_jobs, GCP_FREE["scheduler_jobs"]) * GCP["scheduler_job_month"]}
    return {"total": round(sum(items.values()), 2),
            "total_after_free_tier": round(sum(items.values()) - sum(free.values()), 2),
            **{k: round(v, 3) for k, v in items.items()}}


def run(**_: Any) -> dict[str, Any]:
    from opwatch.checks import CHECKS
    from opwatch.config import parse_config

    config = parse_config(ONE_NETWORK)
    network = config.network("mainnet")
    schedules = config.section("schedules")
    checks = [c for c in CHECKS if CHECKS[c].missing(network) is None]
    cost = load("cost") or {"per_check": {}}
    coldstart = load("coldstart") or {"handlers": {}}
    cold_s = coldstart["handlers"].get("opwatch.aws.check_handler", {}).get("import_s", 0.4)
    runs, seconds = {}, {}
    for c in checks:
        runs[c] = MINUTES_PER_MONTH / schedules.every(c)
        measured = cost["per_check"].get(c, {"wall_s": {"median": 0.05}, "rpc_requests": 6})
        seconds[c] = measured["wall_s"]["median"] + measured["rpc_requests"] * RTT_S + COLD_SHARE * cold_s
    invocations = sum(runs.values())
    findings = sum(runs[c] * FINDINGS_PER_RUN.get(c, 1) for c in checks)
    memory_gb = 0.25
    counts = _aws_counts(ONE_NETWORK)
    # With `[aws] check_metrics = true`: a series per check value and target, and a Heartbeat
    # series per check function (aws/telemetry.py). Off by default: nothing in the stack reads them.
    series_if_enabled = sum(len(CHECKS[c].targets(network)) for c in checks) + len(checks)
    metrics = series_if_enabled if counts["check_functions_emitting_metrics"] else 0
    log_gb = (invocations + findings) * 2_000 / 1e9

    def aws(fast_lane: bool) -> dict[str, float]:
        gb_s = sum(runs[c] * seconds[c] for c in checks) * memory_gb
        if fast_lane:  # the sequencer function samples for the whole minute
            gb_s += runs["sequencer_liveness"] * (60.0 - seconds["sequencer_liveness"]) * memory_gb
        return aws_bill(invocations=invocations, findings=findings, check_gb_s=gb_s, counts=counts,
                        metrics=metrics, log_gb=log_gb, memory_gb=memory_gb)

    from opwatch.deploy.gcp import GcpSettings
    from opwatch.deploy.gcp_monitoring import conditions

    gcp_conditions = conditions(GcpSettings())

    def gcp(fast_lane: bool) -> dict[str, float]:
        busy = sum(runs[c] * seconds[c] for c in checks)
        if fast_lane:
            busy += runs["sequencer_liveness"] * (60.0 - seconds["sequencer_liveness"])
        return gcp_bill(invocations=invocations, findings=findings, check_busy_s=busy,
                        scheduler_jobs=len(checks), conditions=gcp_conditions, series_per_minute=len(checks) + 1 + 1)

    result = {"prices_as_of": PRICES_AS_OF, "assumptions": {"rtt_s": RTT_S, "cold_share": COLD_SHARE,
                                                            "memory_gb": memory_gb, "log_bytes_per_event": 2000},
              "checks": checks, "invocations_per_month": round(invocations), "findings_per_month": round(findings),
              "seconds_per_invocation": {c: round(s, 3) for c, s in seconds.items()}, "aws_counts": counts,
              "aws_custom_metric_series": metrics,
              "aws_check_metrics_option": {"series": series_if_enabled,
                                           "per_month": round(series_if_enabled * AWS["metric_month"], 2)},
              "gcp_alert_conditions": gcp_conditions,
              "aws": {"default": aws(False), "fast_lane": aws(True)},
              "gcp": {"default": gcp(False), "fast_lane": gcp(True)}}
    result["table"] = table(result)
    return result


def table(r: dict[str, Any]) -> str:
    a, g = r["aws"], r["gcp"]
    lines = [f"### Monthly cost, one network, every check (computed; {r['prices_as_of']})", "",
             f"{r['invocations_per_month']:,} check invocations and {r['findings_per_month']:,} findings a month; "
             f"the synthesised AWS stack has {r['aws_counts']['functions']} functions, {r['aws_counts']['alarms']} "
             f"alarms (each on one free AWS metric), {r['aws_counts']['dashboards']} dashboard(s), "
             f"{r['aws_counts']['secrets']} secrets and emits {r['aws_custom_metric_series']} custom metric series "
             f"(`[aws] check_metrics = true`, for Grafana: {r['aws_check_metrics_option']['series']} series, "
             f"+${r['aws_check_metrics_option']['per_month']:.2f} list); the GCP plan has "
             f"{r['gcp_alert_conditions']} alert conditions.", "",
             "| | AWS list price | AWS after free tier | GCP list price | GCP after free tier |",
             "|---|---|---|---|---|",
             f"| default schedules | ${a['default']['total']:.2f} | ${a['default']['total_after_free_tier']:.2f} | "
             f"${g['default']['total']:.2f} | ${g['default']['total_after_free_tier']:.2f} |",
             f"| with the sequencer fast lane | ${a['fast_lane']['total']:.2f} | "
             f"${a['fast_lane']['total_after_free_tier']:.2f} | ${g['fast_lane']['total']:.2f} | "
             f"${g['fast_lane']['total_after_free_tier']:.2f} |", "",
             "AWS line items (default): " + ", ".join(f"{k} ${v:.2f}" for k, v in a["default"].items()
                                                     if k not in ("total", "total_after_free_tier")), "",
             "GCP line items (default): " + ", ".join(f"{k} ${v:.2f}" for k, v in g["default"].items()
                                                     if k not in ("total", "total_after_free_tier"))]
    return "\n".join(lines)
