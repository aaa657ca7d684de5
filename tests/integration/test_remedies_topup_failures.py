"""Top-up failures between the claim and the receipt: nothing is burnt, nothing is paid twice.

Anything that fails before the broadcast (a KMS throttle, a garbled nonce, any unexpected
error) leaves no claim and no reservation behind, so the same request id acts when retried;
anything that fails after it keeps the hash, so a retry finds the transaction. The faults are
real: KMS errors from a moto server and a KMS stand-in, garbled answers from a JSON-RPC proxy
in front of anvil.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kms_standin import KmsDigestStandin
from mempool_standin import GethPoolStandIn
from opwatch.aws.signer import KmsSigner
from opwatch.chain.rpc import RpcClient
from opwatch.config import Endpoint
from opwatch.remedies.request import RemedyRequest
from opwatch.remedies.signer import Signer, SignerError
from opwatch.remedies.store import SqliteRemedyStore
from opwatch.remedies.topup import Topup
from remedies_fixtures import (
    BATCHER,
    FUNDER,
    FUNDER_KEY,
    L1_CHAIN_ID,
    aws_client,
    config_text,
    load,
    start_moto,
    topup_section,
)

pytestmark = pytest.mark.anvil
ETH = 10**18
TX = {"type": 2, "chainId": L1_CHAIN_ID, "nonce": 0, "to": BATCHER, "value": ETH, "gas": 21000,
      "maxFeePerGas": 2 * 10**9, "maxPriorityFeePerGas": 10**9, "data": b""}


class GarblingProxy(GethPoolStandIn):
    """The pool proxy, plus: answers `garble[method]` as the result of that method, as a broken
    middlebox or a buggy provider would (a JSON-RPC success with nonsense in it)."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self.garble: dict[str, Any] = {}
        # method -> (code, message): a JSON-RPC error, as geth answers a transaction it refuses.
        self.refuse: dict[str, tuple[int, str]] = {}

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        method = request.get("method")
        if method in self.refuse:
            code, message = self.refuse[method]
            return {"jsonrpc": "2.0", "id": request.get("id"), "error": {"code": code, "message": message}}
        if method in self.garble:
            return {"jsonrpc": "2.0", "id": request.get("id"), "result": self.garble[method]}
        return super().handle(request)


@pytest.fixture(scope="module")
def l1(tmp_path_factory):
    from opwatch_devnet.anvil import AnvilProcess

    with AnvilProcess.start("l1", tmp_path_factory.mktemp("l1"), ["--chain-id", str(L1_CHAIN_ID)]) as proc:
        proxy = GarblingProxy(proc.url).start()
        try:
            yield proxy
        finally:
            proxy.stop()


def rpc(url: str) -> RpcClient:
    return RpcClient(Endpoint(url, "l1"), retries=0)


def balance(proxy: GarblingProxy) -> int:
    return int(rpc(proxy.upstream).call("eth_getBalance", BATCHER, "latest"), 16)


def mined_nonce(proxy: GarblingProxy) -> int:
    return int(rpc(proxy.upstream).call("eth_getTransactionCount", FUNDER, "latest"), 16)


def make(proxy: GarblingProxy, tmp_path: Path, signer: Signer) -> Topup:
    config = load(config_text(proxy.url, topup_section(tmp_path / "remedies.db")))
    return Topup(config.network("devnet"), config.section("remediation").for_network("devnet"),
                 SqliteRemedyStore(tmp_path / "remedies.db"), signer, [rpc(proxy.url)])


def manual(request_id: str) -> RemedyRequest:
    return RemedyRequest("topup", "devnet", request_id, target="batcher", approved_by="test")


