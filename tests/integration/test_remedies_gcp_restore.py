"""The GCP restore pieces against stand-ins of the documented REST APIs: the Cloud DNS endpoint switch
(tests/clouddns_standin.py: CNAME and A, a record created, a concurrent writer, a change that never
completes) and the persistent-disk launcher (tests/gce_standin.py: a TERMINATED instance started on
a disk from a PersistentDiskSnapshots snapshot, its guards, clean-up, 403)."""

from __future__ import annotations

import pytest
import requests
from clouddns_standin import CloudDnsStandIn, rrset
from gce_standin import ComputeStandIn
from opwatch.gcp.gce_disk import PersistentDiskSnapshots
from opwatch.gcp.restore import (
    CLOUD_DNS_PERMISSIONS,
    GCE_LAUNCHER_PERMISSIONS,
    CloudDnsEndpoint,
    EndpointSwitchFailed,
    GceDiskLauncher,
    LaunchFailed,
    LaunchRefused,
)
from opwatch.remedies.snapshot import SnapshotRecord

PROJECT, ZONE, DNS_ZONE, DOMAIN = "opwatch-test", "us-central1-a", "opwatch-zone", "example.org."
RECORD = "sequencer.example.org."
DEVICE = "seq-datadir"
RPC = "http://10.128.0.7:8545"
REPLACEMENT = "seq-replacement"


def no_sleep(_: float) -> None:
    pass


# --- Cloud DNS -----------------------------------------------------------------------------------

@pytest.fixture
def dns():
    standin = CloudDnsStandIn.start(project=PROJECT, zones={DNS_ZONE: DOMAIN})
    yield standin
    standin.stop()


def endpoint(dns: CloudDnsStandIn, name: str = RECORD, **kwargs) -> CloudDnsEndpoint:
    kwargs.setdefault("sleep", no_sleep)
    return CloudDnsEndpoint(PROJECT, DNS_ZONE, name, session=requests.Session(), base_url=dns.base_url, **kwargs)


def test_point_moves_a_cname_to_the_new_host_and_reads_it_back(dns):
    dns.put(DNS_ZONE, RECORD, "CNAME", ["old-seq.internal.example.org."])
    switch = endpoint(dns, "sequencer.example.org")  # without the trailing dot: the same record
    assert switch.current() == "old-seq.internal.example.org"
    switch.point("http://new-seq.internal.example.org:8545")
    assert switch.current() == "new-seq.internal.example.org"
    assert dns.get(DNS_ZONE, RECORD, "CNAME") == rrset(RECORD, "CNAME", ["new-seq.internal.example.org."], 60)
    assert len(dns.calls_to("POST", "/changes")) == 1
    [change] = dns.changes.values()
    # The old record set deleted exactly as it was read, the new one added, in one change.
    assert change.deletions == [rrset(RECORD, "CNAME", ["old-seq.internal.example.org."], 300)]
    assert change.additions == [rrset(RECORD, "CNAME", ["new-seq.internal.example.org."], 60)]
    assert dns.calls_to("GET", f"/changes/{change.id}")  # waited on until done


def test_point_sets_an_a_record_to_an_ip(dns):
    dns.put(DNS_ZONE, RECORD, "A", ["10.0.0.5"])
    switch = endpoint(dns, record_type="A")
    switch.point(RPC)
    assert switch.current() == "10.128.0.7"
    assert dns.get(DNS_ZONE, RECORD, "A")["rrdatas"] == ["10.128.0.7"]


def test_an_a_record_refuses_a_host_name_and_stays_unchanged(dns):
    dns.put(DNS_ZONE, RECORD, "A", ["10.0.0.5"])
    switch = endpoint(dns, record_type="A")
    with pytest.raises(ValueError, match="IPv4 literal"):
        switch.point("http://new-seq.internal.example.org:8545")
    assert dns.get(DNS_ZONE, RECORD, "A")["rrdatas"] == ["10.0.0.5"]
    assert dns.calls == []  # refused before any call


def test_a_missing_record_reads_none_and_point_creates_it(dns):
    dns.put(DNS_ZONE, "other.example.org.", "CNAME", ["x.example.org."])
    switch = endpoint(dns)
    assert switch.current() is None
    switch.point("http://new-seq.example.org:8545")
    assert switch.current() == "new-seq.example.org"
    [change] = dns.changes.values()
    assert change.deletions == [] and change.additions == [rrset(RECORD, "CNAME", ["new-seq.example.org."], 60)]


