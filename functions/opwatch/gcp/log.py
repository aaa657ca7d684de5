"""Structured logs in Cloud Logging's JSON shape: one JSON object per line on stdout.

Cloud Run / Cloud Functions gen2 parse each line: `severity` becomes the entry's severity,
`message` its text, `logging.googleapis.com/labels` its labels; other keys land in
`jsonPayload`. Callers pass findings and counts, never secrets or RPC URLs (endpoints are
already redacted to their names by the core).

Every line also carries opwatch's common log fields (`opwatch.logschema`: `time`, `level`,
`message`, `service`; a finding's line its finding fields), the same names the AWS functions
and the service write; `severity` repeats the level for Cloud Logging.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import IO, Any

from ..findings import Finding
from ..logschema import SERVICE, finding_fields, finding_level, rfc3339

LABELS_KEY = "logging.googleapis.com/labels"
SEVERITIES = ("DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL")


class CloudLogger:
    def __init__(self, labels: Mapping[str, str] | None = None, stream: IO[str] | None = None) -> None:
        self.labels = dict(labels or {})
        self._stream = stream

    def log(self, severity: str, message: str, labels: Mapping[str, str] | None = None, **fields: Any) -> None:
        if severity not in SEVERITIES:
            raise ValueError(f"unknown severity {severity!r}")
        # NOTICE is Cloud Logging's own level, between INFO and WARNING: INFO in the common `level`.
        level = "INFO" if severity == "NOTICE" else severity
        entry = {"time": rfc3339(), "level": level, "service": self.labels.get("service", SERVICE),
                 "severity": severity, "message": message,
                 LABELS_KEY: {**self.labels, **{k: str(v) for k, v in (labels or {}).items()}}, **fields}
        stream = self._stream or sys.stdout
        stream.write(json.dumps(entry, default=str, sort_keys=True) + "\n")
        stream.flush()

    def info(self, message: str, **fields: Any) -> None:
        self.log("INFO", message, **fields)

    def warning(self, message: str, **fields: Any) -> None:
        self.log("WARNING", message, **fields)

    def error(self, message: str, **fields: Any) -> None:
        self.log("ERROR", message, **fields)

    def finding(self, f: Finding, labels: Mapping[str, str] | None = None, **fields: Any) -> None:
        """A finding's line: the common finding fields (`opwatch.logschema`), at its level."""
        self.log(finding_severity(str(f.status)), f.summary, labels=labels, **finding_fields(f), **fields)


def finding_severity(status: str) -> str:
    """Log severity of a finding: firing is an ERROR line, unknown a WARNING, ok INFO."""
    return finding_level(status)
