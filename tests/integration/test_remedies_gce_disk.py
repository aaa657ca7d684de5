"""Persistent-disk snapshots (`PersistentDiskSnapshots`) against the Compute Engine stand-in
(tests/gce_standin.py): create/verify/list/prune over the real wire format, the failure modes
(still CREATING, a failed operation, 403, no server, malformed answers), and GCP's naming rules."""

from __future__ import annotations

import re
import socket

import pytest
import requests
from gce_standin import ComputeStandIn
from opwatch.findings import Status
from opwatch.gcp.gce_disk import (
    LABEL_BLOCK,
    LABEL_NETWORK,
    LABEL_TAKEN_AT,
    PersistentDiskSnapshots,
    snapshot_labels,
    snapshot_name,
)
from opwatch.remedies.snapshot import SnapshotInvalid, SnapshotStoreUnavailable, take_snapshot

PROJECT, ZONE, DISK, OTHER_DISK = "opwatch-test", "us-central1-a", "seq-data", "other-data"
T0 = 1_700_000_000
# GCP's documented rules, written out here rather than imported: the test must not share a typo with the code.
GCP_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
GCP_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
GCP_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")


class Head:
    """A `StateSource` that knows only the head: the disk holds the data, not `dump()`."""

    def __init__(self, block: int) -> None:
        self.block = block
        self.heads = 0

    def head(self) -> tuple[int, str]:
        self.heads += 1
        return self.block, "0x" + f"{self.block:064x}"

    def dump(self) -> tuple[bytes, int]:
        raise AssertionError("a disk snapshot never dumps the node's state (op-geth cannot)")


@pytest.fixture
def compute():
    standin = ComputeStandIn.start(project=PROJECT, zone=ZONE, disks={DISK: 200, OTHER_DISK: 50})
    yield standin
    standin.stop()


@pytest.fixture
def slept():
    return []


def provider(compute: ComputeStandIn, slept: list[float], disk: str = DISK, **kwargs) -> PersistentDiskSnapshots:
    return PersistentDiskSnapshots(PROJECT, ZONE, disk, session=requests.Session(), base_url=compute.base_url,
                                   sleep=slept.append, **kwargs)


def test_create_is_labelled_ready_verified_and_the_newest_good(compute, slept):
    snaps = provider(compute, slept)
    record = snaps.create("devnet", Head(1234), T0)
    assert record.verified and record.block == 1234 and record.taken_at == T0 and record.network == "devnet"
    assert record.size == 200 * 2**30
    stored = compute.snapshots[record.id]
    assert stored.disk == DISK and stored.status == "READY"
    assert stored.labels == {LABEL_NETWORK: "devnet", LABEL_BLOCK: "1234", LABEL_TAKEN_AT: str(T0)}
    assert "devnet" in stored.description and "1234" in stored.description
    assert compute.calls_to("POST", f"/disks/{DISK}/createSnapshot")
    assert compute.calls_to("POST", "/wait")  # the createSnapshot operation was awaited
    newest = snaps.newest_good("devnet")
    assert newest is not None and newest.id == record.id and newest.block == 1234
    assert snaps.newest_good("other-net") is None


def test_create_waits_out_a_running_operation_and_a_creating_snapshot(compute, slept):
    compute.operation_running_waits, compute.creating_polls, compute.uploading_polls = 2, 2, 1
    record = provider(compute, slept).create("devnet", Head(7), T0)
    assert record.verified
    assert len(compute.calls_to("POST", "/wait")) == 3  # RUNNING, RUNNING, DONE
    assert len(compute.calls_to("GET", f"/snapshots/{record.id}")) == 4  # CREATING x2, UPLOADING, READY
    assert len(slept) == 2 + 3


def test_the_head_is_labelled_and_its_hash_recorded(compute, slept):
    head = Head(77)
    record = provider(compute, slept).create("devnet", head, T0)
    assert record.block == 77 and head.heads == 1 and record.block_hash == "0x" + f"{77:064x}"
    assert compute.snapshots[record.id].labels[LABEL_BLOCK] == "77"
    # A hash (66 characters) cannot be a label value (63 at most): it rides in the description.
    assert record.block_hash in compute.snapshots[record.id].description
    assert provider(compute, slept).list("devnet")[0].block_hash == record.block_hash


