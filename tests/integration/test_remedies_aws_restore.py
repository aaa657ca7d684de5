"""The AWS restore pieces on a moto server through real boto3 clients: the Route 53 endpoint
switch (CNAME and A, refusals, a change that never syncs) and the EBS-volume launcher (a
stopped instance started on a volume from an EbsSnapshots snapshot, its guards, clean-up)."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError
from opwatch.aws.restore import (
    EbsVolumeLauncher,
    EndpointSwitchFailed,
    LaunchFailed,
    LaunchRefused,
    Route53Endpoint,
)
from opwatch.aws.snapshots import EbsSnapshots
from opwatch.remedies.snapshot import SnapshotRecord
from remedies_fixtures import aws_client, start_moto

DEVICE = "/dev/sdf"
RPC = "http://10.0.0.7:8545"


def no_sleep(_: float) -> None:
    pass


@pytest.fixture(scope="module")
def moto():
    server, endpoint = start_moto()
    yield endpoint
    server.stop()


class Proxy:
    """A real boto3 client with some operations replaced."""

    def __init__(self, client, **overrides):
        self._client = client
        self._overrides = overrides

    def __getattr__(self, name):
        return self._overrides.get(name) or getattr(self._client, name)


# --- Route 53 ------------------------------------------------------------------------------

@pytest.fixture
def zone(moto):
    r53 = aws_client("route53", moto)
    name = f"z{uuid.uuid4().hex[:8]}.example.org"
    zone_id = r53.create_hosted_zone(Name=name, CallerReference=uuid.uuid4().hex)["HostedZone"]["Id"]
    return r53, zone_id, name


def put_record(r53, zone_id: str, name: str, kind: str, value: str) -> None:
    r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [{
        "Action": "CREATE", "ResourceRecordSet": {"Name": name, "Type": kind, "TTL": 300,
                                                  "ResourceRecords": [{"Value": value}]}}]})


def raw_values(r53, zone_id: str, name: str, kind: str) -> list[str]:
    sets = r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return [r["Value"] for s in sets if s["Name"] == name.rstrip(".") + "." and s["Type"] == kind
            for r in s["ResourceRecords"]]


def test_point_moves_a_cname_to_the_new_host_and_reads_it_back(zone):
    r53, zone_id, domain = zone
    record = f"sequencer.{domain}"
    put_record(r53, zone_id, record, "CNAME", "old-seq.internal.example.org")
    endpoint = Route53Endpoint(zone_id, record + ".", client=r53, sleep=no_sleep)  # trailing dot: same record
    assert endpoint.current() == "old-seq.internal.example.org"
    endpoint.point("http://new-seq.internal.example.org:8545")
    assert endpoint.current() == "new-seq.internal.example.org"
    assert raw_values(r53, zone_id, record, "CNAME") == ["new-seq.internal.example.org"]


def test_point_sets_an_a_record_to_an_ip(zone):
    r53, zone_id, domain = zone
    record = f"sequencer.{domain}"
    put_record(r53, zone_id, record, "A", "10.0.0.5")
    endpoint = Route53Endpoint(zone_id, record, record_type="A", client=r53, sleep=no_sleep)
    endpoint.point(RPC)
    assert endpoint.current() == "10.0.0.7"
    assert raw_values(r53, zone_id, record, "A") == ["10.0.0.7"]


def test_an_a_record_refuses_a_host_name_and_stays_unchanged(zone):
    r53, zone_id, domain = zone
    record = f"sequencer.{domain}"
    put_record(r53, zone_id, record, "A", "10.0.0.5")
    endpoint = Route53Endpoint(zone_id, record, record_type="A", client=r53, sleep=no_sleep)
    with pytest.raises(ValueError, match="IPv4 literal"):
        endpoint.point("http://new-seq.internal.example.org:8545")
    assert raw_values(r53, zone_id, record, "A") == ["10.0.0.5"]


def test_current_is_none_without_the_record(zone):
    r53, zone_id, domain = zone
    put_record(r53, zone_id, f"other.{domain}", "CNAME", "x.example.org")
    assert Route53Endpoint(zone_id, f"sequencer.{domain}", client=r53).current() is None


def test_a_missing_zone_is_an_endpoint_switch_failure_not_a_botocore_error(moto):
    endpoint = Route53Endpoint("/hostedzone/ZNOSUCHZONE", "sequencer.example.org",
                               client=aws_client("route53", moto), sleep=no_sleep)
    with pytest.raises(EndpointSwitchFailed, match="NoSuchHostedZone"):
        endpoint.point("http://new-seq.example.org:8545")


def test_a_change_that_never_syncs_fails_after_the_timeout_naming_the_change(zone):
    r53, zone_id, domain = zone
    record = f"sequencer.{domain}"
    put_record(r53, zone_id, record, "CNAME", "old-seq.example.org")
    polls: list[str] = []

    def pending(Id: str) -> dict:
        polls.append(Id)
        return {"ChangeInfo": {"Id": Id, "Status": "PENDING"}}

    def submitted(**kwargs) -> dict:
        answer = r53.change_resource_record_sets(**kwargs)
        answer["ChangeInfo"]["Status"] = "PENDING"  # moto answers INSYNC at once
        return answer

    slept: list[float] = []
    client = Proxy(r53, get_change=pending, change_resource_record_sets=submitted)
    endpoint = Route53Endpoint(zone_id, record, client=client, timeout_s=10, sleep=slept.append)
    with pytest.raises(EndpointSwitchFailed, match="may already be changed") as failed:
        endpoint.point("http://new-seq.example.org:8545")
    assert polls and polls[0] in str(failed.value)
    assert sum(slept) == pytest.approx(10)


# --- EBS volume launcher -------------------------------------------------------------------

class Head:
    def dump(self) -> tuple[bytes, int]:
        return b"", 42

    def head(self) -> tuple[int, str]:  # what a disk snapshot asks the node (standard JSON-RPC)
        return 42, "0x" + "00" * 32


@pytest.fixture(scope="module")
def ec2(moto):
    return aws_client("ec2", moto)


@pytest.fixture(scope="module")
def ami(ec2) -> str:
    return ec2.describe_images()["Images"][0]["ImageId"]


@pytest.fixture(scope="module")
def snapshot(ec2) -> SnapshotRecord:
    source = ec2.create_volume(AvailabilityZone="us-east-1a", Size=8)["VolumeId"]
    return EbsSnapshots(source, ec2).create("devnet", Head(), 1_700_000_000)


def new_instance(ec2, ami: str, stopped: bool = True) -> str:
    instance_id = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="t3.micro",
                                    Placement={"AvailabilityZone": "us-east-1a"})["Instances"][0]["InstanceId"]
    if stopped:
        ec2.stop_instances(InstanceIds=[instance_id])
    return instance_id


def state(ec2, instance_id: str) -> str:
    return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]["Name"]


def volumes_from(ec2, snapshot_id: str) -> list[dict]:
    return [v for v in ec2.describe_volumes()["Volumes"] if v.get("SnapshotId") == snapshot_id]


def test_launch_attaches_a_volume_from_the_snapshot_and_starts_the_instance(ec2, ami, snapshot):
    assert snapshot.verified and snapshot.id.startswith("snap-") and snapshot.block == 42
    instance_id = new_instance(ec2, ami)
    before = {v["VolumeId"] for v in volumes_from(ec2, snapshot.id)}
    launcher = EbsVolumeLauncher(instance_id, DEVICE, RPC, client=ec2, sleep=no_sleep)
    assert launcher.launch(snapshot, provider=None) == RPC
    [volume] = [v for v in volumes_from(ec2, snapshot.id) if v["VolumeId"] not in before]
    assert volume["VolumeType"] == "gp3" and volume["AvailabilityZone"] == "us-east-1a"
    assert [(a["InstanceId"], a["Device"], a["State"]) for a in volume["Attachments"]] == \
        [(instance_id, DEVICE, "attached")]
    tags = {t["Key"]: t["Value"] for t in volume["Tags"]}
    assert tags["opwatch:restored-from"] == snapshot.id and tags["opwatch:network"] == "devnet"
    assert state(ec2, instance_id) == "running"


def test_a_running_instance_is_refused_and_no_volume_is_created(ec2, ami, snapshot):
    instance_id = new_instance(ec2, ami, stopped=False)
    count = len(ec2.describe_volumes()["Volumes"])
    with pytest.raises(LaunchRefused, match="running, not stopped"):
        EbsVolumeLauncher(instance_id, DEVICE, RPC, client=ec2, sleep=no_sleep).launch(snapshot, None)
    assert len(ec2.describe_volumes()["Volumes"]) == count


def test_a_device_already_in_use_is_refused(ec2, ami, snapshot):
    instance_id = new_instance(ec2, ami)
    old = ec2.create_volume(AvailabilityZone="us-east-1a", Size=8)["VolumeId"]
    ec2.attach_volume(VolumeId=old, InstanceId=instance_id, Device="/dev/xvdf")  # the same slot as /dev/sdf
    count = len(ec2.describe_volumes()["Volumes"])
    with pytest.raises(LaunchRefused, match=old):
        EbsVolumeLauncher(instance_id, DEVICE, RPC, client=ec2, sleep=no_sleep).launch(snapshot, None)
    assert len(ec2.describe_volumes()["Volumes"]) == count and state(ec2, instance_id) == "stopped"


def test_a_snapshot_that_is_not_an_ebs_snapshot_is_refused(ec2, ami):
    instance_id = new_instance(ec2, ami)
    archive = SnapshotRecord("snapshots/devnet/000000000042-1700000000.state.gz", "devnet", 42,
                             1_700_000_000, verified=True)
    with pytest.raises(LaunchRefused, match="not an EBS snapshot"):
        EbsVolumeLauncher(instance_id, DEVICE, RPC, client=ec2, sleep=no_sleep).launch(archive, None)


def test_a_failure_after_the_volume_exists_deletes_it_and_leaves_the_instance_stopped(ec2, ami, snapshot):
    instance_id = new_instance(ec2, ami)
    before = {v["VolumeId"] for v in volumes_from(ec2, snapshot.id)}

    def attach_fails(**kwargs):
        raise ClientError({"Error": {"Code": "IncorrectState", "Message": "injected"}}, "AttachVolume")

    launcher = EbsVolumeLauncher(instance_id, DEVICE, RPC, client=Proxy(ec2, attach_volume=attach_fails),
                                 sleep=no_sleep)
    with pytest.raises(LaunchFailed, match="IncorrectState") as failed:
        launcher.launch(snapshot, None)
    assert failed.value.volume_id and failed.value.volume_id not in before
    assert failed.value.volume == "deleted" and failed.value.instance_state == "stopped"
    assert f"volume {failed.value.volume_id} deleted" in str(failed.value)
    assert {v["VolumeId"] for v in volumes_from(ec2, snapshot.id)} == before
    assert state(ec2, instance_id) == "stopped"


def test_a_failure_after_start_leaves_everything_and_says_so(ec2, ami, snapshot):
    instance_id = new_instance(ec2, ami)

    calls = {"n": 0}

    def describe(**kwargs):
        calls["n"] += 1
        if calls["n"] > 2:  # preflight and the re-check before start succeed; then the reads fail
            raise ClientError({"Error": {"Code": "RequestLimitExceeded", "Message": "injected"}}, "DescribeInstances")
        return ec2.describe_instances(**kwargs)

    launcher = EbsVolumeLauncher(instance_id, DEVICE, RPC, client=Proxy(ec2, describe_instances=describe),
                                 sleep=no_sleep)
    with pytest.raises(LaunchFailed, match="left as is") as failed:
        launcher.launch(snapshot, None)
    assert failed.value.volume == f"attached at {DEVICE}" and failed.value.instance_state == "unknown"
    assert state(ec2, instance_id) == "running"


@pytest.mark.parametrize(("kind", "url", "why"), [
    ("CNAME", "http://10.0.0.7:8545", "host name"),
    ("CNAME", "http://sequencer.example.org:8545", "to itself"),
    ("A", "http://[fd00::7]:8545", "IPv4 literal"),
    ("CNAME", "http://:8545", "no host"),
])
def test_urls_a_record_type_cannot_hold_are_refused_before_any_call(kind, url, why):
    endpoint = Route53Endpoint("/hostedzone/Z", "sequencer.example.org.", record_type=kind, client=object())
    with pytest.raises(ValueError, match=why):
        endpoint.point(url)
