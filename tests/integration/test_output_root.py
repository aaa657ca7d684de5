"""The output-root computation against a real anvil: a vector computed by hand in the test.

The L2 anvil gets the L2ToL1MessagePasser's place (0x4200…0016) with code and storage, so
its storage root is not the empty trie's; the expected root is hashed here with eth_utils'
keccak (another implementation than the one under test) from the raw JSON-RPC answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from eth_utils import keccak
from opwatch.chain.errors import BadResponse, ChainError
from opwatch.chain.output_root import MESSAGE_PASSER, compute_output_root, compute_output_roots
from opwatch.chain.rpc import RpcClient
from opwatch.config import Endpoint

pytestmark = pytest.mark.anvil

EMPTY_TRIE_ROOT = "0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421"


@pytest.fixture(scope="module")
def l2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RpcClient]:
    from opwatch_devnet.anvil import AnvilProcess

    with AnvilProcess.start("l2", tmp_path_factory.mktemp("outroot"), ["--chain-id", "901", "--optimism"]) as proc:
        client = RpcClient(Endpoint(proc.url, "l2"), timeout=10.0)
        client.call("anvil_setCode", MESSAGE_PASSER, "0x00")
        # Two "sent messages" slots, as withdrawals would write them.
        client.call("anvil_setStorageAt", MESSAGE_PASSER, "0x" + "11" * 32, "0x" + "00" * 31 + "01")
        client.call("anvil_setStorageAt", MESSAGE_PASSER, "0x" + "22" * 32, "0x" + "00" * 31 + "01")
        for _ in range(3):  # (anvil's genesis header carries the empty trie's root: use later blocks)
            client.call("evm_mine")
        yield client


def _by_hand(client: RpcClient, number: int) -> str:
    block = client.call("eth_getBlockByNumber", hex(number), False)
    proof = client.call("eth_getProof", MESSAGE_PASSER, [], hex(number))
    fields = (block["stateRoot"], proof["storageHash"], block["hash"])
    blob = b"\0" * 32 + b"".join(bytes.fromhex(h[2:]) for h in fields)
    return "0x" + keccak(blob).hex()


def test_output_root_matches_a_vector_computed_by_hand(l2: RpcClient) -> None:
    head = int(l2.call("eth_blockNumber"), 16)
    got = compute_output_root(l2, head)
    assert got.message_passer_storage_root != EMPTY_TRIE_ROOT  # the vector exercises a real storage root
    assert got.root == _by_hand(l2, head)
    block = l2.call("eth_getBlockByNumber", hex(head), False)
    assert (got.block_number, got.block_hash, got.state_root) == (head, block["hash"], block["stateRoot"])


def test_output_roots_of_several_blocks_come_in_one_round_trip(l2: RpcClient) -> None:
    head = int(l2.call("eth_blockNumber"), 16)
    before = l2.requests
    roots = compute_output_roots(l2, [head, head - 1, 1])
    assert l2.requests - before == 1
    assert [r.root for r in roots] == [_by_hand(l2, n) for n in (head, head - 1, 1)]
    assert len({r.root for r in roots}) == 3


def test_a_block_the_node_lacks_is_a_chain_error_not_a_root(l2: RpcClient) -> None:
    head = int(l2.call("eth_blockNumber"), 16)
    with pytest.raises(ChainError):
        compute_output_root(l2, head + 1000)


class _Rewriting:
    """A transport that forwards to anvil and rewrites one method's result (a lying node)."""

    def __init__(self, method: str, edit: object) -> None:
        from opwatch.chain.rpc import HttpTransport

        self._inner = HttpTransport()
        self._method = method
        self._edit = edit

    def post(self, url: str, body: bytes, timeout: float) -> bytes:
        sent = json.loads(body)
        answer = json.loads(self._inner.post(url, body, timeout))
        items = answer if isinstance(answer, list) else [answer]
        methods = {c["id"]: c["method"] for c in (sent if isinstance(sent, list) else [sent])}
        for item in items:
            if methods.get(item.get("id")) == self._method:
                item["result"] = self._edit(item["result"])  # type: ignore[operator]
        return json.dumps(answer).encode()


@pytest.mark.parametrize("method,edit,reason", [
    # a proof of another block's state (a reorg between the answers, or a node that lies)
    ("eth_getProof", lambda r: {**r, "accountProof": ["0x" + "ab" * 40]}, "state root"),
    ("eth_getProof", lambda r: {**r, "storageHash": "0x1234"}, "storageHash"),
    ("eth_getProof", lambda r: {**r, "address": "0x" + "00" * 20}, "message passer"),
    ("eth_getProof", lambda r: None, "expected an object"),
    ("eth_getBlockByNumber", lambda r: {**r, "stateRoot": None}, "stateRoot"),
    ("eth_getBlockByNumber", lambda r: {**r, "number": "0x0"}, "asked for block"),
])
def test_a_malformed_answer_is_a_bad_response(l2: RpcClient, method: str, edit: object, reason: str) -> None:
    head = int(l2.call("eth_blockNumber"), 16)
    lying = RpcClient(Endpoint(l2.endpoint.url, "lying"), transport=_Rewriting(method, edit), timeout=10.0)
    with pytest.raises(BadResponse, match=reason):
        compute_output_root(lying, head)
