"""One shape for opwatch's log lines: the AWS functions, the GCP functions and the service.

Every runtime writes one JSON object per line, and a finding's line carries the same field
names everywhere, so one Loki pipeline, one Cloud Logging query or one CloudWatch Logs
Insights query reads them all:

| field | meaning |
|---|---|
| `time` | when the line was written, RFC 3339 in UTC with milliseconds (`2026-12-02T01:47:21.123Z`) |
| `level` | `INFO`, `WARNING`, `ERROR` (a firing finding is ERROR, unknown WARNING, ok INFO) |
| `message` | the finding's summary, or what happened |
| `service` | `opwatch` unless the deployment names itself otherwise |
| `network`, `check`, `target`, `status`, `dedup_key` | the finding's own fields |
| `finding_severity` | the finding's severity (`critical`, `warning`): not `severity`, which Cloud Logging
  reads as the line's own level |
| `observed`, `threshold`, `unit` | the measured value and its limit (null while unknown) |

A runtime may add fields of its own beside these (Powertools adds `location` and
`xray_trace_id`; on GCP `severity` repeats `level`, because Cloud Logging takes a line's
severity from that key, and `logging.googleapis.com/labels` holds its labels); it never
renames these. Nothing here reads a secret or a URL: findings name
endpoints by name or redacted URL already.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any

from .findings import Finding

SERVICE = "opwatch"
# The fields of every line, then those every finding's line adds.
LINE_FIELDS = ("time", "level", "message", "service")
FINDING_FIELDS = ("network", "check", "target", "status", "finding_severity", "dedup_key", "observed", "threshold",
                  "unit")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def rfc3339(at: float | None = None) -> str:
    """`2026-12-02T01:47:21.123Z`: UTC, milliseconds, the `Z` every log store parses."""
    moment = datetime.fromtimestamp(time.time() if at is None else at, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def finding_level(status: str) -> str:
    """A firing finding is an ERROR line, unknown a WARNING, ok INFO (on every runtime)."""
    return {"firing": "ERROR", "unknown": "WARNING"}.get(str(status), "INFO")


def finding_fields(f: Finding) -> dict[str, Any]:
    """The finding's part of a log line (everything but time, level, message and service)."""
    return {"network": f.network, "check": f.check, "target": f.target, "status": str(f.status),
            "finding_severity": str(f.severity), "dedup_key": f.dedup_key, "observed": f.observed.value,
            "threshold": f.threshold.value, "unit": f.observed.unit or f.threshold.unit}


def line(level: str, message: str, *, service: str = SERVICE, at: float | None = None,
         **fields: Any) -> dict[str, Any]:
    """One log line as a dict: the common fields first, then `fields`."""
    if level not in LEVELS:
        raise ValueError(f"unknown log level {level!r} (one of {', '.join(LEVELS)})")
    return {"time": rfc3339(at), "level": level, "message": message, "service": service, **fields}


class JsonLines:
    """The service's logger: one JSON object per line on `stream` (stderr by default), safe to
    call from the check threads."""

    def __init__(self, stream: IO[str] | None = None, service: str = SERVICE,
                 static: Mapping[str, Any] | None = None) -> None:
        self._stream = stream
        self.service = service
        self.static = dict(static or {})
        self._lock = threading.Lock()

    def log(self, level: str, message: str, **fields: Any) -> None:
        text = json.dumps(line(level, message, service=self.service, **self.static, **fields),
                          default=str, sort_keys=False)
        with self._lock:
            stream = self._stream or sys.stderr
            stream.write(text + "\n")
            stream.flush()

    def info(self, message: str, **fields: Any) -> None:
        self.log("INFO", message, **fields)

    def warning(self, message: str, **fields: Any) -> None:
        self.log("WARNING", message, **fields)

    def error(self, message: str, **fields: Any) -> None:
        self.log("ERROR", message, **fields)

    def finding(self, f: Finding, **fields: Any) -> None:
        self.log(finding_level(str(f.status)), f.summary, **finding_fields(f), **fields)
