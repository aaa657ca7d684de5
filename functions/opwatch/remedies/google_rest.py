"""The one way opwatch's remedies speak Google's REST APIs (Compute Engine, Cloud DNS).

`GoogleRest` holds an injected `requests`-like session (tests: a plain session pointed at a
stand-in) or google-auth's `AuthorizedSession` built on first use (importing google.auth costs
every cold start otherwise), and the error boundary: every transport error, non-2xx answer or
body that is not a JSON object becomes `GoogleApiError` with a short reason, access tokens
redacted, never a chained exception. A 403 names the permission the call needs
(`permission_for`, per subclass). Callers translate `GoogleApiError` into their own errors.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

HTTP_TIMEOUT_S = 30.0
_TOKEN = re.compile(r"(?i)(bearer\s+|access_token[=:]\s*[\"']?)[^\s\"'&,]+|ya29\.[\w.\-]+")


class GoogleApiError(Exception):
    """A failed call, reduced to a short reason. `answered`: Google answered with an error, so the
    call took no effect (a transport error or an unreadable answer leaves that unknown)."""

    def __init__(self, reason: str, answered: bool, status: int = 0) -> None:
        self.answered = answered
        self.status = status
        super().__init__(reason)


def redact(text: str) -> str:
    return _TOKEN.sub(lambda m: (m.group(1) or "") + "[redacted]", text)


def quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


def malformed(what: str, detail: str) -> GoogleApiError:
    return GoogleApiError(f"{what}: malformed answer ({detail})", False)


class GoogleRest:
    scope = ""
    permission_for: Mapping[str, str] = {}

    def __init__(self, session: Any, base_url: str) -> None:
        self._session = session
        self.base_url = base_url.rstrip("/")

    @property
    def session(self) -> Any:
        if self._session is None:
            import google.auth
            from google.auth.transport.requests import AuthorizedSession

            credentials, _ = google.auth.default(scopes=[self.scope])
            self._session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
        return self._session

    def _call(self, method: str, path: str, what: str, *, body: dict[str, Any] | None = None,
              params: dict[str, str] | None = None, timeout: float = HTTP_TIMEOUT_S,
              missing_ok: bool = False) -> dict[str, Any] | None:
        """The answer's JSON object; None for a 404 when `missing_ok`. Raises GoogleApiError."""
        try:
            reply = self.session.request(method, self.base_url + path, json=body, params=params, timeout=timeout)
            status = int(reply.status_code)
        except Exception as exc:  # requests, urllib3 and google-auth errors alike: typed here
            raise GoogleApiError(redact(f"{what}: {type(exc).__name__}: {exc}")[:300], False) from None
        if status == 404 and missing_ok:
            return None
        if not 200 <= status < 300:
            raise GoogleApiError(redact(self._http_reason(what, status, reply)), True, status)
        try:
            answer = reply.json()
        except Exception:
            raise malformed(what, f"HTTP {status} with a body that is not JSON") from None
        if not isinstance(answer, dict):
            raise malformed(what, "the JSON is not an object")
        return answer

    def _http_reason(self, what: str, status: int, reply: Any) -> str:
        try:
            message = str(reply.json()["error"]["message"])[:200]
        except Exception:
            message = ""
        if status == 403:
            return (f"{what}: permission denied (HTTP 403), the identity needs {self.permission_for.get(what, what)}"
                    + (f": {message}" if message else ""))
        return f"{what}: HTTP {status}" + (f": {message}" if message else "")

    def _answer(self, method: str, path: str, what: str, **kwargs: Any) -> dict[str, Any]:
        answer = self._call(method, path, what, **kwargs)
        assert answer is not None  # only missing_ok calls answer None
        return answer
