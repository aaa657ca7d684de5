"""The GCP pager's alert store, `FirestoreStore`, over real HTTP against the Firestore v1 REST
stand-in (tests/firestore_standin.py; no Firestore emulator runs here).

The store contract and the paging race run on it in test_alerting_concurrency.py, beside SQLite
and DynamoDB. Here: the compare-and-set really is the state document's precondition, a lost
commit leaves none of its writes, the documents carry what the TTL policies and queries need,
the queries need no composite index, and an unavailable Firestore raises (the pager's delivery
fails and Pub/Sub retries) without ever showing the access token.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from alerting_fixtures import T0, Clock, RecordingSink, finding
from firestore_standin import FirestoreStandIn, parse_time
from opwatch.alerting import AlertManager, AlertPolicy, Conflict, Silence
from opwatch.alerting.model import AlertState, DeadLetter, Kind, Phase, Transition
from opwatch.alerting.store.base import RETENTION_SECONDS
from opwatch.deploy.gcp_plan import TTL_COLLECTIONS
from opwatch.gcp.alert_store import DEAD_LETTERS, STATES, TRANSITIONS, FirestoreStore
from opwatch.gcp.rest import StoreUnavailable, document_id
from test_remedies_firestore import TOKEN, RefreshFailingSession, TokenSession, _never_shows_the_token

PROJECT = "opwatch-test"
KEY = "opwatch/mainnet/sequencer_liveness/sequencer"
N = 6


@pytest.fixture
def standin() -> Iterator[FirestoreStandIn]:
    server = FirestoreStandIn.start()
    yield server
    server.stop()


def store(standin: FirestoreStandIn, session: Any = None, project: str | None = PROJECT) -> FirestoreStore:
    return FirestoreStore("(default)", session=session or requests.Session(), project=project,
                          base_url=standin.base_url)


def _state(phase: Phase = Phase.FIRING) -> AlertState:
    return AlertState(key=KEY, network="mainnet", check="sequencer_liveness", target="sequencer", phase=phase)


def _transition(kind: Kind, detail: str = "") -> Transition:
    return Transition(key=KEY, kind=kind, at="2024-01-01T00:00:00Z", network="mainnet", check="sequencer_liveness",
                      target="sequencer", detail=detail)


def test_writers_of_one_read_version_race_and_exactly_one_commits_with_its_transitions(standin):
    first = _state()
    assert store(standin).commit(first, [_transition(Kind.FIRING)])
    # N invocations read version 1, then all commit at once: one wins, N - 1 lose the precondition.
    stores = [store(standin) for _ in range(N)]
    states = [s.get(KEY) for s in stores]
    assert {s.version for s in states} == {1}
    barrier, results = threading.Barrier(N), [False] * N

    def commit(i: int) -> None:
        states[i].summary = f"writer {i}"
        barrier.wait()
        results[i] = stores[i].commit(states[i], [_transition(Kind.NOTIFIED, f"writer {i}")])

    threads = [threading.Thread(target=commit, args=(i,)) for i in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(results) == 1
    winner = results.index(True)
    assert standin.failures_by_collection == {STATES: N - 1}
    assert states[winner].version == 2 and all(s.version == 1 for i, s in enumerate(states) if i != winner)
    stored = store(standin).get(KEY)
    assert stored.version == 2 and stored.summary == f"writer {winner}"
    # All or none: only the winner's transition was written.
    assert [t.detail for t in store(standin).transitions(KEY)] == [f"writer {winner}", ""]


def test_a_commit_that_finds_a_rival_writes_nothing_and_the_manager_rereads_and_wins(standin):
    s = store(standin)
    # Silenced, so the manager only applies findings (no claims or deliveries move the version).
    manager = AlertManager(s, [RecordingSink("pagerduty")], AlertPolicy(silences=[Silence("mainnet", T0 + 3600)]),
                           Clock())
    manager.process([finding("firing", 0.0)])
    history = standin.collection(TRANSITIONS)
    state = s.get(KEY)
    standin.rival_commits = 1  # between our read and our commit, another writer wrote the state
    assert not s.commit(state, [_transition(Kind.NOTIFIED)]) and state.version == 1
    assert standin.collection(TRANSITIONS) == history  # the transition in that commit did not land
    standin.rival_commits = 1
    manager.process([finding("ok", 60.0)])  # loses once, re-reads, applies on the new version
    assert standin.failures_by_collection[STATES] == 2
    assert s.get(KEY).good_count == 1 and s.get(KEY).version == 2


def test_a_store_that_never_read_the_key_compares_versions_before_committing(standin):
    writer = store(standin)
    state = _state()
    assert writer.commit(state)
    assert writer.commit(state)  # the update time of its own commit is the next precondition
    commits = standin.commits
    stale = state.copy()
    stale.version = 1
    assert not store(standin).commit(stale)  # read, found version 2: no commit sent
    assert standin.commits == commits
    assert store(standin).commit(state) and state.version == 3


def test_documents_carry_the_fields_the_ttl_policies_and_queries_use(standin):
    assert {STATES, TRANSITIONS, DEAD_LETTERS} <= set(TTL_COLLECTIONS)
    s = store(standin)
    state = _state()
    started = time.time()
    assert s.commit(state, [_transition(Kind.FIRING)])
    doc_id = document_id(KEY)
    assert doc_id == "opwatch~2Fmainnet~2Fsequencer_liveness~2Fsequencer"
    doc = standin.collection(STATES)[doc_id]
    assert doc["key"] == {"stringValue": KEY} and doc["version"] == {"integerValue": "1"}
    assert doc["open"] == {"booleanValue": True} and "expires_at" not in doc  # an open alert never expires
    assert json.loads(doc["doc"]["stringValue"])["version"] == 1

    state.phase = Phase.RESOLVED
    assert s.commit(state, [_transition(Kind.RESOLVED)])
    closed = standin.collection(STATES)[doc_id]
    assert closed["open"] == {"booleanValue": False}
    expires = parse_time(closed["expires_at"]["timestampValue"]) / 1e9
    assert started + RETENTION_SECONDS <= expires <= time.time() + RETENTION_SECONDS
    state.phase = Phase.FIRING
    assert s.commit(state)
    assert "expires_at" not in standin.collection(STATES)[doc_id]  # reopened: the TTL is gone

    assert s.put_dead_letter(DeadLetter(key=KEY, channel="pagerduty", action="trigger", dedup_key=KEY, at="x",
                                        error="e", final=True))
    for collection in (TRANSITIONS, DEAD_LETTERS):
        for fields in standin.collection(collection).values():
            assert "timestampValue" in fields["expires_at"] and "integerValue" in fields["recorded"]
    assert {f["key"]["stringValue"] for f in standin.collection(TRANSITIONS).values()} == {KEY}
    assert list(standin.collection(DEAD_LETTERS)) == [document_id(f"{KEY}|pagerduty|trigger|0")]


def test_one_keys_history_comes_from_an_equality_filter_without_a_composite_index(standin):
    s = store(standin)
    keys = [f"opwatch/mainnet/rpc_sync/node-{i}" for i in range(3)]
    for round_ in range(3):
        for key in keys:
            state = s.get(key) or AlertState(key=key, network="mainnet", check="rpc_sync", target=key[-6:])
            state.bad_count = round_
            t = Transition(key=key, kind=Kind.PENDING, at="x", network="mainnet", check="rpc_sync",
                           target=key[-6:], detail=f"round {round_}")
            assert s.commit(state, [t])
    assert [t.detail for t in s.transitions(keys[1])] == ["round 2", "round 1", "round 0"]
    assert [t.detail for t in s.transitions(keys[1], limit=2)] == ["round 2", "round 1"]
    assert {t.key for t in s.transitions(keys[1])} == {keys[1]}
    assert len(s.transitions(limit=100)) == 9


def _run_query(standin: FirestoreStandIn, query: dict[str, Any]) -> requests.Response:
    return requests.post(f"{standin.base_url}/projects/{PROJECT}/databases/(default)/documents:runQuery",
                         json={"structuredQuery": query}, timeout=10)


def test_the_standin_serves_where_as_documented_and_refuses_what_needs_an_index(standin):
    database = f"projects/{PROJECT}/databases/(default)"
    writes = [{"update": {"name": f"{database}/documents/c/{name}", "fields": fields}} for name, fields in (
        ("a", {"n": {"integerValue": "1"}, "s": {"stringValue": "x"}}),
        ("b", {"n": {"doubleValue": 1.0}, "s": {"stringValue": "y"}}),
        ("c", {"n": {"integerValue": "2"}, "s": {"stringValue": "x"}}),
        ("d", {"s": {"stringValue": "x"}}))]
    assert requests.post(f"{standin.base_url}/{database}/documents:commit", json={"writes": writes},
                         timeout=10).status_code == 200

    def names(where: dict[str, Any], **extra: Any) -> list[str]:
        answer = _run_query(standin, {"from": [{"collectionId": "c"}], "where": where, **extra})
        assert answer.status_code == 200, answer.text
        return [item["document"]["name"].rsplit("/", 1)[1] for item in answer.json() if "document" in item]

    def equal(field: str, value: dict[str, Any]) -> dict[str, Any]:
        return {"fieldFilter": {"field": {"fieldPath": field}, "op": "EQUAL", "value": value}}

    assert names(equal("n", {"integerValue": "1"})) == ["a", "b"]  # 1 == 1.0; d has no n
    assert names(equal("s", {"stringValue": "x"})) == ["a", "c", "d"]
    assert names({"compositeFilter": {"op": "AND", "filters": [equal("s", {"stringValue": "x"}),
                                                               equal("n", {"doubleValue": 1})]}}) == ["a"]
    assert names(equal("s", {"stringValue": "none"})) == []
    assert names(equal("s", {"stringValue": "x"}), orderBy=[{"field": {"fieldPath": "__name__"}}], limit=2) \
        == ["a", "c"]
    needs_index = _run_query(standin, {"from": [{"collectionId": "c"}], "where": equal("s", {"stringValue": "x"}),
                                       "orderBy": [{"field": {"fieldPath": "n"}, "direction": "DESCENDING"}]})
    assert needs_index.status_code == 400 and needs_index.json()["error"]["status"] == "FAILED_PRECONDITION"
    for bad in ({"fieldFilter": {"field": {"fieldPath": "n"}, "op": "LESS_THAN", "value": {"integerValue": "2"}}},
                {"compositeFilter": {"op": "OR", "filters": [equal("n", {"integerValue": "1"})]}},
                {"fieldFilter": {"field": {"fieldPath": "n"}, "op": "EQUAL", "value": {"integerValue": 1}}},
                {"unaryFilter": {"field": {"fieldPath": "n"}, "op": "IS_NULL"}}):
        answer = _run_query(standin, {"from": [{"collectionId": "c"}], "where": bad})
        assert answer.status_code == 400 and answer.json()["error"]["status"] == "INVALID_ARGUMENT"


def _every_call(s: FirestoreStore) -> list[Any]:
    letter = DeadLetter(key=KEY, channel="pagerduty", action="trigger", dedup_key=KEY, at="x", error="e", final=True)
    return [lambda: s.get(KEY), lambda: s.get("opwatch/mainnet/absent/x"), lambda: s.commit(_state()),
            lambda: s.open_alerts(), lambda: s.transitions(), lambda: s.transitions(KEY),
            lambda: s.put_dead_letter(letter), lambda: s.dead_letters()]


@pytest.mark.parametrize("failure", ["503", "garbled", "down"])
def test_an_unavailable_firestore_raises_and_never_reports_a_commit_done(standin, failure):
    s, state = store(standin), _state()
    assert s.commit(state)
    stored = dict(standin.documents)
    if failure == "503":
        standin.fail_status = 503
    elif failure == "garbled":
        standin.garble = True
    else:
        standin.stop()
    before = state.version
    with pytest.raises(StoreUnavailable):
        s.commit(state, [_transition(Kind.NOTIFIED)])
    assert state.version == before
    for call in _every_call(s):
        with pytest.raises(StoreUnavailable):
            call()
    assert standin.documents == stored
    # The pager's evaluation fails as it does on a DynamoDB outage (not as a lost compare-and-set,
    # which the manager would retry): the invocation errors and Pub/Sub redelivers the finding.
    pager = RecordingSink("pagerduty")
    with pytest.raises(StoreUnavailable) as err:
        AlertManager(s, [pager], AlertPolicy(), Clock()).process([finding("ok", 60.0)])
    assert not isinstance(err.value, Conflict) and pager.sent == []


def test_the_access_token_never_appears_in_an_error(standin):
    s = store(standin, session=TokenSession())
    assert s.commit(_state())
    # A proxy that echoes the request's headers into its error message.
    standin.fail_status, standin.fail_message = 503, f"upstream unavailable; request had Authorization: Bearer {TOKEN}"
    for call in _every_call(s):
        with pytest.raises(StoreUnavailable) as err:
            call()
        _never_shows_the_token(err.value)
    assert f"Bearer {TOKEN}" in standin.authorizations  # the token was sent, just never repeated
    standin.stop()
    with pytest.raises(StoreUnavailable) as err:
        s.get(KEY)
    _never_shows_the_token(err.value)
    with pytest.raises(StoreUnavailable) as err:
        store(standin, session=RefreshFailingSession()).commit(_state())
    _never_shows_the_token(err.value)
    assert "RuntimeError" in str(err.value)


def test_without_a_project_it_uses_the_default_credentials_project(standin, tmp_path, monkeypatch):
    # Application default credentials from a file (no network until a token is needed, and the
    # injected session never asks for one); the project comes from the environment, as on GCP.
    credentials = tmp_path / "adc.json"
    credentials.write_text(json.dumps({"type": "authorized_user", "client_id": "id", "client_secret": "secret",
                                       "refresh_token": "refresh"}))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(credentials))
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "opwatch-from-adc")
    assert store(standin, project=None).commit(_state())
    assert list(standin.documents) == [
        f"projects/opwatch-from-adc/databases/(default)/documents/{STATES}/{document_id(KEY)}"]
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT")
    with pytest.raises(StoreUnavailable, match="no project"):
        store(standin, project=None).get(KEY)


def test_importing_the_store_does_not_import_google_auth():
    # (The `google` namespace package itself is set up at interpreter start by a .pth file.)
    code = ("import sys, opwatch.gcp.alert_store; "
            "print(sorted(m for m in sys.modules if m.startswith(('google.auth', 'google.cloud.firestore'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_pager_builds_the_firestore_store_from_its_setting_without_connecting():
    # What `firestore:[<project>/]<db>` (the plan's OPWATCH_STATE_STORE) builds through the GCP
    # composition root; the deployed pager on Firestore is tests/deployed/test_gcp_deployed.py.
    code = ("import sys; from opwatch.gcp.compose import registry, store; r = registry(); "
            "s = store(r, 'alert_store', 'firestore:(default)', 'x'); "
            "t = store(r, 'alert_store', 'firestore:alerts', 'x'); "
            "u = store(r, 'alert_store', 'firestore:p-1/alerts', 'x'); "
            "print(type(s).__name__, s.database, t.database, u.database, u.rest._project, "
            "any(m.startswith('google.auth') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["FirestoreStore", "(default)", "alerts", "alerts", "p-1", "False"]
