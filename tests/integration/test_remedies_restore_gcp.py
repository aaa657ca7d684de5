"""A restore failover on GCP end to end, through `remedies.service.handle` as the remedy function runs it.

The Compute Engine and Cloud DNS stand-ins (tests/gce_standin.py, tests/clouddns_standin.py: no
emulator of either runs here) hold the disk snapshot, the TERMINATED replacement VM and the
sequencer's record; the replacement's RPC is a real anvil producing a block a second, and the
old sequencer a dead port the observers must agree is stalled. The mirror of
test_remedies_restore_aws.py: done, refused over a running replacement, aborted (and paged)
when the replacement never produces, the record untouched in both failures.
"""

from __future__ import annotations

import pytest
import requests
from clouddns_standin import CloudDnsStandIn
from gce_standin import ComputeStandIn
from opnode_admin_standin import AdminStandIn
from opwatch.cli.compose import registry as local_registry
from opwatch.gcp.gce_disk import PersistentDiskSnapshots
from opwatch.remedies.request import RemedyRequest
from opwatch.remedies.service import Seams, handle
from opwatch.remedies.store import SqliteRemedyStore
from remedies_fixtures import config_text, free_port, load

pytestmark = pytest.mark.anvil

PROJECT, ZONE, DNS_ZONE = "opwatch-test", "europe-west1-b", "l2-internal"
RECORD = "sequencer.l2.example.org."
VM = "seq-standby"


class Head:
    def dump(self) -> tuple[bytes, int]:
        return b"", 0  # the snapshot holds block 0: the replacement must move past it

    def head(self) -> tuple[int, str]:  # what a disk snapshot asks the node (standard JSON-RPC)
        return 0, "0x" + "00" * 32


@pytest.fixture(scope="module")
def replacement(tmp_path_factory):
    from opwatch_devnet.anvil import AnvilProcess

    with AnvilProcess.start("replacement", tmp_path_factory.mktemp("replacement"),
                            ["--chain-id", "901", "--block-time", "1"]) as proc:
        yield proc.port


@pytest.fixture
def gcp():
    compute = ComputeStandIn.start(project=PROJECT, zone=ZONE, disks={"seq-data": 200})
    dns = CloudDnsStandIn.start(project=PROJECT, zones={DNS_ZONE: "l2.example.org."})
    try:
        dns.put(DNS_ZONE, RECORD, "CNAME", ["old-sequencer.internal."])
        compute.add_instance(VM)  # TERMINATED: built, stopped, waiting for a disk
        PersistentDiskSnapshots(PROJECT, ZONE, "seq-data", session=requests.Session(), base_url=compute.base_url,
                                sleep=lambda _: None).create("devnet", Head(), 1_700_000_000)
        yield compute, dns
    finally:
        compute.stop()
        dns.stop()


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


def restore_config(port: int, store: str, wait: str = "30s", *, old: OldSequencer) -> str:
    return config_text(l2_url=old.l2_url, extra_network=old.network_keys, remediation=f"""
[remediation]
store = "sqlite:{store}"
[remediation.networks.devnet]
runs_on = "gcp"
[remediation.networks.devnet.snapshot]
provider = "gce-disk"
project = "{PROJECT}"
zone = "{ZONE}"
disk = "seq-data"
[remediation.networks.devnet.failover]
strategy = "restore"
min_observers = 2
stall_after = "1s"
replacement_instance = "zones/{ZONE}/instances/{VM}"
replacement_rpc = "http://localhost:{port}"
replacement_wait = "{wait}"
dns_zone_id = "{DNS_ZONE}"
dns_record = "{RECORD}"
""")


def run(gcp, text: str, store: SqliteRemedyStore, request_id: str, page=None) -> dict:
    compute, dns = gcp
    seams = Seams(registry=local_registry(), store=store, gce_session=requests.Session(),
                  dns_session=requests.Session(),
                  compute_base_url=compute.base_url, dns_base_url=dns.base_url, page=page, sleep=_fast_sleep)
    request = RemedyRequest(remedy="restore", network="devnet", request_id=request_id, approved_by="oncall")
    return handle(request, load(text), seams)


