"""Cloud Functions (gen2) entry points: one CloudEvent function per registered check (any id in
`CHECKS`, served by the module's `__getattr__`: no hand-written line per check), the pager, and
the remedy HTTP function.

Thin handlers, as in the Lambda adapter: parse the event at one boundary (`events`), call the
core through the composition root (`compose`), publish or log the outcome. What `compose`
builds is kept for the instance's life (no work at import time: cold starts). The gcloud plan
passes only the config's location, secret names and the deployment's own resource names;
behaviour (the pager's `[alerting]`, the fast lane's `[schedules]`, snapshot stores) is the
config's:

    OPWATCH_CONFIG / OPWATCH_CONFIG_SECRET   the TOML (a bundled file, or a secret's value)
    OPWATCH_FINDINGS_TOPIC                   projects/P/topics/T (check functions)
    OPWATCH_MEMORY_STORE                     firestore:<project>/<database> | sqlite:<path> (check functions:
                                             what they remember between runs, their own database)
    OPWATCH_STATE_STORE                      firestore:[<project>/]<database> | sqlite:<path> (pager)
    OPWATCH_PAGERDUTY_SECRET                 projects/P/secrets/S/versions/latest (pager; failover's own pages)
    OPWATCH_REMEDIES                         remedy function: the remedies it runs (topup | snapshot |
                                             failover,restore)
    OPWATCH_REMEDY_STORE                     remedy function: firestore:<project>/<database> | sqlite:<path>

Test seams, not behaviour: `OPWATCH_PAGERDUTY_URL` (where the Events API is: a stand-in in
tests) and the Google endpoints the REST clients honour (`OPWATCH_*_ENDPOINT`).

`remedy` is one HTTP function deployed once per remedy: a push subscription delivers the
firing findings of its trigger check, and an operator POSTs a remedy request by hand (the
same JSON as `aws lambda invoke`; `opwatch remediate ... --print-request` prints it).
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import functions_framework

from ..findings import Finding, Status
from . import log
from .events import MESSAGE_PUBLISHED, BadEvent, finding_from, pubsub_message

# The check entry points are not listed: `__getattr__` serves any registered check id (the
# bundle's main.py re-exports it), so `from main import *` takes these two.
__all__ = ["pager", "remedy"]

_logger = log.CloudLogger({"service": "opwatch", "cloud": "gcp"})
_lock = threading.Lock()


def _pagerduty_url() -> str | None:
    return os.environ.get("OPWATCH_PAGERDUTY_URL") or None  # a test seam: see the module docstring


@functools.cache
def _config() -> Any:
    from .compose import load

    return load(os.environ.get("OPWATCH_CONFIG_SECRET"), os.environ.get("OPWATCH_CONFIG", "opwatch.toml"))


@functools.cache
def _registry() -> Any:
    from .compose import registry

    return registry()


@functools.cache
def _resources() -> Any:
    from ..checks.base import Resources

    return Resources()


@functools.cache
def _memory() -> Any:
    from .compose import memory_store

    return memory_store(os.environ.get("OPWATCH_MEMORY_STORE"))


@functools.cache
def _publisher() -> Any:
    from .publisher import FindingPublisher

    return FindingPublisher(os.environ["OPWATCH_FINDINGS_TOPIC"])


@functools.cache
def _beat_writer() -> Any:
    """This side's beats for the AWS watchdog's `heartbeat` check, as `[heartbeat.gcp]` names them."""
    from .beats import BeatWriter

    own = _config().section("heartbeat").own("gcp")
    return BeatWriter.for_peer(own) if own is not None else None


@functools.cache
def _manager() -> Any:
    from .compose import pager as build

    return build(_config(), _registry(), state_store=os.environ.get("OPWATCH_STATE_STORE", "firestore:(default)"),
                 routing_key_secret=os.environ["OPWATCH_PAGERDUTY_SECRET"], pagerduty_base_url=_pagerduty_url())


# --- the check functions --------------------------------------------------------------

def run_check(check_id: str, event: Any) -> list[Finding]:
    """One scheduler tick: run the check on every network, publish, write beats."""
    pubsub_message(event["type"], event.data)  # a tick's body carries nothing we need
    from .. import fastlane
    from .compose import fast_lane_every_s
    from .compose import run_check as evaluate

    config = _config()
    started = time.monotonic()
    runs: list[Any] = []

    def sample() -> list[Finding]:
        runs.append(evaluate(config, check_id, _registry(), _resources(), _memory()))
        return list(runs[-1].findings)

    # The one fast lane, as on AWS: each change of status is published at the sample that sees it.
    time_left_s = config.section("gcp").timeout_s - (time.monotonic() - started)
    lane = fastlane.run(sample, _publish, every_s=fast_lane_every_s(config, check_id),
                        window_s=fastlane.window_s(time_left_s))
    findings = lane.last
    for network, cid, why in runs[0].skipped:
        _logger.info(f"{cid} skipped on {network}: {why}", labels={"network": network, "check": cid})
    from ..checks.heartbeat import WRITER

    # An evaluation that failed inside opwatch (its targets published as unknown) did not run and
    # deliver on its network: no beat there, and the run fails once the rest is out.
    errors = {(n, c): e for r in runs for n, c, e in r.errors}
    writer = _beat_writer() if check_id == WRITER else None
    if writer is not None:  # only after the findings are out: a beat means "ran and delivered"
        from ..checks.heartbeat import Beat
        from .beats import CLOUD

        for network in sorted({f.network for f in findings if (f.network, check_id) not in errors}):
            writer.write(Beat(CLOUD, network, time.time(), sum(f.network == network for f in findings)))
    _logger.info(f"{check_id}: {len(lane.published)} findings published from {lane.samples} samples",
                 labels={"check": check_id}, wall_s=round(time.monotonic() - started, 3),
                 rpc_requests=sum(r.rpc_requests for r in runs))
    if errors:
        from ..runner import EvaluationError

        raise EvaluationError([(n, c, e) for (n, c), e in errors.items()])
    return findings


def _publish(findings: list[Finding]) -> None:
    ids = _publisher().publish(findings)
    for finding, message_id in zip(findings, ids, strict=True):
        _logger.finding(finding, labels=finding.attributes(), message_id=message_id)


@functools.cache
def _check_function(check_id: str) -> Callable[[Any], None]:
    def handler(event: Any) -> None:
        try:
            run_check(check_id, event)
        except BadEvent as exc:  # not retried: the same event will always be bad
            _logger.error(f"{check_id}: ignored a malformed event: {exc}", labels={"check": check_id})

    handler.__name__ = handler.__qualname__ = check_id
    return functions_framework.cloud_event(handler)


def __getattr__(name: str) -> Callable[[Any], None]:
    """The entry point of any registered check: `--entry-point=<check id>` (PEP 562)."""
    from ..checks import CHECKS

    if name in CHECKS:
        return _check_function(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- the pager -------------------------------------------------------------------------

@functions_framework.cloud_event
def pager(event: Any) -> None:
    """A finding from the findings subscription → the alert lifecycle → PagerDuty.

    A malformed message, or a finding of a network the config does not name, is logged and
    acknowledged (never paged). Any other failure raises: the push gets a 500, Pub/Sub retries
    with backoff and after `max_delivery_attempts` moves the message to the dead-letter topic."""
    try:
        finding = finding_from(pubsub_message(event["type"], event.data))
    except BadEvent as exc:
        _logger.error(f"pager: ignored a malformed message: {exc}")
        return
    if finding.network not in _config().networks:
        # What the subscription's filter leaves out when it cannot name every network in 256 bytes
        # (deploy/gcp_plan.py): never paged, and acknowledged, since redelivery would never help.
        _logger.error(f"pager: refused a finding of network {finding.network[:100]!r}, which the config does "
                      "not name", labels={"check": finding.check})
        return
    with _lock:  # one evaluation at a time per instance; instances race safely through the store
        transitions = _manager().process([finding])
    for t in transitions:
        _logger.log("NOTICE" if finding.status != Status.OK else "INFO", f"{t.kind}: {t.summary or t.key}",
                    labels={"network": t.network, "check": t.check}, dedup_key=t.key, detail=t.detail)


# --- remedies --------------------------------------------------------------------------

@functools.cache
def _remedy_seams() -> Any:
    from .compose import remedy_seams

    return remedy_seams(_config(), _registry(), remedy_store=os.environ.get("OPWATCH_REMEDY_STORE", ""),
                        routing_key_secret=os.environ.get("OPWATCH_PAGERDUTY_SECRET") or None,
                        pagerduty_base_url=_pagerduty_url())


def identity_email(headers: Any) -> str | None:
    """The `email` claim of the caller's identity token, or None.

    The function sits behind IAM invoker auth: Cloud Run verified the token (signature,
    audience, expiry, roles/run.invoker) before the request got here, and may strip its
    signature before passing it on, so the payload is decoded, not re-verified. It prefers
    `X-Serverless-Authorization`, which Cloud Run checks instead of `Authorization` when both
    are sent. Without IAM auth in front (a local run), the claim is only what the caller wrote.
    """
    import base64
    import binascii

    for header in ("X-Serverless-Authorization", "Authorization"):
        value = str(headers.get(header) or "")
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or token.count(".") != 2:
            continue
        payload = token.split(".")[1]
        try:
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (binascii.Error, ValueError):
            return None
        email = claims.get("email") if isinstance(claims, dict) else None
        return email if isinstance(email, str) and 0 < len(email) <= 254 and "@" in email else None
    return None


def _reply(body: dict[str, Any], status: int = 200) -> tuple[str, int, dict[str, str]]:
    return json.dumps(body, sort_keys=True, default=str), status, {"Content-Type": "application/json"}


def _remedy_request(body: Any, pushed: bool, caller: str) -> Any:
    """The `RemedyRequest` a push (a firing finding) or a POST by hand asks for, with its caller;
    raises BadEvent / BadRequest for one this function must not run."""
    from dataclasses import replace

    from ..remedies.request import BadRequest, RemedyRequest

    if pushed:
        message = pubsub_message(MESSAGE_PUBLISHED, body)
        # The subscription filters on these attributes and the remedy acts on the body: both
        # must be there and agree (finding_from checks agreement), as on AWS.
        missing = sorted({"network", "check", "status"} - set(message.attributes))
        if missing:
            raise BadEvent(f"message {message.message_id}: attributes {missing} are missing")
        req = RemedyRequest.from_finding(finding_from(message))
        caller += f" via {str(body.get('subscription'))[:200]}"
    else:
        req = RemedyRequest.from_dict(body)
    allowed = [r for r in os.environ.get("OPWATCH_REMEDIES", "").split(",") if r]
    if req.remedy not in allowed:
        raise BadRequest(f"remedy: this function runs {', '.join(allowed) or 'nothing'}, not {req.remedy!r}")
    if pushed and req.network not in _pushed_networks().get(req.remedy, ()):
        # What the subscription's filter leaves out when it cannot name the networks in 256 bytes.
        raise BadEvent(f"network {req.network[:100]!r}: {req.remedy} does not run on GCP for it, so its findings "
                       "are not routed here")
    return replace(req, caller=caller)


@functools.cache
def _pushed_networks() -> dict[str, list[str]]:
    """remedy -> the networks its subscription routes: the plan's own rule (deploy/gcp_plan.py)."""
    from ..deploy.gcp_plan import remedy_networks

    return remedy_networks(_config())


