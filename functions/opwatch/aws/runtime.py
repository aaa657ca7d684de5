"""What a function reads from its environment (set by the CDK app), built once per container.

Check functions: `OPWATCH_CONFIG` (the TOML bundled beside the code), `OPWATCH_NETWORK`,
`OPWATCH_CHECK`, `FINDINGS_TOPIC_ARN`, optional `RPC_ENDPOINTS_SECRET` (see
`secrets.with_endpoint_urls`), `FAST_LANE_EVERY_S` (sequencer_liveness with the fast lane).
Pager: `ALERTS_TABLE`, `IDEMPOTENCY_TABLE`, `PAGERDUTY_SECRET`, optional `PAGERDUTY_BASE_URL`
and `RUNBOOK_BASE_URL`. Remedies: `OPWATCH_REMEDIES` (what this function may run, e.g.
`snapshot`), `REMEDY_TABLE` (the remedy store: caps, claims, leases, audit; its own table,
never the pager's `ALERTS_TABLE`, whatever `[remediation] store` says), `IDEMPOTENCY_TABLE`,
optional `RPC_ENDPOINTS_SECRET` (the same swap as check functions: a remedy reads chains too).

Everything is built on first use (not at import: cold starts) and cached. boto3 clients
honour `AWS_ENDPOINT_URL`, which is how the integration tests point real handlers at a
moto server without patching anything. `reset()` drops the caches (a new container).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..config import Config, load_config
from ..findings import Finding


def _env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise RuntimeError(f"environment variable {name} is not set (the CDK app sets it)")
    return value


@functools.cache
def base_config() -> Config:
    from ..checks import snapshot_freshness
    from .compose import registry

    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    config = load_config(os.environ.get("OPWATCH_CONFIG") or os.path.join(here, "opwatch.toml"))
    # snapshot_freshness reads the snapshots kept on AWS, through AWS's providers.
    snapshot_freshness.configure(config, registry(), cloud="aws")
    return config


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
    network: str
    check: str
    publisher: Any  # SnsPublisher
    rpc_secret: Callable[[], str] | None
    fast_lane_every_s: float | None

    def config(self) -> Config:
        return config_with_secrets(self.rpc_secret)


@functools.cache
def check_function() -> CheckFunction:
    from .publisher import SnsPublisher

    every = os.environ.get("FAST_LANE_EVERY_S")
    return CheckFunction(network=_env("OPWATCH_NETWORK"), check=_env("OPWATCH_CHECK"),
                         publisher=SnsPublisher(_env("FINDINGS_TOPIC_ARN")), rpc_secret=_rpc_secret(),
                         fast_lane_every_s=float(every) if every else None)


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

    from ..alerting import AlertManager, AlertPolicy
    from ..alerting.pagerduty import DEFAULT_BASE_URL, PagerDutyClient, PagerDutySink
    from .alert_store import DynamoDBStore
    from .secrets import SecretsManagerSource

    policy = AlertPolicy(runbook_base_url=os.environ.get("RUNBOOK_BASE_URL", ""))
    client = PagerDutyClient(SecretsManagerSource(_env("PAGERDUTY_SECRET")),
                             base_url=os.environ.get("PAGERDUTY_BASE_URL") or DEFAULT_BASE_URL)
    manager = AlertManager(DynamoDBStore(_env("ALERTS_TABLE")), [PagerDutySink(client, policy.runbook_url)], policy)
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
    from ..remedies.service import Seams, handle
    from .compose import registry
    from .remedy_store import DynamoDBRemedyStore

    store = DynamoDBRemedyStore(_env("REMEDY_TABLE"))
    aws = registry()
    rpc_secret = _rpc_secret()
    # Keyed on request_id, like the remedies' own claim; the payload must match too, so a
    # reused request_id with different contents is refused rather than answered with the old
    # outcome. Not `approved_by`: two responders approving the same page send the same request.
    idempotency = IdempotencyConfig(event_key_jmespath="request_id", expires_after_seconds=24 * 3600,
                                    payload_validation_jmespath="[remedy, network, target, dry_run]")

    page = None
    if os.environ.get("PAGERDUTY_SECRET"):  # the failover pages when it stops midway or a guard refuses it
        from ..alerting.pagerduty import DEFAULT_BASE_URL, PagerDutyClient
        from ..remedies.paging import pagerduty_pager
        from .secrets import SecretsManagerSource

        page = pagerduty_pager(PagerDutyClient(SecretsManagerSource(_env("PAGERDUTY_SECRET")),
                                               base_url=os.environ.get("PAGERDUTY_BASE_URL") or DEFAULT_BASE_URL))

    def run(request: dict[str, Any], caller: str | None = None) -> dict[str, Any]:
        req = replace(RemedyRequest.from_dict(request), caller=caller)
        outcome = handle(req, config_with_secrets(rpc_secret), Seams(registry=aws, store=store, page=page, cloud="aws"))
        if outcome.get("status") not in REMEMBERED:
            raise NotRemembered(outcome)
        return outcome

    wrapped = idempotent_function(data_keyword_argument="request", config=idempotency,
                                  persistence_store=DynamoDBPersistenceLayer(_env("IDEMPOTENCY_TABLE")))(run)
    return RemedyFunction(remedies=tuple(_env("OPWATCH_REMEDIES").split(",")), run=wrapped, idempotency=idempotency)


def reset() -> None:
    """Forget everything built so far, as a fresh container would."""
    for cached in (base_config, check_function, pager, remedy_function):
        cached.cache_clear()
