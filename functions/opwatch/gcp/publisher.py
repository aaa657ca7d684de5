"""Publishing findings to Pub/Sub, with the same body and attributes as SNS on AWS.

The message body is `Finding.to_json()` and its attributes `Finding.attributes()`
(network, check, status, severity), so one consumer reads both clouds and subscription
filters route on the same keys as SNS filter policies.

Over Pub/Sub's REST API, not the google-cloud-pubsub client: importing that client (gRPC,
protobuf) took about 0.25 s of every check function's cold start (bench/coldstart.py), for
one documented call, `POST https://pubsub.googleapis.com/v1/{topic}:publish` with
`{"messages": [{"data": base64, "attributes": {str: str}}]}` → `{"messageIds": [...]}` (at
most 1,000 messages and 10 MB a request). The session is injected, or google-auth's
`AuthorizedSession` with the runtime's credentials built on first use (`rest.default_session`).
`OPWATCH_PUBSUB_ENDPOINT` points it at a local stand-in of that API in tests
(tests/gcp_standins.py); an http:// endpoint is only ever one, so it gets no credentials.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterable, Iterator
from typing import Any

from ..findings import Finding
from .rest import GoogleApiError, GoogleRest, malformed

ENDPOINT_ENV = "OPWATCH_PUBSUB_ENDPOINT"
DEFAULT_BASE_URL = "https://pubsub.googleapis.com/v1"
TIMEOUT_S = 30.0
MAX_MESSAGES = 1000
MAX_REQUEST_BYTES = 9 * 1024 * 1024  # Pub/Sub takes 10 MB a request: headroom for the JSON around the data
# Overload and transient trouble are tried again (as the client library does); anything else is final.
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
ATTEMPTS = 3
BACKOFF_S = 0.5


class PublishError(Exception):
    """A finding could not be published (after the retries)."""


class PubSubRest(GoogleRest):
    """The one Pub/Sub call opwatch makes."""

    scope = "https://www.googleapis.com/auth/pubsub"
    permission_for = {"publish": "pubsub.topics.publish"}

    def publish(self, topic_path: str, messages: list[dict[str, Any]]) -> list[str]:
        answer = self._answer("POST", f"/{topic_path}:publish", "publish", body={"messages": messages},
                              timeout=TIMEOUT_S)
        ids = answer.get("messageIds")
        if not isinstance(ids, list) or len(ids) != len(messages) or not all(isinstance(i, str) for i in ids):
            raise malformed("publish", "messageIds do not match the messages sent")
        return ids


def client_for_endpoint(endpoint: str | None = None) -> PubSubRest:
    endpoint = endpoint if endpoint is not None else os.environ.get(ENDPOINT_ENV, "")
    if not endpoint:
        return PubSubRest(None, DEFAULT_BASE_URL)
    session = None
    if endpoint.startswith("http://"):
        import requests

        session = requests.Session()  # a local stand-in: no credentials to send
    return PubSubRest(session, endpoint.rstrip("/") + "/v1")


class FindingPublisher:
    def __init__(self, topic_path: str, client: PubSubRest | None = None, sleep: Any = time.sleep) -> None:
        if not topic_path.startswith("projects/") or "/topics/" not in topic_path:
            raise ValueError(f"expected projects/P/topics/T, got {topic_path!r}")
        self.topic_path = topic_path
        self._client = client
        self._sleep = sleep

    @property
    def client(self) -> PubSubRest:
        if self._client is None:
            self._client = client_for_endpoint()
        return self._client

    def publish(self, findings: Iterable[Finding]) -> list[str]:
        """Publish all; return the message ids. Raises PublishError if any could not be published."""
        ids: list[str] = []
        for batch in _batches([{"data": base64.b64encode(f.to_json().encode()).decode(),
                                "attributes": f.attributes()} for f in findings]):
            ids += self._send(batch)
        return ids

    def _send(self, messages: list[dict[str, Any]]) -> list[str]:
        for attempt in range(ATTEMPTS):
            try:
                return self.client.publish(self.topic_path, messages)
            except GoogleApiError as exc:
                final = exc.answered and exc.status not in RETRY_STATUS
                if final or attempt == ATTEMPTS - 1:
                    raise PublishError(f"{len(messages)} findings not published: {exc}") from None
            self._sleep(BACKOFF_S * 2 ** attempt)
        raise AssertionError("unreachable")


def _batches(messages: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    size = 0
    for message in messages:
        length = len(message["data"]) + sum(len(k) + len(v) for k, v in message["attributes"].items()) + 64
        if batch and (len(batch) == MAX_MESSAGES or size + length > MAX_REQUEST_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(message)
        size += length
    if batch:
        yield batch
