"""`FirestoreRemedyStore` over real HTTP against the Firestore v1 REST stand-in
(tests/firestore_standin.py; no Firestore emulator runs here), through a plain
`requests.Session`: the same concurrency guards the SQLite and DynamoDB stores pass, the
compare-and-set path actually taken, ids that are not valid document ids, the audit order,
and failure modes that must raise rather than guess (or leak the access token)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from firestore_standin import FirestoreStandIn
from opwatch.gcp.remedy_store import FirestoreRemedyStore, StoreContention, StoreUnavailable, document_id
from test_remedies_aws import check_store_guards, race

PROJECT = "opwatch-test"
PREFIX = "opwatch_remedy"
TOKEN = "ya29.fake-access-token-d0-not-leak"


@pytest.fixture
def standin() -> Iterator[FirestoreStandIn]:
    server = FirestoreStandIn.start()
    yield server
    server.stop()


def store(standin: FirestoreStandIn, session: Any = None, **kwargs: Any) -> FirestoreRemedyStore:
    return FirestoreRemedyStore(PROJECT, session=session or requests.Session(), base_url=standin.base_url, **kwargs)


def test_firestore_store_guards_hold_under_threads_and_the_races_hit_the_preconditions(standin):
    check_store_guards(lambda: store(standin))
    # Not luck: racing writers really lost preconditions and re-read. Six claimants of one id
    # always send six creates (five lose); budget and lease losers took the retry path.
    lost = standin.failures_by_collection
    print(f"precondition failures in the race: {dict(lost)}")
    assert lost[f"{PREFIX}_claims"] >= 5
    assert lost[f"{PREFIX}_budgets"] > 0 and lost[f"{PREFIX}_leases"] > 0


def test_a_claim_lost_as_400_failed_precondition_reads_the_winner_like_a_409(standin):
    standin.create_conflict = "FAILED_PRECONDITION"
    claims = race(6, lambda i: store(standin).claim("req-400", {"by": i}))
    winners = [c for c in claims if c.won]
    assert len(winners) == 1 and all(c.record == winners[0].record for c in claims)
    assert standin.failures_by_collection[f"{PREFIX}_claims"] == 5


def test_ids_with_slashes_colons_and_reserved_forms_round_trip_as_valid_document_ids(standin):
    s = store(standin)
    ids = ["ops/2026:0001", "ops~2F2026~3A0001", "0xdeadbeef", "ops-2026-0001", "__name__", ".", "..", "",
           "müll/ü", "x" * 1000, "x" * 999 + "y"]
    for i, request_id in enumerate(ids):
        assert s.claim(request_id, {"n": i}).won
    assert [s.lookup(request_id) for request_id in ids] == [{"n": i} for i in range(len(ids))]
    stored = standin.collection(f"{PREFIX}_claims")
    assert len(stored) == len(ids)  # distinct keys never share a document
    assert all("/" not in d and ":" not in d and len(d) <= 400 for d in stored)
    assert document_id("topup:mainnet") == "topup~3Amainnet" and document_id("ops/2026:0001") in stored
    s.update("ops/2026:0001", {"n": "done"})
    assert s.lookup("ops/2026:0001") == {"n": "done"}
    s.forget("ops/2026:0001")
    assert s.lookup("ops/2026:0001") is None and s.lookup("never/claimed") is None

    assert s.reserve("topup:main/net", "ops/1", 5, 10, 86400, 1000.0)
    assert s.spent("topup:main/net", 86400, 1000.0) == 5 and s.spent("topup:other", 86400, 1000.0) == 0
    s.unreserve("topup:main/net", "ops/1")
    assert s.spent("topup:main/net", 86400, 1000.0) == 0
    assert s.acquire_lease("failover:main/net", "fn:a", 60, 1000.0)
    assert not s.acquire_lease("failover:main/net", "fn:b", 60, 1000.0)
    lease = standin.collection(f"{PREFIX}_leases")["failover~3Amain~2Fnet"]
    assert lease["owner"] == {"stringValue": "fn:a"} and "timestampValue" in lease["expires_at"]


def test_audit_is_newest_first_with_a_limit_and_carries_its_ttl(standin):
    s = store(standin)
    assert s.audit() == []
    for step in range(5):
        s.append_audit({"step": step})
    assert [r["step"] for r in s.audit(3)] == [4, 3, 2]
    assert [r["step"] for r in s.audit()] == [4, 3, 2, 1, 0]
    for doc in standin.collection(f"{PREFIX}_audit").values():
        assert set(doc) == {"doc", "at", "expires_at"}
        assert "integerValue" in doc["at"] and doc["expires_at"]["timestampValue"].endswith("Z")


@pytest.mark.parametrize("failure", ["503", "garbled", "down"])
def test_an_unavailable_or_garbled_firestore_raises_and_never_answers_a_guess(standin, failure):
    s = store(standin)
    s.claim("seen", {"ok": True})
    if failure == "503":
        standin.fail_status = 503
    elif failure == "garbled":
        standin.garble = True
    else:
        standin.stop()
    calls = [lambda: s.claim("new", {}), lambda: s.lookup("seen"), lambda: s.lookup("absent"),
             lambda: s.update("seen", {}), lambda: s.forget("seen"),
             lambda: s.reserve("topup:x", "r", 1, 10, 60, 1.0), lambda: s.unreserve("topup:x", "r"),
             lambda: s.spent("topup:x", 60, 1.0), lambda: s.acquire_lease("l", "me", 60, 1.0),
             lambda: s.release_lease("l", "me"), lambda: s.append_audit({}), lambda: s.audit()]
    for call in calls:
        with pytest.raises(StoreUnavailable):
            call()


def test_contention_beyond_max_attempts_raises_store_contention_and_writes_nothing(standin):
    s = store(standin, max_attempts=3)
    assert s.reserve("topup:x", "first", 1, 10, 86400, 1000.0)
    assert s.acquire_lease("failover:x", "me", 60, 1000.0)
    commits, lost = standin.commits, standin.precondition_failures
    standin.rival_commits = 100  # every compare-and-set finds another writer got there first
    with pytest.raises(StoreContention, match="3 times"):
        s.reserve("topup:x", "second", 1, 10, 86400, 1000.0)
    with pytest.raises(StoreContention):
        s.acquire_lease("failover:x", "me", 60, 1001.0)
    with pytest.raises(StoreContention):
        s.release_lease("failover:x", "me")
    assert standin.commits == commits and standin.precondition_failures == lost + 9
    standin.rival_commits = 0
    assert s.spent("topup:x", 86400, 1000.0) == 1  # the lost reservation left no trace
    assert s.reserve("topup:x", "second", 1, 10, 86400, 1000.0)
    assert s.spent("topup:x", 86400, 1000.0) == 2


class TokenSession(requests.Session):
    """Like google.auth's AuthorizedSession: every request carries the bearer token."""

    def request(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs["headers"] = {**(kwargs.get("headers") or {}), "Authorization": f"Bearer {TOKEN}"}
        return super().request(method, url, *args, **kwargs)


class RefreshFailingSession:
    """A session whose credential refresh fails with the token in the exception's text."""

    def request(self, *_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError(f"refresh failed: {{'access_token': '{TOKEN}'}} Authorization: Bearer {TOKEN}")


def _never_shows_the_token(exc: BaseException) -> None:
    assert TOKEN not in str(exc) and TOKEN not in repr(exc)
    # No chained traceback carries it either.
    assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__)


def test_the_access_token_never_appears_in_an_error(standin):
    s = store(standin, session=TokenSession())
    # A proxy that echoes the request's headers into its error message.
    standin.fail_status, standin.fail_message = 503, f"upstream unavailable; request had Authorization: Bearer {TOKEN}"
    with pytest.raises(StoreUnavailable) as err:
        s.reserve("topup:x", "r", 1, 10, 60, 1.0)
    _never_shows_the_token(err.value)
    assert f"Bearer {TOKEN}" in standin.authorizations  # the token was sent, just never repeated
    standin.stop()
    with pytest.raises(StoreUnavailable) as err:
        s.claim("r", {})
    _never_shows_the_token(err.value)
    with pytest.raises(StoreUnavailable) as err:
        store(standin, session=RefreshFailingSession()).lookup("r")
    _never_shows_the_token(err.value)
    assert "RuntimeError" in str(err.value)


def test_importing_the_store_does_not_import_google_auth():
    # (The `google` namespace package itself is set up at interpreter start by a .pth file.)
    code = ("import sys, opwatch.gcp.remedy_store; "
            "print(sorted(m for m in sys.modules if m.startswith('google.auth')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