def _fast_sleep(seconds: float) -> None:
    import time

    time.sleep(min(seconds, 1.0))  # the stall window stays real; the stand-ins' polls need no wait


def record(gcp) -> list[str]:
    return gcp[1].get(DNS_ZONE, RECORD, "CNAME")["rrdatas"]


def test_restore_boots_the_vm_on_a_disk_from_the_snapshot_then_repoints_the_record(gcp, replacement, tmp_path, old):
    compute, _ = gcp
    store = SqliteRemedyStore(tmp_path / "r.db")
    out = run(gcp, restore_config(replacement, str(tmp_path / "r.db"), old=old), store, "drill-1")
    assert out["status"] == "done", out
    assert out["first_head"] > 0
    assert compute.instances[VM].status == "RUNNING"
    [disk] = [d for d in compute.disk_resources.values() if d.source_snapshot == out["snapshot"]]
    assert compute.users_of(disk.name) == [VM]
    assert record(gcp) == ["localhost."]
    steps = [(r["step"], r["outcome"]) for r in reversed(store.audit(50)) if r.get("request_id") == "drill-1"]
    assert [s for s in steps if s[0] in ("fence", "launch", "producing", "repoint", "result")] == [
        ("fence", "ok"), ("launch", "started"), ("launch", "ok"), ("producing", "ok"), ("repoint", "ok"),
        ("result", "done")]
    assert old.admin.active is False  # the old sequencer was fenced before the VM started


def test_a_running_replacement_is_never_started_over_and_the_record_stays(gcp, replacement, tmp_path, old):
    compute, _ = gcp
    compute.instances[VM].status = "RUNNING"  # someone already brought it up
    disks = len(compute.disk_resources)
    out = run(gcp, restore_config(replacement, str(tmp_path / "r.db"), old=old), SqliteRemedyStore(tmp_path / "r.db"),
              "d-2")
    assert out["status"] == "aborted" and f"{VM} is RUNNING, not TERMINATED" in out["reason"], out
    assert "endpoint is unchanged" in out["state"]
    assert len(compute.disk_resources) == disks
    assert record(gcp) == ["old-sequencer.internal."]


def test_a_replacement_that_never_produces_leaves_the_record_alone_and_pages(gcp, tmp_path, old):
    from opwatch.alerting.pagerduty import PagerDutyClient
    from opwatch.remedies.paging import pagerduty_pager
    from pagerduty_standin import EventsStandIn

    events = EventsStandIn.start()
    try:
        page = pagerduty_pager(PagerDutyClient(lambda: "R" * 32, base_url=events.base_url))
        text = restore_config(free_port(), str(tmp_path / "r.db"), wait="2s", old=old)  # its RPC never answers
        out = run(gcp, text, SqliteRemedyStore(tmp_path / "r.db"), "d-3", page)
        assert out["status"] == "aborted" and "produces no blocks" in out["reason"], out
        assert record(gcp) == ["old-sequencer.internal."]
        assert [e["dedup_key"] for e in events.accepted] == ["opwatch/devnet/remedy/failover-aborted"]
    finally:
        events.stop()


def test_a_restore_refuses_when_the_old_sequencer_cannot_be_fenced(gcp, replacement, tmp_path):
    compute, _ = gcp
    old = OldSequencer(admin_reachable=False)
    try:
        disks = len(compute.disk_resources)
        out = run(gcp, restore_config(replacement, str(tmp_path / "r.db"), old=old),
                  SqliteRemedyStore(tmp_path / "r.db"), "d-4")
        assert out["status"] == "refused" and "not fenced" in out["reason"], out
        assert compute.instances[VM].status == "TERMINATED" and len(compute.disk_resources) == disks
        assert record(gcp) == ["old-sequencer.internal."]
    finally:
        old.stop()
