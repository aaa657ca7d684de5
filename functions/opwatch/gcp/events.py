"""The one boundary where Pub/Sub CloudEvents are parsed and validated.

A Cloud Functions gen2 function on a topic (Eventarc) or behind a push subscription gets a
CloudEvent `google.cloud.pubsub.topic.v1.messagePublished` whose data is the Pub/Sub
envelope (functions-framework converts a raw push body into the same CloudEvent):

    {"message": {"data": "<base64>", "attributes": {...}, "messageId": "…", "publishTime": "…"},
     "subscription": "projects/P/subscriptions/S"}
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

from ..findings import Finding

MESSAGE_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"


class PubsubMessageWire(TypedDict, total=False):
    data: str
    attributes: dict[str, str]
    messageId: str
    message_id: str
    publishTime: str


class PubsubEnvelopeWire(TypedDict, total=False):
    message: PubsubMessageWire
    subscription: str


class BadEvent(ValueError):
    """The event is not a Pub/Sub message of the expected shape (not retried: it never will be)."""


@dataclass(frozen=True, slots=True)
class PubsubMessage:
    data: bytes
    attributes: Mapping[str, str] = field(default_factory=dict)
    message_id: str = ""
    publish_time: str = ""
    subscription: str = ""

    def json(self) -> Any:
        try:
            return json.loads(self.data) if self.data else {}
        except ValueError:
            raise BadEvent(f"message {self.message_id}: body is not JSON") from None


def pubsub_message(event_type: str, data: Any) -> PubsubMessage:
    if event_type != MESSAGE_PUBLISHED:
        raise BadEvent(f"expected a {MESSAGE_PUBLISHED} event, got {event_type!r}")
    if not isinstance(data, Mapping) or not isinstance(data.get("message"), Mapping):
        raise BadEvent("event data has no Pub/Sub message")
    message = data["message"]
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, Mapping) or not all(isinstance(v, str) for v in attributes.values()):
        raise BadEvent("message attributes must map strings to strings")
    raw = message.get("data", "")
    try:
        body = base64.b64decode(raw, validate=True) if raw else b""
    except (binascii.Error, TypeError):
        raise BadEvent("message data is not base64") from None
    return PubsubMessage(data=body, attributes=dict(attributes),
                         message_id=str(message.get("messageId") or message.get("message_id") or ""),
                         publish_time=str(message.get("publishTime") or ""),
                         subscription=str(data.get("subscription") or ""))


def finding_from(message: PubsubMessage) -> Finding:
    """The finding a message carries; its attributes must agree with its body."""
    try:
        finding = Finding.from_dict(message.json())
    except ValueError as exc:
        raise BadEvent(str(exc)) from None
    expected = finding.attributes()
    mismatched = [k for k, v in message.attributes.items() if k in expected and expected[k] != v]
    if mismatched:
        raise BadEvent(f"attributes {mismatched} disagree with the finding body")
    return finding
