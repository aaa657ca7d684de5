"""A stand-in for a provider that caps eth_getLogs: a JSON-RPC proxy in front of a real node.

Every request is forwarded to the node behind it, except an `eth_getLogs` whose block range is
wider than `max_range` blocks: that one is answered with the error providers give for a query
over their result cap (Infura's shape, geth's message):

    {"jsonrpc": "2.0", "id": <id>, "error": {"code": -32005, "message": "query returned more than 10000 results"}}

`refused` and `served` record the (fromBlock, toBlock) ranges refused and forwarded.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REFUSAL = {"code": -32005, "message": "query returned more than 10000 results"}


class GetLogsLimit:
    def __init__(self, upstream: str, max_range: int) -> None:
        self.upstream = upstream
        self.max_range = max_range
        self.refused: list[tuple[int, int]] = []
        self.served: list[tuple[int, int]] = []
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                items = body if isinstance(body, list) else [body]
                answers = [standin._answer(item) for item in items]
                out = json.dumps(answers if isinstance(body, list) else answers[0]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _answer(self, item: dict[str, Any]) -> dict[str, Any]:
        if item.get("method") == "eth_getLogs":
            query = item["params"][0]
            start, end = int(query["fromBlock"], 16), int(query["toBlock"], 16)
            with self._lock:
                if end - start + 1 > self.max_range:
                    self.refused.append((start, end))
                    return {"jsonrpc": "2.0", "id": item["id"], "error": REFUSAL}
                self.served.append((start, end))
        request = urllib.request.Request(self.upstream, json.dumps(item).encode(),
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as resp:
            answer: dict[str, Any] = json.loads(resp.read())
        return answer

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