class ThrottledOnce(KmsDigestStandin):
    """KMS answering `ThrottlingException` (a botocore ClientError, as boto3 raises it) to the
    first Sign, then signing as AWS does."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.throttled = 0

    def sign(self, KeyId: str, Message: bytes, MessageType: str, SigningAlgorithm: str) -> dict[str, Any]:
        if not self.throttled:
            from botocore.exceptions import ClientError

            self.throttled += 1
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "Sign")
        return super().sign(KeyId, Message, MessageType, SigningAlgorithm)


def test_a_kms_throttle_after_the_claim_frees_the_request_and_the_retry_pays_once(l1, tmp_path):
    rpc(l1.upstream).call("anvil_setBalance", BATCHER, hex(7 * ETH))
    kms = ThrottledOnce(FUNDER_KEY)
    topup = make(l1, tmp_path, KmsSigner("alias/funder", kms, expected_address=FUNDER))
    before = mined_nonce(l1)
    first = topup.run(manual("kms-throttle-1"))
    assert first.status == "failed" and "ThrottlingException" in first.reason, first.reason
    assert topup.store.lookup("kms-throttle-1") is None
    assert topup.store.spent("topup:devnet", 86400, __import__("time").time()) == 0
    again = topup.run(manual("kms-throttle-1"))
    assert again.status == "sent", again.reason
    assert balance(l1) == 10 * ETH and mined_nonce(l1) == before + 1


def test_a_garbled_nonce_frees_the_request_and_the_retry_pays_once(l1, tmp_path):
    from opwatch.remedies.signer import EnvSecretSource, LocalKeySigner

    rpc(l1.upstream).call("anvil_setBalance", BATCHER, hex(6 * ETH))
    signer = LocalKeySigner(EnvSecretSource({"OPWATCH_FUNDER_KEY": FUNDER_KEY}), "OPWATCH_FUNDER_KEY", FUNDER)
    topup = make(l1, tmp_path, signer)
    before = mined_nonce(l1)
    l1.garble["eth_getTransactionCount"] = "0xnot-a-number"
    try:
        first = topup.run(manual("nonce-garbage-1"))
    finally:
        del l1.garble["eth_getTransactionCount"]
    assert first.status in ("refused", "failed") and "nonce" in first.reason, first.reason
    assert topup.store.lookup("nonce-garbage-1") is None
    again = topup.run(manual("nonce-garbage-1"))
    assert again.status == "sent", again.reason
    assert balance(l1) == 10 * ETH and mined_nonce(l1) == before + 1


def test_a_garbled_receipt_after_the_broadcast_keeps_the_hash_and_never_pays_twice(l1, tmp_path):
    from opwatch.remedies.signer import EnvSecretSource, LocalKeySigner

    rpc(l1.upstream).call("anvil_setBalance", BATCHER, hex(5 * ETH))
    signer = LocalKeySigner(EnvSecretSource({"OPWATCH_FUNDER_KEY": FUNDER_KEY}), "OPWATCH_FUNDER_KEY", FUNDER)
    config_text_ = topup_section(tmp_path / "remedies.db").replace('receipt_timeout = "20s"', 'receipt_timeout = "2s"')
    config = load(config_text(l1.url, config_text_))
    topup = Topup(config.network("devnet"), config.section("remediation").for_network("devnet"),
                  SqliteRemedyStore(tmp_path / "remedies.db"), signer, [rpc(l1.url)])
    before = mined_nonce(l1)
    l1.garble["eth_getTransactionReceipt"] = {"status": "0x1", "blockNumber": "soon"}
    try:
        first = topup.run(manual("receipt-garbage-1"))
    finally:
        del l1.garble["eth_getTransactionReceipt"]
    assert first.status == "pending" and first.tx_hash, first.reason  # paid, but it could not tell
    assert balance(l1) == 10 * ETH and mined_nonce(l1) == before + 1
    rpc(l1.upstream).call("anvil_setBalance", BATCHER, hex(7 * ETH))  # spent again meanwhile
    again = topup.run(manual("receipt-garbage-1"))
    assert again.status == "duplicate" and again.tx_hash == first.tx_hash, again.reason
    assert mined_nonce(l1) == before + 1
    # The next top-up of the network settles the first (mined: recorded) and pays what is short now.
    later = topup.run(manual("receipt-garbage-2"))
    assert later.status == "sent", later.reason
    assert topup.store.lookup("receipt-garbage-1")["status"] == "done"
    assert mined_nonce(l1) == before + 2


def test_a_transaction_the_node_refuses_frees_the_nonce_and_the_retry_pays_once(l1, tmp_path):
    # Before: the refused transaction kept the funder's nonce "in flight" for ever, so every later
    # top-up of the network answered pending and none was ever paid.
    from opwatch.remedies.signer import EnvSecretSource, LocalKeySigner

    rpc(l1.upstream).call("anvil_setBalance", BATCHER, hex(6 * ETH))
    signer = LocalKeySigner(EnvSecretSource({"OPWATCH_FUNDER_KEY": FUNDER_KEY}), "OPWATCH_FUNDER_KEY", FUNDER)
    topup = make(l1, tmp_path, signer)
    before = mined_nonce(l1)
    l1.refuse["eth_sendRawTransaction"] = (-32000, "insufficient funds for gas * price + value")
    try:
        first = topup.run(manual("refused-by-node-1"))
    finally:
        del l1.refuse["eth_sendRawTransaction"]
    assert first.status == "failed" and "insufficient funds" in first.reason, first.reason
    assert topup.store.lookup("refused-by-node-1") is None
    assert topup.store.spent("topup:devnet", 86400, __import__("time").time()) == 0
    later = topup.run(manual("refused-by-node-2"))
    assert later.status == "sent", later.reason
    assert balance(l1) == 10 * ETH and mined_nonce(l1) == before + 1


@pytest.fixture(scope="module")
def moto():
    server, endpoint = start_moto()
    yield endpoint
    server.stop()


def test_kms_client_errors_are_signer_errors(moto):
    """A key that does not exist (moto answers NotFoundException): a SignerError, never a boto error."""
    signer = KmsSigner("alias/no-such-key", aws_client("kms", moto))
    with pytest.raises(SignerError, match="NotFoundException"):
        signer.sign_transaction(TX)


class BadDer(KmsDigestStandin):
    def sign(self, KeyId: str, Message: bytes, MessageType: str, SigningAlgorithm: str) -> dict[str, Any]:
        return {"KeyId": KeyId, "Signature": b"\x30\x03\x02\x01"}


def test_a_malformed_der_signature_is_a_signer_error():
    signer = KmsSigner("alias/funder", BadDer(FUNDER_KEY), expected_address=FUNDER)
    with pytest.raises(SignerError, match="DER"):
        signer.sign_transaction(TX)
