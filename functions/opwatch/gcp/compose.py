"""The composition root of the GCP runtime: everything its functions need, built from the one config.

`main.py` reads what the gcloud plan passes (the config's location or secret, the findings
topic, store databases, secret names) and caches what is built here per instance. Behaviour
comes from the config only: the pager's policy from `[alerting]`, the fast lane from
`[schedules]` and the check's `fast_lane`, snapshot stores from `[remediation]` through this
registry.
"""

from __future__ import annotations

from typing import Any

from .. import compose
from ..backends import core_registry
from ..checks import CHECKS
from ..checks.base import Resources
from ..config import Config, load_config, parse_config
from ..registry import Registry
from ..runner import RunResult, run_checks
from .backends import register

STORES = ("firestore", "sqlite")  # sqlite: local runs and tests


def registry() -> Registry:
    """The core's implementations and GCP's, under the names the config uses."""
    return register(core_registry())


def load(config_secret: str | None, config_path: str) -> Config:
    """The TOML from Secret Manager (`projects/P/secrets/S/versions/V`) or a bundled file."""
    if config_secret:
        from .secret_source import SecretManagerSource

        return parse_config(SecretManagerSource(config_secret)(), source=config_secret.split("/versions/")[0])
    return load_config(config_path)


def fast_lane_every_s(config: Config, check: str) -> float | None:
    """Seconds between samples when this check runs in the fast lane, else None (one sample)."""
    schedules = config.section("schedules")
    return schedules.fast_lane_every_s if schedules.fast_lane and CHECKS[check].fast_lane else None


def run_check(config: Config, check: str, gcp: Registry, resources: Resources, memory: Any = None) -> RunResult:
    """One evaluation of `check` on every network, its seams from this runtime (snapshot
    stores kept on GCP, built once per instance in `resources`; `memory` the checks' own database)."""
    return run_checks(config, check_ids=[check], registry=gcp, cloud="gcp", resources=resources, memory=memory)


def memory_store(spec: str | None) -> Any:
    """`firestore:<project>/<database>` (the plan's OPWATCH_MEMORY_STORE: the checks' own database)
    or `sqlite:<path>`; None when the deployment names no store (memory-dependent causes say so)."""
    if not spec:
        return None
    name, _, where = spec.partition(":")
    if name == "sqlite" and where:
        from ..memory import SqliteMemoryStore

        return SqliteMemoryStore(where)
    if name != "firestore" or not where:
        raise ValueError("OPWATCH_MEMORY_STORE: expected firestore:<project>/<database> or sqlite:<path>, "
                         f"got {spec!r}")
    from .memory_store import FirestoreMemoryStore

    project, _, database = where.rpartition("/")
    return FirestoreMemoryStore(database or "(default)", project=project or None)


def store(gcp: Registry, kind: str, spec: str, what: str) -> Any:
    """`firestore:<where>` or `sqlite:<path>`, as the GCP registry builds them."""
    name, _, where = spec.partition(":")
    if name not in STORES or not where:
        raise ValueError(f"{what}: expected firestore:<...> or sqlite:<path>, got {spec!r}")
    return gcp.build(kind, name, where, None)


def pager(config: Config, gcp: Registry, *, state_store: str, routing_key_secret: str,
          pagerduty_base_url: str | None = None) -> Any:
    """The AlertManager of the pager function: `[alerting]`, Firestore state, PagerDuty and the
    declared sinks, their secrets read from Secret Manager in the routing key's project (a
    sink's `secret` may also be a full `projects/P/secrets/S/versions/V`)."""
    from .secret_source import SecretManagerSource

    project = routing_key_secret.split("/secrets/")[0]

    def secret(name: str) -> SecretManagerSource:
        path = name if name.startswith("projects/") else f"{project}/secrets/{name}/versions/latest"
        return SecretManagerSource(path)

    return compose.alert_manager(config, store(gcp, "alert_store", state_store, "OPWATCH_STATE_STORE"),
                                 SecretManagerSource(routing_key_secret), pagerduty_base_url=pagerduty_base_url,
                                 secret=secret)


def remedy_seams(config: Config, gcp: Registry, *, remedy_store: str, routing_key_secret: str | None,
                 pagerduty_base_url: str | None = None) -> Any:
    """The remedies' seams on GCP: their own database, this registry, the failover's pager."""
    from ..remedies.service import Seams
    from .secret_source import SecretManagerSource

    page = compose.remedy_pager(SecretManagerSource(routing_key_secret), pagerduty_base_url=pagerduty_base_url) \
        if routing_key_secret else None
    # Where the function has the routing key, what a remedy changed goes to PagerDuty's timeline.
    changes = [compose.remedy_changes(SecretManagerSource(routing_key_secret), pagerduty_base_url=pagerduty_base_url)] \
        if routing_key_secret else []
    return Seams(registry=gcp, store=store(gcp, "remedy_store", remedy_store, "OPWATCH_REMEDY_STORE"), page=page,
                 cloud="gcp", listeners=changes)
