"""A halted sequencer's diagnosis runs before its page leaves the fast lane: conductors that
accept a connection and never answer cost one RPC timeout together, not one each.

Real loopback sockets that accept and stay silent (a hung op-conductor), the real RPC client
and its deadline; op-node unconfigured, so the conductors are all the diagnosis reads.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from opwatch.checks import diagnosis
from opwatch.checks.base import Context, Verdict
from opwatch.config import parse_config
from opwatch.findings import Measure, Status

MEMBERS = 4
TIMEOUT_S = 2.0


class Silent:
    """Accepts connections and never answers (a conductor that hangs)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self._stop = True
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def silent() -> Iterator[list[Silent]]:
    servers = [Silent() for _ in range(MEMBERS)]
    yield servers
    for s in servers:
        s.close()


def test_hung_conductors_cost_one_timeout_not_one_each(silent: list[Silent]) -> None:
    conductors = ", ".join(f'{{ name = "c{i}", url = "http://127.0.0.1:{s.port}" }}' for i, s in enumerate(silent))
    config = parse_config(f"""
[networks.devnet]
l1_rpc = ["http://127.0.0.1:9"]
l2_rpc = "http://127.0.0.1:9"
l1_chain_id = 900
l2_chain_id = 901
block_time = "2s"
conductors = [{conductors}]

[rpc]
timeout = "{TIMEOUT_S:.0f}s"
retries = 0
""")
    ctx = Context(config.network("devnet"), config.rpc, config=config)
    firing = Verdict(Status.FIRING, "no new block for 9 s", Measure(9.0, "s"), Measure(3.0, "s"))
    started = time.monotonic()
    verdict = diagnosis.sequencer(ctx, firing, exec_head=100)
    took = time.monotonic() - started
    causes = {c["cause"]: c for c in verdict.details["diagnosis"]}
    # Nobody answered: the conductor cause is unknown and says so; nothing is guessed.
    assert causes["conductor_held"]["holds"] is None, causes
    assert f"0 of {MEMBERS} conductors answered" in causes["conductor_held"]["measured"]
    # One after the other this is MEMBERS x the timeout (8 s); together it is about one.
    assert took < (MEMBERS - 1) * TIMEOUT_S, f"diagnosis took {took:.1f} s"
    assert all(s.held for s in silent)  # every member was asked
