"""What every runtime's composition root builds the same way from the one config.

The roots (`opwatch.aws.compose`, `opwatch.gcp.compose`, `opwatch.cli.compose`) differ only in
where state lives and where secrets come from; the domain decisions (the alert policy, its
routes, timings and silences, which sinks exist) are made here, once, from the config. A
deployment passes the config's location, secret names and its own resource names (tables,
topics, buckets), never behaviour.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .config import Config


def alert_manager(config: Config, store: Any, routing_key: Any, *, pagerduty_base_url: str | None = None,
                  runbook_base_url: str = "") -> Any:
    """The alert lifecycle as `[alerting]` describes it (routes, per-check timings, silences,
    claim time, runbook links), paging PagerDuty with the routing key from `routing_key` (a
    secret source). `runbook_base_url` is a deployment's own fallback (`[aws] runbook_base_url`)
    for a config whose `[alerting]` names none. `pagerduty_base_url` is where the Events API
    is: PagerDuty's unless a test points it at a stand-in."""
    from .alerting import AlertManager
    from .alerting.pagerduty import DEFAULT_BASE_URL, PagerDutyClient, PagerDutySink

    policy = config.section("alerting")
    if not policy.runbook_base_url and runbook_base_url:
        policy = replace(policy, runbook_base_url=runbook_base_url)
    client = PagerDutyClient(routing_key, base_url=pagerduty_base_url or DEFAULT_BASE_URL)
    return AlertManager(store, [PagerDutySink(client, policy.runbook_url)], policy)


def remedy_pager(routing_key: Any, *, pagerduty_base_url: str | None = None) -> Any:
    """The failover's own pages (stopped midway, refused unattended)."""
    from .alerting.pagerduty import DEFAULT_BASE_URL, PagerDutyClient
    from .remedies.paging import pagerduty_pager

    return pagerduty_pager(PagerDutyClient(routing_key, base_url=pagerduty_base_url or DEFAULT_BASE_URL))
