"""Lambda entry point for a remedy: a firing finding from SNS, or a request invoked by hand.

Two event shapes, one path: an SNS event (the subscription's filter policy lets through only
`status = firing` findings of the remedy's trigger check) becomes `RemedyRequest.from_finding`;
anything else is a remedy request as `aws lambda invoke` sends it (see docs/aws.md):

    {"remedy": "snapshot", "network": "mainnet", "request_id": "ops-2026-0001", "approved_by": "alice"}

Each request runs once per `request_id` (Powertools Idempotency, and the remedies' own claim
in the state table); a duplicate delivery returns the first outcome. Guards, caps and the
audit log are the remedies' own (`opwatch.remedies.service.handle`).
"""

from __future__ import annotations

from typing import Any

from ..remedies.request import BadRequest, RemedyRequest
from . import runtime
from .events import findings_from_sns
from .telemetry import logger, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    fn = runtime.remedy_function()
    fn.idempotency.register_lambda_context(context)
    from_sns = isinstance(event, dict) and "Records" in event
    requests = [RemedyRequest.from_finding(m.finding) for m in findings_from_sns(event)] if from_sns else [
        RemedyRequest.from_dict(event)]
    outcomes = []
    for request in requests:
        if request.remedy not in fn.remedies:
            raise BadRequest(f"remedy: this function runs {', '.join(fn.remedies)}, not {request.remedy!r}")
        logger.append_keys(request_id=request.request_id, remedy=request.remedy, network=request.network)
        outcome = fn.run(request=request.to_dict())
        logger.info("remedy outcome", extra={"outcome": {k: outcome.get(k) for k in ("status", "reason")}})
        outcomes.append(outcome)
    return {"outcomes": outcomes} if from_sns else outcomes[0]
