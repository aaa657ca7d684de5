"""A stand-in for a production sequencer's JSON-RPC (op-geth) in front of a real anvil.

op-geth serves the standard namespaces (`eth_`, `net_`, `web3_`, and `admin_`/`debug_` where
enabled) and none of anvil's test methods. This proxy forwards every call to anvil except those
of anvil's own namespaces (`anvil_`, `evm_`, `hardhat_`), which it answers the way geth answers
any method it does not have: JSON-RPC error -32601 with geth's message
"the method <name> does not exist/is not available". Batches are answered element by element.

`calls` records every method asked (refused ones included), so a test can prove that a code path
meant for real nodes never relies on an anvil-only method.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANVIL_ONLY = ("anvil_", "evm_", "hardhat_")
METHOD_NOT_FOUND = -32601


class OpGethStandIn:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.calls: list[str] = []
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                payload = json.dumps(standin.answer(json.loads(body))).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def refused(self) -> list[str]:
        with self._lock:
            return [m for m in self.calls if m.startswith(ANVIL_ONLY)]

    def answer(self, request: Any) -> Any:
        if isinstance(request, list):
            return [self.answer(r) for r in request]
        method = str(request.get("method", ""))
        with self._lock:
            self.calls.append(method)
        if method.startswith(ANVIL_ONLY):
            message = f"the method {method} does not exist/is not available"  # geth's words
            return {"jsonrpc": "2.0", "id": request.get("id"), "error": {"code": METHOD_NOT_FOUND, "message": message}}
        forwarded = urllib.request.Request(self.upstream, json.dumps(request).encode(),
                                           {"Content-Type": "application/json"})
        with urllib.request.urlopen(forwarded, timeout=30) as reply:
            return json.loads(reply.read())

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
