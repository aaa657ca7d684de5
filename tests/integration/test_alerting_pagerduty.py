"""The PagerDuty client and sink over real HTTP against the Events v2 stand-in."""

from __future__ import annotations

import pytest
from alerting_fixtures import Clock, RecordingSink, finding
from opwatch.alerting import AlertManager, AlertPolicy, Kind, SqliteStore
from opwatch.alerting.model import Notification
from opwatch.alerting.pagerduty import PagerDutyClient, PagerDutySink, event_for
from opwatch.alerting.sinks import DeliveryError
from pagerduty_standin import EventsStandIn

ROUTING_KEY = "R0UT1NGKEY0000000000000000000000"


@pytest.fixture
def standin():
    server = EventsStandIn.start()
    yield server
    server.stop()


def client(standin, sleeps=None, **kw):
    return PagerDutyClient(lambda: ROUTING_KEY, base_url=standin.base_url,
                           sleep=(sleeps.append if sleeps is not None else lambda _s: None), **kw)


def note(**kw):
    base = dict(action="trigger", dedup_key="opwatch/mainnet/rpc_sync/node-a", severity="critical",
                summary="x" * 5000, network="mainnet", check="rpc_sync", target="node-a",
                runbook="docs/runbooks/rpc_sync.md", timestamp="2024-05-01T12:00:00Z", observed="12 blocks")
    return Notification(**(base | kw))


def test_trigger_and_resolve_pass_the_documented_schema(standin):
    sink = PagerDutySink(client(standin), runbook_url=AlertPolicy(runbook_base_url="https://git.example/opwatch/blob/main").runbook_url)
    sink.send(note())
    sink.send(note(action="resolve"))
    trigger, resolve = standin.accepted
    assert trigger["routing_key"] == ROUTING_KEY and len(trigger["payload"]["summary"]) == 1024
    assert trigger["payload"]["class"] == "rpc_sync" and trigger["payload"]["group"] == "mainnet"
    assert trigger["links"] == [{"href": "https://git.example/opwatch/blob/main/docs/runbooks/rpc_sync.md",
                                 "text": "runbook: rpc_sync"}]
    assert resolve == {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": trigger["dedup_key"]}
    assert standin.open_incidents() == []


def test_429_and_5xx_are_retried_with_backoff_honouring_retry_after(standin):
    sleeps: list[float] = []
    standin.fail_next(429, retry_after="3")
    standin.fail_next(500)
    standin.fail_next(503)
    client(standin, sleeps, backoff=0.5).enqueue(event_for(note(), "r"))
    assert standin.requests == 4 and standin.actions() == ["trigger"]
    assert sleeps == [3.0, 1.0, 2.0]


def test_400_is_final_never_retried(standin):
    standin.fail_next(400)
    with pytest.raises(DeliveryError) as info:
        client(standin).enqueue(event_for(note(), "r"))
    assert not info.value.retryable and standin.requests == 1


def test_an_invalid_event_is_refused_by_the_standin_and_the_key_never_leaks(standin):
    with pytest.raises(DeliveryError) as info:
        client(standin).enqueue({"event_action": "trigger", "dedup_key": "k", "payload": {"summary": "s"}})
    assert "payload.source" in str(info.value) and ROUTING_KEY not in str(info.value)
    assert ROUTING_KEY not in repr(client(standin))


def test_persistent_5xx_gives_up_as_retryable(standin):
    standin.fail_next(502, times=4)
    with pytest.raises(DeliveryError) as info:
        client(standin, attempts=4).enqueue(event_for(note(), "r"))
    assert info.value.retryable and standin.requests == 4


def test_an_undeliverable_page_is_dead_lettered_and_raises_its_own_alarm(standin, tmp_path):
    store, chat = SqliteStore(tmp_path / "a.db"), RecordingSink("chat")
    manager = AlertManager(store, [PagerDutySink(client(standin, attempts=2)), chat], AlertPolicy(), Clock())
    standin.fail_next(500, times=2)
    transitions = manager.process([finding("firing", 0)])
    assert [t.kind for t in transitions][-1] == Kind.UNDELIVERABLE
    [letter] = store.dead_letters()
    assert letter.action == "trigger" and not letter.final and ROUTING_KEY not in str(letter.to_dict())
    assert [n.check for n in chat.sent] == ["opwatch_paging"]
    manager.process([finding("firing", 60)])  # PagerDuty is back: the owed trigger goes out
    assert standin.actions() == ["trigger"] and len(standin.open_incidents()) == 1


def test_the_aws_and_the_gcp_watchdog_make_one_incident_and_resolve_it_once(standin, tmp_path):
    # Two deployments, each with its own store, paging the same routing key.
    clouds = [AlertManager(SqliteStore(tmp_path / f"{name}.db"), [PagerDutySink(client(standin))], AlertPolicy(),
                           Clock()) for name in ("aws", "gcp")]
    for t, status in [(0, "firing"), (60, "firing"), (120, "ok"), (180, "ok"), (240, "ok")]:
        for offset, cloud in enumerate(clouds):
            cloud.process([finding(status, t + offset * 7)])
    assert len(standin.incidents) == 1 and standin.open_incidents() == []
    assert {e["dedup_key"] for e in standin.accepted} == {"opwatch/mainnet/sequencer_liveness/sequencer"}
