"""Snapshots on a local S3 API (moto server) of a real anvil's state; EBS on moto; the
snapshot_freshness check; the `opwatch remediate` CLI contract."""

from __future__ import annotations

import argparse
import json

import pytest
from opwatch.aws.snapshots import EbsSnapshots, S3ObjectStore
from opwatch.chain.rpc import RpcClient
from opwatch.config import Endpoint
from opwatch.findings import Status
from opwatch.remedies.snapshot import (
    NodeStateSource,
    ObjectStorageSnapshots,
    SnapshotInvalid,
    take_snapshot,
)
from remedies_fixtures import BATCHER, FUNDER_KEY, L1_CHAIN_ID, aws_client, config_text, load, start_moto, topup_section

pytestmark = pytest.mark.anvil


@pytest.fixture(scope="module")
def moto():
    server, endpoint = start_moto()
    yield endpoint
    server.stop()


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    from opwatch_devnet.anvil import AnvilProcess

    with AnvilProcess.start("l1", tmp_path_factory.mktemp("snap"), ["--chain-id", str(L1_CHAIN_ID)]) as proc:
        client = RpcClient(Endpoint(proc.url, "anvil"))
        for _ in range(5):
            client.call("evm_mine")
        yield proc.url


@pytest.fixture
def bucket(moto, request):
    name = "snap-" + request.node.name[-30:].replace("_", "-").lower().strip("-")
    aws_client("s3", moto).create_bucket(Bucket=name)
    return name


def provider(moto: str, bucket: str) -> ObjectStorageSnapshots:
    return ObjectStorageSnapshots(S3ObjectStore(bucket, aws_client("s3", moto)))


def source(url: str) -> NodeStateSource:
    return NodeStateSource(RpcClient(Endpoint(url, "seq")))


def test_snapshot_is_tagged_verified_and_listed(moto, bucket, chain):
    snaps = provider(moto, bucket)
    record = snaps.create("devnet", source(chain), 1_700_000_000)
    assert record.verified and record.block >= 5 and record.size > 0
    head = aws_client("s3", moto).head_object(Bucket=bucket, Key=record.id)
    assert head["Metadata"]["network"] == "devnet" and head["Metadata"]["block"] == str(record.block)
    assert snaps.newest_good("devnet").id == record.id
    assert snaps.fetch(record)[:2] == b"\x1f\x8b"  # gzip


def test_a_tampered_or_unverified_archive_is_never_offered(moto, bucket, chain):
    snaps = provider(moto, bucket)
    s3 = aws_client("s3", moto)
    good = snaps.create("devnet", source(chain), 1_700_000_000)
    # An archive without its verification marker (a crash mid-write) does not count.
    s3.put_object(Bucket=bucket, Key="snapshots/devnet/000000000099-1700000500.state.gz", Body=b"half")
    assert snaps.newest_good("devnet").id == good.id
    s3.put_object(Bucket=bucket, Key=good.id, Body=b"tampered")
    with pytest.raises(SnapshotInvalid):
        snaps.fetch(good)


def test_garbage_does_not_verify(moto, bucket):
    class Garbage:
        def dump(self):
            return b"not gzip", 7

    with pytest.raises(SnapshotInvalid):
        provider(moto, bucket).create("devnet", Garbage(), 1_700_000_000)
    assert provider(moto, bucket).newest_good("devnet") is None


def test_retention_keeps_the_newest(moto, bucket, chain):
    snaps = provider(moto, bucket)
    times = iter(range(1_700_000_000, 1_700_000_000 + 5 * 60, 60))
    for _ in range(4):
        take_snapshot(snaps, "devnet", source(chain), retention=2, clock=lambda: float(next(times)))
    listed = snaps.list("devnet")
    assert len(listed) == 2 and all(r.verified for r in listed)
    assert [int(r.taken_at) for r in listed] == [1_700_000_180, 1_700_000_120]


