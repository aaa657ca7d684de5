"""A log range refused for its size is not a transient error; a rate limit on the same code is.

Both come back as JSON-RPC -32005. The refusal ("query returned more than 10000 results") is
the node's answer about the range and is the same on every retry, so the client hands it to the
caller at once (chain/logs.py splits the range); a rate limit is retried as before. The network
is the client's Transport seam, answering in the providers' wire shapes.
"""

from __future__ import annotations

import json

import pytest
from opwatch.chain.errors import RpcError
from opwatch.chain.rpc import RpcClient
from opwatch.config import Endpoint

QUERY = {"address": ["0x" + "11" * 20], "fromBlock": "0x0", "toBlock": "0x7d0"}


class Answers:
    """Answers every request with the next scripted JSON-RPC error, then with `[]`."""

    def __init__(self, errors: list[dict[str, object]]) -> None:
        self.errors = list(errors)

    def post(self, url: str, body: bytes, timeout: float) -> bytes:
        sent = json.loads(body)
        reply: dict[str, object] = {"error": self.errors.pop(0)} if self.errors else {"result": []}
        return json.dumps({"jsonrpc": "2.0", "id": sent["id"], **reply}).encode()


def client(errors: list[dict[str, object]]) -> RpcClient:
    return RpcClient(Endpoint("http://127.0.0.1:1", "l1"), Answers(errors), backoff=0.0)  # default retries


@pytest.mark.parametrize("message", ["query returned more than 10000 results", "Log response size exceeded.",
                                     "block range too large", "query exceeds max results 20000"])
def test_a_log_range_refusal_goes_straight_to_the_caller(message: str) -> None:
    rpc = client([{"code": -32005, "message": message}] * 3)
    with pytest.raises(RpcError) as raised:
        rpc.call("eth_getLogs", QUERY)
    assert raised.value.code == -32005
    assert rpc.requests == 1


@pytest.mark.parametrize("message", ["daily request count exceeded, request rate limited",
                                     "project ID request rate exceeded", "Limit exceeded: too many requests"])
def test_a_rate_limit_on_the_same_code_is_still_retried(message: str) -> None:
    rpc = client([{"code": -32005, "message": message}])
    assert rpc.call("eth_getLogs", QUERY) == []
    assert rpc.requests == 2


def test_the_same_words_on_another_method_are_retried() -> None:
    rpc = client([{"code": -32005, "message": "limit exceeded"}])
    assert rpc.call("eth_call", {"to": "0x" + "11" * 20}, "latest") == []
    assert rpc.requests == 2
