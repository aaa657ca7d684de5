"""Fault-injecting JSON-RPC reverse proxy.

Stands in for the network between a watchdog and its RPC providers: refused connections,
overloaded load balancers (HTTP 503), provider errors, slow answers, broken middleboxes that
return garbage, and a misrouted endpoint that serves another chain. Every endpoint the devnet
writes into a config goes through one of these, so faults never touch the nodes themselves.
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from opwatch_devnet.anvil import LOOPBACK, free_port

ModeKind = Literal["pass", "down", "flaky", "garbage", "wrong_chain", "blob_spike"]


@dataclass(frozen=True)
class ProxyMode:
    kind: ModeKind = "pass"
    p: float = 0.0  # flaky: share of requests that fail or are late
    delay: float = 10.0  # flaky: how late a late answer is (past any sane client timeout)
    chain_id: int = 0xDEAD  # wrong_chain: the id eth_chainId answers
    blob_fee_wei: int = 0  # blob_spike: the blob base fee of the newest blocks (anvil never raises its own)
    latency: float = 0.0  # every mode: added to each answer (a network round trip, for benchmarks)


PASS = ProxyMode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # reopen on the same port right after `down`
    request_queue_size = 256  # the stdlib's 5 refuses bursts a real node's listener would queue
    proxy: FaultProxy


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, payload = self.server.proxy.handle(body)
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            pass  # the client gave up (a late answer past its timeout): that was the point


class FaultProxy:
    """One loopback port in front of one upstream JSON-RPC URL; the mode decides the faults."""

    def __init__(self, name: str, upstream: str, port: int | None = None, seed: int | None = None) -> None:
        self.name = name
        self.upstream = upstream
        self.port = port or free_port()
        self.mode = PASS
        self.requests = 0
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def listening(self) -> bool:
        return self._server is not None

    def start(self) -> FaultProxy:
        with self._lock:
            if self._server is None:
                server = _Server((LOOPBACK, self.port), _Handler)
                server.proxy = self
                self._server = server
                self._thread = threading.Thread(
                    target=server.serve_forever, kwargs={"poll_interval": 0.1},
                    name=f"proxy-{self.name}", daemon=True,
                )
                self._thread.start()
        return self

    def close(self) -> None:
        """Stop listening: new connections are refused."""
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def set_mode(self, mode: ProxyMode) -> None:
        self.mode = mode
        if mode.kind == "down":
            self.close()
        else:
            self.start()

    def heal(self) -> None:
        self.set_mode(PASS)

    # -- request handling -------------------------------------------------------------------

    def handle(self, body: bytes) -> tuple[int, bytes]:
        self.requests += 1
        mode = self.mode
        if mode.latency:
            time.sleep(mode.latency)
        if mode.kind == "flaky" and self._rng.random() < mode.p:
            fault = self._rng.choice(("http503", "rpc_error", "late"))
            if fault == "http503":
                return 503, b'{"error":"service unavailable"}'
            if fault == "rpc_error":
                return 200, _rpc_error(body, -32603, "devnet: injected internal error")
            time.sleep(mode.delay)
        status, answer = self._forward(body)
        if mode.kind == "garbage":
            return 200, self._garble(body, answer)
        if mode.kind == "wrong_chain":
            return status, _rewrite_chain_id(body, answer, mode.chain_id)
        if mode.kind == "blob_spike":
            return status, _rewrite_blob_fee(body, answer, mode.blob_fee_wei)
        return status, answer

    def _forward(self, body: bytes) -> tuple[int, bytes]:
        request = urllib.request.Request(
            self.upstream, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()
        except OSError:
            return 502, _rpc_error(body, -32000, "devnet proxy: upstream unreachable")

    def _garble(self, body: bytes, answer: bytes) -> bytes:
        kind = self._rng.choice(("bad_json", "wrong_id", "wrong_type"))
        if kind == "bad_json":
            return b'{"jsonrpc":"2.0","id":' + answer[:7] + b"\x00garbage"
        try:
            decoded = json.loads(answer)
        except ValueError:
            return b"<html>bad gateway</html>"
        items = decoded if isinstance(decoded, list) else [decoded]
        for item in items:
            if not isinstance(item, dict):
                continue
            if kind == "wrong_id":
                item["id"] = 987654321
            else:
                item.pop("error", None)
                item["result"] = {"garbage": [1, 2, 3]} if isinstance(item.get("result"), str) else "0xzz"
        return json.dumps(decoded).encode()


def _requests(body: bytes) -> list[dict[str, Any]]:
    try:
        decoded = json.loads(body)
    except ValueError:
        return []
    items = decoded if isinstance(decoded, list) else [decoded]
    return [item for item in items if isinstance(item, dict)]


def _rpc_error(body: bytes, code: int, message: str) -> bytes:
    errors = [
        {"jsonrpc": "2.0", "id": item.get("id"), "error": {"code": code, "message": message}}
        for item in _requests(body)
    ] or [{"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}]
    try:
        batch = isinstance(json.loads(body), list)
    except ValueError:
        batch = False
    return json.dumps(errors if batch else errors[0]).encode()


def _rewrite_results(body: bytes, answer: bytes, rewrite: dict[str, Callable[[Any], Any]]) -> bytes:
    """The answer with the result of each request whose method is in `rewrite` replaced by
    `rewrite[method](result)`; anything that is not a JSON-RPC answer passes unchanged."""
    wanted = {item.get("id"): item.get("method") for item in _requests(body) if item.get("method") in rewrite}
    if not wanted:
        return answer
    try:
        decoded = json.loads(answer)
    except ValueError:
        return answer
    for item in decoded if isinstance(decoded, list) else [decoded]:
        if isinstance(item, dict) and item.get("id") in wanted and "result" in item:
            item["result"] = rewrite[str(wanted[item["id"]])](item["result"])
    return json.dumps(decoded).encode()


def _rewrite_chain_id(body: bytes, answer: bytes, chain_id: int) -> bytes:
    return _rewrite_results(body, answer, {"eth_chainId": lambda _: hex(chain_id)})


def _rewrite_blob_fee(body: bytes, answer: bytes, fee_wei: int) -> bytes:
    """The blob base fee a node reports during a blob-fee spike: `eth_blobBaseFee`, and the two
    newest entries of `eth_feeHistory`'s `baseFeePerBlobGas` (the newest block's and the next
    block's fee), in the real answers' shape. anvil's excessBlobGas stays 0 however full its
    blocks are, so its own blob fee never moves: this is the only way the devnet has to show one."""

    def history(result: Any) -> Any:
        if isinstance(result, dict) and isinstance(result.get("baseFeePerBlobGas"), list):
            fees = result["baseFeePerBlobGas"]
            fees[-2:] = [hex(fee_wei)] * len(fees[-2:])
        return result

    return _rewrite_results(body, answer, {"eth_blobBaseFee": lambda _: hex(fee_wei), "eth_feeHistory": history})