def test_snapshot_freshness_ok_stale_missing_and_unknown(moto, bucket, chain):
    snaps = provider(moto, bucket)

    def run(p, now):
        return __import__("remedies_fixtures").freshness(p, now)

    assert run(snaps, 1_700_000_000).status is Status.FIRING  # none yet
    snaps.create("devnet", source(chain), 1_700_000_000)
    assert run(snaps, 1_700_000_600).status is Status.OK
    stale = run(snaps, 1_700_007_300)
    assert stale.status is Status.FIRING and stale.observed.value == 7300
    dead = ObjectStorageSnapshots(S3ObjectStore(bucket, aws_client("s3", "http://127.0.0.1:9")))
    assert run(dead, 1_700_000_600).status is Status.UNKNOWN


def test_ebs_snapshots_on_moto(moto):
    ec2 = aws_client("ec2", moto)
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=10)["VolumeId"]
    ebs = EbsSnapshots(volume, ec2)

    class Head:
        def head(self):
            return 1234, "0x" + "ab" * 32

        def dump(self):
            raise AssertionError("a disk snapshot never dumps the node's state")

    first = ebs.create("devnet", Head(), 1_700_000_000)
    ebs.create("devnet", Head(), 1_700_000_060)
    assert first.verified and first.block == 1234
    assert ebs.newest_good("devnet").taken_at == 1_700_000_060
    assert len(ebs.prune("devnet", retention=1)) == 1 and len(ebs.list("devnet")) == 1


# --- the CLI contract ----------------------------------------------------------------------

def cli(*argv: str) -> int:
    from opwatch.cli import remedies as remedies_cli

    parser = argparse.ArgumentParser(prog="opwatch")
    remedies_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    return remedies_cli.run(parser.parse_args(list(argv)))


