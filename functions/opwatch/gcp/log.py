"""Structured logs in Cloud Logging's JSON shape: one JSON object per line on stdout.

Cloud Run / Cloud Functions gen2 parse each line: `severity` becomes the entry's severity,
`message` its text, `logging.googleapis.com/labels` its labels; other keys land in
`jsonPayload`. Callers pass findings and counts, never secrets or RPC URLs (endpoints are
already redacted to their names by the core).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import IO, Any

LABELS_KEY = "logging.googleapis.com/labels"
SEVERITIES = ("DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL")


class CloudLogger:
    def __init__(self, labels: Mapping[str, str] | None = None, stream: IO[str] | None = None) -> None:
        self.labels = dict(labels or {})
        self._stream = stream

    def log(self, severity: str, message: str, labels: Mapping[str, str] | None = None, **fields: Any) -> None:
        if severity not in SEVERITIES:
            raise ValueError(f"unknown severity {severity!r}")
        entry = {"severity": severity, "message": message,
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


def finding_severity(status: str) -> str:
    """Log severity of a finding: firing is an ERROR line, unknown a WARNING, ok INFO."""
    return {"firing": "ERROR", "unknown": "WARNING"}.get(status, "INFO")