def test_a_record_changed_by_someone_else_meanwhile_is_left_as_they_left_it(dns):
    dns.put(DNS_ZONE, RECORD, "CNAME", ["old-seq.example.org."])
    theirs = rrset(RECORD, "CNAME", ["their-seq.example.org."], 300)
    dns.other_writer = theirs  # lands between our read and our change
    with pytest.raises(EndpointSwitchFailed, match="changed by someone else") as failed:
        endpoint(dns).point("http://new-seq.example.org:8545")
    assert "HTTP 412" in str(failed.value) and "their-seq.example.org" in str(failed.value)
    assert dns.get(DNS_ZONE, RECORD, "CNAME") == theirs
    assert dns.changes == {}


def test_a_record_created_by_someone_else_meanwhile_is_not_overwritten(dns):
    theirs = rrset(RECORD, "CNAME", ["their-seq.example.org."], 300)
    dns.other_writer = theirs  # we read no record; they create one before our change
    with pytest.raises(EndpointSwitchFailed, match=r"changed by someone else.*HTTP 409"):
        endpoint(dns).point("http://new-seq.example.org:8545")
    assert dns.get(DNS_ZONE, RECORD, "CNAME") == theirs


def test_a_change_that_never_completes_fails_after_the_timeout_naming_the_change(dns):
    dns.put(DNS_ZONE, RECORD, "CNAME", ["old-seq.example.org."])
    dns.pending_forever = True
    slept: list[float] = []
    with pytest.raises(EndpointSwitchFailed, match="may already be changed") as failed:
        endpoint(dns, timeout_s=10, sleep=slept.append).point("http://new-seq.example.org:8545")
    [change_id] = dns.changes
    assert f"change {change_id} " in str(failed.value) and "still pending" in str(failed.value)
    assert sum(slept) == pytest.approx(10)
    assert len(dns.calls_to("GET", f"/changes/{change_id}")) >= 5  # polled, not given up at once


def test_pointing_where_it_already_points_makes_no_change(dns):
    dns.put(DNS_ZONE, RECORD, "CNAME", ["new-seq.example.org."])
    endpoint(dns).point("http://NEW-seq.example.org:8545")
    assert dns.changes == {}


def test_a_record_set_with_a_routing_policy_is_left_alone(dns):
    dns.records[(DNS_ZONE, RECORD, "A")] = {"kind": "dns#resourceRecordSet", "name": RECORD, "type": "A",
                                            "ttl": 60, "routingPolicy": {"geo": {"items": []}}}
    with pytest.raises(EndpointSwitchFailed, match="not a plain record set"):
        endpoint(dns, record_type="A").point(RPC)
    assert dns.changes == {}

def test_dns_forbidden_is_a_permission_error_naming_the_permission(dns):
    dns.forbidden = True
    switch = endpoint(dns)
    with pytest.raises(EndpointSwitchFailed, match=r"permission denied \(HTTP 403\).*dns\.resourceRecordSets\.get"):
        switch.current()


def test_an_unknown_zone_is_an_endpoint_switch_failure_not_a_requests_error(dns):
    switch = CloudDnsEndpoint(PROJECT, "no-such-zone", RECORD, session=requests.Session(), base_url=dns.base_url,
                              sleep=no_sleep)
    with pytest.raises(EndpointSwitchFailed, match=r"HTTP 404.*no-such-zone"):
        switch.point("http://new-seq.example.org:8545")


@pytest.mark.parametrize(("kind", "url", "why"), [
    ("CNAME", "http://10.0.0.7:8545", "host name"),
    ("CNAME", "http://sequencer.example.org:8545", "to itself"),
    ("A", "http://[fd00::7]:8545", "IPv4 literal"),
    ("CNAME", "http://:8545", "no host"),
])
def test_urls_a_record_type_cannot_hold_are_refused_before_any_call(kind, url, why):
    switch = CloudDnsEndpoint(PROJECT, DNS_ZONE, RECORD, record_type=kind, session=object())
    with pytest.raises(ValueError, match=why):
        switch.point(url)


class Raising:
    """A session whose transport fails with a message that carries a token."""

    def request(self, *args, **kwargs):
        raise requests.ConnectionError("refused; sent Authorization: Bearer ya29.a0AfH6SMsecret-token")


