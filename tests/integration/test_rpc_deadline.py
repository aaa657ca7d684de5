"""The JSON-RPC client's timeout is one deadline per request, not a limit per socket read.

A real HTTP server on loopback dribbles its answer one byte every 0.1 s: each read returns
well within any per-read timeout, so only an overall deadline (connect + send + every read,
retries included) stops the call. Without one, a slow endpoint holds a check until its
function is killed, and no finding (not even `unknown`) is written.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from opwatch.chain.errors import ChainError, EndpointUnreachable
from opwatch.chain.rpc import RpcClient
from opwatch.config import Endpoint

DRIBBLE_EVERY_S = 0.1


class Dribbler:
    """Answers every POST correctly, but one byte every 0.1 s: in the headers or in the body."""

    def __init__(self, where: str) -> None:
        self.where = where  # "headers" | "body" | "none" (a prompt answer)
        self.requests = 0
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                while len(body) < length:
                    body += conn.recv(65536)
                self.requests += 1
                request = json.loads(body)
                reply = json.dumps({"jsonrpc": "2.0", "id": request["id"],
                                    "result": "0x" + "ab" * 200}).encode()
                headers = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                           f"X-Padding: {'p' * 200}\r\nContent-Length: {len(reply)}\r\n\r\n").encode()
                if self.where == "none":
                    conn.sendall(headers + reply)
                    return
                slow, fast = (headers, b"") if self.where == "headers" else (b"", headers)
                conn.sendall(fast)
                for i in range(len(slow)):
                    if self._stop.is_set():
                        return
                    conn.sendall(slow[i:i + 1])
                    time.sleep(DRIBBLE_EVERY_S)
                for i in range(len(reply) if self.where == "body" else 0):
                    if self._stop.is_set():
                        return
                    conn.sendall(reply[i:i + 1])
                    time.sleep(DRIBBLE_EVERY_S)
                if self.where == "headers":
                    conn.sendall(reply)
            except OSError:
                return

    def stop(self) -> None:
        self._stop.set()
        self._sock.close()


@pytest.fixture(params=["headers", "body"])
def dribbler(request: pytest.FixtureRequest) -> Iterator[Dribbler]:
    server = Dribbler(request.param)
    yield server
    server.stop()


# The dribbled answer takes > 20 s to arrive; the deadline is 1 s. The margin is for a busy machine,
# and is still far below what the dribbler would hold without a deadline.
TIMEOUT_S = 1.0
MARGIN_S = 1.5


def test_a_dribbling_endpoint_fails_within_the_timeout_not_per_read(dribbler: Dribbler) -> None:
    client = RpcClient(Endpoint(dribbler.url, "dribbler"), timeout=TIMEOUT_S, retries=0)
    started = time.monotonic()
    with pytest.raises(EndpointUnreachable, match="timed out"):
        client.call("eth_chainId")
    assert time.monotonic() - started < TIMEOUT_S + MARGIN_S


def test_retries_share_the_same_deadline(dribbler: Dribbler) -> None:
    """Three attempts of a dribbled answer must not take three timeouts: the check's function
    has its own limit, and an `unknown` finding must be written before it."""
    client = RpcClient(Endpoint(dribbler.url, "dribbler"), timeout=TIMEOUT_S, retries=2, backoff=0.05)
    started = time.monotonic()
    with pytest.raises(ChainError):
        client.call("eth_chainId")
    assert time.monotonic() - started < TIMEOUT_S + MARGIN_S


def test_a_prompt_answer_still_arrives() -> None:
    server = Dribbler("none")
    try:
        client = RpcClient(Endpoint(server.url, "prompt"), timeout=TIMEOUT_S, retries=0)
        assert client.call("eth_chainId") == "0x" + "ab" * 200
    finally:
        server.stop()
