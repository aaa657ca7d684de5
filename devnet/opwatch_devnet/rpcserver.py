"""A tiny threaded JSON-RPC 2.0 server on loopback, shared by the op-node stand-in and the
supervisor's control endpoint."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opwatch_devnet.anvil import LOOPBACK, free_port

Method = Callable[..., Any]


class MethodError(Exception):
    """Raised by a method to answer with a JSON-RPC error."""

    def __init__(self, message: str, code: int = -32000) -> None:
        super().__init__(message)
        self.code = code


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    methods: dict[str, Method]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        try:
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        except ValueError:
            self._reply({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}})
            return
        if isinstance(request, list):
            self._reply([self._dispatch(item) for item in request])
        else:
            self._reply(self._dispatch(request))

    def _dispatch(self, request: Any) -> dict[str, Any]:
        if not isinstance(request, dict):
            return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "invalid request"}}
        rid = request.get("id")
        method = self.server.methods.get(str(request.get("method")))
        if method is None:
            return {"jsonrpc": "2.0", "id": rid, "error": {
                "code": -32601, "message": f"the method {request.get('method')} does not exist/is not available"}}
        try:
            result = method(*(request.get("params") or []))
        except MethodError as err:
            return {"jsonrpc": "2.0", "id": rid, "error": {"code": err.code, "message": str(err)}}
        except Exception as err:
            return {"jsonrpc": "2.0", "id": rid, "error": {"code": -32603, "message": f"{type(err).__name__}: {err}"}}
        return {"jsonrpc": "2.0", "id": rid, "result": result}

    def _reply(self, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class JsonRpcServer:
    def __init__(self, name: str, methods: dict[str, Method], port: int | None = None) -> None:
        self.name = name
        self.port = port or free_port()
        self._server = _Server((LOOPBACK, self.port), _Handler)
        self._server.methods = methods
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name=name, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> JsonRpcServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
