"""The event shapes the handlers accept, parsed at one boundary.

EventBridge Scheduler invokes a Lambda with the target's `Input` verbatim (not an
EventBridge envelope), so the CDK app writes that input (`scheduled_input`) and the handler
reads it back (`ScheduledRun.from_event`); the `<aws.scheduler.*>` placeholders are filled
in by Scheduler. A manual `aws lambda invoke` may send `{}`: the function's own network and
check (from its environment) apply. SNS events are read with Powertools' `SNSEvent`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
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


def scheduled_input(networks: Sequence[str], check: str) -> dict[str, str]:
    """The Scheduler target input for one check function (what `ScheduledRun` parses)."""
    return {"network": ",".join(networks), "check": check, **_PLACEHOLDERS}


def network_list(text: str) -> tuple[str, ...]:
    """`OPWATCH_NETWORK` or an event's `network`: one network name, or several comma-joined."""
    names = tuple(n.strip() for n in text.split(","))
    if not names or not all(names) or len(set(names)) != len(names):
        raise ValueError(f"network: expected names separated by commas, got {text!r}")
    return names


@dataclass(frozen=True, slots=True)
class ScheduledRun:
    networks: tuple[str, ...]
    check: str
    execution_id: str = ""
    scheduled_time: str = ""
    attempt: int = 1

    @classmethod
    def from_event(cls, event: Any, networks: Sequence[str], check: str) -> ScheduledRun:
        """Parse a Scheduler input (or a manual `{}`) for the function of `networks`/`check`.

        A manual invoke may name some of the function's networks (`{"network": "mainnet"}`) to
        run only those. Raises ValueError when the event names another check, or a network this
        function does not watch: a function runs only what it was deployed (and permitted) for.
        """
        if not isinstance(event, Mapping):
            raise ValueError(f"expected a JSON object, got {type(event).__name__}")
        unknown = set(event) - {"network", "check", *_PLACEHOLDERS}
        if unknown:
            raise ValueError(f"unknown event keys: {', '.join(sorted(unknown))}")
        if event.get("check", check) != check:
            raise ValueError(f"this function runs check {check!r}, the event asks for {event['check']!r}")
        mine = tuple(networks)
        asked = event.get("network")
        if asked is None:
            chosen = mine
        elif not isinstance(asked, str):
            raise ValueError(f"network: expected a string, got {type(asked).__name__}")
        else:
            chosen = network_list(asked)
            others = [n for n in chosen if n not in mine]
            if others:
                raise ValueError(f"this function runs network {','.join(mine)!r}, the event asks for "
                                 f"{', '.join(map(repr, others))}")
        try:
            attempt = int(event.get("attempt", 1))
        except (TypeError, ValueError):
            raise ValueError(f"attempt: expected a number, got {event.get('attempt')!r}") from None
        return cls(chosen, check, str(event.get("execution_id", "")), str(event.get("scheduled_time", "")),
                   attempt)


@dataclass(frozen=True, slots=True)
class FindingMessage:
    """One SNS delivery: its message id (the idempotency key), the finding it carries, and
    the topic that published it (what a remedy records as its caller)."""

    message_id: str
    finding: Finding
    topic_arn: str = ""


class BadMessage(ValueError):
    """An SNS record that is not a finding, or whose attributes disagree with its body
    (never retried: the same message will always be bad)."""


# The attributes the remedies' subscriptions filter on: a remedy acts only on a message that
# carries them, equal to its body (else the filter let through something the body does not say).
REMEDY_ATTRIBUTES = ("network", "check", "status")


def finding_from_record(record: Any, required: tuple[str, ...] = ()) -> FindingMessage:
    """The finding in one SNS record (Powertools `SNSEventRecord`); its String attributes must
    agree with its body, as on GCP (`gcp.events.finding_from`), and `required` ones be present."""
    sns = record.sns
    try:
        data = json.loads(sns.message)
    except ValueError:
        raise BadMessage(f"SNS message {sns.message_id} is not JSON") from None
    try:
        finding = Finding.from_dict(data)
    except ValueError as exc:
        raise BadMessage(f"SNS message {sns.message_id}: {exc}") from None
    raw = sns.raw_event.get("MessageAttributes") or {}
    if not isinstance(raw, Mapping):
        raise BadMessage(f"SNS message {sns.message_id}: message attributes are not a map")
    attributes = {k: v.get("Value") if isinstance(v, Mapping) else v for k, v in raw.items()}
    expected = finding.attributes()
    mismatched = sorted(k for k, v in attributes.items() if k in expected and expected[k] != v)
    missing = sorted(k for k in required if k not in attributes)
    if mismatched or missing:
        raise BadMessage(f"SNS message {sns.message_id}: attributes {mismatched or missing} "
                         f"{'disagree with the finding body' if mismatched else 'are missing'}")
    return FindingMessage(sns.message_id, finding, str(sns.raw_event.get("TopicArn") or ""))


def sns_records(event: Any) -> list[Any]:
    """The records of an SNS event (Powertools `SNSEventRecord`s)."""
    from aws_lambda_powertools.utilities.data_classes import SNSEvent

    return list(SNSEvent(event).records)


def findings_from_sns(event: Any) -> Iterator[FindingMessage]:
    """Findings in an SNS event; raises BadMessage (a ValueError) on a record that is not a
    finding or whose attributes disagree with it."""
    for record in sns_records(event):
        yield finding_from_record(record)