def test_cli_topup_dry_run_then_real_then_retry(chain, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OPWATCH_FUNDER_KEY", FUNDER_KEY)
    path = tmp_path / "opwatch.toml"
    path.write_text(config_text(chain, topup_section(tmp_path / "r.db")))
    rpc = RpcClient(Endpoint(chain, "l1"))
    rpc.call("anvil_setBalance", BATCHER, hex(7 * 10**18))
    assert cli("remediate", "topup", "--config", str(path), "--network", "devnet", "--target", "batcher",
               "--dry-run", "--json") == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["status"] == "dry-run" and plan["plan"]["amount_wei"] == 3 * 10**18
    assert int(rpc.call("eth_getBalance", BATCHER, "latest"), 16) == 7 * 10**18
    assert cli("remediate", "topup", "--config", str(path), "--network", "devnet", "--target", "batcher",
               "--request-id", "ops-1", "--json") == 0
    sent = json.loads(capsys.readouterr().out)
    assert sent["status"] == "sent" and sent["tx_hash"].startswith("0x")
    assert FUNDER_KEY[2:] not in json.dumps(sent)
    rpc.call("anvil_setBalance", BATCHER, hex(7 * 10**18))
    assert cli("remediate", "topup", "--config", str(path), "--network", "devnet", "--target", "batcher",
               "--request-id", "ops-1", "--json") == 0
    assert json.loads(capsys.readouterr().out)["status"] == "duplicate"
    assert int(rpc.call("eth_getBalance", BATCHER, "latest"), 16) == 7 * 10**18
    # The audit log says who asked, what each guard decided and what was sent, newest first.
    assert cli("audit", "--config", str(path), "--request-id", "ops-1", "--json") == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    results = [r["outcome"] for r in records if r["step"] == "result"]
    assert results == ["duplicate", "sent"] and {r["request_id"] for r in records} == {"ops-1"}
    assert all(r["approved_by"] for r in records) and FUNDER_KEY[2:] not in json.dumps(records)
    assert cli("audit", "--config", str(path), "--network", "devnet", "--limit", "3") == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 3
    assert cli("audit", "--config", str(path), "--network", "nope") == 2


def test_cli_bad_usage_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default store is relative: keep it out of the checkout
    path = tmp_path / "opwatch.toml"
    path.write_text(config_text())
    assert cli("remediate", "topup", "--config", str(path), "--network", "nope", "--target", "batcher") == 2
    assert cli("remediate", "topup", "--config", str(path), "--network", "devnet") == 2
    assert cli("remediate", "topup", "--config", str(path), "--network", "devnet", "--target", "batcher") == 1
    assert "no [remediation.networks.devnet.topup] policy" in capsys.readouterr().out


def test_a_firing_finding_snapshots_only_where_the_policy_allows_it_unattended(moto, bucket, chain, tmp_path):
    """Manual approval is the default: a firing snapshot_freshness finding alone is refused
    (and audited); with approval = "auto" and snapshot.auto = true it snapshots."""
    from opwatch.cli.compose import registry as local_registry
    from opwatch.findings import Finding, Measure, Severity
    from opwatch.remedies.request import RemedyRequest
    from opwatch.remedies.service import Seams, handle
    from opwatch.remedies.store import SqliteRemedyStore

    stale = Finding("devnet", "snapshot_freshness", "sequencer", Status.FIRING, Severity.WARNING, "no snapshot",
                    Measure(None, "s"), Measure(86400.0, "s"), "2026-11-28T10:00:00Z")
    section = (f'[remediation.networks.devnet.snapshot]\nprovider = "s3"\nbucket = "{bucket}"\n'
               f'endpoint_url = "{moto}"\n')
    seams = Seams(registry=local_registry(),
                  store=SqliteRemedyStore(tmp_path / "r.db"),
                  s3_client=aws_client("s3", moto))
    manual = load(config_text(l2_url=chain, remediation=section))
    out = handle(RemedyRequest.from_finding(stale), manual, seams)
    assert out["status"] == "refused" and "approval" in out["reason"]
    assert provider(moto, bucket).newest_good("devnet") is None
    auto = load(config_text(l2_url=chain, remediation='[remediation.networks.devnet]\napproval = "auto"\n'
                            + section.replace("[remediation.networks.devnet.snapshot]\n",
                                              "[remediation.networks.devnet.snapshot]\nauto = true\n")))
    out = handle(RemedyRequest.from_finding(stale), auto, seams)  # the refusal released the request id
    assert out["status"] == "done", out
    assert provider(moto, bucket).newest_good("devnet").id == out["snapshot"]["id"]


def test_a_node_that_cannot_dump_its_state_fails_cleanly_with_the_way_out(moto, bucket, tmp_path):
    """An archive snapshot of a node that is not anvil: a clear failure that names the disk
    snapshot providers, not a crash (op-geth answers -32601, method not found)."""
    from opwatch.chain.errors import RpcError
    from opwatch.cli.compose import registry as local_registry
    from opwatch.remedies.request import RemedyRequest
    from opwatch.remedies.service import Seams, handle
    from opwatch.remedies.store import SqliteRemedyStore

    class NotAnvil:
        def dump(self):
            raise RpcError("sequencer", -32601, "the method anvil_dumpState does not exist/is not available")

    text = config_text(remediation=f'[remediation.networks.devnet.snapshot]\nprovider = "s3"\nbucket = "{bucket}"\n')
    store = SqliteRemedyStore(tmp_path / "r.db")
    seams = Seams(registry=local_registry(),
                  store=store, s3_client=aws_client("s3", moto), state_source=NotAnvil())
    out = handle(RemedyRequest("snapshot", "devnet", "ops-x", approved_by="alice"), load(text), seams)
    assert out["status"] == "failed" and "provider = 'ebs' or 'gce-disk'" in out["reason"], out
    assert store.lookup("ops-x") is None  # nothing was taken: the same request may be tried again


# --- disk snapshots of a node that is not anvil, through the whole remedy ---------------------

L2_CHAIN_ID = 901  # what config_text() names as the network's l2_chain_id


@pytest.fixture(scope="module")
def opgeth(tmp_path_factory):
    """An anvil with the network's L2 chain id behind the op-geth stand-in (no anvil_* methods)."""
    from opgeth_standin import OpGethStandIn
    from opwatch_devnet.anvil import AnvilProcess

    with AnvilProcess.start("l2", tmp_path_factory.mktemp("opgeth"), ["--chain-id", str(L2_CHAIN_ID)]) as proc:
        rpc = RpcClient(Endpoint(proc.url, "anvil"))
        for _ in range(7):
            rpc.call("evm_mine")
        standin = OpGethStandIn(proc.url)
        yield standin
        standin.stop()


class PendingEbs:
    """Real EBS answers `pending` to CreateSnapshot and keeps it pending for minutes; moto
    answers `completed` at once and cannot be told otherwise. This rewrites the State of the
    parsed CreateSnapshot / DescribeSnapshots answers through botocore's public event system
    (`after-call.ec2.<Operation>` on the client's own event emitter), so every other field
    (ids, tags, volume, filters, deletes) is moto's real answer over HTTP. Only snapshots created
    after it is registered stay pending; flip `completes` to let them finish, as EBS eventually does."""

    def __init__(self, client) -> None:
        self.completes = False
        self.pending: set[str] = set()
        for operation in ("CreateSnapshot", "DescribeSnapshots"):
            client.meta.events.register(f"after-call.ec2.{operation}", self.rewrite)

    def rewrite(self, parsed, **_kwargs) -> None:
        if self.completes:
            return
        if "SnapshotId" in parsed:  # CreateSnapshot
            self.pending.add(parsed["SnapshotId"])
            parsed["State"] = "pending"
        for snap in parsed.get("Snapshots", []):
            if snap["SnapshotId"] in self.pending:
                snap["State"] = "pending"


def ebs_section(volume: str, retention: int = 7) -> str:
    return (f'[remediation.networks.devnet.snapshot]\nprovider = "ebs"\nvolume_id = "{volume}"\n'
            f"retention = {retention}\n")


def latest(url: str) -> dict:
    return RpcClient(Endpoint(url, "anvil")).call("eth_getBlockByNumber", "latest", False)


def test_an_ebs_snapshot_of_a_node_without_anvil_methods_records_its_head(moto, opgeth, tmp_path):
    """op-geth has no anvil_dumpState: a disk snapshot reads the head over standard JSON-RPC
    (number and hash of one block) and records both on the snapshot's tags."""
    from opwatch.cli.compose import registry as local_registry
    from opwatch.remedies.request import RemedyRequest
    from opwatch.remedies.service import Seams, handle
    from opwatch.remedies.store import SqliteRemedyStore

    ec2 = aws_client("ec2", moto)
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=10)["VolumeId"]
    config = load(config_text(l2_url=opgeth.url, remediation=ebs_section(volume)))
    head = latest(opgeth.upstream)
    seams = Seams(registry=local_registry(),
                  store=SqliteRemedyStore(tmp_path / "r.db"), ec2_client=ec2, sleep=lambda _: None)
    out = handle(RemedyRequest("snapshot", "devnet", "ops-ebs-1", approved_by="alice"), config, seams)
    assert out["status"] == "done", out
    assert opgeth.refused() == []  # never asked for an anvil-only method
    assert out["snapshot"]["block"] == int(head["number"], 16) and out["snapshot"]["block_hash"] == head["hash"]
    tags = {t["Key"]: t["Value"] for t in ec2.describe_snapshots(SnapshotIds=[out["snapshot"]["id"]])
            ["Snapshots"][0]["Tags"]}
    assert tags["opwatch:block"] == str(int(head["number"], 16)) and tags["opwatch:block_hash"] == head["hash"]