@functions_framework.http
def remedy(request: Any) -> tuple[str, int, dict[str, str]]:
    """A firing finding pushed by the remedy's subscription, or a remedy request POSTed by hand.

    Pushed: a malformed message or a finding this function does not act on (another check's, or
    of a network whose remedy does not run on GCP: what its subscription routes) is answered 200
    (acknowledged: redelivering it would never help) and logged. By hand: 400 with the reason.
    A remedy that runs answers 200 with its outcome (done, refused, failed alike: the outcome
    says which). A network whose `runs_on` is not gcp is refused (its caps, claims and lease
    live in the other cloud's store). The audit records the caller's identity-token email.
    Anything unexpected raises: a push is retried, and the remedies' own claim by request id
    makes the retry return the first outcome instead of acting twice.
    """
    from ..remedies.request import BadRequest
    from ..remedies.service import handle

    body = request.get_json(silent=True)
    pushed = isinstance(body, dict) and "message" in body and "subscription" in body
    try:
        req = _remedy_request(body, pushed, f"gcp:{identity_email(request.headers) or 'no identity token'}")
    except (BadEvent, BadRequest) as exc:
        _logger.error(f"remedy: refused a {'pushed message' if pushed else 'request'}: {exc}")
        return _reply({"status": "rejected", "reason": str(exc)}, 200 if pushed else 400)
    with _lock:
        outcome = handle(req, _config(), _remedy_seams())
    _logger.log("NOTICE" if outcome.get("status") in ("done", "sent", "aborted", "failed") else "INFO",
                f"remedy {req.remedy} on {req.network}: {outcome.get('status')}: {outcome.get('reason')}",
                labels={"network": req.network, "remedy": req.remedy}, request_id=req.request_id,
                approved_by=req.approved_by or "", caller=req.caller or "")
    return _reply(outcome | {"request_id": req.request_id})
