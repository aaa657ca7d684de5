"""Local stand-ins for the Google APIs the GCP adapter calls, over their real REST wire protocol.

No Pub/Sub, Secret Manager or Cloud Storage emulator installs here (PROTOCOL-NOTES), and the
Pub/Sub emulator speaks gRPC only. opwatch publishes and reads secrets over these REST APIs
(gcp/publisher.py, gcp/secret_source.py), and google-cloud-storage speaks its JSON API, so tests
point them at this one HTTP server (anonymous). It serves exactly the calls opwatch makes, with
the documented request and response shapes:

- Pub/Sub `POST /v1/projects/P/topics/T:publish` with `{"messages": [{"data": base64,
  "attributes": {str: str}}]}` → `{"messageIds": [...]}`; 404 for an unknown topic, 400 for a
  message without data and attributes, non-base64 data or non-string attributes (as the API).
- Secret Manager `GET /v1/projects/P/secrets/S/versions/V:access` → `{"name", "payload":
  {"data": base64}}`; 404 when absent.
- Cloud Storage JSON API simple upload `POST /upload/storage/v1/b/B/o?uploadType=media&name=N`
  → the object resource; and the public object URL form `GET /B/N` → its bytes (404 if absent).

Errors come back in Google's JSON error shape `{"error": {"code", "message", "status"}}`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_PUBLISH = re.compile(r"^/v1/projects/([^/]+)/topics/([^/:]+):publish$")
_ACCESS = re.compile(r"^/v1/projects/([^/]+)/secrets/([^/]+)/versions/([^/:]+):access$")
_UPLOAD = re.compile(r"^/upload/storage/v1/b/([^/]+)/o$")
_STATUS = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 403: "PERMISSION_DENIED"}


@dataclass(frozen=True, slots=True)
class Published:
    topic: str  # projects/P/topics/T
    message_id: str
    data: bytes
    attributes: dict[str, str]
    publish_time: str

    def envelope(self, subscription: str) -> dict[str, Any]:
        """The push-subscription body Pub/Sub would POST for this message."""
        return {"message": {"data": base64.b64encode(self.data).decode(), "attributes": self.attributes,
                            "messageId": self.message_id, "publishTime": self.publish_time},
                "subscription": subscription}


@dataclass
class GoogleApisStandIn:
    topics: set[str] = field(default_factory=set)
    secrets: dict[str, bytes] = field(default_factory=dict)  # projects/P/secrets/S -> latest value
    objects: dict[tuple[str, str], bytes] = field(default_factory=dict)
    published: list[Published] = field(default_factory=list)
    secret_reads: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def start(cls) -> GoogleApisStandIn:
        standin = cls()
        handler = type("Handler", (_Handler,), {"standin": standin})
        standin._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=standin._server.serve_forever, daemon=True).start()
        return standin

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def messages(self, topic: str) -> list[Published]:
        with self._lock:
            return [m for m in self.published if m.topic == topic]

    # --- the API ---------------------------------------------------------------------

    def publish(self, project: str, topic: str, body: Any) -> tuple[int, dict[str, Any]]:
        path = f"projects/{project}/topics/{topic}"
        if path not in self.topics:
            return _error(404, f"Resource not found (resource={topic}).")
        messages = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(messages, list) or not messages:
            return _error(400, "The request contains no messages.")
        accepted = []
        for m in messages:
            attributes = m.get("attributes") or {}
            if not isinstance(attributes, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                           for k, v in attributes.items()):
                return _error(400, "Attributes must map strings to strings.")
            try:
                data = base64.b64decode(m.get("data") or "", validate=True)
            except (binascii.Error, TypeError):
                return _error(400, "Invalid data: not base64.")
            if not data and not attributes:
                return _error(400, "A message must have data or attributes.")
            accepted.append((data, attributes))
        with self._lock:
            ids = []
            for data, attributes in accepted:
                message_id = str(len(self.published) + 1)
                self.published.append(Published(path, message_id, data, attributes, "2024-01-01T00:00:00.000Z"))
                ids.append(message_id)
        return 200, {"messageIds": ids}

    def access(self, project: str, secret: str, version: str) -> tuple[int, dict[str, Any]]:
        name = f"projects/{project}/secrets/{secret}"
        if name not in self.secrets or version not in ("latest", "1"):
            return _error(404, f"Secret [{name}/versions/{version}] not found or has no versions.")
        with self._lock:
            self.secret_reads += 1
        return 200, {"name": f"{name}/versions/1", "payload": {"data": base64.b64encode(self.secrets[name]).decode()}}

    def upload(self, bucket: str, query: dict[str, list[str]], data: bytes) -> tuple[int, dict[str, Any]]:
        if query.get("uploadType") != ["media"] or not query.get("name"):
            return _error(400, "uploadType=media and name are required.")
        name = query["name"][0]
        with self._lock:
            self.objects[(bucket, name)] = data
        return 200, {"kind": "storage#object", "bucket": bucket, "name": name, "size": str(len(data))}


def _error(code: int, message: str) -> tuple[int, dict[str, Any]]:
    return code, {"error": {"code": code, "message": message, "status": _STATUS.get(code, "UNKNOWN")}}


class _Handler(BaseHTTPRequestHandler):
    standin: GoogleApisStandIn

    def log_message(self, *_args: Any) -> None:
        pass

    def _reply(self, status: int, body: dict[str, Any] | bytes) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream" if isinstance(body, bytes) else "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_POST(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if m := _PUBLISH.match(url.path):
            try:
                body = json.loads(raw)
            except ValueError:
                self._reply(*_error(400, "Invalid JSON payload."))
                return
            self._reply(*self.standin.publish(m.group(1), m.group(2), body))
        elif m := _UPLOAD.match(url.path):
            self._reply(*self.standin.upload(urllib.parse.unquote(m.group(1)), urllib.parse.parse_qs(url.query), raw))
        else:
            self._reply(*_error(404, f"no such method {url.path}"))

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if m := _ACCESS.match(url.path):
            self._reply(*self.standin.access(m.group(1), m.group(2), m.group(3)))
            return
        bucket, _, name = url.path.lstrip("/").partition("/")
        data = self.standin.objects.get((bucket, urllib.parse.unquote(name)))
        if data is None:
            self._reply(*_error(404, "No such object."))
        else:
            self._reply(200, data)
