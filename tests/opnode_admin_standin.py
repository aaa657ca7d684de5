"""A stand-in for op-node's admin RPC and op-conductor's RPC, with lost answers on demand.

Real JSON-RPC over HTTP on loopback, answering with the documented result types:
`admin_sequencerActive` → bool; `admin_stopSequencer` → the unsafe head hash (error
"sequencer not running" when stopped, as op-node answers); `admin_startSequencer(hash)` → null
(error when already running or when the hash is not its unsafe head); `optimism_syncStatus` →
`unsafe_l2 {hash, number}`; `eth_getBlockByNumber` → `{number, hash}` of its head;
`eth_blockNumber`; `conductor_leader` / `conductor_paused` → bool; `conductor_transferLeader`
→ null (error "node is not the leader" on a follower, as op-conductor answers).

`lose_answer[method] = n`: the next n calls of `method` are performed (when `perform` says so)
and then the connection is closed without an answer, as a timeout or a dropped connection after
the node acted looks to the caller. `perform_lost = False` drops the request without acting.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class MethodError(Exception):
    pass


class AdminStandIn:
    def __init__(self, active: bool, head_hash: str, head_number: int = 100, leader: bool = False) -> None:
        self.active = active
        self.head_hash = head_hash
        self.head_number = head_number
        self.leader = leader
        self.paused = False
        self.lose_answer: dict[str, int] = {}
        self.perform_lost = True
        self.calls: list[str] = []
        self.unreachable = False
        self._lock = threading.Lock()
        server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def answer(self, method: str, params: list[Any]) -> Any:
        if method == "admin_sequencerActive":
            return self.active
        if method == "admin_stopSequencer":
            if not self.active:
                raise MethodError("sequencer not running")
            self.active = False
            return self.head_hash
        if method == "admin_startSequencer":
            if self.active:
                raise MethodError("sequencer already running")
            if str(params[0]).lower() != self.head_hash.lower():
                raise MethodError(f"block hash does not match: head {self.head_hash} != start {params[0]}")
            self.active = True
            return None
        if method == "optimism_syncStatus":
            return {"unsafe_l2": {"hash": self.head_hash, "number": self.head_number}}
        if method == "eth_getBlockByNumber":
            return {"number": hex(self.head_number), "hash": self.head_hash}
        if method == "eth_blockNumber":
            return hex(self.head_number)
        if method == "conductor_leader":
            return self.leader
        if method == "conductor_paused":
            return self.paused
        if method == "conductor_transferLeader":
            if not self.leader:
                raise MethodError("node is not the leader")
            self.leader = False
            return None
        raise KeyError(method)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                method = request["method"]
                with standin._lock:
                    standin.calls.append(method)
                    if standin.unreachable:
                        self.close_connection = True
                        return
                    lost = standin.lose_answer.get(method, 0) > 0
                    if lost:
                        standin.lose_answer[method] -= 1
                        if standin.perform_lost:
                            try:
                                standin.answer(method, request.get("params", []))
                            except (MethodError, KeyError):
                                pass
                        self.close_connection = True  # no answer: the caller sees a dropped connection
                        return
                    try:
                        reply = {"jsonrpc": "2.0", "id": request["id"],
                                 "result": standin.answer(method, request.get("params", []))}
                    except MethodError as exc:
                        reply = {"jsonrpc": "2.0", "id": request["id"], "error": {"code": -32000, "message": str(exc)}}
                    except KeyError:
                        reply = {"jsonrpc": "2.0", "id": request["id"],
                                 "error": {"code": -32601, "message": "the method does not exist"}}
                body = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                pass

        return Handler

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
