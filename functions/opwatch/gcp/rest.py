"""The one boundary between opwatch and Google's REST APIs: sessions, typed errors, redaction.

Every Google API opwatch calls goes through a `requests`-like session that is injected (tests:
a plain session pointed at a stand-in) or google-auth's `AuthorizedSession` with the runtime's
default credentials, built on first use (`default_session`: importing google.auth costs every
cold start otherwise). Errors never leave raw: access tokens and URLs are redacted by the core's
one redaction (`opwatch.redact.redact_text`), and no exception is chained.

- `GoogleRest` (Compute Engine, Cloud DNS): every transport error, non-2xx answer or body that
  is not a JSON object becomes `GoogleApiError` with a short reason. A 403 names the permission
  the call needs (`permission_for`, per subclass). Callers translate `GoogleApiError` into
  their own errors.
- `FirestoreRest`: the Firestore v1 REST API, the few documented calls opwatch's stores make.

Why REST and not the google-cloud-firestore gRPC client: no Firestore emulator runs here, so a
store on that client could never be tested. The REST API is documented request by request, and
`tests/firestore_standin.py` serves exactly these calls over real HTTP:

- `GET {database}/documents/{collection}/{id}` → the document, or 404 `NOT_FOUND`.
- `POST {database}/documents:commit` with `writes[]` (whole-document `update`s, each with an
  optional `currentDocument` precondition): all the writes apply or none do. A precondition
  that no longer holds answers 400 `FAILED_PRECONDITION` (`updateTime`), 409 `ALREADY_EXISTS`
  (`exists: false`) or 409 `ABORTED` (contention); `commit` returns None for all three, so the
  caller re-reads: someone else wrote first.
- `POST {database}/documents:runQuery` with a `structuredQuery`.

The session is injected (tests hand in a `requests.Session` pointed at the stand-in) or built
on first use: an `AuthorizedSession` with the runtime's default credentials, and the project
those credentials belong to unless one was given. google.auth is imported only then (its import
costs every cold start).

`OPWATCH_FIRESTORE_ENDPOINT` (like `OPWATCH_PUBSUB_ENDPOINT`) is a test and emulator seam, not
behaviour: when set, a store built with the default base URL calls `{endpoint}/v1` instead of
Firestore, and an http:// endpoint (only ever a local stand-in) gets a plain session without
credentials, so the store must name its project.

Errors: a transport or credentials failure, a non-2xx answer other than a lost precondition,
or an answer of the wrong shape raises `StoreUnavailable` with a short reason: never headers,
never the access token, never a chained exception that could carry either. No call returns a
guessed answer.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..redact import redact_text

SCOPE = "https://www.googleapis.com/auth/datastore"
DEFAULT_BASE_URL = "https://firestore.googleapis.com/v1"
ENDPOINT_ENV = "OPWATCH_FIRESTORE_ENDPOINT"  # a test/emulator seam: see the module docstring
TIMEOUT_S = 10.0
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
_MAX_ID = 400  # well inside Firestore's 1,500 bytes, so collection + id stays readable in URLs
_LOST = {"FAILED_PRECONDITION", "ALREADY_EXISTS", "ABORTED"}


class StoreUnavailable(RuntimeError):
    """Firestore did not answer, or answered something other than the API's documented shape."""


def document_id(key: str) -> str:
    """A valid Firestore document id for any string, readable and reversible: every character
    outside `[A-Za-z0-9._-]` is written `~XX` (its UTF-8 bytes in hex), so no `/` (a path
    separator to Firestore) and no `:` (a method separator in REST URLs). Ids Firestore reserves
    (`.`, `..`, `__x__`) get their first character escaped; over-long ones are cut and suffixed
    with a hash."""
    out = "".join(c if c in _SAFE else "".join(f"~{b:02X}" for b in c.encode()) for c in key)
    if not out or out in (".", "..") or (out.startswith("__") and out.endswith("__")):
        out = f"~{ord(key[0]):02X}{out[1:]}" if key else "~"  # "~" alone: the empty string
    if len(out) > _MAX_ID:
        out = f"{out[:_MAX_ID - 66]}~~{hashlib.sha256(key.encode()).hexdigest()}"
    return out


def redact(text: str) -> str:
    return redact_text(text)[:200]


# --- values (https://firebase.google.com/docs/firestore/reference/rest/v1/Value) --------

def string(value: str) -> dict[str, Any]:
    return {"stringValue": value}


def integer(value: int) -> dict[str, Any]:
    return {"integerValue": str(value)}  # int64 travels as a JSON string


def boolean(value: bool) -> dict[str, Any]:
    return {"booleanValue": value}


