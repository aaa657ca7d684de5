"""URLs with credentials never leave a remedy: not in the audit records, the outcome, the log
or the page.

A restore whose replacement RPC URL carries an API key in its userinfo, path and query runs
through `Failover.run` with real HTTP: the replacement and the observers are JSON-RPC stand-ins
on loopback (tests/opnode_admin_standin.py), the page goes through the real PagerDuty client
to the Events API stand-in. The launcher and the endpoint switch are the small in-test seams
`RestoreStrategy` takes; the switch fails the way a provider library does, quoting the URL it
was given, which must not reach a person either.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from opnode_admin_standin import AdminStandIn
from opwatch.alerting.pagerduty import PagerDutyClient
from opwatch.chain.rpc import RpcClient
from opwatch.config import Endpoint
from opwatch.remedies.failover import AdminFence, Failover, Observer, RestoreStrategy
from opwatch.remedies.paging import pagerduty_pager
from opwatch.remedies.policy import FailoverPolicy, NetworkRemedies
from opwatch.remedies.request import RemedyRequest
from opwatch.remedies.snapshot import SnapshotRecord
from opwatch.remedies.store import SqliteRemedyStore
from pagerduty_standin import EventsStandIn

SECRETS = ("s3cr3t-user", "s3cr3t-pass", "PATHKEY0123456789", "QUERYKEY0123456789")


def keyed(url: str) -> str:
    host = url.removeprefix("http://")
    return f"http://{SECRETS[0]}:{SECRETS[1]}@{host}/v2/{SECRETS[2]}?apikey={SECRETS[3]}"


class Provider:
    def __init__(self) -> None:
        self.record = SnapshotRecord("snap-0123456789abcdef0", "devnet", 50, 0.0, verified=True)

    def newest_good(self, network: str) -> SnapshotRecord:
        return self.record


class Launcher:
    def __init__(self, url: str) -> None:
        self.url = url

    def launch(self, snapshot: Any, provider: Any) -> str:
        return self.url


class Switch:
    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.pointed: list[str] = []

    def current(self) -> str | None:
        return "old.sequencer.internal"

    def point(self, url: str) -> None:
        if self.fail:
            raise RuntimeError(f"cannot resolve {url}: upstream said no")
        self.pointed.append(url)


@pytest.fixture
def nodes():
    seq, rpc, replacement = (AdminStandIn(False, "0x" + "11" * 32, n) for n in (40, 40, 100))
    yield seq, rpc, replacement
    for n in (seq, rpc, replacement):
        n.stop()


def failover(nodes, tmp_path, fail: bool, page: Any = None) -> tuple[Failover, SqliteRemedyStore]:
    seq, rpc, replacement = nodes
    store = SqliteRemedyStore(tmp_path / "r.db")
    policy = NetworkRemedies(failover=FailoverPolicy(strategy="restore", stall_after_s=0.2, min_observers=2))
    strategy = RestoreStrategy(Provider(), "devnet", Launcher(keyed(replacement.url)),
                               lambda url: RpcClient(Endpoint(url, "replacement"), retries=0),
                               endpoint=Switch(fail), wait_s=5.0, sleep=lambda _s: None,
                               fence=AdminFence(RpcClient(Endpoint(seq.url, "old-op-node"))))
    observers = [Observer("sequencer", RpcClient(Endpoint(seq.url, "sequencer")), is_sequencer=True),
                 Observer("rpc-0", RpcClient(Endpoint(rpc.url, "rpc-0")))]
    return Failover("devnet", policy, store, strategy, observers, page=page), store


def leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def test_a_restore_records_no_credential_of_the_replacement_url(nodes, tmp_path, caplog) -> None:
    f, store = failover(nodes, tmp_path, fail=False)
    with caplog.at_level(logging.INFO, logger="opwatch.remedies"):
        out = f.run(RemedyRequest("restore", "devnet", "redact-1", approved_by="test"))
    assert out.status == "done", out
    assert f.strategy.endpoint.pointed == [keyed(nodes[2].url)]  # the switch itself gets the real URL
    records = json.dumps(store.audit(100))
    assert "repoint" in records
    assert leaks(records) == [] and leaks(json.dumps(out.details) + out.reason) == []
    assert leaks(caplog.text) == []


def test_a_failed_repoint_pages_and_records_no_credential(nodes, tmp_path, caplog) -> None:
    events = EventsStandIn.start()
    try:
        page = pagerduty_pager(PagerDutyClient(lambda: "R" * 32, base_url=events.base_url))
        f, store = failover(nodes, tmp_path, fail=True, page=page)
        with caplog.at_level(logging.INFO, logger="opwatch.remedies"):
            out = f.run(RemedyRequest("restore", "devnet", "redact-2", approved_by="test"))
        assert out.status == "aborted" and "repointing" in out.reason, out
        assert len(events.accepted) == 1
        body = json.dumps(events.accepted[0])
        assert "cannot resolve" in body  # the page says what failed ...
        assert leaks(body) == []  # ... without the credentials
        assert leaks(out.reason + json.dumps(out.details)) == []
        assert leaks(json.dumps(store.audit(100))) == [] and leaks(caplog.text) == []
    finally:
        events.stop()


def test_a_page_built_elsewhere_is_redacted_by_the_pager(tmp_path) -> None:
    """The pager is the last line: whatever a remedy hands it, no URL credential is sent."""
    events = EventsStandIn.start()
    try:
        page = pagerduty_pager(PagerDutyClient(lambda: "R" * 32, base_url=events.base_url))
        url = keyed("http://127.0.0.1:8545")
        page(f"[devnet] restore aborted at {url}", {"network": "devnet", "remedy": "failover", "outcome": "aborted",
                                                    "after": url, "steps": [{"url": url}]})
        body = json.dumps(events.accepted[0])
        assert "127.0.0.1:8545" in body and leaks(body) == []
    finally:
        events.stop()
