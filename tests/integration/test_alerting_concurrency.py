"""Concurrent evaluations of one key page once and never lose a resolve.

Against real stores: one SQLite file shared by threads and by processes, and DynamoDB in
a moto server over HTTP with real boto3 clients. Each evaluator has its own manager and
store object, like overlapping invocations, and pages the Events v2 stand-in over HTTP.
"""

from __future__ import annotations

import multiprocessing
import socket
import threading
from collections.abc import Callable

import pytest
from alerting_fixtures import Clock, finding
from opwatch.alerting import AlertManager, AlertPolicy, SqliteStore, StateStore
from opwatch.alerting.pagerduty import PagerDutyClient, PagerDutySink
from pagerduty_standin import EventsStandIn

N = 8
KEY = "opwatch/mainnet/sequencer_liveness/sequencer"


@pytest.fixture
def standin():
    server = EventsStandIn.start()
    yield server
    server.stop()


def evaluate(store: StateStore, base_url: str, statuses_times: list[tuple[str, float]]) -> None:
    sink = PagerDutySink(PagerDutyClient(lambda: "k" * 32, base_url=base_url, sleep=lambda _s: None))
    manager = AlertManager(store, [sink], AlertPolicy(), Clock())
    for status, t in statuses_times:
        manager.process([finding(status, t)])


def race(make_store: Callable[[], StateStore], base_url: str, work: Callable[[int], list[tuple[str, float]]]) -> None:
    barrier = threading.Barrier(N)
    errors: list[BaseException] = []

    def one(i: int) -> None:
        store = make_store()
        try:
            barrier.wait()
            evaluate(store, base_url, work(i))
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


def check_one_trigger_then_one_resolve(make_store, standin):
    # Every evaluator sees the same firing finding (a duplicate delivery), or its own.
    race(make_store, standin.base_url, lambda i: [("firing", 0.0)])
    race(make_store, standin.base_url, lambda i: [("firing", 10.0 + i)])
    assert standin.actions(KEY) == ["trigger"]
    # Then all see recovery at interleaved times: exactly one resolve, none lost.
    race(make_store, standin.base_url, lambda i: [("ok", 100.0 + i), ("ok", 200.0 + i)])
    assert standin.actions(KEY) == ["trigger", "resolve"]
    state = make_store().get(KEY)
    assert state.phase == "resolved" and state.claims == {} and state.notified["pagerduty"] == "resolve:1"


def test_sqlite_threads_page_once_and_resolve_once(tmp_path, standin):
    check_one_trigger_then_one_resolve(lambda: SqliteStore(tmp_path / "alerts.db"), standin)


def _process_worker(path: str, base_url: str, t: float, status: str, start: multiprocessing.synchronize.Event) -> None:
    start.wait(30)
    evaluate(SqliteStore(path), base_url, [(status, t)])


def test_sqlite_processes_page_once(tmp_path, standin):
    path = str(tmp_path / "alerts.db")
    SqliteStore(path).close()
    ctx = multiprocessing.get_context("fork")
    for status, times in (("firing", [0.0] * 4 + [5.0, 6.0, 7.0, 8.0]), ("ok", [100.0 + i for i in range(4)]),
                          ("ok", [200.0 + i for i in range(4)])):
        start = ctx.Event()
        procs = [ctx.Process(target=_process_worker, args=(path, standin.base_url, t, status, start)) for t in times]
        for p in procs:
            p.start()
        start.set()
        for p in procs:
            p.join(60)
            assert p.exitcode == 0
    assert standin.actions(KEY) == ["trigger", "resolve"]


# --- DynamoDB in a moto server -----------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def dynamodb_client(endpoint: str):
    import boto3

    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def dynamo_table(moto_endpoint, request):
    from opwatch.alerting.store.dynamodb import create_table

    name = "opwatch-alerts-" + request.node.name[-40:].replace("_", "-")
    create_table(dynamodb_client(moto_endpoint), name)
    return name


def test_dynamodb_threads_page_once_and_resolve_once(moto_endpoint, dynamo_table, standin):
    from opwatch.alerting.store.dynamodb import DynamoDBStore

    check_one_trigger_then_one_resolve(lambda: DynamoDBStore(dynamo_table, client=dynamodb_client(moto_endpoint)),
                                       standin)


def test_dynamodb_store_contract(moto_endpoint, dynamo_table):
    from opwatch.alerting.model import DeadLetter, Kind, Transition
    from opwatch.alerting.store.dynamodb import DynamoDBStore

    client = dynamodb_client(moto_endpoint)
    store = DynamoDBStore(dynamo_table, client=client)
    evaluate(store, "http://127.0.0.1:9", [("unknown", 0.0)])  # no sink owed: nothing is sent
    state = store.get(KEY)
    assert state.version == 1 and state.unknown_count == 1
    stale = state.copy()
    state.unknown_count = 5
    t = Transition(key=KEY, kind=Kind.BLIND, at="2024-01-01T00:00:00Z", network="mainnet",
                   check="sequencer_liveness", target="sequencer")
    assert store.commit(state, [t]) and state.version == 2
    assert not store.commit(stale, [t])  # lost the compare-and-set: nothing written
    assert [x.kind for x in store.transitions(KEY)] == [Kind.BLIND]
    letter = DeadLetter(key=KEY, channel="pagerduty", action="trigger", dedup_key=KEY, at="x", error="e", final=True)
    assert store.put_dead_letter(letter) and not store.put_dead_letter(letter)
    assert store.dead_letters() == [letter]
    ttl = client.describe_time_to_live(TableName=dynamo_table)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"
    item = client.get_item(TableName=dynamo_table, Key={"pk": {"S": "state"}, "sk": {"S": KEY}})["Item"]
    assert item["version"] == {"N": "2"} and item["open"] == {"BOOL": False} and "expires_at" in item
