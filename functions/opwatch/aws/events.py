"""The event shapes the handlers accept, parsed at one boundary.

EventBridge Scheduler invokes a Lambda with the target's `Input` verbatim (not an
EventBridge envelope), so the CDK app writes that input (`scheduled_input`) and the handler
reads it back (`ScheduledRun.from_event`); the `<aws.scheduler.*>` placeholders are filled
in by Scheduler. A manual `aws lambda invoke` may send `{}`: the function's own network and
check (from its environment) apply. SNS events are read with Powertools' `SNSEvent`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..findings import Finding

# Scheduler context attributes, substituted at each run.
_PLACEHOLDERS = {
    "execution_id": "<aws.scheduler.execution-id>",
    "scheduled_time": "<aws.scheduler.scheduled-time>",
    "schedule_arn": "<aws.scheduler.schedule-arn>",
    "attempt": "<aws.scheduler.attempt-number>",
}


def scheduled_input(network: str, check: str) -> dict[str, str]:
    """The Scheduler target input for one check function (what `ScheduledRun` parses)."""
    return {"network": network, "check": check, **_PLACEHOLDERS}


@dataclass(frozen=True, slots=True)
class ScheduledRun:
    network: str
    check: str
    execution_id: str = ""
    scheduled_time: str = ""
    attempt: int = 1

    @classmethod
    def from_event(cls, event: Any, network: str, check: str) -> ScheduledRun:
        """Parse a Scheduler input (or a manual `{}`) for the function of `network`/`check`.

        Raises ValueError when the event names another network or check: a function runs
        only what it was deployed (and permitted) for.
        """
        if not isinstance(event, Mapping):
            raise ValueError(f"expected a JSON object, got {type(event).__name__}")
        unknown = set(event) - {"network", "check", *_PLACEHOLDERS}
        if unknown:
            raise ValueError(f"unknown event keys: {', '.join(sorted(unknown))}")
        for key, mine in (("network", network), ("check", check)):
            if event.get(key, mine) != mine:
                raise ValueError(f"this function runs {key} {mine!r}, the event asks for {event[key]!r}")
        try:
            attempt = int(event.get("attempt", 1))
        except (TypeError, ValueError):
            raise ValueError(f"attempt: expected a number, got {event.get('attempt')!r}") from None
        return cls(network, check, str(event.get("execution_id", "")), str(event.get("scheduled_time", "")),
                   attempt)


@dataclass(frozen=True, slots=True)
class FindingMessage:
    """One SNS delivery: its message id (the idempotency key) and the finding it carries."""

    message_id: str
    finding: Finding


def findings_from_sns(event: Any) -> Iterator[FindingMessage]:
    """Findings in an SNS event; raises ValueError on a record that is not a finding."""
    from aws_lambda_powertools.utilities.data_classes import SNSEvent

    for record in SNSEvent(event).records:
        try:
            data = json.loads(record.sns.message)
        except ValueError:
            raise ValueError(f"SNS message {record.sns.message_id} is not JSON") from None
        yield FindingMessage(record.sns.message_id, Finding.from_dict(data))
