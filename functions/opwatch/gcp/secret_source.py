"""Secrets from Secret Manager, read once per instance and cached for `ttl_s`.

`SecretManagerSource(name)` is a `SecretSource` (alerting.sinks): calling it returns the
value; `SecretManagerKeys` is the signer's (`gcp-secretmanager:projects/P/secrets/S`, read at
each signature). The value is never logged, put in an error message or repr'd; only the resource
name is. The client is injected or built lazily; `OPWATCH_SECRETMANAGER_ENDPOINT` points it
(REST transport) at a local stand-in in tests, like the publisher.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from ..remedies.signer import SignerError

ENDPOINT_ENV = "OPWATCH_SECRETMANAGER_ENDPOINT"


class SecretUnavailable(Exception):
    """The secret could not be read; the message names the secret, never a value."""


def client_for_endpoint(endpoint: str | None = None) -> Any:
    from google.cloud import secretmanager

    endpoint = endpoint if endpoint is not None else os.environ.get(ENDPOINT_ENV, "")
    if not endpoint:
        return secretmanager.SecretManagerServiceClient()
    kwargs: dict[str, Any] = {"transport": "rest", "client_options": {"api_endpoint": endpoint}}
    if endpoint.startswith("http://"):
        from google.auth.credentials import AnonymousCredentials

        kwargs["credentials"] = AnonymousCredentials()  # type: ignore[no-untyped-call]
    return secretmanager.SecretManagerServiceClient(**kwargs)


class SecretManagerSource:
    """`projects/P/secrets/S/versions/latest` → its value, cached (rotations show after `ttl_s`)."""

    def __init__(self, name: str, client: Any = None, ttl_s: float = 600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not name.startswith("projects/") or "/secrets/" not in name:
            raise ValueError(f"expected projects/P/secrets/S/versions/V, got {name!r}")
        self.name = name if "/versions/" in name else name + "/versions/latest"
        self._client = client
        self.ttl_s = ttl_s
        self.clock = clock
        self._value: str | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()
        self.reads = 0  # how often Secret Manager was asked (the cache's effect, for tests)

    def __repr__(self) -> str:
        return f"SecretManagerSource({self.name!r})"

    def __call__(self) -> str:
        with self._lock:
            now = self.clock()
            if self._value is None or now - self._read_at >= self.ttl_s:
                self._value = self._read()
                self._read_at = now
            return self._value

    def _read(self) -> str:
        if self._client is None:
            self._client = client_for_endpoint()
        try:
            response = self._client.access_secret_version(name=self.name)
        except Exception as exc:
            raise SecretUnavailable(f"{self.name}: {type(exc).__name__}") from None
        self.reads += 1
        value: str = response.payload.data.decode()
        return value.strip()


class SecretManagerKeys:
    """`gcp-secretmanager:projects/P/secrets/S`: read with `secretmanager.versions.access` at call
    time (no cache: a rotated key is used from the next top-up on)."""

    def __init__(self, client: Any = None) -> None:
        self._client = client

    def get(self, name: str) -> str:
        try:
            return SecretManagerSource(name, self._client, ttl_s=0.0)()
        except (SecretUnavailable, ValueError) as exc:  # names the secret, never a value
            raise SignerError(f"cannot read secret: {exc}") from None
