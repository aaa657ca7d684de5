"""The op-conductor failover strategy against a stand-in of op-conductor's JSON-RPC API.

op-conductor (raft HA for sequencers) cannot run here; `ConductorStandIn` stands in for its
RPC server: a real HTTP JSON-RPC endpoint on loopback answering the methods the strategy uses
with op-conductor's result types (`conductor_paused` and `conductor_leader` → bool,
`conductor_transferLeader` → null, after which this node stops being the leader), and it can
be told to be paused, a follower, stuck (leadership never moves) or unreachable.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opwatch.chain.rpc import RpcClient
from opwatch.config import Endpoint
from opwatch.remedies.failover import ConductorStrategy, Confirmation, FailoverAborted, FailoverRefused


class ConductorStandIn:
    def __init__(self) -> None:
        self.leader = True
        self.paused = False
        self.stuck = False
        self.calls: list[str] = []
        server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def answer(self, method: str) -> object:
        self.calls.append(method)
        if method == "conductor_paused":
            return self.paused
        if method == "conductor_leader":
            return self.leader
        if method == "conductor_transferLeader":
            if not self.stuck:
                self.leader = False
            return None
        raise KeyError(method)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                try:
                    reply = {"jsonrpc": "2.0", "id": request["id"], "result": standin.answer(request["method"])}
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


CONFIRMED = Confirmation(stalled=["sequencer", "rpc-0", "rpc-1"], advancing=[], abstained=[], max_head=100)


@pytest.fixture
def conductor() -> Iterator[ConductorStandIn]:
    standin = ConductorStandIn()
    yield standin
    standin.stop()


def strategy(url: str) -> ConductorStrategy:
    return ConductorStrategy(RpcClient(Endpoint(url, "conductor"), timeout=2, retries=0), sleep=lambda _s: None)


def test_the_leader_hands_over_and_the_move_is_confirmed(conductor: ConductorStandIn) -> None:
    s = strategy(conductor.url)
    s.preflight(CONFIRMED)
    steps: list[str] = []
    assert s.execute(lambda name, outcome, **_: steps.append(f"{name}:{outcome}")) == {"transferred": True}
    assert steps == ["transfer-leader:ok", "leader-moved:ok"]
    assert conductor.calls.count("conductor_transferLeader") == 1


def test_a_paused_conductor_is_refused_before_any_side_effect(conductor: ConductorStandIn) -> None:
    conductor.paused = True
    with pytest.raises(FailoverRefused, match="paused"):
        strategy(conductor.url).preflight(CONFIRMED)
    assert "conductor_transferLeader" not in conductor.calls


def test_a_follower_is_refused(conductor: ConductorStandIn) -> None:
    conductor.leader = False
    with pytest.raises(FailoverRefused, match="not the leader"):
        strategy(conductor.url).preflight(CONFIRMED)


def test_an_unreachable_conductor_is_refused_not_guessed() -> None:
    with pytest.raises(FailoverRefused, match="unreachable"):
        strategy("http://127.0.0.1:9").preflight(CONFIRMED)


def test_leadership_that_never_moves_aborts_with_the_state_it_left(conductor: ConductorStandIn) -> None:
    conductor.stuck = True
    with pytest.raises(FailoverAborted) as info:
        strategy(conductor.url).execute(lambda *_a, **_k: None)
    assert "old leader still leads" in info.value.state
