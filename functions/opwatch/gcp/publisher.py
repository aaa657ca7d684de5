"""Publishing findings to Pub/Sub, with the same body and attributes as SNS on AWS.

The message body is `Finding.to_json()` and its attributes `Finding.attributes()`
(network, check, status, severity), so one consumer reads both clouds and subscription
filters route on the same keys as SNS filter policies.

The google-cloud-pubsub client is injected (or built lazily, so importing this module costs
nothing): tests hand in one with `transport="rest"` pointed at a local stand-in of the
Pub/Sub REST API (tests/gcp_standins.py); production uses the default gRPC transport.
`client_for_endpoint` builds that REST client from `OPWATCH_PUBSUB_ENDPOINT` when it is set
(an http:// endpoint is only ever a local stand-in, so it gets anonymous credentials).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from ..findings import Finding

ENDPOINT_ENV = "OPWATCH_PUBSUB_ENDPOINT"
TIMEOUT_S = 30.0


class PublishError(Exception):
    """A finding could not be published (after the client's own retries)."""


def client_for_endpoint(endpoint: str | None = None) -> Any:
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    endpoint = endpoint if endpoint is not None else os.environ.get(ENDPOINT_ENV, "")
    if not endpoint:
        return pubsub_v1.PublisherClient()
    kwargs: dict[str, Any] = {"transport": "rest", "client_options": {"api_endpoint": endpoint}}
    if endpoint.startswith("http://"):
        from google.auth.credentials import AnonymousCredentials

        kwargs["credentials"] = AnonymousCredentials()  # type: ignore[no-untyped-call]
    return pubsub_v1.PublisherClient(**kwargs)


class FindingPublisher:
    def __init__(self, topic_path: str, client: Any = None) -> None:
        if not topic_path.startswith("projects/") or "/topics/" not in topic_path:
            raise ValueError(f"expected projects/P/topics/T, got {topic_path!r}")
        self.topic_path = topic_path
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = client_for_endpoint()
        return self._client

    def publish(self, findings: Iterable[Finding]) -> list[str]:
        """Publish all, wait for all; return the message ids. Raises PublishError if any failed."""
        futures = [(f, self.client.publish(self.topic_path, f.to_json().encode(), **f.attributes()))
                   for f in findings]
        ids, failed = [], []
        for finding, future in futures:
            try:
                ids.append(str(future.result(timeout=TIMEOUT_S)))
            except Exception as exc:  # the client's error types vary by transport
                failed.append(f"{finding.dedup_key}: {type(exc).__name__}: {exc}")
        if failed:
            raise PublishError(f"{len(failed)} of {len(futures)} findings not published: " + "; ".join(failed))
        return ids
