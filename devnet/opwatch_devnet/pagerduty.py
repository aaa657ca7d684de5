"""A local stand-in for PagerDuty's Events API v2 (`POST https://events.pagerduty.com/v2/enqueue`).

It stands in for the real endpoint in tests: a real HTTP server on a loopback port that
validates each event against the documented schema (required fields, the event_action and
severity enums, dedup_key ≤ 255 and summary ≤ 1024 characters, body ≤ 512 KB) and answers
like PagerDuty (202 with a dedup_key, or 400 with `errors`). It also keeps PagerDuty's
dedup semantics per routing key (a trigger on an open dedup_key joins that incident; after a
resolve, a trigger opens a new one), so tests can count incidents, and it can be told to
answer 429/500/400 for the next N requests. Change events (`POST /v2/change/enqueue`) are
validated against their own documented shape and kept in `changes`.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ACTIONS = {"trigger", "acknowledge", "resolve"}
SEVERITIES = {"critical", "error", "warning", "info"}
TOP_LEVEL = {"routing_key", "event_action", "dedup_key", "payload", "links", "images", "client", "client_url"}
PAYLOAD = {"summary", "source", "severity", "timestamp", "component", "group", "class", "custom_details"}
BODY_MAX = 512 * 1024
# Change events (`POST /v2/change/enqueue`): what changed in a system, shown in the service's and
# its incidents' timelines; never an alert, so no event_action, severity or dedup_key.
CHANGE_TOP_LEVEL = {"routing_key", "payload", "links"}
CHANGE_PAYLOAD = {"summary", "source", "timestamp", "custom_details"}


def validate(event: Any) -> list[str]:
    """Problems with an Events v2 body, as PagerDuty's 400 `errors` would list them."""
    if not isinstance(event, dict):
        return ["event must be a JSON object"]
    errors = [f"unknown field {k!r}" for k in event if k not in TOP_LEVEL]
    key = event.get("routing_key")
    if not isinstance(key, str) or not key:
        errors.append("'routing_key' is missing or empty")
    action = event.get("event_action")
    if action not in ACTIONS:
        errors.append(f"'event_action' must be one of {sorted(ACTIONS)}")
    dedup = event.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or not 0 < len(dedup) <= 255):
        errors.append("'dedup_key' must be a string of 1..255 characters")
    if action in ("acknowledge", "resolve") and dedup is None:
        errors.append(f"'dedup_key' is required for {action}")
    if action == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            errors.append("'payload' is required for trigger")
        else:
            errors += [f"unknown payload field {k!r}" for k in payload if k not in PAYLOAD]
            summary = payload.get("summary")
            if not isinstance(summary, str) or not 0 < len(summary) <= 1024:
                errors.append("'payload.summary' must be a string of 1..1024 characters")
            if not isinstance(payload.get("source"), str) or not payload.get("source"):
                errors.append("'payload.source' is missing or empty")
            if payload.get("severity") not in SEVERITIES:
                errors.append(f"'payload.severity' must be one of {sorted(SEVERITIES)}")
            if "timestamp" in payload:
                try:
                    datetime.fromisoformat(str(payload["timestamp"]).replace("Z", "+00:00"))
                except ValueError:
                    errors.append("'payload.timestamp' must be ISO 8601")
            for name in ("component", "group", "class"):
                if name in payload and not isinstance(payload[name], str):
                    errors.append(f"'payload.{name}' must be a string")
            if "custom_details" in payload and not isinstance(payload["custom_details"], dict | list | str):
                errors.append("'payload.custom_details' must be an object")
    links = event.get("links", [])
    if not isinstance(links, list) or not all(isinstance(x, dict) and isinstance(x.get("href"), str) for x in links):
        errors.append("'links' must be a list of objects with an 'href'")
    return errors


