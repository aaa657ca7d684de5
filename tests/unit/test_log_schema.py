"""One log schema on every runtime: a finding logged by the AWS functions (Powertools), the GCP
functions (Cloud Logging's JSON lines) and the long-running service has the same field names,
an RFC 3339 UTC `time`, and the same `level` for the same status (opwatch.logschema)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from opwatch.logschema import FINDING_FIELDS, LINE_FIELDS

ROOT = Path(__file__).resolve().parents[2]

# Each runtime logs the same two findings (one firing, one ok) its own way, in a fresh process
# (Powertools binds its handler to stdout when the module is imported).
_SCRIPT = r"""
import sys
from opwatch.findings import Finding, Measure, Severity, Status, make_dedup_key
def finding(status, value):
    return Finding(network="devnet", check="sequencer_liveness", target="sequencer", status=status,
                   severity=Severity.CRITICAL, summary=f"head is {value} s old", observed=Measure(value, "s"),
                   threshold=Measure(3.0, "s"), observed_at="2026-12-02T01:00:00Z",
                   dedup_key=make_dedup_key("devnet", "sequencer_liveness", "sequencer"))
findings = [finding(Status.FIRING, 22.0), finding(Status.OK, 1.0)]
runtime = sys.argv[1]
if runtime == "aws":
    from opwatch.aws.telemetry import log_findings
    log_findings(findings)
elif runtime == "gcp":
    from opwatch.gcp.log import CloudLogger
    logger = CloudLogger({"service": "opwatch", "cloud": "gcp"})
    for f in findings:
        logger.finding(f, labels=f.attributes(), message_id="1")
else:
    from opwatch.cli.service import log_finding
    from opwatch.logschema import JsonLines
    logger = JsonLines(sys.stdout)
    for f in findings:
        log_finding(logger, f)
"""

# What each runtime may add beside the common fields, and why.
RUNTIME_EXTRAS = {
    "aws": {"location", "xray_trace_id", "sampling_rate", "cold_start", "function_name", "function_arn",
            "function_memory_size", "function_request_id"},  # Powertools' own
    "gcp": {"severity", "logging.googleapis.com/labels", "message_id"},  # Cloud Logging's; the Pub/Sub id
    "service": {"transition"},
}


def _lines(runtime: str) -> list[dict[str, object]]:
    env = {**os.environ, "POWERTOOLS_SERVICE_NAME": "opwatch", "PYTHONPATH": str(ROOT / "functions")}
    out = subprocess.run([sys.executable, "-c", _SCRIPT, runtime], capture_output=True, text=True, env=env,
                         timeout=120, check=True)
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def logged() -> dict[str, list[dict[str, object]]]:
    return {runtime: _lines(runtime) for runtime in ("aws", "gcp", "service")}


def test_a_finding_has_the_same_field_names_on_aws_gcp_and_the_service(logged) -> None:  # type: ignore[no-untyped-def]
    common = set(LINE_FIELDS) | set(FINDING_FIELDS)
    for runtime, lines in logged.items():
        assert len(lines) == 2, (runtime, lines)
        for entry in lines:
            assert common <= set(entry), (runtime, common - set(entry))
            assert set(entry) - common <= RUNTIME_EXTRAS[runtime], (runtime, set(entry) - common)
    firing = {runtime: lines[0] for runtime, lines in logged.items()}
    for name in (*FINDING_FIELDS, "message", "service"):
        assert len({json.dumps(entry[name]) for entry in firing.values()}) == 1, (name, firing)


def test_time_is_rfc3339_utc_and_the_level_follows_the_status(logged) -> None:  # type: ignore[no-untyped-def]
    for runtime, (firing, ok) in logged.items():
        for entry in (firing, ok):
            text = str(entry["time"])
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            assert moment.utcoffset() is not None and moment.utcoffset().total_seconds() == 0, (runtime, text)
            assert "T" in text and text.endswith("Z"), (runtime, text)  # one format on all three
        assert (firing["level"], ok["level"]) == ("ERROR", "INFO"), runtime
        assert firing["finding_severity"] == "critical" and firing["status"] == "firing"
    assert logged["gcp"][0]["severity"] == "ERROR"  # Cloud Logging's key keeps the line's level
