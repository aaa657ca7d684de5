"""A restore failover on AWS end to end, through `remedies.service.handle` as the Lambda runs it.

moto server holds the EBS snapshot, the stopped replacement instance and the Route 53 record;
the replacement's RPC is a real anvil (producing a block a second) so "the replacement
produces blocks" is observed, not assumed; the old sequencer is a dead port, which the
observers must agree is stalled. The guards are proven by the refusals: a running
replacement is never started over, and a replacement that never produces leaves the record
alone.
"""

from __future__ import annotations

import uuid

import pytest
from opnode_admin_standin import AdminStandIn
from opwatch.aws.snapshots import EbsSnapshots
from opwatch.cli.compose import registry as local_registry
from opwatch.remedies.request import RemedyRequest
from opwatch.remedies.service import Seams, handle
from opwatch.remedies.store import SqliteRemedyStore
from remedies_fixtures import aws_client, config_text, free_port, load, start_moto

pytestmark = pytest.mark.anvil


class Head:
    def dump(self) -> tuple[bytes, int]:
        return b"", 0  # the snapshot holds block 0: the replacement must move past it

    def head(self) -> tuple[int, str]:  # what a disk snapshot asks the node (standard JSON-RPC)
        return 0, "0x" + "00" * 32


@pytest.fixture(scope="module")
def moto():
    server, endpoint = start_moto()
    yield endpoint
    server.stop()


@pytest.fixture(scope="module")
def replacement(tmp_path_factory):
    from opwatch_devnet.anvil import AnvilProcess

    with AnvilProcess.start("replacement", tmp_path_factory.mktemp("replacement"),
                            ["--chain-id", "901", "--block-time", "1"]) as proc:
        yield proc.port


@pytest.fixture
def aws(moto):
    ec2, r53 = aws_client("ec2", moto), aws_client("route53", moto)
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=8)["VolumeId"]
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="t3.micro",
                                 Placement={"AvailabilityZone": "us-east-1a"})["Instances"][0]["InstanceId"]
    ec2.stop_instances(InstanceIds=[instance])
    domain = f"z{uuid.uuid4().hex[:8]}.example.org"
    zone = r53.create_hosted_zone(Name=domain, CallerReference=uuid.uuid4().hex)["HostedZone"]["Id"]
    record = f"sequencer.{domain}"
    r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "CREATE",
        "ResourceRecordSet": {"Name": record, "Type": "CNAME", "TTL": 60,
                              "ResourceRecords": [{"Value": "old-sequencer.internal"}]}}]})
    snapshot = EbsSnapshots(volume, ec2).create("devnet", Head(), 1_700_000_000)
    return {"ec2": ec2, "r53": r53, "volume": volume, "instance": instance, "zone": zone, "record": record,
            "snapshot": snapshot}


class OldSequencer:
    """The old sequencer as the restore sees it: its op-geth (the sequencer endpoint), its op-node's
    admin RPC (what the fence stops) and one RPC node. Stand-ins that answer but whose heads never
    move: a stalled sequencer, still reachable, that a replacement must not run beside."""

    def __init__(self, sequencer_reachable: bool = True, admin_reachable: bool = True) -> None:
        head = "0x" + "11" * 32
        self.sequencer = AdminStandIn(active=True, head_hash=head, head_number=40)
        self.admin = self.sequencer  # one stand-in serves op-geth's head and op-node's admin switch
        self.rpc = AdminStandIn(active=False, head_hash=head, head_number=40)
        self.sequencer.unreachable = not sequencer_reachable
        self.admin_reachable = admin_reachable
        self.l2_url = self.sequencer.url
        if not admin_reachable:  # the op-node's admin RPC is a dead port
            self.admin_url = f"http://127.0.0.1:{free_port()}"
        else:
            self.admin_url = self.admin.url
        self.network_keys = f'rollup_rpc = "{self.admin_url}"\nrpc_nodes = ["{self.rpc.url}"]'

    def stop(self) -> None:
        self.sequencer.stop()
        self.rpc.stop()


@pytest.fixture
def old():
    sequencer = OldSequencer()
    yield sequencer
    sequencer.stop()


def restore_config(aws: dict, replacement_port: int, store: str, *, old: OldSequencer) -> str:
    return config_text(l2_url=old.l2_url, extra_network=old.network_keys, remediation=f"""
[remediation]
store = "sqlite:{store}"
[remediation.networks.devnet.snapshot]
provider = "ebs"
volume_id = "{aws['volume']}"
[remediation.networks.devnet.failover]
strategy = "restore"
min_observers = 2
stall_after = "1s"
replacement_instance = "{aws['instance']}"
replacement_rpc = "http://localhost:{replacement_port}"
dns_zone_id = "{aws['zone']}"
dns_record = "{aws['record']}"
""")


def record_value(aws: dict) -> str:
    sets = aws["r53"].list_resource_record_sets(HostedZoneId=aws["zone"])["ResourceRecordSets"]
    [value] = [r["Value"] for s in sets if s["Name"] == aws["record"] + "." for r in s["ResourceRecords"]]
    return str(value)


def instance_state(aws: dict) -> str:
    reservations = aws["ec2"].describe_instances(InstanceIds=[aws["instance"]])["Reservations"]
    return str(reservations[0]["Instances"][0]["State"]["Name"])


