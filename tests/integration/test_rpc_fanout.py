"""Many endpoints at once over real HTTP: one deadline watchdog, and hung nodes cost one timeout.

Each request's deadline (tests/integration/test_rpc_deadline.py) was a `threading.Timer`, a
thread started per request: reading a hundred nodes side by side started two hundred threads,
each start waiting for the interpreter lock. Now one watchdog thread holds every deadline.
The servers here are real sockets on loopback, and the chain a real anvil.
"""

from __future__ import annotations

import json
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from opwatch.chain.rpc import RpcClient
from opwatch.config import Endpoint, parse_config
from opwatch.findings import Status
from opwatch.runner import run_checks
from opwatch_devnet.anvil import AnvilProcess


class HoldingServer:
    """A JSON-RPC endpoint that reads every request on one thread and answers none until
    `release()` (then each single call with `"0x1"`), or never when `hang` is set: no thread per connection,
    so the threads a client starts can be counted."""

    def __init__(self, hang: bool = False) -> None:
        self.hang = hang
        self.held: list[tuple[socket.socket, bytes]] = []
        self._released = threading.Event()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._listener.setblocking(False)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        buffers: dict[socket.socket, bytes] = {}
        with selectors.DefaultSelector() as sel:
            sel.register(self._listener, selectors.EVENT_READ)
            while not self._stop.is_set():
                for key, _ in sel.select(timeout=0.05):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if sock is self._listener:
                        conn, _ = self._listener.accept()
                        sel.register(conn, selectors.EVENT_READ)
                        buffers[conn] = b""
                        continue
                    chunk = sock.recv(65536)
                    if not chunk:
                        sel.unregister(sock)
                        sock.close()
                        continue
                    buffers[sock] += chunk
                    head, sep, body = buffers[sock].partition(b"\r\n\r\n")
                    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length")), -1)
                    if sep and len(body) >= length >= 0:
                        self.held.append((sock, body))
                if self._released.is_set() and not self.hang:
                    while self.held:
                        sock, request = self.held.pop()
                        reply = json.dumps({"jsonrpc": "2.0", "id": json.loads(request)["id"],
                                            "result": "0x1"}).encode()
                        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                     b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(reply) + reply)

    def release(self) -> None:
        self._released.set()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()


@pytest.fixture
def holding() -> Iterator[HoldingServer]:
    server = HoldingServer()
    yield server
    server.stop()


def wait_until(condition, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_requests_in_flight_together_share_one_deadline_watchdog(holding: HoldingServer) -> None:
    callers = 30
    client = RpcClient(Endpoint(holding.url, "held"), timeout=60, retries=0)
    RpcClient(Endpoint(holding.url, "warm"), timeout=0.01, retries=0)  # nothing sent: a client alone starts nothing
    before = threading.active_count()
    answers: list[object] = []
    threads = [threading.Thread(target=lambda: answers.append(client.call("eth_chainId"))) for _ in range(callers)]
    for t in threads:
        t.start()
    assert wait_until(lambda: len(holding.held) == callers), f"{len(holding.held)} of {callers} requests arrived"
    # The callers themselves, and at most the one watchdog; a timer per request would add 30.
    assert threading.active_count() - before <= callers + 1
    holding.release()
    for t in threads:
        t.join(timeout=30)
    assert answers == ["0x1"] * callers


@pytest.fixture(scope="module")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnvilProcess]:
    proc = AnvilProcess.start("fanout-l2", Path(tmp_path_factory.mktemp("fanout")), ["--chain-id", "901"])
    try:
        yield proc
    finally:
        proc.stop()


def test_hung_nodes_among_many_cost_one_timeout_and_only_they_are_unknown(anvil: AnvilProcess) -> None:
    """Ten of thirty nodes accept the connection and never answer: with the reads side by side the
    run ends about one RPC timeout (1 s) after it began, not ten; those ten are `unknown`, the
    twenty real ones (the same anvil as the sequencer) measured."""
    hung = [HoldingServer(hang=True) for _ in range(10)]
    try:
        real = [f"{anvil.url}/?node={i}" for i in range(20)]
        nodes = real + [h.url for h in hung]
        listed = ", ".join(f'{{ name = "node-{i}", url = "{u}" }}' for i, u in enumerate(nodes))
        config = parse_config(f"""
[rpc]
timeout = "1s"
retries = 0
[networks.devnet]
l1_rpc = "http://127.0.0.1:1"
l2_rpc = "{anvil.url}"
l1_chain_id = 900
l2_chain_id = 901
block_time = "1s"
rpc_nodes = [{listed}]
""")
        started = time.monotonic()
        result = run_checks(config, check_ids=["rpc_sync"])
        elapsed = time.monotonic() - started
        by_url = {e.url: e.name for e in config.network("devnet").rpc_nodes}
        status = {f.target: f.status for f in result.findings}
        assert {status[by_url[u]] for u in real} == {Status.OK}
        assert {status[by_url[h.url]] for h in hung} == {Status.UNKNOWN}
        assert all("timed out" in f.summary for f in result.findings if f.status == Status.UNKNOWN)
        # One timeout and a generous margin for a busy machine; ten timeouts in a row would be 10 s.
        assert elapsed < 6.0, elapsed
    finally:
        for h in hung:
            h.stop()
