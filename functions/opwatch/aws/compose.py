"""The composition root of the AWS runtime: everything its functions need, built from the one config.

`runtime.py` reads what the deployment passes (the config's location, secret ARNs, table and
topic names: `Deployment`) and caches what is built here per container; the handlers call the
core through it. Behaviour comes from the config only: the pager's policy from `[alerting]`
(runbook links fall back to `[aws] runbook_base_url`), the fast lane from `[schedules]` and the
check's `fast_lane`, snapshot stores from `[remediation]` through this registry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import compose
from ..backends import core_registry
from ..checks import CHECKS
from ..checks.base import Resources
from ..config import Config
from ..memory import MemoryStore
from ..registry import Registry
from ..runner import RunResult, run_checks
from .backends import register


def registry() -> Registry:
    """The core's implementations and AWS's, under the names the config uses."""
    return register(core_registry())


def fast_lane_every_s(config: Config, check: str) -> float | None:
    """Seconds between samples when this check runs in the fast lane, else None (one sample)."""
    schedules = config.section("schedules")
    return schedules.fast_lane_every_s if schedules.fast_lane and CHECKS[check].fast_lane else None


def run_check(config: Config, networks: Sequence[str], check: str, aws: Registry, resources: Resources,
              memory: MemoryStore | None = None) -> RunResult:
    """One evaluation of `check` on `networks` (concurrently), its seams from this runtime
    (snapshot stores kept on AWS, built once per container in `resources`; its memory in the
    alert table)."""
    return run_checks(config, networks, [check], registry=aws, cloud="aws", resources=resources, memory=memory)


def memory_store(memory_table: str | None) -> MemoryStore | None:
    """The checks' memory: `memory#` items of the alert table (the stack grants each check
    function its own partition only: infra/checks.py), or none when the deployment names no table."""
    if not memory_table:
        return None
    from .memory_store import DynamoDBMemoryStore

    return DynamoDBMemoryStore(memory_table)


def pager(config: Config, *, alerts_table: str, routing_key_secret: str, pagerduty_base_url: str | None = None) -> Any:
    """The AlertManager of the pager function: `[alerting]`, DynamoDB state, PagerDuty and the
    declared sinks, their secrets read from Secrets Manager by the names `[alerting.sinks]` gives
    (the stack grants the pager exactly those: infra/pager.py)."""
    from .alert_store import DynamoDBStore
    from .secrets import SecretsManagerSource

    return compose.alert_manager(config, DynamoDBStore(alerts_table), SecretsManagerSource(routing_key_secret),
                                 pagerduty_base_url=pagerduty_base_url,
                                 runbook_base_url=config.section("aws").runbook_base_url, secret=SecretsManagerSource)


def remedy_seams(config: Config, *, remedy_table: str, routing_key_secret: str | None,
                 pagerduty_base_url: str | None = None) -> Any:
    """The remedies' seams on AWS: their own table (never the pager's), this registry, and the
    failover's pager when the deployment gives it a routing key."""
    from ..remedies.service import Seams
    from .remedy_store import DynamoDBRemedyStore
    from .secrets import SecretsManagerSource

    page = compose.remedy_pager(SecretsManagerSource(routing_key_secret), pagerduty_base_url=pagerduty_base_url) \
        if routing_key_secret else None
    # Where the function has the routing key, what a remedy changed goes to PagerDuty's timeline.
    changes = [compose.remedy_changes(SecretsManagerSource(routing_key_secret),
                                      pagerduty_base_url=pagerduty_base_url)] if routing_key_secret else []
    return Seams(registry=registry(), store=DynamoDBRemedyStore(remedy_table), page=page, cloud="aws",
                 listeners=changes)