def run(aws: dict, text: str, store: SqliteRemedyStore, request_id: str, page=None) -> dict:
    request = RemedyRequest(remedy="restore", network="devnet", request_id=request_id, approved_by="oncall")
    seams = Seams(registry=local_registry(), store=store, ec2_client=aws["ec2"], route53_client=aws["r53"], page=page)
    return handle(request, load(text), seams)


def test_restore_starts_the_replacement_from_the_snapshot_then_repoints_the_record(aws, replacement, tmp_path, old):
    store = SqliteRemedyStore(tmp_path / "r.db")
    out = run(aws, restore_config(aws, replacement, str(tmp_path / "r.db"), old=old), store, "drill-1")
    assert out["status"] == "done", out
    assert out["snapshot"] == aws["snapshot"].id and out["first_head"] > 0
    assert instance_state(aws) == "running"
    [restored] = [v for v in aws["ec2"].describe_volumes()["Volumes"] if v.get("SnapshotId") == aws["snapshot"].id]
    assert restored["Attachments"][0]["InstanceId"] == aws["instance"]
    assert record_value(aws) == "localhost"
    steps = [(r["step"], r["outcome"]) for r in reversed(store.audit(50)) if r.get("request_id") == "drill-1"]
    assert [s for s in steps if s[0] in ("observe", "fence", "launch", "producing", "repoint", "result")] == [
        ("observe", "ok"), ("fence", "ok"), ("launch", "started"), ("launch", "ok"), ("producing", "ok"),
        ("repoint", "ok"), ("result", "done")]
    assert old.admin.active is False and old.admin.calls.count("admin_stopSequencer") == 1  # fenced first


def test_a_running_replacement_is_never_started_over_and_the_record_stays(aws, replacement, tmp_path, old):
    aws["ec2"].start_instances(InstanceIds=[aws["instance"]])  # someone already brought it up
    volumes = len(aws["ec2"].describe_volumes()["Volumes"])
    store = SqliteRemedyStore(tmp_path / "r.db")
    out = run(aws, restore_config(aws, replacement, str(tmp_path / "r.db"), old=old), store, "drill-2")
    assert out["status"] == "aborted" and "not stopped" in out["reason"], out
    assert "endpoint is unchanged" in out["state"]
    assert len(aws["ec2"].describe_volumes()["Volumes"]) == volumes
    assert record_value(aws) == "old-sequencer.internal"


def test_a_replacement_that_never_produces_leaves_the_record_alone(aws, tmp_path, old):
    dead = free_port()  # the replacement's RPC never answers
    store = SqliteRemedyStore(tmp_path / "r.db")
    text = restore_config(aws, dead, str(tmp_path / "r.db"), old=old).replace(
        'min_observers', 'replacement_wait = "2s"\nmin_observers')
    from opwatch.alerting.pagerduty import PagerDutyClient
    from opwatch.remedies.paging import pagerduty_pager
    from pagerduty_standin import EventsStandIn

    events = EventsStandIn.start()
    try:
        page = pagerduty_pager(PagerDutyClient(lambda: "R" * 32, base_url=events.base_url))
        out = run(aws, text, store, "drill-3", page)
        assert out["status"] == "aborted" and "produces no blocks" in out["reason"], out
        assert record_value(aws) == "old-sequencer.internal"
        # Stopped midway: a person is paged even though a person started it, with where it stands.
        [event] = events.accepted
        assert event["dedup_key"] == "opwatch/devnet/remedy/failover-aborted"
        assert "endpoint is unchanged" in event["payload"]["custom_details"]["state"]
    finally:
        events.stop()


def test_a_restore_refuses_when_the_old_sequencer_cannot_be_fenced(aws, replacement, tmp_path):
    """Its op-node's admin RPC is unreachable: it may still sequence behind a broken path."""
    old = OldSequencer(admin_reachable=False)
    try:
        volumes = len(aws["ec2"].describe_volumes()["Volumes"])
        store = SqliteRemedyStore(tmp_path / "r.db")
        out = run(aws, restore_config(aws, replacement, str(tmp_path / "r.db"), old=old), store, "drill-4")
        assert out["status"] == "refused" and "not fenced" in out["reason"], out
        assert instance_state(aws) == "stopped" and len(aws["ec2"].describe_volumes()["Volumes"]) == volumes
        assert record_value(aws) == "old-sequencer.internal"
    finally:
        old.stop()


def test_an_unreachable_sequencer_is_no_vote_for_stalled(aws, replacement, tmp_path):
    """The sequencer endpoint does not answer and one RPC node sees a still head: one vote, not two."""
    old = OldSequencer(sequencer_reachable=False)
    try:
        store = SqliteRemedyStore(tmp_path / "r.db")
        out = run(aws, restore_config(aws, replacement, str(tmp_path / "r.db"), old=old), store, "drill-5")
        assert out["status"] == "refused" and "1 observer(s) confirm" in out["reason"], out
        assert instance_state(aws) == "stopped" and record_value(aws) == "old-sequencer.internal"
        assert "admin_stopSequencer" not in old.admin.calls  # refused before any side effect
    finally:
        old.stop()
