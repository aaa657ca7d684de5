"""Powertools Logger and Metrics, configured once for every opwatch function.

Service name and metric namespace come from the environment the CDK app sets
(`POWERTOOLS_SERVICE_NAME`, `POWERTOOLS_METRICS_NAMESPACE`). Metrics are CloudWatch EMF log
lines: one metric per check value, named by the check id, with dimensions network, check
and target; plus a `Heartbeat` per run (dimensions network, check). They are emitted only
with `[aws] check_metrics = true` (for Grafana's CloudWatch panels): otherwise the stack sets
Powertools' own `POWERTOOLS_METRICS_DISABLED`, because each series is $0.30 a month and
nothing in the stack reads them (the dashboard graphs the finding log lines, the self-watch
alarms on Lambda's free Invocations/Errors metrics: infra/monitoring.py). The Tracer is not
here: it lives in `tracing`, imported only by the functions that trace (not the checks).

Log lines carry opwatch's common fields (`opwatch.logschema`): Powertools' `timestamp` is
written as `time` (RFC 3339, UTC), and a finding's line has the same field names as on GCP
and in the service.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from ..findings import Finding
from ..logschema import finding_fields, finding_level


class _CommonFields(LambdaPowertoolsFormatter):
    """Powertools' JSON lines with the common `time` field (it calls it `timestamp`)."""

    def serialize(self, log: dict[str, Any]) -> str:  # type: ignore[override]
        if "timestamp" in log:  # UTC: "+00:00" written as "Z", as the other runtimes write it
            log = {"time": str(log.pop("timestamp")).replace("+00:00", "Z"), **log}
        return super().serialize(log)


logger = Logger(logger_formatter=_CommonFields(utc=True, use_rfc3339=True,
                                                log_record_order=["level", "message", "service", "timestamp"]))
metrics = Metrics()

HEARTBEAT = "Heartbeat"
_UNITS = {"s": MetricUnit.Seconds, "blocks": MetricUnit.Count, "h": MetricUnit.NoUnit}


def record_findings(findings: Iterable[Finding]) -> None:
    """One EMF metric per measured value; `unknown` findings (no value) emit none, on purpose:
    the dashboards show a gap, and the heartbeat still proves the function ran. None at all
    when metrics are off (`POWERTOOLS_METRICS_DISABLED`): the values are in the log lines."""
    if is_metrics_disabled():
        return
    for f in findings:
        if f.observed.value is None:
            continue
        with single_metric(name=f.check, unit=_UNITS.get(f.observed.unit, MetricUnit.NoUnit),
                           value=float(f.observed.value), namespace=metrics.namespace,
                           default_dimensions={"network": f.network, "check": f.check, "target": f.target}):
            pass


def heartbeat(network: str, check: str) -> None:
    """"Ran and delivered" as a metric, for Grafana; the self-watch alarm does not need it (a
    run that cannot deliver raises, and Lambda counts it in Errors)."""
    if is_metrics_disabled():
        return
    with single_metric(name=HEARTBEAT, unit=MetricUnit.Count, value=1.0, namespace=metrics.namespace,
                       default_dimensions={"network": network, "check": check}):
        pass


def log_findings(findings: Iterable[Finding]) -> None:
    """Findings as structured log lines with the common finding fields at the top level (no
    URLs: findings name endpoints by name or redacted)."""
    levels = {"ERROR": logger.error, "WARNING": logger.warning}
    for f in findings:
        levels.get(finding_level(str(f.status)), logger.info)(f.summary, extra=finding_fields(f))
