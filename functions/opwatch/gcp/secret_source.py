"""Secrets from Secret Manager, read once per instance and cached for `ttl_s`.

`SecretManagerSource(name)` is a `SecretSource` (alerting.sinks): calling it returns the
value; `SecretManagerKeys` is the signer's (`gcp-secretmanager:projects/P/secrets/S`, read at
each signature). The value is never logged, put in an error message or repr'd; only the resource
name is. The client is injected (anything with the Secret Manager client's
`access_secret_version(name=...)` → `.payload.data`) or built lazily: `SecretManagerRest`, the
one REST call, `GET https://secretmanager.googleapis.com/v1/{name}:access` → `{"name",
"payload": {"data": base64}}`. Not the google-cloud-secret-manager client: its import (gRPC,
protobuf) was about 0.2 s of the cold start of every function that reads a secret before it
works (a config or endpoints secret). `OPWATCH_SECRETMANAGER_ENDPOINT` points it at a local
stand-in in tests, like the publisher.
"""

from __future__ import annotations

import base64
import binascii
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..remedies.signer import SignerError
from .rest import GoogleRest, malformed

ENDPOINT_ENV = "OPWATCH_SECRETMANAGER_ENDPOINT"
DEFAULT_BASE_URL = "https://secretmanager.googleapis.com/v1"


class SecretUnavailable(Exception):
    """The secret could not be read; the message names the secret, never a value."""


@dataclass(frozen=True, slots=True)
class SecretPayload:
    data: bytes


@dataclass(frozen=True, slots=True)
class SecretVersion:
    """What `access` answers, in the shape the client library's response has (`.payload.data`)."""

    name: str
    payload: SecretPayload


class SecretManagerRest(GoogleRest):
    scope = "https://www.googleapis.com/auth/cloud-platform"
    permission_for = {"access": "secretmanager.versions.access"}

    def access_secret_version(self, name: str) -> SecretVersion:
        answer = self._answer("GET", f"/{name}:access", "access")
        payload = answer.get("payload")
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, str):
            raise malformed("access", "no payload.data")
        try:
            value = base64.b64decode(data, validate=True)
        except binascii.Error:
            raise malformed("access", "payload.data is not base64") from None
        return SecretVersion(str(answer.get("name", name)), SecretPayload(value))


def client_for_endpoint(endpoint: str | None = None) -> SecretManagerRest:
    endpoint = endpoint if endpoint is not None else os.environ.get(ENDPOINT_ENV, "")
    if not endpoint:
        return SecretManagerRest(None, DEFAULT_BASE_URL)
    session = None
    if endpoint.startswith("http://"):
        import requests

        session = requests.Session()  # a local stand-in: no credentials to send
    return SecretManagerRest(session, endpoint.rstrip("/") + "/v1")


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
