"""The Alertmanager sink: `POST /api/v2/alerts`, so teams that route and silence in Alertmanager
get opwatch's alerts beside Prometheus's.

Wire facts (Alertmanager's OpenAPI v2, checked against the real 0.25 in the tests):
- An alert is identified by its label set. Labels: `alertname` (the check), `network`, `target`,
  `severity`, `dedup_key`, `source="opwatch"`. Annotations: `summary`, `runbook_url`,
  `diagnosis` (where the finding has one), `observed`, `threshold`.
- A firing alert that is not re-sent ends at its `endsAt`, or `resolve_timeout` (5 min) after
  it arrived when it has none. Prometheus re-sends every evaluation; opwatch sends a trigger
  once, so a trigger carries `endsAt` = now + the sink's `firing_ttl` (default 7 days): it stays
  firing until opwatch resolves it, or at worst until then if opwatch never does.
- A resolve is the same labels with `endsAt` (the ok finding's time). Severity is a label and
  may have changed during the incident (a trigger is sent once, at the first severity), so a
  resolve first asks this Alertmanager which alerts of the dedup key it holds
  (`GET /api/v2/alerts?filter=dedup_key="…"`) and ends exactly those; when it holds none (it
  lost them, or never saw one), it ends the notification's own label set, which notifies no one.
- `startsAt` must not be after `endsAt`; Alertmanager keeps the earliest `startsAt` it saw. A
  resolve's `endsAt` is the ok finding's time but never later than this host's clock: one in
  Alertmanager's future would count as a firing update (so its clock must not lag ours by more
  than the time between the finding and its resolve: keep both on NTP).
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .model import Notification
from .sinks import DeliveryError, SecretSource, authorized, post_json


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _epoch(text: str, default: float) -> float:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return default


def diagnosis_lines(notification: Notification) -> list[str]:
    """The finding's diagnosis (checks/diagnosis.py), one line per cause, most likely first."""
    details = notification.details.get("details")
    causes = details.get("diagnosis") if isinstance(details, dict) else None
    if not isinstance(causes, list):
        return []
    mark = {True: "holds", False: "ruled out", None: "could not tell"}
    return [f"{mark.get(c.get('holds'), '?')}: {c.get('text') or c.get('cause')} ({c.get('measured', '')})"
            for c in causes if isinstance(c, dict)]


def alerts_for(n: Notification, runbook_url: str, now: float, firing_ttl_s: float,
               held: list[dict[str, str]] | None = None) -> list[dict[str, Any]]:
    """The `POST /api/v2/alerts` body for one notification; `held`: for a resolve, the label sets
    Alertmanager holds under this dedup key."""
    base = {"alertname": n.check, "network": n.network, "target": n.target, "dedup_key": n.dedup_key,
            "source": "opwatch"}
    annotations = {"summary": n.summary, "runbook_url": runbook_url, "observed": n.observed,
                   "threshold": n.threshold, "diagnosis": "\n".join(diagnosis_lines(n))}
    annotations = {k: v for k, v in annotations.items() if v}
    generator = {"generatorURL": runbook_url} if runbook_url.startswith(("http://", "https://")) else {}
    if n.action == "trigger":
        return [{"labels": {**base, "severity": n.severity}, "annotations": annotations, "startsAt": n.timestamp,
                 "endsAt": _iso(now + firing_ttl_s), **generator}]
    # Never in the future: Alertmanager treats a resolve whose endsAt has not passed as a firing
    # update, and keeps the later endsAt it already holds (the trigger's firing_ttl).
    ended = _iso(min(now, _epoch(n.timestamp, now)))
    return [{"labels": labels, "annotations": annotations, "startsAt": ended, "endsAt": ended, **generator}
            for labels in (held or [{**base, "severity": n.severity}])]


class AlertmanagerSink:
    """Posts to one Alertmanager (`url`: its base, e.g. http://alertmanager:9093). For an HA pair,
    declare one sink per instance: Alertmanager's cluster deduplicates what they notify."""

    def __init__(self, name: str, url: SecretSource, runbook_url: Callable[[str], str] = lambda p: p,
                 firing_ttl_s: float = 7 * 24 * 3600.0, clock: Callable[[], float] = time.time,
                 post: Callable[..., bytes] = post_json) -> None:
        self.name = name
        self._url = url
        self.runbook_url = runbook_url
        self.firing_ttl_s = firing_ttl_s
        self.clock = clock
        self._post = post

    def __repr__(self) -> str:
        return f"AlertmanagerSink({self.name!r})"

    def send(self, notification: Notification) -> None:
        base = self._url().rstrip("/") + "/api/v2/alerts"
        held = self._held(base, notification.dedup_key) if notification.action == "resolve" else None
        body = alerts_for(notification, self.runbook_url(notification.runbook), self.clock(), self.firing_ttl_s,
                          held)
        self._post(base, body, what=f"alertmanager {self.name}")

    def _held(self, url: str, dedup_key: str) -> list[dict[str, str]]:
        value = dedup_key.replace("\\", "\\\\").replace('"', '\\"')
        query = urllib.parse.urlencode({"filter": f'dedup_key="{value}"', "active": "true", "silenced": "true",
                                        "inhibited": "true", "unprocessed": "true"})
        try:
            with urllib.request.urlopen(authorized(f"{url}?{query}"), timeout=5.0) as reply:
                alerts = json.loads(reply.read())
        except (OSError, ValueError) as exc:  # the URL never goes into the error: it may be a secret's
            raise DeliveryError(f"alertmanager {self.name}: cannot list its alerts ({type(exc).__name__})",
                                retryable=True) from None
        return [dict(a["labels"]) for a in alerts if isinstance(a, dict) and isinstance(a.get("labels"), dict)
                and a["labels"].get("dedup_key") == dedup_key]


def plain(url: str) -> SecretSource:
    """A URL that is no credential, as a secret source."""
    return lambda: url


__all__ = ["AlertmanagerSink", "alerts_for", "diagnosis_lines", "plain"]
