"""Powertools Logger, Metrics and Tracer, configured once for every opwatch function.

Service name and metric namespace come from the environment the CDK app sets
(`POWERTOOLS_SERVICE_NAME`, `POWERTOOLS_METRICS_NAMESPACE`). Metrics are CloudWatch EMF log
lines: one metric per check value, named by the check id, with dimensions network, check
and target; plus a `Heartbeat` per run (dimensions network, check) whose absence the
self-watch alarms on. Tracing patches botocore only (SNS, DynamoDB, Secrets Manager
calls); RPC calls are plain urllib and show as subsegments of the handler.
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from ..findings import Finding

logger = Logger()
metrics = Metrics()
tracer = Tracer(patch_modules=("botocore",))

HEARTBEAT = "Heartbeat"
_UNITS = {"s": MetricUnit.Seconds, "blocks": MetricUnit.Count, "h": MetricUnit.NoUnit}


def record_findings(findings: Iterable[Finding]) -> None:
    """One EMF metric per measured value; `unknown` findings (no value) emit none, on purpose:
    the dashboards show a gap, and the heartbeat still proves the function ran."""
    for f in findings:
        if f.observed.value is None:
            continue
        with single_metric(name=f.check, unit=_UNITS.get(f.observed.unit, MetricUnit.NoUnit),
                           value=float(f.observed.value), namespace=metrics.namespace,
                           default_dimensions={"network": f.network, "check": f.check, "target": f.target}):
            pass


def heartbeat(network: str, check: str) -> None:
    with single_metric(name=HEARTBEAT, unit=MetricUnit.Count, value=1.0, namespace=metrics.namespace,
                       default_dimensions={"network": network, "check": check}):
        pass


def log_findings(findings: Iterable[Finding]) -> None:
    """Findings as structured log lines (no URLs: findings name endpoints by name or redacted)."""
    for f in findings:
        level = logger.info if f.status == "ok" else logger.warning
        level(f.summary, extra={"finding": {"dedup_key": f.dedup_key, "status": str(f.status),
                                            "severity": str(f.severity), "observed": f.observed.value,
                                            "threshold": f.threshold.value, "unit": f.observed.unit}})
