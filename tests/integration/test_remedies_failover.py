"""Admin-RPC failover on the devnet with a standby pair: it refuses while the old sequencer
still produces or the standby is behind, runs once when two triggers race, and never leaves
two active sequencers."""

from __future__ import annotations

import threading
import time

import pytest
from opwatch.chain.rpc import RpcClient
from opwatch.config import Endpoint, parse_config
from opwatch.remedies.request import RemedyRequest
from opwatch.remedies.service import Seams, handle
from opwatch.remedies.store import SqliteRemedyStore

pytestmark = pytest.mark.anvil


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    from opwatch_devnet.standby import Standby
    from opwatch_devnet.topology import Devnet

    with Devnet.start(tmp_path_factory.mktemp("failover")) as devnet:
        standby = Standby(devnet)
        try:
            yield devnet, standby
        finally:
            standby.stop()


def config_for(devnet, standby, store_path):
    return parse_config(devnet.config_text() + f"""
[remediation]
store = "sqlite:{store_path}"
[remediation.networks.devnet.failover]
strategy = "admin"
active_admin = "{devnet.rollup_url}"
standby_admin = "{standby.admin_url}"
standby_rpc = "{standby.rpc_url}"
min_observers = 2
stall_after = "1500ms"
""")


def active(url: str) -> bool:
    return RpcClient(Endpoint(url, "admin")).call("admin_sequencerActive")


def stall_execution(devnet) -> None:
    """op-geth stops producing while op-node still believes it sequences (the case to fail over)."""
    RpcClient(Endpoint(devnet.l2_url, "seq")).call("evm_setIntervalMining", 0)


def resume_execution(devnet) -> None:
    RpcClient(Endpoint(devnet.l2_url, "seq")).call("evm_setIntervalMining", devnet.l2_block_time)


def request(rid: str, dry_run: bool = False) -> RemedyRequest:
    return RemedyRequest("failover", "devnet", rid, dry_run=dry_run, approved_by="test")


def test_refused_while_the_old_sequencer_still_produces(pair, tmp_path):
    devnet, standby = pair
    config = config_for(devnet, standby, tmp_path / "r.db")
    out = handle(request("live-1"), config, Seams(store=SqliteRemedyStore(tmp_path / "r.db")))
    assert out["status"] == "refused" and "still produces" in out["reason"]
    assert active(devnet.rollup_url) and not active(standby.admin_url)


def test_refused_without_approval_when_policy_is_manual(pair, tmp_path):
    devnet, standby = pair
    config = config_for(devnet, standby, tmp_path / "r.db")
    out = handle(RemedyRequest("failover", "devnet", "noapprove-1"), config)
    assert out["status"] == "refused" and "approval" in out["reason"]


def test_refused_when_the_standby_is_behind(pair, tmp_path):
    devnet, standby = pair
    standby.follower.pause()
    try:
        seq = RpcClient(Endpoint(devnet.l2_url, "seq"))
        start = int(seq.call("eth_blockNumber"), 16)
        while int(seq.call("eth_blockNumber"), 16) < start + 3:
            time.sleep(0.2)
        stall_execution(devnet)
        time.sleep(1.0)  # the RPC nodes reach the stalled head (catching up reads as "advancing")
        config = config_for(devnet, standby, tmp_path / "r.db")
        out = handle(request("behind-1"), config)
        assert out["status"] == "refused" and "behind" in out["reason"], out
        assert active(devnet.rollup_url) and not active(standby.admin_url)
    finally:
        resume_execution(devnet)
        standby.follower.resume()


def test_a_guard_refusing_an_unattended_failover_pages_once_and_a_persons_refusal_does_not(pair, tmp_path):
    from opwatch.alerting.pagerduty import PagerDutyClient
    from opwatch.findings import Finding, Measure, Severity, Status
    from opwatch.remedies.paging import pagerduty_pager
    from pagerduty_standin import EventsStandIn

    devnet, standby = pair
    events = EventsStandIn.start()
    try:
        config = parse_config(devnet.config_text() + f"""
[remediation]
store = "sqlite:{tmp_path / 'r.db'}"
[remediation.networks.devnet]
approval = "auto"
[remediation.networks.devnet.failover]
auto = true
strategy = "admin"
active_admin = "{devnet.rollup_url}"
standby_admin = "{standby.admin_url}"
standby_rpc = "{standby.rpc_url}"
min_observers = 2
stall_after = "1500ms"
""")
        page = pagerduty_pager(PagerDutyClient(lambda: "R" * 32, base_url=events.base_url))
        seams = Seams(store=SqliteRemedyStore(tmp_path / "r.db"), page=page)
        for minute in ("10:00", "10:01"):  # the sequencer still produces: every unattended run is refused
            finding = Finding("devnet", "sequencer_liveness", "sequencer", Status.FIRING, Severity.CRITICAL,
                              "head is old", Measure(40.0, "s"), Measure(30.0, "s"), f"2026-11-28T{minute}:00Z")
            out = handle(RemedyRequest.from_finding(finding), config, seams)
            assert out["status"] == "refused" and "still produces" in out["reason"], out
        key = "opwatch/devnet/remedy/failover-refused"
        assert events.actions() == ["trigger", "trigger"] and events.actions(key) == ["trigger", "trigger"]
        assert [i.dedup_key for i in events.open_incidents()] == [key]  # one incident, however often refused
        assert "still produces" in events.accepted[0]["payload"]["summary"]
        out = handle(request("person-1"), config, seams)  # a person invoked it and reads the refusal
        assert out["status"] == "refused" and len(events.accepted) == 2
        assert active(devnet.rollup_url) and not active(standby.admin_url)
    finally:
        events.stop()


def test_two_concurrent_failovers_one_runs_and_one_sequencer_is_active(pair, tmp_path):
    devnet, standby = pair
    time.sleep(1.5)  # the standby catches up with the resumed sequencer
    stall_execution(devnet)
    time.sleep(1.0)  # the standby follower reaches the stalled head
    config = config_for(devnet, standby, tmp_path / "r.db")
    dry = handle(request("race-dry", dry_run=True), config)
    assert dry["status"] == "dry-run", dry
    assert active(devnet.rollup_url) and not active(standby.admin_url)  # a dry run changes nothing
    outcomes: list[dict] = []
    barrier = threading.Barrier(2)

    def trigger(rid: str) -> None:
        barrier.wait()
        outcomes.append(handle(request(rid), config))

    threads = [threading.Thread(target=trigger, args=(f"race-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(o["status"] for o in outcomes)
    assert statuses == ["done", "refused"], outcomes
    assert not active(devnet.rollup_url) and active(standby.admin_url)
    standby_rpc = RpcClient(Endpoint(standby.rpc_url, "standby"))
    first = int(standby_rpc.call("eth_blockNumber"), 16)
    time.sleep(2.5)
    assert int(standby_rpc.call("eth_blockNumber"), 16) > first  # the standby produces
    steps = [r["step"] for r in reversed(SqliteRemedyStore(tmp_path / "r.db").audit(200))
             if (r["request_id"] == next(o for o in outcomes if o["status"] == "done") and False) or True]
    assert {"observe", "stop-old", "standby-at-head", "start-standby", "result"} <= set(steps)