def test_a_disk_snapshot_of_a_node_on_another_chain_is_refused(moto, chain, tmp_path):
    """The node behind l2_rpc must serve the network's chain: a snapshot of the wrong chain's
    disk would be restored as this network's sequencer."""
    from opwatch.cli.compose import registry as local_registry
    from opwatch.remedies.request import RemedyRequest
    from opwatch.remedies.service import Seams, handle
    from opwatch.remedies.store import SqliteRemedyStore

    ec2 = aws_client("ec2", moto)
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=10)["VolumeId"]
    config = load(config_text(l2_url=chain, remediation=ebs_section(volume)))  # chain id 900, not 901
    seams = Seams(registry=local_registry(),
                  store=SqliteRemedyStore(tmp_path / "r.db"), ec2_client=ec2, sleep=lambda _: None)
    out = handle(RemedyRequest("snapshot", "devnet", "ops-ebs-2", approved_by="alice"), config, seams)
    assert out["status"] == "failed" and "chain" in out["reason"], out
    assert ec2.describe_snapshots(Filters=[{"Name": "volume-id", "Values": [volume]}])["Snapshots"] == []


def test_a_pending_ebs_snapshot_is_in_progress_verified_later_and_pruning_still_runs(moto, opgeth, tmp_path):
    from opwatch.aws.snapshots import EBS_WAIT_S
    from opwatch.cli.compose import registry as local_registry
    from opwatch.remedies.request import RemedyRequest
    from opwatch.remedies.service import Seams, handle
    from opwatch.remedies.store import SqliteRemedyStore

    ec2 = aws_client("ec2", moto)
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=10)["VolumeId"]
    ebs = EbsSnapshots(volume, ec2)
    times = iter(range(1_700_000_000, 1_700_100_000, 60))
    slept: list[float] = []
    seams = Seams(registry=local_registry(),
                  store=SqliteRemedyStore(tmp_path / "r.db"), ec2_client=ec2, sleep=slept.append,
                  clock=lambda: float(next(times)))
    config = load(config_text(l2_url=opgeth.url, remediation=ebs_section(volume, retention=1)))
    first = handle(RemedyRequest("snapshot", "devnet", "ops-p-1", approved_by="alice"), config, seams)
    assert first["status"] == "done", first
    hook = PendingEbs(ec2)
    second = handle(RemedyRequest("snapshot", "devnet", "ops-p-2", approved_by="alice"), config, seams)
    # In progress, not failed: recorded, never offered to a restore until completed.
    assert second["status"] == "pending", second
    assert second["snapshot"]["in_progress"] and not second["snapshot"]["verified"]
    assert ebs.newest_good("devnet").id == first["snapshot"]["id"]
    assert 0 < sum(slept) <= EBS_WAIT_S  # waited within its named budget, then handed over
    from opwatch.remedies.permissions import longest_wait_s  # what deployed timeouts are derived from

    assert longest_wait_s("snapshot", config.section("remediation").for_network("devnet")) >= EBS_WAIT_S
    assert second["pruned"] == []  # the only completed one is the one retention keeps
    hook.completes = True  # EBS finishes it; the next run (or snapshot_freshness) sees it completed
    assert ebs.newest_good("devnet").id == second["snapshot"]["id"]
    third = handle(RemedyRequest("snapshot", "devnet", "ops-p-3", approved_by="alice"), config, seams)
    assert third["status"] == "done", third
    assert set(third["pruned"]) == {first["snapshot"]["id"], second["snapshot"]["id"]}
    assert [r.id for r in ebs.list("devnet")] == [third["snapshot"]["id"]]


def test_an_ebs_snapshot_in_state_error_fails(moto, opgeth, tmp_path):
    from opwatch.cli.compose import registry as local_registry
    from opwatch.remedies.request import RemedyRequest
    from opwatch.remedies.service import Seams, handle
    from opwatch.remedies.store import SqliteRemedyStore

    ec2 = aws_client("ec2", moto)
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=10)["VolumeId"]

    def error(parsed, **_kwargs) -> None:  # EBS's answer for a snapshot that could not be taken
        parsed["State"] = "error"

    ec2.meta.events.register("after-call.ec2.CreateSnapshot", error)
    config = load(config_text(l2_url=opgeth.url, remediation=ebs_section(volume)))
    seams = Seams(registry=local_registry(),
                  store=SqliteRemedyStore(tmp_path / "r.db"), ec2_client=ec2, sleep=lambda _: None)
    out = handle(RemedyRequest("snapshot", "devnet", "ops-e-1", approved_by="alice"), config, seams)
    assert out["status"] == "failed" and "state error" in out["reason"], out
