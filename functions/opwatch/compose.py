"""What every runtime's composition root builds the same way from the one config.

The roots (`opwatch.aws.compose`, `opwatch.gcp.compose`, `opwatch.cli.compose`) differ only in
where state lives and where secrets come from; the domain decisions (the alert policy, its
routes, timings and silences, which sinks exist) are made here, once, from the config. A
deployment passes the config's location, secret names and its own resource names (tables,
topics, buckets), never behaviour.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from .config import Config


def alert_manager(config: Config, store: Any, routing_key: Any, *, pagerduty_base_url: str | None = None,
                  runbook_base_url: str = "", secret: Callable[[str], Any] | None = None) -> Any:
    """The alert lifecycle as `[alerting]` describes it (routes, per-check timings, silences,
    claim time, runbook links, sinks), paging PagerDuty with the routing key from `routing_key`
    (a secret source). `runbook_base_url` is a deployment's own fallback (`[aws] runbook_base_url`)
    for a config whose `[alerting]` names none. `pagerduty_base_url` is where the Events API
    is: PagerDuty's unless a test points it at a stand-in. `secret(name)` is the runtime's secret
    source for a declared sink's `secret` (the environment's `OPWATCH_SECRET_<NAME>` by default)."""
    from .alerting import AlertManager

    policy = config.section("alerting")
    if not policy.runbook_base_url and runbook_base_url:
        policy = replace(policy, runbook_base_url=runbook_base_url)
    sinks = [pagerduty_sink(routing_key, policy.runbook_url, "pagerduty", pagerduty_base_url)]
    sinks += [sink(spec, secret, policy.runbook_url, pagerduty_base_url) for spec in policy.sinks.values()]
    return AlertManager(store, sinks, policy)


def pagerduty_sink(routing_key: Any, runbook_url: Callable[[str], str], name: str,
                   pagerduty_base_url: str | None) -> Any:
    from .alerting.pagerduty import DEFAULT_BASE_URL, PagerDutyClient, PagerDutySink

    client = PagerDutyClient(routing_key, base_url=pagerduty_base_url or DEFAULT_BASE_URL)
    return PagerDutySink(client, runbook_url, name=name)


def sink(spec: Any, secret: Callable[[str], Any] | None, runbook_url: Callable[[str], str],
         pagerduty_base_url: str | None = None) -> Any:
    """One declared sink (`[alerting.sinks.<name>]`, an `alerting.policy.SinkSpec`), its secret
    read through this runtime's secret source at call time, never at build time."""
    from .alerting.alertmanager import AlertmanagerSink, plain
    from .alerting.policy import DEFAULT_FIRING_TTL_S
    from .alerting.sinks import EnvSecret
    from .alerting.slack import SlackSink
    from .alerting.webhook import WebhookSink

    source = plain(spec.url) if spec.url else (secret or EnvSecret)(spec.secret)
    if spec.type == "alertmanager":
        return AlertmanagerSink(spec.name, source, runbook_url, firing_ttl_s=spec.firing_ttl_s or DEFAULT_FIRING_TTL_S)
    if spec.type == "slack":
        return SlackSink(spec.name, source, runbook_url)
    if spec.type == "webhook":
        return WebhookSink(spec.name, source, runbook_url)
    return pagerduty_sink(source, runbook_url, spec.name, pagerduty_base_url)


def remedy_pager(routing_key: Any, *, pagerduty_base_url: str | None = None) -> Any:
    """The failover's own pages (stopped midway, refused unattended)."""
    from .alerting.pagerduty import DEFAULT_BASE_URL, PagerDutyClient
    from .remedies.paging import pagerduty_pager

    return pagerduty_pager(PagerDutyClient(routing_key, base_url=pagerduty_base_url or DEFAULT_BASE_URL))


def remedy_changes(routing_key: Any, *, pagerduty_base_url: str | None = None) -> Any:
    """The remedies' PagerDuty change events: an audit listener, one event per remedy that acted."""
    from .alerting import changes

    return changes.remedy_listener(changes.client(routing_key, pagerduty_base_url))
