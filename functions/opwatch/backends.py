"""The implementations the core ships without any cloud, registered under the names the config
uses: SQLite stores (`sqlite:PATH`) and `env:` secrets. Every runtime's registry starts here
(`opwatch.registry`); the clouds add theirs.
"""

from __future__ import annotations

from typing import Any

from .registry import Registry


def core_registry() -> Registry:
    registry = Registry()
    registry.register("remedy_store", "sqlite", _sqlite_remedy_store)
    registry.register("alert_store", "sqlite", _sqlite_alert_store)
    registry.register("secret", "env", _env_secret)
    return registry


def _sqlite_remedy_store(where: str, _seams: Any) -> Any:
    from .remedies.store import SqliteRemedyStore

    return SqliteRemedyStore(where)


def _sqlite_alert_store(where: str, _seams: Any) -> Any:
    from .alerting.store.sqlite import SqliteStore

    return SqliteStore(where)


def _env_secret(_arg: Any, seams: Any) -> Any:
    from .remedies.signer import EnvSecretSource

    return EnvSecretSource(getattr(seams, "environ", None))
