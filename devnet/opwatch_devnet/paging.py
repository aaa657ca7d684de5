"""Paging on the devnet: opwatch's real alert manager and PagerDuty client, paging a local
stand-in of PagerDuty's Events API v2 (`pagerduty.EventsStandIn`), with a chat stand-in for
warnings. Used by the demo and the benchmarks; every round's findings go through it.

Nothing here is a cloud: the state store is SQLite in the devnet's work dir, the routing key is
a devnet placeholder, and "chat" is a list of lines the demo prints.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from opwatch.alerting import AlertManager, AlertPolicy, Notification, SqliteStore
from opwatch.alerting.pagerduty import PagerDutyClient, PagerDutySink
from opwatch.findings import Finding

from opwatch_devnet.pagerduty import EventsStandIn

DEVNET_ROUTING_KEY = "devnet-placeholder-routing-key"  # the stand-in accepts any non-empty key


@dataclass(frozen=True)
class Page:
    at: float  # monotonic
    channel: str  # "pagerduty" or "chat"
    action: str  # "trigger" | "resolve"
    dedup_key: str
    summary: str


@dataclass
class ChatStandIn:
    """Stands in for a chat/e-mail channel (the route of warnings): it records what it was sent."""

    name: str = "chat"
    sent: list[Notification] = field(default_factory=list)

    def send(self, notification: Notification) -> None:
        self.sent.append(notification)


class DevnetPaging:
    """Feeds findings to an AlertManager and keeps the timeline of what reached each channel."""

    def __init__(self, workdir: Path, policy: AlertPolicy | None = None) -> None:
        self.pagerduty = EventsStandIn.start()
        self.chat = ChatStandIn()
        client = PagerDutyClient(routing_key=lambda: DEVNET_ROUTING_KEY, base_url=self.pagerduty.base_url,
                                 backoff=0.1, timeout=2.0)
        self.store = SqliteStore(str(workdir / "alerts.db"))
        # Deployed pagers page warnings at low urgency (no chat sink is deployed yet); the devnet
        # keeps them apart on its chat stand-in so the demo shows what is a page and what is not.
        base = policy or AlertPolicy()
        policy = replace(base, routes={**base.routes, "warning": (self.chat.name,)})
        self.manager = AlertManager(self.store, sinks=[PagerDutySink(client), self.chat], policy=policy)
        self.pages: list[Page] = []
        self._seen_pd = 0
        self._seen_chat = 0
        self._lock = threading.Lock()

    def process(self, findings: Sequence[Finding]) -> list[Page]:
        """One round: findings in; the pages this round caused, in order."""
        with self._lock:
            self.manager.process(findings)
            now = time.monotonic()
            new: list[Page] = []
            for event in self.pagerduty.accepted[self._seen_pd:]:
                summary = event.get("payload", {}).get("summary", "")
                new.append(Page(now, "pagerduty", event["event_action"], event.get("dedup_key", ""), summary))
            self._seen_pd = len(self.pagerduty.accepted)
            for n in self.chat.sent[self._seen_chat:]:
                new.append(Page(now, "chat", n.action, n.dedup_key, n.summary))
            self._seen_chat = len(self.chat.sent)
            self.pages.extend(new)
            return new

    def since(self, moment: float, action: str | None = None) -> list[Page]:
        return [p for p in self.pages if p.at >= moment and (action is None or p.action == action)]

    def open_incidents(self) -> list[str]:
        """dedup keys of incidents open on any channel (triggered and not yet resolved)."""
        state: dict[tuple[str, str], bool] = {}
        for p in self.pages:
            state[(p.channel, p.dedup_key)] = p.action == "trigger"
        return sorted({key for (_, key), is_open in state.items() if is_open})

    def close(self) -> None:
        self.pagerduty.stop()
        self.store.close()
