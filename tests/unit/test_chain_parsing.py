"""The parsing boundary: any answer off the wire either parses or raises a ChainError.

A malformed JSON-RPC answer must become an `unknown` finding with a reason, so the parsers
and the client may raise only `ChainError` subclasses, whatever they are fed.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opwatch.chain import wire
from opwatch.chain.errors import BadResponse, ChainError, EndpointUnreachable, RpcError
from opwatch.chain.rpc import Call, RpcClient, TransportError
from opwatch.config import Endpoint

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
    | st.sampled_from(["0x", "0x0", "0x1", "0xzz", "0x" + "ab" * 32, "0x" + "12" * 20, "latest"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["id", "jsonrpc", "result", "error", "code", "message", "number", "hash", "parentHash",
                         "timestamp", "transactions", "from", "to", "type", "l1origin", "unsafe_l2", "safe_l2",
                         "finalized_l2", "head_l1", "baseFeePerGas", "blobVersionedHashes"]),
        inner, max_size=6),
    max_leaves=20,
)


class ScriptedTransport:
    """Transport seam for the client's own tests: answers with scripted bytes or errors."""

    def __init__(self, answers: list[bytes | Exception]) -> None:
        self.answers = list(answers)
        self.bodies: list[Any] = []

    def post(self, url: str, body: bytes, timeout: float) -> bytes:
        self.bodies.append(json.loads(body))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def client(answers: list[bytes | Exception], retries: int = 2) -> tuple[RpcClient, ScriptedTransport]:
    transport = ScriptedTransport(answers)
    return RpcClient(Endpoint("http://127.0.0.1:1", "node"), transport, retries=retries, backoff=0.0), transport


@settings(max_examples=400)
@given(json_values)
def test_parsers_raise_only_bad_response(value: Any) -> None:
    for parse in (lambda v: wire.block(v, "n", full=True), lambda v: wire.block(v, "n"),
                  lambda v: wire.sync_status(v, "n"), lambda v: wire.rollup_chain_ids(v, "n"),
                  lambda v: wire.quantity(v, "q", "n"), lambda v: wire.transaction(v, "n")):
        try:
            parse(value)
        except BadResponse:
            pass


@settings(max_examples=400)
@given(json_values, st.integers(min_value=1, max_value=3))
def test_client_raises_only_chain_errors_on_any_answer(value: Any, calls: int) -> None:
    rpc, _ = client([json.dumps(value).encode()], retries=0)
    try:
        rpc.batch([Call("eth_blockNumber")] * calls)
    except ChainError:
        pass


@given(st.binary(max_size=64))
def test_client_raises_only_chain_errors_on_any_bytes(raw: bytes) -> None:
    rpc, _ = client([raw], retries=0)
    try:
        rpc.call("eth_blockNumber")
    except ChainError:
        pass


def test_batch_answers_are_matched_by_id_not_position() -> None:
    rpc, transport = client([b"placeholder"])
    transport.answers = []

    def post(url: str, body: bytes, timeout: float) -> bytes:
        sent = json.loads(body)
        return json.dumps([{"jsonrpc": "2.0", "id": c["id"], "result": c["method"]} for c in reversed(sent)]).encode()

    transport.post = post  # type: ignore[method-assign]
    assert rpc.batch([Call("a"), Call("b"), Call("c")]) == ["a", "b", "c"]


def test_an_answer_with_a_foreign_id_is_rejected() -> None:
    rpc, _ = client([b'{"jsonrpc":"2.0","id":999999999,"result":"0x1"}'])
    with pytest.raises(BadResponse, match="unknown id"):
        rpc.call("eth_chainId")


def test_transient_failures_are_retried_then_succeed() -> None:
    rpc, transport = client([TransportError("HTTP 503"), TransportError("timed out"), b""])
    transport.answers[-1] = b"placeholder"

    def answer_third(url: str, body: bytes, timeout: float) -> bytes:
        if len(transport.answers) > 1:
            raise transport.answers.pop(0)  # type: ignore[misc]
        sent = json.loads(body)
        return json.dumps({"jsonrpc": "2.0", "id": sent["id"], "result": "0x2a"}).encode()

    transport.post = answer_third  # type: ignore[method-assign]
    assert rpc.call("eth_chainId") == "0x2a"
    assert rpc.requests == 3


