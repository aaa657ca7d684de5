"""Lambda entry point for a remedy: a firing finding from SNS, or a request invoked by hand.

Two event shapes, one path: an SNS event (the subscription's filter policy lets through only
`status = firing` findings of the remedy's trigger check) becomes `RemedyRequest.from_finding`;
anything else is a remedy request as `aws lambda invoke` sends it (see docs/aws.md):

    {"remedy": "snapshot", "network": "mainnet", "request_id": "ops-2026-0001", "approved_by": "alice"}

Each request runs once per `request_id` (Powertools Idempotency, and the remedies' own claim
in the remedy table); a duplicate delivery returns the first completed outcome, and a refusal
or failure is not remembered (the same request may be tried again). Guards, caps and the
audit log are the remedies' own (`opwatch.remedies.service.handle`).

Who asked: Lambda does not tell a function which IAM principal invoked it. The audit records
`aws-invoke:<request id>` for a direct invoke (CloudTrail's Lambda data events, where enabled,
record the principal with that request id) and `aws-sns:<topic>` for an SNS delivery; the
payload's `approved_by` is recorded as what it is, self-asserted by whoever may invoke.
"""

from __future__ import annotations

from typing import Any

from ..remedies.request import BadRequest, RemedyRequest
from . import runtime
from .events import REMEDY_ATTRIBUTES, finding_from_record, sns_records
from .telemetry import logger
from .tracing import tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    fn = runtime.remedy_function()
    fn.idempotency.register_lambda_context(context)
    if isinstance(event, dict) and "Records" in event:
        return {"outcomes": [_delivered(fn, record) for record in sns_records(event)]}
    request = RemedyRequest.from_dict(event)
    _runs(fn, request)
    return _run(fn, request, f"aws-invoke:{getattr(context, 'aws_request_id', '') or 'unknown'}")


def _runs(fn: runtime.RemedyFunction, request: RemedyRequest) -> None:
    if request.remedy not in fn.remedies:
        raise BadRequest(f"remedy: this function runs {', '.join(fn.remedies)}, not {request.remedy!r}")


def _delivered(fn: runtime.RemedyFunction, record: Any) -> dict[str, Any]:
    """One SNS record. One that cannot act (not a finding, attributes that disagree with the
    body, a check this function does not remedy) is logged and answered `rejected`, never
    raised: SNS would redeliver it, and it would never act."""
    try:
        message = finding_from_record(record, required=REMEDY_ATTRIBUTES)
        request = RemedyRequest.from_finding(message.finding)
        _runs(fn, request)
    except ValueError as exc:  # BadMessage, BadRequest
        logger.error("remedy: rejected an SNS message", extra={"reason": str(exc)})
        return {"status": "rejected", "reason": str(exc)}
    return _run(fn, request, f"aws-sns:{message.topic_arn or 'unknown'}")


def _run(fn: runtime.RemedyFunction, request: RemedyRequest, caller: str) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    logger.append_keys(request_id=request.request_id, remedy=request.remedy, network=request.network)
    try:
        outcome: dict[str, Any] = fn.run(request=request.to_dict(), caller=caller)
    except runtime.NotRemembered as answer:
        outcome = answer.outcome
    except IdempotencyValidationError:
        outcome = {"status": "refused", "reason": f"request id {request.request_id} was already used for a "
                                                  "different request (remedy, network, target or dry_run): "
                                                  "use a new request id"}
    except IdempotencyAlreadyInProgressError:
        outcome = {"status": "refused", "reason": f"request {request.request_id} is running now (another "
                                                  "delivery or responder); its outcome goes to the audit log"}
    logger.info("remedy outcome", extra={"outcome": {k: outcome.get(k) for k in ("status", "reason")},
                                         "caller": caller})
    return outcome
