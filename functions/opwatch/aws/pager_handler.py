"""Lambda entry point for paging: SNS findings → alert lifecycle (DynamoDB) → PagerDuty.

Subscribed to the findings topic with a filter policy on the networks this stack watches.
Each delivery is processed once (Powertools Idempotency keyed on the SNS message id, in its
own DynamoDB table); the alert manager's compare-and-set state makes concurrent deliveries
of different messages page once. A delivery that fails raises, so Lambda retries the async
invocation and then sends it to the function's dead-letter queue.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import SNSEvent, event_source

from . import runtime
from .events import findings_from_sns
from .telemetry import logger
from .tracing import tracer


@logger.inject_lambda_context(correlation_id_path="Records[0].Sns.MessageId", clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@event_source(data_class=SNSEvent)
def handler(event: SNSEvent, context: Any) -> dict[str, Any]:
    pager = runtime.pager()
    pager.idempotency.register_lambda_context(context)
    transitions = []
    for message in findings_from_sns(event.raw_event):
        logger.append_keys(dedup_key=message.finding.dedup_key)
        transitions += pager.process(delivery={"message_id": message.message_id,
                                               "finding": message.finding.to_dict()})
    for t in transitions:
        logger.info("alert transition", extra={"transition": t})
    return {"transitions": transitions}