def test_transport_errors_are_typed_and_never_carry_a_token():
    switch = CloudDnsEndpoint(PROJECT, DNS_ZONE, RECORD, session=Raising(), sleep=no_sleep)
    with pytest.raises(EndpointSwitchFailed, match="ConnectionError") as failed:
        switch.current()
    assert "ya29" not in str(failed.value) and "secret" not in str(failed.value)
    launcher = GceDiskLauncher(PROJECT, ZONE, REPLACEMENT, DEVICE, RPC, session=Raising(), sleep=no_sleep)
    with pytest.raises(LaunchRefused, match="ConnectionError") as refused:
        launcher.launch(SnapshotRecord("opwatch-devnet-42-1700000000", "devnet", 42, 1.7e9, verified=True), None)
    assert "ya29" not in str(refused.value) and "secret" not in str(refused.value)


# --- Compute Engine disk launcher ----------------------------------------------------------------

class Head:
    def dump(self) -> tuple[bytes, int]:
        return b"", 42

    def head(self) -> tuple[int, str]:  # what a disk snapshot asks the node (standard JSON-RPC)
        return 42, "0x" + "00" * 32


@pytest.fixture
def compute():
    standin = ComputeStandIn.start(project=PROJECT, zone=ZONE, disks={"seq-data": 200})
    yield standin
    standin.stop()


@pytest.fixture
def snapshot(compute) -> SnapshotRecord:
    snaps = PersistentDiskSnapshots(PROJECT, ZONE, "seq-data", session=requests.Session(),
                                    base_url=compute.base_url, sleep=no_sleep)
    return snaps.create("devnet", Head(), 1_700_000_000)


def launcher(compute: ComputeStandIn, instance: str = REPLACEMENT, **kwargs) -> GceDiskLauncher:
    kwargs.setdefault("sleep", no_sleep)
    return GceDiskLauncher(PROJECT, ZONE, instance, DEVICE, RPC, session=requests.Session(),
                           base_url=compute.base_url, **kwargs)


def restored(compute: ComputeStandIn, snapshot: SnapshotRecord) -> list[str]:
    return [d.name for d in compute.disk_resources.values() if d.source_snapshot == snapshot.id]


def test_launch_attaches_a_disk_from_the_snapshot_and_starts_the_instance(compute, snapshot):
    assert snapshot.verified and snapshot.block == 42
    compute.add_instance(REPLACEMENT)
    compute.disk_restoring_polls, compute.operation_running_waits, compute.staging_polls = 2, 1, 2
    assert launcher(compute).launch(snapshot, provider=None) == RPC
    [disk] = restored(compute, snapshot)
    stored = compute.disk_resources[disk]
    assert disk.startswith(snapshot.id + "-") and len(disk) <= 63
    assert stored.disk_type == "pd-ssd" and stored.size_gb == 200
    assert stored.labels == {"opwatch-restored-from": snapshot.id, "opwatch-network": "devnet", "opwatch-block": "42"}
    instance = compute.instances[REPLACEMENT]
    assert [(a.device_name, a.disk, a.mode) for a in instance.attachments if not a.boot] == \
        [(DEVICE, disk, "READ_WRITE")]
    assert instance.status == "RUNNING"
    # Every mutating call carried a requestId, and the instance was polled through STAGING.
    for suffix in ("/disks", "/attachDisk", "/start"):
        [(_, _, query)] = compute.calls_to("POST", suffix)
        assert query.get("requestId")
    assert len(compute.calls_to("GET", f"/instances/{REPLACEMENT}")) >= 4  # preflight, re-check, STAGING x2, RUNNING


def test_a_running_instance_is_refused_and_no_disk_is_created(compute, snapshot):
    compute.add_instance(REPLACEMENT, status="RUNNING")
    count = len(compute.disks)
    with pytest.raises(LaunchRefused, match="RUNNING, not TERMINATED"):
        launcher(compute).launch(snapshot, None)
    assert len(compute.disks) == count and not compute.calls_to("POST", "/disks")


@pytest.mark.parametrize("status", ["STAGING", "PROVISIONING", "SUSPENDED", "STOPPING"])
def test_any_status_but_terminated_is_refused(compute, snapshot, status):
    compute.add_instance(REPLACEMENT, status=status).staging_left = 10**6  # STAGING stays STAGING
    with pytest.raises(LaunchRefused, match=f"{status}, not TERMINATED"):
        launcher(compute).launch(snapshot, None)
    assert restored(compute, snapshot) == []