def test_retries_are_bounded_and_the_error_says_why() -> None:
    rpc, _ = client([TransportError("connection refused")] * 3, retries=2)
    with pytest.raises(EndpointUnreachable, match="connection refused"):
        rpc.call("eth_chainId")
    assert rpc.requests == 3


def test_a_final_http_status_is_not_retried() -> None:
    rpc, _ = client([TransportError("HTTP 404 (final)")], retries=5)
    with pytest.raises(EndpointUnreachable):
        rpc.call("eth_chainId")
    assert rpc.requests == 1


def test_a_revert_is_returned_in_its_slot_when_allowed() -> None:
    rpc, transport = client([b""])

    def post(url: str, body: bytes, timeout: float) -> bytes:
        a, b = json.loads(body)
        return json.dumps([{"jsonrpc": "2.0", "id": a["id"], "error": {"code": 3, "message": "execution reverted"}},
                           {"jsonrpc": "2.0", "id": b["id"], "result": "0x01"}]).encode()

    transport.post = post  # type: ignore[method-assign]
    first, second = rpc.batch([Call("eth_call"), Call("eth_call")], allow_errors=True)
    assert isinstance(first, RpcError) and first.is_revert
    assert second == "0x01"


def test_error_messages_never_carry_the_url() -> None:
    transport = ScriptedTransport([TransportError("boom")] * 3)
    rpc = RpcClient(Endpoint("https://u:pw@host.example/v2/KEY", "host.example"), transport, backoff=0.0)
    with pytest.raises(ChainError) as info:
        rpc.call("eth_chainId")
    assert "KEY" not in str(info.value) and "pw" not in str(info.value)


def test_deposit_transactions_parse_like_any_other() -> None:
    # The shape anvil --optimism and op-geth serve for a type 0x7E deposit: no signature
    # that means anything, no gas price, a sourceHash and a mint.
    deposit = {"hash": "0x" + "7e" * 32, "type": "0x7e", "from": "0xdeaddeaddeaddeaddeaddeaddeaddeaddead0001",
               "to": "0x4200000000000000000000000000000000000015", "gas": "0xf4240", "input": "0x0102",
               "mint": "0x0", "sourceHash": "0x" + "11" * 32, "value": "0x0", "nonce": "0x0"}
    block = {"number": "0x10", "hash": "0x" + "aa" * 32, "parentHash": "0x" + "bb" * 32, "timestamp": "0x64",
             "baseFeePerGas": "0x7", "transactions": [deposit]}
    parsed = wire.block(block, "l2", full=True)
    assert parsed.txs[0].type == wire.DEPOSIT_TX_TYPE
    assert parsed.txs[0].to == "0x4200000000000000000000000000000000000015"


def test_a_missing_block_is_a_bad_response() -> None:
    with pytest.raises(BadResponse, match="not found"):
        wire.block(None, "l1")


def test_a_transient_json_rpc_error_is_retried_then_succeeds() -> None:
    rpc, transport = client([b""])
    answers = iter([{"error": {"code": -32603, "message": "internal error"}}, {"result": "0x2a"}])

    def post(url: str, body: bytes, timeout: float) -> bytes:
        sent = json.loads(body)
        return json.dumps({"jsonrpc": "2.0", "id": sent["id"], **next(answers)}).encode()

    transport.post = post  # type: ignore[method-assign]
    assert rpc.call("eth_chainId") == "0x2a"
    assert rpc.requests == 2


def test_a_final_json_rpc_error_is_not_retried() -> None:
    rpc, transport = client([b""])

    def post(url: str, body: bytes, timeout: float) -> bytes:
        sent = json.loads(body)
        return json.dumps({"jsonrpc": "2.0", "id": sent["id"],
                           "error": {"code": -32601, "message": "method not found"}}).encode()

    transport.post = post  # type: ignore[method-assign]
    with pytest.raises(RpcError, match="method not found"):
        rpc.call("eth_blobBaseFee")
    assert rpc.requests == 1
