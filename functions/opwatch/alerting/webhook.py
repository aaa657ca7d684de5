"""The generic JSON webhook sink: the notification as one documented JSON object, for receivers
opwatch has no sink of its own for (a chat bridge, a ticketing hook, an automation).

Body (`version` 1; fields are added, never renamed):
`{"version": 1, "source": "opwatch", "action": "trigger" | "resolve", "dedup_key", "severity",
"summary", "network", "check", "target", "runbook", "runbook_url", "timestamp", "observed",
"threshold", "details"}`, where `details` holds the finding's details (with its diagnosis)
and the incident number. The URL comes from a secret (it is the credential); 2xx is delivered,
429/5xx retried, anything else final.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .model import Notification
from .sinks import SecretSource, post_json

VERSION = 1


def body_for(n: Notification, runbook_url: str) -> dict[str, Any]:
    return {"version": VERSION, "source": "opwatch", "action": n.action, "dedup_key": n.dedup_key,
            "severity": n.severity, "summary": n.summary, "network": n.network, "check": n.check,
            "target": n.target, "runbook": n.runbook, "runbook_url": runbook_url, "timestamp": n.timestamp,
            "observed": n.observed, "threshold": n.threshold, "details": n.details}


class WebhookSink:
    def __init__(self, name: str, url: SecretSource, runbook_url: Callable[[str], str] = lambda p: p,
                 post: Callable[..., bytes] = post_json) -> None:
        self.name = name
        self._url = url
        self.runbook_url = runbook_url
        self._post = post

    def __repr__(self) -> str:  # never the URL
        return f"WebhookSink({self.name!r})"

    def send(self, notification: Notification) -> None:
        self._post(self._url(), body_for(notification, self.runbook_url(notification.runbook)),
                   what=f"webhook {self.name}")
