"""What checks remember between runs (opwatch.memory): the same store contract on SQLite, DynamoDB
(a moto server over HTTP, real boto3 clients) and Firestore (the REST stand-in), and the seam:
`evaluate` hands each check its own memory, writes what the verdict asks to remember, and a
store that cannot be read or written never changes the finding beyond its memory part.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import requests
from firestore_standin import FirestoreStandIn
from opwatch.checks.base import Check, Context, Verdict, evaluate
from opwatch.config import parse_config
from opwatch.findings import Measure, Status
from opwatch.memory import MemoryStore, MemoryUnavailable, Observation, SqliteMemoryStore

PROJECT = "opwatch-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def dynamodb_client(endpoint: str):  # type: ignore[no-untyped-def]
    import boto3

    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def dynamo_table(moto_endpoint: str, request: pytest.FixtureRequest) -> str:
    from opwatch.aws.alert_store import create_table

    name = "opwatch-mem-" + request.node.name[-40:].replace("_", "-").replace("[", "-").replace("]", "")
    create_table(dynamodb_client(moto_endpoint), name)
    return name


@pytest.fixture
def firestore() -> Iterator[FirestoreStandIn]:
    server = FirestoreStandIn.start()
    yield server
    server.stop()


@dataclass
class Backend:
    make: Callable[[], MemoryStore]  # a new store object on the same data, as a new invocation has
    broken: Callable[[], MemoryStore]  # one whose store cannot answer


@pytest.fixture(params=["sqlite", "dynamodb", "firestore"])
def backend(request: pytest.FixtureRequest, tmp_path) -> Backend:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        bad = tmp_path / "not-a-db"
        bad.mkdir()
        return Backend(lambda: SqliteMemoryStore(tmp_path / "alerts.db"), lambda: _BrokenSqlite(tmp_path / "b.db"))
    if request.param == "dynamodb":
        from opwatch.aws.memory_store import DynamoDBMemoryStore

        endpoint, table = request.getfixturevalue("moto_endpoint"), request.getfixturevalue("dynamo_table")
        return Backend(lambda: DynamoDBMemoryStore(table, client=dynamodb_client(endpoint)),
                       lambda: DynamoDBMemoryStore("no-such-table", client=dynamodb_client(endpoint)))
    from opwatch.gcp.memory_store import FirestoreMemoryStore

    server = request.getfixturevalue("firestore")
    return Backend(lambda: FirestoreMemoryStore("(default)", session=requests.Session(), project=PROJECT,
                                                base_url=server.base_url),
                   lambda: FirestoreMemoryStore("(default)", session=requests.Session(), project=PROJECT,
                                                base_url=f"http://127.0.0.1:{_free_port()}/v1"))


class _BrokenSqlite(SqliteMemoryStore):
    """A real SQLite file whose memory table was dropped under it (a corrupted or foreign file)."""

    def __init__(self, path) -> None:  # type: ignore[no-untyped-def]
        super().__init__(path)
        self._conn().execute("DROP TABLE check_memory")


def test_memory_store_contract(backend: Backend) -> None:
    store = backend.make()
    assert store.get("mainnet", "tx_health", "batcher") is None
    first = Observation(1000.0, {"nonce": 7, "pending": 9, "hash": "0xab"})
    assert store.put("mainnet", "tx_health", "batcher", first)
    # Another invocation (a new store object) reads what the first wrote.
    assert backend.make().get("mainnet", "tx_health", "batcher") == first
    # Keys are per network, check and target.
    assert store.get("sepolia", "tx_health", "batcher") is None
    assert store.get("mainnet", "batcher_lag", "batcher") is None
    assert store.get("mainnet", "tx_health", "proposer") is None
    # Newer wins; an older, overlapping run never overwrites it.
    newer = Observation(1060.0, {"nonce": 8})
    assert backend.make().put("mainnet", "tx_health", "batcher", newer)
    assert not store.put("mainnet", "tx_health", "batcher", Observation(1030.0, {"nonce": 1}))
    assert store.get("mainnet", "tx_health", "batcher") == newer
    # Odd targets (slashes, spaces) are keys like any other.
    assert store.put("mainnet", "rpc_sync", "node a/b", Observation(5.0, {"x": [1, 2]}))
    assert backend.make().get("mainnet", "rpc_sync", "node a/b") == Observation(5.0, {"x": [1, 2]})
    # An oversized observation is refused before it reaches the store.
    with pytest.raises(ValueError):
        store.put("mainnet", "tx_health", "batcher", Observation(2000.0, {"blob": "x" * 5000}))
    assert store.get("mainnet", "tx_health", "batcher") == newer


def test_an_unreadable_store_is_memory_unavailable_not_a_crash(backend: Backend) -> None:
    broken = backend.broken()
    with pytest.raises(MemoryUnavailable):
        broken.get("mainnet", "tx_health", "batcher")
    with pytest.raises(MemoryUnavailable):
        broken.put("mainnet", "tx_health", "batcher", Observation(1.0, {}))


# --- the seam: Context.memory and evaluate --------------------------------------------------

CONFIG = """
[networks.mainnet]
l1_rpc = ["http://127.0.0.1:9"]
l2_rpc = "http://127.0.0.1:9"
l1_chain_id = 1
l2_chain_id = 10
block_time = "2s"
"""


def _counter_check(check_id: str) -> Check:
    """Counts its runs through memory; fires only when memory says the count went backwards
    (so with no memory it measures what it can and stays ok)."""

    def measure(ctx: Context, _shared: object, target: str) -> Verdict:
        recalled = ctx.memory.get(target)
        runs = 1 + (int(recalled.observation.data["runs"]) if recalled.observation else 0)
        details = {"runs": runs, "memory": recalled.error or ("none" if recalled.observation is None else "read")}
        return Verdict(Status.OK, f"run {runs}", Measure(float(runs), "runs"), Measure(0.0, "runs"), details,
                       remember={"runs": runs})

    return Check(id=check_id, missing=lambda net: None, targets=lambda net: ["a", "b"],
                 threshold=lambda net: Measure(0.0, "runs"), measure=measure, title="runs")


def test_evaluate_gives_each_check_its_own_memory_and_writes_what_it_remembers(tmp_path) -> None:
    network = parse_config(CONFIG).network("mainnet")
    store = SqliteMemoryStore(tmp_path / "state.db")
    for t in (100.0, 110.0, 120.0):
        ctx = Context(network, clock=lambda t=t: t, memory_store=store)
        one = evaluate(_counter_check("one"), ctx)
    other = evaluate(_counter_check("other"), Context(network, memory_store=store))
    assert [f.details["runs"] for f in one] == [3, 3]
    assert [f.details["runs"] for f in other] == [1, 1] and other[0].details["memory"] == "none"
    assert store.get("mainnet", "one", "a") == Observation(120.0, {"runs": 3})


def test_no_store_and_a_broken_store_leave_the_verdict_standing(tmp_path) -> None:
    network = parse_config(CONFIG).network("mainnet")
    (none,) = evaluate(_counter_check("one"), Context(network))[:1]
    assert none.status == Status.OK and "no memory store" in none.details["memory"]
    broken = _BrokenSqlite(tmp_path / "broken.db")
    (found, _) = evaluate(_counter_check("one"), Context(network, memory_store=broken))
    assert found.status == Status.OK and found.details["runs"] == 1
    assert "memory unreadable" in found.details["memory"] and "memory not written" in found.details["memory_error"]
