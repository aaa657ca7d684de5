"""The L1 quorum: one dead, hung or lagging endpoint never changes what the checks see."""

from __future__ import annotations

import json
import threading
import time

import pytest
from opwatch.chain.errors import NoHealthyEndpoint, WrongChain
from opwatch.chain.node import L1Quorum, Node
from opwatch.chain.rpc import RpcClient, TransportError
from opwatch.config import Endpoint


class ChainTransport:
    """Transport seam standing in for L1 endpoints: each URL answers as a node at `heads[url]`
    on `chain_ids[url]`, or hangs for `hang[url]` seconds and then fails."""

    def __init__(self, heads: dict[str, int], chain_ids: dict[str, int] | None = None,
                 hang: dict[str, float] | None = None) -> None:
        self.heads, self.chain_ids, self.hang = heads, chain_ids or {}, hang or {}
        self.release = threading.Event()

    def post(self, url: str, body: bytes, timeout: float) -> bytes:
        if url in self.hang:
            self.release.wait(self.hang[url])
            raise TransportError("timed out")
        calls = json.loads(body)
        calls = calls if isinstance(calls, list) else [calls]
        out = []
        for c in calls:
            if c["method"] == "eth_chainId":
                result: object = hex(self.chain_ids.get(url, 1))
            else:
                n = self.heads[url]
                result = {"number": hex(n), "hash": "0x" + f"{n:064x}", "parentHash": "0x" + f"{n - 1:064x}",
                          "timestamp": hex(1_700_000_000 + 12 * n), "transactions": []}
            out.append({"jsonrpc": "2.0", "id": c["id"], "result": result})
        return json.dumps(out if len(out) > 1 else out[0]).encode()


def quorum(transport: ChainTransport, urls: list[str], grace: float = 0.3) -> L1Quorum:
    return L1Quorum([Node(RpcClient(Endpoint(u, u), transport, timeout=5, retries=0), 1) for u in urls], grace=grace)


URLS = ["http://a", "http://b", "http://c"]


def test_the_highest_head_wins_so_a_lagging_endpoint_cannot_age_the_chain() -> None:
    q = quorum(ChainTransport({"http://a": 100, "http://b": 103, "http://c": 90}), URLS)
    assert q.head().number == 103
    assert q.healthy_count == 3


def test_a_hung_endpoint_is_dropped_after_the_grace_not_waited_for() -> None:
    transport = ChainTransport({"http://a": 100, "http://b": 100}, hang={"http://c": 10.0})
    started = time.monotonic()
    head = quorum(transport, URLS, grace=0.3).head()
    elapsed = time.monotonic() - started
    transport.release.set()
    assert head.number == 100
    assert elapsed < 2.0  # not the 10 s the hung endpoint would take


def test_an_endpoint_on_another_chain_is_dropped() -> None:
    q = quorum(ChainTransport({"http://a": 100, "http://b": 500}, chain_ids={"http://b": 5}), URLS[:2])
    assert q.head().number == 100 and q.healthy_count == 1


def test_all_endpoints_failing_says_why_for_each() -> None:
    q = quorum(ChainTransport({"http://a": 1, "http://b": 1}, chain_ids={"http://a": 7, "http://b": 8}), URLS[:2])
    with pytest.raises(NoHealthyEndpoint) as info:
        q.head()
    assert all(isinstance(c, WrongChain) for c in info.value.causes)
    assert "http://a" in str(info.value) and "http://b" in str(info.value)