def validate_change(event: Any) -> list[str]:
    """Problems with a change event body (routing_key, payload.summary ≤ 1024 required;
    payload.source, payload.timestamp ISO 8601, payload.custom_details an object, links
    [{href, text}] optional), as PagerDuty's 400 `errors` would list them."""
    if not isinstance(event, dict):
        return ["event must be a JSON object"]
    errors = [f"unknown field {k!r}" for k in event if k not in CHANGE_TOP_LEVEL]
    if not isinstance(event.get("routing_key"), str) or not event.get("routing_key"):
        errors.append("'routing_key' is missing or empty")
    payload = event.get("payload")
    if not isinstance(payload, dict):
        return [*errors, "'payload' is required"]
    errors += [f"unknown payload field {k!r}" for k in payload if k not in CHANGE_PAYLOAD]
    summary = payload.get("summary")
    if not isinstance(summary, str) or not 0 < len(summary) <= 1024:
        errors.append("'payload.summary' must be a string of 1..1024 characters")
    if "source" in payload and not isinstance(payload["source"], str):
        errors.append("'payload.source' must be a string")
    if "timestamp" in payload:
        try:
            datetime.fromisoformat(str(payload["timestamp"]).replace("Z", "+00:00"))
        except ValueError:
            errors.append("'payload.timestamp' must be ISO 8601")
    if "custom_details" in payload and not isinstance(payload["custom_details"], dict):
        errors.append("'payload.custom_details' must be an object")
    links = event.get("links", [])
    if not isinstance(links, list) or not all(isinstance(x, dict) and isinstance(x.get("href"), str) for x in links):
        errors.append("'links' must be a list of objects with an 'href'")
    return errors


@dataclass
class Incident:
    routing_key: str
    dedup_key: str
    open: bool = True
    triggers: int = 0


@dataclass
class EventsStandIn:
    """Start with `EventsStandIn.start()`; `base_url` is what the client is given."""

    accepted: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)  # accepted change events
    requests: int = 0
    incidents: list[Incident] = field(default_factory=list)
    _forced: deque[tuple[int, str | None]] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @classmethod
    def start(cls) -> EventsStandIn:
        standin = cls()
        standin._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(standin))
        threading.Thread(target=standin._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return standin

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        for _ in range(times):
            self._forced.append((status, retry_after))

    def actions(self, dedup_key: str | None = None) -> list[str]:
        return [e["event_action"] for e in self.accepted if dedup_key is None or e.get("dedup_key") == dedup_key]

    def open_incidents(self) -> list[Incident]:
        return [i for i in self.incidents if i.open]

    def handle(self, path: str, body: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            self.requests += 1
            if self._forced:
                status, retry_after = self._forced.popleft()
                headers = {"Retry-After": retry_after} if retry_after else {}
                reply = {"status": "error", "message": f"forced {status}", "errors": [f"forced {status}"]}
                return status, reply, headers
            if path not in ("/v2/enqueue", "/v2/change/enqueue"):
                return 404, {"status": "not found"}, {}
            if len(body) > BODY_MAX:
                return 400, {"status": "invalid event", "errors": ["body over 512 KB"]}, {}
            try:
                event = json.loads(body)
            except ValueError:
                return 400, {"status": "invalid event", "errors": ["body is not JSON"]}, {}
            if path == "/v2/change/enqueue":
                errors = validate_change(event)
                if errors:
                    return 400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors}, {}
                self.changes.append(event)
                return 202, {"status": "success", "message": "Change event processed"}, {}
            errors = validate(event)
            if errors:
                return 400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors}, {}
            self.accepted.append(event)
            self._dedup(event)
            return 202, {"status": "success", "message": "Event processed", "dedup_key": event.get("dedup_key")}, {}

    def _dedup(self, event: dict[str, Any]) -> None:
        key, dedup = event["routing_key"], event.get("dedup_key")
        current = next((i for i in self.incidents if i.open and i.routing_key == key and i.dedup_key == dedup), None)
        if event["event_action"] == "trigger":
            if current is None:
                current = Incident(key, dedup or f"generated-{len(self.incidents)}")
                self.incidents.append(current)
            current.triggers += 1
        elif event["event_action"] == "resolve" and current is not None:
            current.open = False


def _handler(standin: EventsStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, reply, headers = standin.handle(self.path, body)
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: object) -> None:
            pass

    return Handler