def test_a_snapshot_still_creating_at_the_deadline_is_in_progress_then_verified(compute, slept):
    compute.creating_polls = 10**6
    snaps = provider(compute, slept, operation_timeout_s=30.0)
    record = snaps.create("devnet", Head(5), T0)
    assert record.in_progress and not record.verified  # not failed: the cloud is still taking it
    assert 30.0 <= sum(slept) <= 40.0  # stopped waiting at the deadline, no sooner and not much later
    assert snaps.newest_good("devnet") is None  # listed, but never good while CREATING
    assert [(r.verified, r.in_progress) for r in snaps.list("devnet")] == [(False, True)]
    assert snaps.prune("devnet", retention=1) == []  # an in-progress snapshot is never pruned
    compute.snapshots[record.id].creating_polls = 0  # GCE finishes it
    assert snaps.newest_good("devnet").id == record.id


def test_an_operation_still_running_at_the_deadline_is_in_progress(compute, slept):
    compute.operation_running_waits = 10**6
    record = provider(compute, slept, operation_timeout_s=30.0).create("devnet", Head(5), T0)
    assert record.in_progress and not record.verified and record.block == 5


def test_the_longest_wait_is_named_and_bounds_a_create(compute, slept):
    from opwatch.gcp.gce_disk import LONGEST_WAIT_S, OPERATION_TIMEOUT_S
    from opwatch.remedies.snapshot import longest_wait_s

    assert longest_wait_s("gce-disk") == LONGEST_WAIT_S > OPERATION_TIMEOUT_S
    compute.creating_polls = 10**6
    provider(compute, slept).create("devnet", Head(5), T0)  # the default budget
    assert OPERATION_TIMEOUT_S <= sum(slept) <= LONGEST_WAIT_S


def test_an_operation_error_is_invalid_and_names_the_error(compute, slept):
    compute.operation_error = ("QUOTA_EXCEEDED", "Quota 'SNAPSHOTS' exceeded. Limit: 0.0 globally.")
    snaps = provider(compute, slept)
    with pytest.raises(SnapshotInvalid, match="QUOTA_EXCEEDED: Quota 'SNAPSHOTS' exceeded"):
        snaps.create("devnet", Head(5), T0)
    assert snaps.newest_good("devnet") is None


def test_an_unknown_disk_is_store_unavailable_not_invalid(compute, slept):
    with pytest.raises(SnapshotStoreUnavailable, match="HTTP 404"):
        provider(compute, slept, disk="no-such-disk").create("devnet", Head(5), T0)


def test_another_disks_snapshots_with_the_same_network_label_are_not_listed(compute, slept):
    ours, theirs = provider(compute, slept), provider(compute, slept, disk=OTHER_DISK)
    mine = ours.create("devnet", Head(10), T0)
    other = theirs.create("devnet", Head(99), T0 + 60)  # newer, same label, another disk
    assert [r.id for r in ours.list("devnet")] == [mine.id]
    assert ours.newest_good("devnet").id == mine.id
    assert [r.id for r in theirs.list("devnet")] == [other.id]


def test_list_pages_through_next_page_token_and_sorts_newest_first(compute, slept):
    compute.page_size = 2
    snaps = provider(compute, slept)
    # Names sort by block first (the API lists in name order): 9, 10, 11... is not time order here.
    taken = [(9, T0 + 400), (10, T0 + 100), (11, T0 + 300), (100, T0), (12, T0 + 200)]
    for block, now in taken:
        snaps.create("devnet", Head(block), now)
    compute.calls.clear()
    listed = snaps.list("devnet")
    assert [(r.block, r.taken_at) for r in listed] == sorted(taken, key=lambda t: t[1], reverse=True)
    pages = compute.calls_to("GET", "/global/snapshots")
    assert len(pages) == 3
    assert "pageToken" not in pages[0][2] and all("pageToken" in p[2] for p in pages[1:])
    assert all(p[2]["filter"] == 'labels.opwatch-network="devnet"' for p in pages)


def test_prune_keeps_the_newest_n_and_deletes_the_rest_through_the_api(compute, slept):
    snaps = provider(compute, slept)
    made = [snaps.create("devnet", Head(100 + i), T0 + 60 * i) for i in range(5)]
    other_network = snaps.create("other", Head(1), T0)
    pruned = snaps.prune("devnet", retention=2)
    assert sorted(r.id for r in pruned) == sorted(r.id for r in made[:3])
    assert set(compute.snapshots) == {made[3].id, made[4].id, other_network.id}
    assert len(compute.calls_to("DELETE", "")) == 3
    # Deletes are not awaited: a prune of many must not outlast the function; a snapshot being
    # deleted (DELETING) is not listed, and one whose delete failed is pruned again next run.
    assert [c for c in compute.calls if c[0] == "POST" and "/global/operations/" in c[1]] == []


