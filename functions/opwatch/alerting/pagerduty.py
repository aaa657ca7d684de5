"""A small PagerDuty Events API v2 client, and the sink that pages through it.

Why our own client over stdlib `http.client`/`urllib`: the Events API is one documented
endpoint (`POST /v2/enqueue`); the `pagerduty` package would be another dependency and
cold-start cost in every function bundle, and `pdpyras` is deprecated. The network sits
behind one seam (`Transport`), and the base URL is injected, so tests talk to a local
stand-in of the endpoint over real HTTP.

Protocol facts (docs/PROTOCOL-NOTES): 202 on success; 400 is final (never retried); 429
(about 120 events/min per routing key) and 5xx are retried with exponential backoff,
honouring Retry-After. Dedup is per routing key: a trigger with the dedup_key of an open
incident joins it, so the same alert from the AWS and the GCP watchdog is one incident.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .model import Notification
from .sinks import DeliveryError, SecretSource

DEFAULT_BASE_URL = "https://events.pagerduty.com"
SUMMARY_MAX = 1024
DEDUP_KEY_MAX = 255
BODY_MAX = 512 * 1024
_SEVERITIES = {"critical": "critical", "error": "error", "warning": "warning", "info": "info"}


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    retry_after: float | None = None


class Transport(Protocol):
    """POST `body` (JSON) to `url`; return the response, or raise OSError when no answer came."""

    def __call__(self, url: str, body: bytes, timeout: float) -> Response: ...


def urllib_transport(url: str, body: bytes, timeout: float) -> Response:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return Response(reply.status, reply.read())
    except urllib.error.HTTPError as exc:
        return Response(exc.code, exc.read() or b"", _retry_after(exc.headers.get("Retry-After")))


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


class PagerDutyClient:
    def __init__(self, routing_key: SecretSource, base_url: str = DEFAULT_BASE_URL,
                 transport: Transport = urllib_transport, attempts: int = 4, backoff: float = 1.0,
                 max_backoff: float = 16.0, timeout: float = 5.0,
                 sleep: Callable[[float], None] = time.sleep, path: str = "/v2/enqueue") -> None:
        self._routing_key = routing_key
        self.url = base_url.rstrip("/") + path  # "/v2/change/enqueue" for change events (changes.py)
        self.transport = transport
        self.attempts = attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.sleep = sleep

    def __repr__(self) -> str:  # never show the routing key
        return f"PagerDutyClient({self.url!r})"

    def enqueue(self, event: dict[str, Any]) -> Response:
        """Send one event (without `routing_key`: it is added here). Raises DeliveryError."""
        body = json.dumps({"routing_key": self._routing_key(), **event}).encode()
        if len(body) > BODY_MAX:
            raise DeliveryError(f"event is {len(body)} bytes, over PagerDuty's {BODY_MAX}", retryable=False)
        last, delay = "", 0.0
        for attempt in range(self.attempts):
            if attempt:
                self.sleep(delay)
            try:
                reply = self.transport(self.url, body, self.timeout)
            except OSError as exc:  # connection refused/reset, timeout, DNS
                last, delay = f"no answer ({type(exc).__name__})", self._delay(attempt, None)
                continue
            if 200 <= reply.status < 300:
                return reply
            if reply.status == 429 or reply.status >= 500:
                last, delay = f"HTTP {reply.status}", self._delay(attempt, reply.retry_after)
                continue
            raise DeliveryError(f"HTTP {reply.status}: {_message(reply.body)}", retryable=False)
        raise DeliveryError(f"gave up after {self.attempts} attempts: {last}", retryable=True)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        backoff = min(self.max_backoff, self.backoff * 2**attempt)
        return min(self.max_backoff, retry_after) if retry_after is not None else backoff


def _message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body[:200].decode(errors="replace")
    errors = data.get("errors") if isinstance(data, dict) else None
    return "; ".join(map(str, errors)) if errors else str(data.get("message", ""))[:200]


WHY = "here's why: "


def _summary(summary: str, why: str) -> str:
    """The summary within PagerDuty's limit; a long one loses its middle, never its "here's why"."""
    if len(summary) <= SUMMARY_MAX:
        return summary
    tail = f"… {WHY}{why}"[-SUMMARY_MAX:] if why else ""
    return summary[:SUMMARY_MAX - len(tail)] + tail


def event_for(notification: Notification, runbook_url: str) -> dict[str, Any]:
    """The Events v2 body (minus routing_key) for a notification."""
    n = notification
    event: dict[str, Any] = {"event_action": n.action, "dedup_key": n.dedup_key[:DEDUP_KEY_MAX]}
    if n.action != "trigger":
        return event  # resolve needs only the dedup_key
    finding_details = n.details.get("details")
    diagnosis = finding_details.get("diagnosis") if isinstance(finding_details, dict) else None
    why = n.summary.rpartition(WHY)[2] if WHY in n.summary else ""
    event["payload"] = {
        "summary": _summary(n.summary, why) or n.dedup_key,
        "source": f"opwatch/{n.network}/{n.target}",
        "severity": _SEVERITIES.get(n.severity, "error"),
        "timestamp": n.timestamp,
        "component": n.target,
        "group": n.network,
        "class": n.check,
        "custom_details": {"observed": n.observed, "threshold": n.threshold, **n.details,
                           # The diagnosis (checks/diagnosis.py) on top, where a responder looks first.
                           **({"why": why, "diagnosis": diagnosis} if diagnosis else {})},
    }
    event["links"] = [{"href": runbook_url, "text": f"runbook: {n.check}"}]
    return event


class PagerDutySink:
    """Pages critical alerts; `runbook_url` turns docs/runbooks/<check>.md into a link."""

    def __init__(self, client: PagerDutyClient, runbook_url: Callable[[str], str] = lambda p: p,
                 name: str = "pagerduty") -> None:
        self.client = client
        self.runbook_url = runbook_url
        self.name = name

    def send(self, notification: Notification) -> None:
        event = event_for(notification, self.runbook_url(notification.runbook))
        if len(json.dumps(event)) > BODY_MAX - 1024:  # huge details: page without them
            kept = {k: event["payload"]["custom_details"].get(k) for k in ("why", "diagnosis")}
            event["payload"]["custom_details"] = {"truncated": True, **{k: v for k, v in kept.items() if v}}
            if len(json.dumps(event)) > BODY_MAX - 1024:
                event["payload"]["custom_details"] = {"truncated": True}
        self.client.enqueue(event)