def test_a_device_already_in_use_is_refused(compute, snapshot):
    compute.add_instance(REPLACEMENT)
    compute.disks["old-restore"] = 200
    compute.attach(REPLACEMENT, "old-restore", DEVICE)
    count = len(compute.disks)
    with pytest.raises(LaunchRefused, match="old-restore"):
        launcher(compute).launch(snapshot, None)
    assert len(compute.disks) == count and compute.instances[REPLACEMENT].status == "TERMINATED"


@pytest.mark.parametrize("record", [
    SnapshotRecord("snapshots/devnet/000000000042-1700000000.state.gz", "devnet", 42, 1.7e9, verified=True),
    SnapshotRecord("snap-0123456789abcdef0", "devnet", 42, 1.7e9, verified=True),
], ids=["archive", "ebs"])
def test_a_snapshot_that_is_not_a_persistent_disk_snapshot_is_refused(compute, record):
    compute.add_instance(REPLACEMENT)
    with pytest.raises(LaunchRefused, match="not a persistent-disk snapshot"):
        launcher(compute).launch(record, None)
    assert compute.calls == []


def test_an_unverified_snapshot_is_refused(compute, snapshot):
    compute.add_instance(REPLACEMENT)
    unverified = SnapshotRecord(snapshot.id, snapshot.network, snapshot.block, snapshot.taken_at, verified=False)
    with pytest.raises(LaunchRefused, match="not verified"):
        launcher(compute).launch(unverified, None)
    assert restored(compute, snapshot) == []


@pytest.mark.parametrize("failure", ["answer", "operation"])
def test_a_failure_at_attach_deletes_the_disk_and_leaves_the_instance_terminated(compute, snapshot, failure):
    compute.add_instance(REPLACEMENT)
    if failure == "answer":
        compute.faults["attach_disk"] = 503
    else:
        compute.operation_errors["attachDisk"] = ("RESOURCE_NOT_READY", "injected: the disk is not ready")
    with pytest.raises(LaunchFailed, match="503" if failure == "answer" else "RESOURCE_NOT_READY") as failed:
        launcher(compute).launch(snapshot, None)
    assert failed.value.volume_id and failed.value.volume_id.startswith(snapshot.id)
    assert failed.value.volume == "deleted" and failed.value.instance_state == "TERMINATED"
    assert f"cleaned up; now: disk {failed.value.volume_id} deleted" in str(failed.value)
    assert restored(compute, snapshot) == []
    assert compute.instances[REPLACEMENT].status == "TERMINATED"
    assert not compute.calls_to("POST", "/start")


def test_a_disk_attached_before_a_later_failure_is_detached_then_deleted(compute, snapshot):
    compute.add_instance(REPLACEMENT)
    compute.faults["start_instance"] = 400  # answered: it did not start
    with pytest.raises(LaunchFailed, match="HTTP 400") as failed:
        launcher(compute).launch(snapshot, None)
    assert failed.value.volume == "deleted" and failed.value.instance_state == "TERMINATED"
    [(_, _, query)] = compute.calls_to("POST", "/detachDisk")
    assert query["deviceName"] == DEVICE
    assert restored(compute, snapshot) == []
    assert [a.device_name for a in compute.instances[REPLACEMENT].attachments] == ["persistent-disk-0"]


def test_a_start_operation_that_ends_in_error_did_not_start_so_it_is_cleaned_up(compute, snapshot):
    compute.add_instance(REPLACEMENT)
    compute.operation_errors["start"] = ("ZONE_RESOURCE_POOL_EXHAUSTED", "injected: no capacity in the zone")
    with pytest.raises(LaunchFailed, match=r"ZONE_RESOURCE_POOL_EXHAUSTED.*cleaned up") as failed:
        launcher(compute).launch(snapshot, None)
    assert failed.value.volume == "deleted" and failed.value.instance_state == "TERMINATED"
    assert restored(compute, snapshot) == []