def timestamp(epoch_s: float) -> dict[str, Any]:
    return {"timestampValue": datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}


def update(name: str, fields: dict[str, Any], precondition: dict[str, Any] | None = None) -> dict[str, Any]:
    """A commit write replacing the whole document `name` (fields not given are removed)."""
    write: dict[str, Any] = {"update": {"name": name, "fields": fields}}
    if precondition is not None:
        write["currentDocument"] = precondition
    return write


@dataclass(frozen=True, slots=True)
class Doc:
    """A document off the wire, its fields read by type (a field of another type raises)."""

    name: str
    fields: dict[str, Any]
    update_time: str

    def string(self, field: str) -> str:
        value = self.fields.get(field)
        if not isinstance(value, dict) or not isinstance(value.get("stringValue"), str):
            raise StoreUnavailable(f"document field {field!r} is not a stringValue")
        return str(value["stringValue"])

    def integer(self, field: str) -> int:
        value = self.fields.get(field)
        text = value.get("integerValue") if isinstance(value, dict) else None
        if not isinstance(text, str) or not re.fullmatch(r"-?\d+", text):
            raise StoreUnavailable(f"document field {field!r} is not an integerValue")
        return int(text)

    def json_object(self, field: str) -> dict[str, Any]:
        try:
            parsed = json.loads(self.string(field))
        except ValueError:
            raise StoreUnavailable(f"document field {field!r} is not JSON") from None
        if not isinstance(parsed, dict):
            raise StoreUnavailable(f"document field {field!r} is not a JSON object")
        return parsed


def _document(what: str, body: Any) -> Doc:
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) \
            or not isinstance(body.get("updateTime"), str) or not isinstance(body.get("fields", {}), dict):
        raise StoreUnavailable(f"Firestore {what}: the answer is not a document")
    return Doc(body["name"], body.get("fields", {}), body["updateTime"])


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: Any
    error_status: str  # Google's `error.status` ("FAILED_PRECONDITION", ...) or ""


class FirestoreRest:
    """One Firestore database over REST: `get`, `commit`, `query`; see the module docstring."""

    def __init__(self, database: str = "(default)", session: Any = None, project: str | None = None,
                 base_url: str = DEFAULT_BASE_URL) -> None:
        self.database = database
        endpoint = os.environ.get(ENDPOINT_ENV, "").rstrip("/") if base_url == DEFAULT_BASE_URL else ""
        self.base_url = f"{endpoint}/v1" if endpoint else base_url.rstrip("/")
        if session is None and self.base_url.startswith("http://"):
            import requests

            session = requests.Session()  # a local stand-in: no credentials to send
        self._session = session
        self._project = project
        self._lock = threading.Lock()

    def _connect(self) -> tuple[Any, str]:
        with self._lock:
            if self._session is None or not self._project:
                try:
                    session, found = default_session(SCOPE)
                    if self._session is None:
                        self._session = session
                except Exception as exc:  # no credentials: the same as no answer, and retried
                    raise StoreUnavailable(f"Firestore credentials: {type(exc).__name__}: {redact(str(exc))}") \
                        from None
                self._project = self._project or found
                if not self._project:
                    raise StoreUnavailable("Firestore: no project given and the default credentials name none "
                                           "(set GOOGLE_CLOUD_PROJECT)")
            return self._session, self._project

    @property
    def database_path(self) -> str:
        return f"projects/{self._connect()[1]}/databases/{self.database}"

    def name(self, collection: str, doc_id: str) -> str:
        return f"{self.database_path}/documents/{collection}/{doc_id}"

    def _call(self, method: str, path: str, body: Any = None) -> _Answer:
        what = f"{method} {path.rsplit('/', 1)[-1]}"
        session, _ = self._connect()
        try:
            response = session.request(method, f"{self.base_url}/{path}", json=body, timeout=TIMEOUT_S)
            status, raw = int(response.status_code), bytes(response.content)
        except Exception as exc:  # the transport or the credentials' refresh: both mean "no answer"
            raise StoreUnavailable(f"Firestore {what}: {type(exc).__name__}: {redact(str(exc))}") from None
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        if 200 <= status < 300:
            if parsed is None:
                raise StoreUnavailable(f"Firestore {what}: HTTP {status} with a body that is not JSON")
            return _Answer(status, parsed, "")
        error = parsed.get("error") if isinstance(parsed, dict) else None
        return _Answer(status, parsed, str(error.get("status", "")) if isinstance(error, dict) else "")

    @staticmethod
    def _fail(what: str, answer: _Answer) -> StoreUnavailable:
        error = answer.body.get("error") if isinstance(answer.body, dict) else None
        message = str(error.get("message", "")) if isinstance(error, dict) else ""
        return StoreUnavailable(" ".join(filter(None, (f"Firestore {what}: HTTP {answer.status}",
                                                       answer.error_status, redact(message)))))

    def get(self, collection: str, doc_id: str) -> Doc | None:
        answer = self._call("GET", self.name(collection, doc_id))
        if answer.status == 404 and answer.error_status == "NOT_FOUND":
            return None
        if answer.status >= 300:
            raise self._fail(f"get {collection}", answer)
        return _document(f"get {collection}", answer.body)

    def commit(self, what: str, writes: list[dict[str, Any]]) -> list[str] | None:
        """Apply `writes` atomically: each write's update time when they landed, None when a
        precondition failed (nothing was written). Anything else raises StoreUnavailable."""
        answer = self._call("POST", f"{self.database_path}/documents:commit", {"writes": writes})
        if answer.status < 300:
            results = answer.body.get("writeResults") if isinstance(answer.body, dict) else None
            if not isinstance(results, list) or len(results) != len(writes) \
                    or not isinstance(answer.body.get("commitTime"), str):
                raise StoreUnavailable(f"Firestore commit {what}: the answer has no write results")
            # A write that changed nothing may carry no updateTime: the commit's time stands in.
            return [str(r.get("updateTime") or answer.body["commitTime"]) if isinstance(r, dict) else ""
                    for r in results]
        if answer.status in (400, 409) and answer.error_status in _LOST:
            return None
        raise self._fail(f"commit {what}", answer)

    def query(self, what: str, structured_query: dict[str, Any]) -> list[Doc]:
        """The documents a `structuredQuery` selects, in the order Firestore streams them."""
        answer = self._call("POST", f"{self.database_path}/documents:runQuery",
                            {"structuredQuery": structured_query})
        if answer.status >= 300:
            raise self._fail(f"runQuery {what}", answer)
        if not isinstance(answer.body, list):
            raise StoreUnavailable(f"Firestore runQuery {what}: the answer is not a list of results")
        docs: list[Doc] = []
        for item in answer.body:
            if not isinstance(item, dict) or "error" in item:  # a stream that broke off part-way
                raise StoreUnavailable(f"Firestore runQuery {what}: the result stream carries an error")
            # Items without a document (read time, progress) are part of the stream: skip them.
            if "document" in item:
                docs.append(_document(f"runQuery {what}", item["document"]))
        return docs


