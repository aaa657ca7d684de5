"""Implementations of the names the config uses, registered by a composition root.

The config names cloud things (`provider = "ebs"`, `store = "dynamodb:T"`, `signer = "aws-kms"`,
`secret = "gcp-secretmanager:..."`) and the core must build them without importing a cloud.
Each runtime's composition root (`opwatch.aws.compose`, `opwatch.gcp.compose`,
`opwatch.cli.compose`) starts from `opwatch.backends.core_registry()` (SQLite stores, `env:`
secrets), lets the adapters it ships register their
factories (`opwatch.aws.register`, `opwatch.gcp.register`), and hands it to the core through
the seams. Why a registry object and not a module-level table or a lookup by import path: it is
built per runtime, not global (a test or a second config cannot leak into another); the core
names no cloud module; and a name the runtime does not ship is a clear refusal naming what it
does have, where an import path would be a crash in production.

A factory takes the policy (or the part of a spec after `kind:`) and the seams (injected
clients, sleep) and returns the implementation; clients stay lazy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Factory = Callable[[Any, Any], Any]

KINDS = ("snapshot", "remedy_store", "alert_store", "launcher", "endpoint_switch", "secret", "signer", "beat_source")


class NotAvailable(LookupError):
    """The config names an implementation this runtime does not ship."""


@dataclass
class Registry:
    factories: dict[str, dict[str, Factory]] = field(default_factory=lambda: {k: {} for k in KINDS})

    def register(self, kind: str, name: str, factory: Factory) -> None:
        if kind not in self.factories:
            raise ValueError(f"unknown kind {kind!r} (kinds: {', '.join(KINDS)})")
        self.factories[kind][name] = factory

    def names(self, kind: str) -> list[str]:
        return sorted(self.factories[kind])

    def build(self, kind: str, name: str, arg: Any, seams: Any) -> Any:
        factory = self.factories.get(kind, {}).get(name)
        if factory is None:
            have = ", ".join(self.names(kind)) if kind in self.factories else "none"
            raise NotAvailable(f"{kind} {name!r} is not available in this runtime (it has: {have or 'none'})")
        return factory(arg, seams)