def test_take_snapshot_creates_then_prunes(compute, slept):
    snaps = provider(compute, slept)
    times = iter([T0, T0 + 60, T0 + 120])
    for block in (1, 2, 3):
        take_snapshot(snaps, "devnet", Head(block), retention=2, clock=lambda: float(next(times)))
    assert [r.block for r in snaps.list("devnet")] == [3, 2]


def test_deleting_a_snapshot_that_is_already_gone_is_fine(compute, slept):
    snaps = provider(compute, slept)
    record = snaps.create("devnet", Head(1), T0)
    snaps.delete(record)
    snaps.delete(record)  # 404: already gone
    assert compute.snapshots == {}


def test_forbidden_is_store_unavailable_naming_the_permission(compute, slept):
    compute.forbidden = True
    snaps = provider(compute, slept)
    with pytest.raises(SnapshotStoreUnavailable) as listing:
        snaps.list("devnet")
    assert "permission" in str(listing.value) and "compute.snapshots.list" in str(listing.value)
    with pytest.raises(SnapshotStoreUnavailable, match=r"permission.*compute\.disks\.createSnapshot"):
        snaps.create("devnet", Head(1), T0)


def test_snapshot_freshness_is_ok_then_unknown_when_forbidden(compute, slept, monkeypatch):

    from remedies_fixtures import freshness

    snaps = provider(compute, slept)

    def run():
        return freshness(snaps, T0 + 600)

    snaps.create("devnet", Head(8), T0)
    assert run().status is Status.OK
    compute.forbidden = True
    unknown = run()
    assert unknown.status is Status.UNKNOWN and "permission" in str(unknown.to_dict())


def test_no_server_is_store_unavailable(slept):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    snaps = PersistentDiskSnapshots(PROJECT, ZONE, DISK, session=requests.Session(),
                                    base_url=f"http://127.0.0.1:{port}/compute/v1", sleep=slept.append)
    with pytest.raises(SnapshotStoreUnavailable, match=r"snapshots\.list"):
        snaps.list("devnet")
    with pytest.raises(SnapshotStoreUnavailable, match=r"disks\.createSnapshot"):
        snaps.create("devnet", Head(1), T0)


class ScriptedSession:
    """A session whose answers are scripted: for shapes a well-behaved server never sends."""

    class Reply:
        def __init__(self, status: int, text: str) -> None:
            self.status_code, self.text = status, text

        def json(self):
            import json

            return json.loads(self.text)

    def __init__(self, status: int, text: str) -> None:
        self.answer = self.Reply(status, text)

    def request(self, method, url, json=None, params=None, timeout=None):
        return self.answer


@pytest.mark.parametrize(("status", "text"), [
    (200, "<html>not json</html>"), (200, "[1, 2]"), (200, '{"items": {"a": 1}}'),
    (200, '{"items": [{"name": 5}]}'), (502, "Bad Gateway"),
])
def test_malformed_or_failed_answers_are_store_unavailable(status, text, slept):
    snaps = PersistentDiskSnapshots(PROJECT, ZONE, DISK, session=ScriptedSession(status, text), sleep=slept.append)
    with pytest.raises(SnapshotStoreUnavailable):
        snaps.list("devnet")
    with pytest.raises(SnapshotStoreUnavailable):
        snaps.create("devnet", Head(1), T0)


def test_an_operation_without_a_status_is_store_unavailable(slept):
    snaps = PersistentDiskSnapshots(PROJECT, ZONE, DISK, session=ScriptedSession(200, '{"name": "op-1"}'),
                                    sleep=slept.append)
    with pytest.raises(SnapshotStoreUnavailable, match="Operation"):
        snaps.create("devnet", Head(1), T0)


@pytest.mark.parametrize("network", ["Mainnet", "dev net", "", "x" * 64, 'dev"net', "réseau", "a/b",
                                     "devnet\n"])
def test_a_network_that_cannot_be_labelled_is_refused_before_any_call(compute, slept, network):
    snaps, head = provider(compute, slept), Head(1)
    with pytest.raises(ValueError, match="label"):
        snaps.create(network, head, T0)
    with pytest.raises(ValueError, match="label"):
        snaps.list(network)
    assert compute.calls == [] and head.heads == 0