def default_session(scope: str) -> tuple[Any, str | None]:
    """google-auth's `AuthorizedSession` with the runtime's default credentials for `scope`, and
    the project they belong to (None when they name none)."""
    import google.auth
    from google.auth.transport.requests import AuthorizedSession

    credentials, project = google.auth.default(scopes=[scope])
    return AuthorizedSession(credentials), project  # type: ignore[no-untyped-call]


def identity_token(audience: str) -> str:
    """An identity token for `audience` from the runtime's credentials (`opwatch remediate --invoke`)."""
    from google.auth.transport.requests import Request
    from google.oauth2 import id_token

    return str(id_token.fetch_id_token(Request(), audience))  # type: ignore[no-untyped-call]


# --- Compute Engine, Cloud DNS ----------------------------------------------------------

HTTP_TIMEOUT_S = 30.0


class GoogleApiError(Exception):
    """A failed call, reduced to a short reason. `answered`: Google answered with an error, so the
    call took no effect (a transport error or an unreadable answer leaves that unknown)."""

    def __init__(self, reason: str, answered: bool, status: int = 0) -> None:
        self.answered = answered
        self.status = status
        super().__init__(reason)


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
            self._session, _ = default_session(self.scope)
        return self._session

    def _call(self, method: str, path: str, what: str, *, body: dict[str, Any] | None = None,
              params: dict[str, str] | None = None, timeout: float = HTTP_TIMEOUT_S,
              missing_ok: bool = False) -> dict[str, Any] | None:
        """The answer's JSON object; None for a 404 when `missing_ok`. Raises GoogleApiError."""
        try:
            reply = self.session.request(method, self.base_url + path, json=body, params=params, timeout=timeout)
            status = int(reply.status_code)
        except Exception as exc:  # requests, urllib3 and google-auth errors alike: typed here
            raise GoogleApiError(redact_text(f"{what}: {type(exc).__name__}: {exc}")[:300], False) from None
        if status == 404 and missing_ok:
            return None
        if not 200 <= status < 300:
            raise GoogleApiError(redact_text(self._http_reason(what, status, reply)), True, status)
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
