"""The AWS seams of the remedies against a moto server: KMS signing, Secrets Manager, and the
DynamoDB remedy store's atomic claims, caps and leases under concurrency (SQLite too)."""

from __future__ import annotations

import hashlib
import multiprocessing
import threading
import time

import pytest
from kms_standin import KmsDigestStandin
from opwatch.aws.secrets import SecretsManagerKeys as SecretsManagerSource
from opwatch.aws.signer import KmsSigner
from opwatch.remedies.signer import (
    SignerError,
    decode_der_signature,
    recover_parity,
)
from opwatch.remedies.store import RemedyStore, SqliteRemedyStore
from remedies_fixtures import FUNDER, FUNDER_KEY, aws_client, start_moto


@pytest.fixture(scope="module")
def moto():
    server, endpoint = start_moto()
    yield endpoint
    server.stop()


TX = {"type": 2, "chainId": 900, "nonce": 0, "to": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
      "value": 10**18, "gas": 21000, "maxFeePerGas": 2 * 10**9, "maxPriorityFeePerGas": 10**9, "data": b""}


def kms_key(endpoint: str) -> str:
    kms = aws_client("kms", endpoint)
    return kms.create_key(KeySpec="ECC_SECG_P256K1", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]


def test_kms_signer_derives_the_address_and_refuses_moto_signatures_over_the_wrong_digest(moto):
    signer = KmsSigner(kms_key(moto), aws_client("kms", moto))
    assert signer.address.startswith("0x") and len(signer.address) == 42
    # moto ignores MessageType=DIGEST and signs sha256(digest): not a signature over the
    # transaction hash, so the signer must refuse rather than emit a tx from another address.
    with pytest.raises(SignerError, match="does not recover"):
        signer.sign_transaction(TX)


def test_kms_der_low_s_and_parity_plumbing_on_moto_signatures(moto):
    kms = aws_client("kms", moto)
    key_id = kms_key(moto)
    signer = KmsSigner(key_id, kms)
    for i in range(8):  # several signatures: both parities and high-s normalisation get exercised
        digest = hashlib.sha256(f"tx-{i}".encode()).digest()
        der = kms.sign(KeyId=key_id, Message=digest, MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256")
        r, s = decode_der_signature(der["Signature"])
        assert s <= 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141 // 2
        # What moto actually signed: sha256(digest). Recovering over that yields the key's address.
        v, _, _ = recover_parity(hashlib.sha256(digest).digest(), r, s, signer.address)
        assert v in (0, 1)


def test_kms_signer_with_a_digest_honouring_kms_signs_a_transaction_from_the_funder():
    from eth_account import Account

    standin = KmsDigestStandin(FUNDER_KEY)
    signer = KmsSigner("alias/funder", standin, expected_address=FUNDER)
    raw = signer.sign_transaction(TX)
    assert Account.recover_transaction(raw) == FUNDER
    assert standin.calls == [{"KeyId": "alias/funder", "MessageType": "DIGEST"}]


def test_kms_signer_refuses_a_key_that_is_not_the_funder(moto):
    signer = KmsSigner(kms_key(moto), aws_client("kms", moto), expected_address=FUNDER)
    with pytest.raises(SignerError, match="not the funder"):
        signer.sign_transaction(TX)


def test_secrets_manager_source_reads_at_call_time(moto):
    sm = aws_client("secretsmanager", moto)
    sm.create_secret(Name="opwatch/funder", SecretString=FUNDER_KEY)
    source = SecretsManagerSource(sm)
    assert source.get("opwatch/funder") == FUNDER_KEY
    with pytest.raises(SignerError) as err:
        source.get("opwatch/missing")
    assert FUNDER_KEY not in str(err.value)


# --- atomic guards under concurrency ------------------------------------------------------

def dynamo_store(moto: str, name: str) -> RemedyStore:
    from opwatch.aws.remedy_store import DynamoDBRemedyStore

    return DynamoDBRemedyStore(name, client=aws_client("dynamodb", moto))


def race(n: int, work) -> list:
    results: list = [None] * n
    barrier = threading.Barrier(n)

    def one(i: int) -> None:
        barrier.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def check_store_guards(make) -> None:
    now = time.time()
    # Cap 10, eight concurrent reservations of 3: exactly three fit, never four.
    reserved = race(8, lambda i: make().reserve("topup:devnet", f"r{i}", 3, 10, 86400, now))
    assert sum(reserved) == 3
    store = make()
    assert store.spent("topup:devnet", 86400, now) == 9
    assert store.reserve("topup:devnet", next(f"r{i}" for i, ok in enumerate(reserved) if ok), 3, 10, 86400, now)
    # The window rolls: a day later the old spend no longer counts.
    assert store.reserve("topup:devnet", "tomorrow", 10, 10, 86400, now + 86401)
    # One claim per request id.
    claims = race(6, lambda i: make().claim("req-1", {"by": i}))
    winners = [c for c in claims if c.won]
    assert len(winners) == 1 and all(c.record == winners[0].record for c in claims)
    # One lease holder; expiry frees it; release only by the holder.
    leases = race(6, lambda i: make().acquire_lease("failover:devnet", f"o{i}", 60, now))
    assert sum(leases) == 1
    holder = f"o{leases.index(True)}"
    store.release_lease("failover:devnet", "someone-else")
    assert not store.acquire_lease("failover:devnet", "late", 60, now + 1)
    assert store.acquire_lease("failover:devnet", "late", 60, now + 61)
    store.release_lease("failover:devnet", "late")
    assert store.acquire_lease("failover:devnet", holder, 60, now + 62)
    store.append_audit({"step": "a"})
    store.append_audit({"step": "b"})
    assert [r["step"] for r in store.audit(2)] == ["b", "a"]


def test_sqlite_store_guards_hold_under_threads(tmp_path):
    path = tmp_path / "r.db"
    check_store_guards(lambda: SqliteRemedyStore(path))


def test_dynamodb_store_guards_hold_under_threads(moto):
    from opwatch.aws.alert_store import create_table

    create_table(aws_client("dynamodb", moto), "opwatch-remedies-guards")
    check_store_guards(lambda: dynamo_store(moto, "opwatch-remedies-guards"))


def _reserve_in_process(path: str, i: int, start, out) -> None:
    start.wait()
    out.put(SqliteRemedyStore(path).reserve("topup:x", f"p{i}", 4, 10, 86400, 1000.0))


def test_sqlite_cap_holds_across_processes(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    path = str(tmp_path / "p.db")
    SqliteRemedyStore(path)
    procs = [ctx.Process(target=_reserve_in_process, args=(path, i, start, out)) for i in range(5)]
    for p in procs:
        p.start()
    start.set()
    results = [out.get(timeout=30) for _ in procs]
    for p in procs:
        p.join()
    assert sum(results) == 2