def test_a_disk_insert_operation_that_ends_in_error_leaves_nothing(compute, snapshot):
    compute.add_instance(REPLACEMENT)
    compute.operation_errors["insert"] = ("QUOTA_EXCEEDED", "injected: Quota 'SSD_TOTAL_GB' exceeded")
    with pytest.raises(LaunchFailed, match=r"QUOTA_EXCEEDED.*never created") as failed:
        launcher(compute).launch(snapshot, None)
    assert failed.value.volume == "none" and failed.value.instance_state == "TERMINATED"
    assert restored(compute, snapshot) == [] and not compute.calls_to("POST", "/attachDisk")

def test_a_failure_after_start_leaves_everything_and_says_so(compute, snapshot):
    compute.add_instance(REPLACEMENT)
    compute.staging_polls = 10**6  # never RUNNING
    with pytest.raises(LaunchFailed, match="left as is") as failed:
        launcher(compute, timeout_s=60).launch(snapshot, None)
    assert "not RUNNING after 60 s" in str(failed.value)
    assert failed.value.volume == f"attached at {DEVICE}" and failed.value.instance_state == "STAGING"
    [disk] = restored(compute, snapshot)
    assert compute.users_of(disk) == [REPLACEMENT] and compute.instances[REPLACEMENT].status == "STAGING"
    assert not compute.calls_to("POST", "/detachDisk") and not compute.calls_to("DELETE", f"/disks/{disk}")


def test_someone_starting_the_instance_meanwhile_is_not_our_start(compute, snapshot):
    instance = compute.add_instance(REPLACEMENT)
    compute.operation_running_waits = 1

    class StartsItDuringAttach(requests.Session):
        def request(self, method, url, *args, **kwargs):
            reply = super().request(method, url, *args, **kwargs)
            if url.endswith("/attachDisk"):
                instance.status = "RUNNING"  # an operator started it by hand
            return reply

    slow = GceDiskLauncher(PROJECT, ZONE, REPLACEMENT, DEVICE, RPC, session=StartsItDuringAttach(),
                           base_url=compute.base_url, sleep=no_sleep)
    with pytest.raises(LaunchFailed, match=r"became RUNNING while the disk attached.*left as is") as failed:
        slow.launch(snapshot, None)
    assert failed.value.volume == f"attached at {DEVICE}"
    assert not compute.calls_to("POST", "/start") and not compute.calls_to("POST", "/detachDisk")


def test_compute_forbidden_is_a_permission_error_naming_the_permission(compute, snapshot):
    compute.add_instance(REPLACEMENT)
    compute.forbidden = True
    with pytest.raises(LaunchRefused, match=r"permission denied \(HTTP 403\).*compute\.instances\.get"):
        launcher(compute).launch(snapshot, None)


def test_a_denied_disk_create_creates_nothing_and_names_the_permission(compute, snapshot):
    compute.add_instance(REPLACEMENT)
    compute.denied = {"compute.snapshots.useReadOnly"}
    with pytest.raises(LaunchFailed, match=r"permission denied.*compute\.disks\.create") as failed:
        launcher(compute).launch(snapshot, None)
    assert failed.value.volume_id is None and failed.value.volume == "none"
    assert "no disk was created" in str(failed.value) and restored(compute, snapshot) == []


def test_a_denied_attach_cleans_up_and_names_the_permission(compute, snapshot):
    compute.add_instance(REPLACEMENT)
    compute.denied = {"compute.disks.use"}
    with pytest.raises(LaunchFailed, match=r"permission denied.*compute\.instances\.attachDisk and "
                                           r"compute\.disks\.use.*cleaned up") as failed:
        launcher(compute).launch(snapshot, None)
    assert failed.value.volume == "deleted" and restored(compute, snapshot) == []


def test_the_permission_tuples_cover_every_call(compute, snapshot):
    from gce_standin import _ALSO_NEEDS, _PERMISSION

    handlers = ("insert_disk", "get_disk", "delete_disk", "get_instance", "attach_disk", "detach_disk",
                "start_instance", "wait_zone_operation")
    needed = {_PERMISSION[h] for h in handlers} | {p for h in handlers for p in _ALSO_NEEDS.get(h, ())}
    assert needed == set(GCE_LAUNCHER_PERMISSIONS)
    assert {"dns.resourceRecordSets.get", "dns.changes.create", "dns.changes.get"} <= set(CLOUD_DNS_PERMISSIONS)
    assert len(set(GCE_LAUNCHER_PERMISSIONS)) == len(GCE_LAUNCHER_PERMISSIONS)