@pytest.mark.parametrize("network", ["devnet", "op_sepolia", "a" * 63, "0net", "net-", "_", "a_b", "a-b"])
@pytest.mark.parametrize("block", [0, 123_456, 10**12])
def test_names_and_labels_satisfy_gcp_rules(network, block):
    name = snapshot_name(network, block, T0)
    assert GCP_NAME.fullmatch(name) and len(name) <= 63
    labels = snapshot_labels(network, block, T0)
    assert labels[LABEL_NETWORK] == network  # the label is the network as is, never rewritten
    for key, value in labels.items():
        assert GCP_LABEL_KEY.fullmatch(key) and GCP_LABEL_VALUE.fullmatch(value)


def test_rewritten_network_names_stay_distinct_and_the_api_accepts_them(compute, slept):
    assert snapshot_name("a_b", 5, T0) != snapshot_name("a-b", 5, T0)
    assert snapshot_name("x" * 63, 5, T0) != snapshot_name("x" * 62 + "y", 5, T0)  # truncated alike
    snaps = provider(compute, slept)
    for network in ("a_b", "a-b", "z" * 63):
        record = snaps.create(network, Head(10**12), T0)  # the stand-in enforces the same rules (400 otherwise)
        assert record.verified and snaps.newest_good(network).id == record.id


# --- through the whole remedy, against a node without anvil methods ---------------------------

@pytest.fixture(scope="module")
def opgeth(tmp_path_factory):
    """An anvil with the network's L2 chain id (901) behind the op-geth stand-in."""
    from opgeth_standin import OpGethStandIn
    from opwatch.chain.rpc import RpcClient
    from opwatch.config import Endpoint
    from opwatch_devnet.anvil import AnvilProcess

    with AnvilProcess.start("l2", tmp_path_factory.mktemp("opgeth"), ["--chain-id", "901"]) as proc:
        rpc = RpcClient(Endpoint(proc.url, "anvil"))
        for _ in range(9):
            rpc.call("evm_mine")
        standin = OpGethStandIn(proc.url)
        yield standin
        standin.stop()


def gce_config(l2_url: str):
    from remedies_fixtures import config_text, load

    return load(config_text(l2_url=l2_url, remediation=f"""
[remediation.networks.devnet]
runs_on = "gcp"
[remediation.networks.devnet.snapshot]
provider = "gce-disk"
project = "{PROJECT}"
zone = "{ZONE}"
disk = "{DISK}"
retention = 1
"""))


@pytest.mark.anvil
def test_the_remedy_snapshots_a_node_without_anvil_methods_then_waits_out_creating(compute, slept, opgeth,
                                                                                     tmp_path):
    from opwatch.chain.rpc import RpcClient
    from opwatch.cli.compose import registry as local_registry
    from opwatch.config import Endpoint
    from opwatch.remedies.request import RemedyRequest
    from opwatch.remedies.service import Seams, handle
    from opwatch.remedies.store import SqliteRemedyStore

    head = RpcClient(Endpoint(opgeth.upstream, "anvil")).call("eth_getBlockByNumber", "latest", False)
    times = iter(range(T0, T0 + 10_000, 60))
    seams = Seams(registry=local_registry(), store=SqliteRemedyStore(tmp_path / "r.db"), gce_session=requests.Session(),
                  compute_base_url=compute.base_url, sleep=slept.append, clock=lambda: float(next(times)))
    first = handle(RemedyRequest("snapshot", "devnet", "ops-g-1", approved_by="alice"), gce_config(opgeth.url), seams)
    assert first["status"] == "done", first
    assert opgeth.refused() == []  # the head came over standard JSON-RPC
    assert first["snapshot"]["block"] == int(head["number"], 16) and first["snapshot"]["block_hash"] == head["hash"]
    assert compute.snapshots[first["snapshot"]["id"]].labels[LABEL_BLOCK] == str(int(head["number"], 16))
    compute.creating_polls = 10**6  # the next one is still CREATING when the function stops waiting
    second = handle(RemedyRequest("snapshot", "devnet", "ops-g-2", approved_by="alice"), gce_config(opgeth.url),
                    seams)
    assert second["status"] == "pending" and second["snapshot"]["in_progress"], second
    assert second["pruned"] == []
    snaps = provider(compute, slept)
    assert snaps.newest_good("devnet").id == first["snapshot"]["id"]
    compute.snapshots[second["snapshot"]["id"]].creating_polls = 0
    compute.creating_polls = 0
    third = handle(RemedyRequest("snapshot", "devnet", "ops-g-3", approved_by="alice"), gce_config(opgeth.url), seams)
    assert third["status"] == "done", third
    assert set(third["pruned"]) == {first["snapshot"]["id"], second["snapshot"]["id"]}
