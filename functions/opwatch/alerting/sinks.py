"""Where notifications go: the sink and secret-source seams.

A sink delivers one `Notification` or raises `DeliveryError` (saying whether trying again
later may help). Routing by severity happens in the manager (`AlertPolicy.routes` maps a
severity to sink names); a sink knows nothing about policy.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, Protocol

from .model import Notification


class DeliveryError(Exception):
    """A notification was not delivered. `retryable`: False when the receiver refused it for good
    (e.g. a 400: the same request will always be refused)."""

    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class Sink(Protocol):
    name: str

    def send(self, notification: Notification) -> None: ...


class SecretSource(Protocol):
    """Returns a secret's value (e.g. the PagerDuty routing key) when called.

    Real implementations (AWS Secrets Manager, GCP Secret Manager) come with the cloud
    adapters. Callers never log the value or put it in errors, dead letters or state.
    """

    def __call__(self) -> str: ...


class EnvSecret:
    """The CLI's and the long-running service's `SecretSource`: secret `NAME` is the environment
    variable `OPWATCH_SECRET_<NAME>` (upper case, other characters as `_`), read at call time.
    The clouds read theirs from Secrets Manager / Secret Manager (their composition roots)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.variable = "OPWATCH_SECRET_" + "".join(c if c.isalnum() else "_" for c in name).upper()

    def __repr__(self) -> str:  # the variable's name, never its value
        return f"EnvSecret({self.variable!r})"

    def __call__(self) -> str:
        import os

        value = os.environ.get(self.variable, "").strip()
        if not value:
            raise DeliveryError(f"secret {self.name!r}: set {self.variable}", retryable=True)
        return value


def post_json(url: str, payload: Any, *, what: str, attempts: int = 3, timeout: float = 5.0,
              backoff: float = 1.0, sleep: Callable[[float], None] = time.sleep) -> bytes:
    """POST `payload` as JSON to a webhook; return the reply's body. 2xx is delivered; 429 and
    5xx and no answer are retried with backoff (honouring a short Retry-After), then raise a
    retryable DeliveryError; any other status is final. `what` names the receiver in errors:
    the URL never appears in one (a webhook URL is its own credential)."""
    body = json.dumps(payload).encode()
    request_headers = {"Content-Type": "application/json", "User-Agent": "opwatch"}
    last, delay = "", backoff
    for attempt in range(attempts):
        if attempt:
            sleep(delay)
        request = authorized(url, data=body, method="POST", headers=request_headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as reply:
                return bytes(reply.read())
        except urllib.error.HTTPError as exc:
            text = (exc.read() or b"")[:200].decode(errors="replace")
            if exc.code != 429 and exc.code < 500:
                raise DeliveryError(f"{what}: HTTP {exc.code} {text}".strip(), retryable=False) from None
            last = f"HTTP {exc.code}"
            retry_after = exc.headers.get("Retry-After", "")
            delay = min(30.0, float(retry_after)) if retry_after.isdigit() else backoff * 2 ** attempt
        except (OSError, ValueError) as exc:  # refused, reset, timeout, DNS; a malformed URL
            last, delay = f"no answer ({type(exc).__name__})", backoff * 2 ** attempt
    raise DeliveryError(f"{what}: gave up after {attempts} attempts: {last}", retryable=True)


def authorized(url: str, data: bytes | None = None, method: str = "GET",
               headers: dict[str, str] | None = None) -> urllib.request.Request:
    """A request to `url`; credentials in it (`https://user:password@host/…`, e.g. an Alertmanager
    behind basic auth, URL kept in a secret) become an Authorization header, since urllib
    would read them as part of the host."""
    import base64
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    headers = dict(headers or {})
    if parts.username is not None:
        user = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password or "")
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        url = urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return urllib.request.Request(url, data=data, method=method, headers=headers)
