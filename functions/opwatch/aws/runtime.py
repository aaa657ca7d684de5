"""What the deployment passes a function (set by the CDK app), and the container's cache of
what `compose` builds from it.

The environment holds the config's location, secret ARNs and the deployment's own resource
names, never behaviour (that is the config's: `[alerting]`, `[schedules]`, `[remediation]`):
- every function: `OPWATCH_CONFIG` (the TOML bundled beside the code), optional
  `RPC_ENDPOINTS_SECRET` (the keyed URLs, see `secrets.with_endpoint_urls`);
- check functions: `OPWATCH_NETWORK` (its network, or its networks comma-joined: `[aws] layout`),
  `OPWATCH_CHECK` (which of the stack's functions this is), `FINDINGS_TOPIC_ARN`,
  `MEMORY_TABLE` (the alert table: the check's `memory#` partition
  only); the fast lane follows `[schedules]` and the check's `fast_lane`
  (`FAST_LANE_EVERY_S`, which the CDK app still sets for its timeout, is not read);
- pager: `ALERTS_TABLE`, `IDEMPOTENCY_TABLE`, `PAGERDUTY_SECRET`;
- remedies: `OPWATCH_REMEDIES` (what this function may run), `REMEDY_TABLE` (caps, claims,
  leases, audit: its own table, never the pager's), `IDEMPOTENCY_TABLE`, optional
  `PAGERDUTY_SECRET` (the failover's own pages).
Test seams, not behaviour: `PAGERDUTY_BASE_URL` (where the Events API is: a stand-in in tests)
and `AWS_ENDPOINT_URL` (honoured by boto3: a moto server), so tests run the real handlers
without patching anything.

Everything is built on first use (not at import: cold starts) and cached. `reset()` drops the
caches (a new container).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..checks.base import Resources
from ..config import Config, load_config
from ..findings import Finding
from ..registry import Registry
from ..runner import RunResult


def _env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise RuntimeError(f"environment variable {name} is not set (the CDK app sets it)")
    return value


def _pagerduty_base_url() -> str | None:
    return os.environ.get("PAGERDUTY_BASE_URL") or None  # a test seam: see the module docstring


@functools.cache
def base_config() -> Config:
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return load_config(os.environ.get("OPWATCH_CONFIG") or os.path.join(here, "opwatch.toml"))


@functools.cache
def registry() -> Registry:
    from .compose import registry as build

    return build()


def config_with_secrets(source: Callable[[], str] | None) -> Config:
    """The bundled config with the keyed endpoint URLs of the `rpc_endpoints` secret swapped in."""
    from .secrets import with_endpoint_urls

    config = base_config()
    return with_endpoint_urls(config, source()) if source else config


def _rpc_secret() -> Callable[[], str] | None:
    from .secrets import SecretsManagerSource

    secret = os.environ.get("RPC_ENDPOINTS_SECRET")
    return SecretsManagerSource(secret) if secret else None


@dataclass(frozen=True, slots=True)
class CheckFunction:
    networks: tuple[str, ...]
    check: str
    publisher: Any  # SnsPublisher
    rpc_secret: Callable[[], str] | None
    fast_lane_every_s: float | None
    resources: Resources  # snapshot providers and the like, built once per container
    memory: Any = None  # MemoryStore | None: what the check remembers between runs

    def config(self) -> Config:
        return config_with_secrets(self.rpc_secret)

    def run(self, networks: tuple[str, ...], check: str) -> RunResult:
        """One evaluation of `check` on `networks`, concurrently (one failing network is `unknown`
        on its own: the others' findings are unaffected)."""
        from .compose import run_check

        return run_check(self.config(), networks, check, registry(), self.resources, self.memory)


@functools.cache
def check_function() -> CheckFunction:
    from .compose import fast_lane_every_s, memory_store
    from .events import network_list
    from .publisher import SnsPublisher

    check = _env("OPWATCH_CHECK")
    return CheckFunction(networks=network_list(_env("OPWATCH_NETWORK")), check=check,
                         publisher=SnsPublisher(_env("FINDINGS_TOPIC_ARN")), rpc_secret=_rpc_secret(),
                         fast_lane_every_s=fast_lane_every_s(base_config(), check), resources=Resources(),
                         memory=memory_store(os.environ.get("MEMORY_TABLE")))


@dataclass(frozen=True, slots=True)
class Pager:
    process: Callable[..., Any]  # idempotent: (delivery={"message_id", "finding"}) -> list of transitions
    idempotency: Any  # IdempotencyConfig, told about each invocation's context


@functools.cache
def pager() -> Pager:
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    from . import compose

    manager = compose.pager(base_config(), alerts_table=_env("ALERTS_TABLE"),
                            routing_key_secret=_env("PAGERDUTY_SECRET"), pagerduty_base_url=_pagerduty_base_url())
    # Keyed on the SNS message id: SNS delivers at least once, and a redelivery of a message
    # already processed returns the stored result without touching the alert state. A day
    # covers SNS's retry horizon for Lambda endpoints (about 23 days is the worst case for
    # custom policies; the default is minutes).
    idempotency = IdempotencyConfig(event_key_jmespath="message_id", expires_after_seconds=24 * 3600)

    def process(delivery: dict[str, Any]) -> list[dict[str, Any]]:
        transitions = manager.process([Finding.from_dict(delivery["finding"])])
        return [{"kind": str(t.kind), "key": t.key, "detail": t.detail} for t in transitions]

    wrapped = idempotent_function(data_keyword_argument="delivery", config=idempotency,
                                  persistence_store=DynamoDBPersistenceLayer(_env("IDEMPOTENCY_TABLE")))(process)
    return Pager(process=wrapped, idempotency=idempotency)


# The outcomes Powertools remembers for a day: the remedy acted or completed (or its own
# claim answered for a run that did). `pending` is an action taken (a snapshot the cloud is
# still writing, a top-up broadcast without its receipt yet): remembered, so a retry of the
# same id never acts again. A refusal, a failure or a dry run changed nothing, so the id is
# released: the page's approve command (a fixed request id) runs again once conditions
# change, as docs/remediation.md promises.
REMEMBERED = frozenset({"done", "sent", "pending", "skipped", "aborted", "duplicate"})


class NotRemembered(Exception):  # a control-flow signal, not an error
    """Raised through Powertools so it deletes its record; the handler answers `outcome`."""

    def __init__(self, outcome: dict[str, Any]) -> None:
        super().__init__(str(outcome.get("status")))
        self.outcome = outcome


@dataclass(frozen=True, slots=True)
class RemedyFunction:
    remedies: tuple[str, ...]
    # idempotent: (request=RemedyRequest.to_dict(), caller=str) -> outcome dict; raises
    # NotRemembered (carrying the outcome) for outcomes that must not be remembered.
    run: Callable[..., Any]
    idempotency: Any


@functools.cache
def remedy_function() -> RemedyFunction:
    from dataclasses import replace

    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    from ..remedies.request import RemedyRequest
    from ..remedies.service import handle
    from . import compose

    seams = compose.remedy_seams(base_config(), remedy_table=_env("REMEDY_TABLE"),
                                 routing_key_secret=os.environ.get("PAGERDUTY_SECRET") or None,
                                 pagerduty_base_url=_pagerduty_base_url())
    rpc_secret = _rpc_secret()
    # Keyed on request_id, like the remedies' own claim; the payload must match too, so a
    # reused request_id with different contents is refused rather than answered with the old
    # outcome. Not `approved_by`: two responders approving the same page send the same request.
    idempotency = IdempotencyConfig(event_key_jmespath="request_id", expires_after_seconds=24 * 3600,
                                    payload_validation_jmespath="[remedy, network, target, dry_run]")

    def run(request: dict[str, Any], caller: str | None = None) -> dict[str, Any]:
        req = replace(RemedyRequest.from_dict(request), caller=caller)
        outcome = handle(req, config_with_secrets(rpc_secret), seams)
        if outcome.get("status") not in REMEMBERED:
            raise NotRemembered(outcome)
        return outcome

    wrapped = idempotent_function(data_keyword_argument="request", config=idempotency,
                                  persistence_store=DynamoDBPersistenceLayer(_env("IDEMPOTENCY_TABLE")))(run)
    return RemedyFunction(remedies=tuple(_env("OPWATCH_REMEDIES").split(",")), run=wrapped, idempotency=idempotency)


def reset() -> None:
    """Forget everything built so far, as a fresh container would."""
    for cached in (base_config, registry, check_function, pager, remedy_function):
        cached.cache_clear()
