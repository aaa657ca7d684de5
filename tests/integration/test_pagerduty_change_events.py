"""PagerDuty change events (`POST /v2/change/enqueue`) against the Events v2 stand-in, which
validates their documented shape: one per remedy that acted (a real snapshot of anvil's state
into S3 on a moto server, through the remedy service), none for refusals or dry runs, a
delivery failure never failing the remedy; and the deploy hook."""

from __future__ import annotations

import pytest
from opwatch import compose
from opwatch.alerting.changes import main
from opwatch.alerting.pagerduty import PagerDutyClient
from opwatch.alerting.sinks import DeliveryError
from opwatch.chain.rpc import RpcClient
from opwatch.config import Endpoint
from pagerduty_standin import EventsStandIn
from remedies_fixtures import L1_CHAIN_ID, aws_client, config_text, load, start_moto

pytestmark = pytest.mark.anvil
ROUTING_KEY = "R0UT1NGKEY0000000000000000000000"


@pytest.fixture
def events():
    server = EventsStandIn.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def moto():
    server, endpoint = start_moto()
    yield endpoint
    server.stop()


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    from opwatch_devnet.anvil import AnvilProcess

    with AnvilProcess.start("l1", tmp_path_factory.mktemp("chg"), ["--chain-id", str(L1_CHAIN_ID)]) as proc:
        for _ in range(3):
            RpcClient(Endpoint(proc.url, "anvil")).call("evm_mine")
        yield proc.url


def test_the_stand_in_holds_change_events_to_their_documented_shape(events):
    client = PagerDutyClient(lambda: ROUTING_KEY, base_url=events.base_url, path="/v2/change/enqueue")
    client.enqueue({"payload": {"summary": "deployed", "source": "ci", "timestamp": "2026-01-01T00:00:00Z"}})
    with pytest.raises(DeliveryError) as info:
        client.enqueue({"payload": {"source": "ci"}, "event_action": "trigger"})
    assert not info.value.retryable and "summary" in str(info.value) and "event_action" in str(info.value)
    assert [c["payload"]["summary"] for c in events.changes] == ["deployed"] and events.accepted == []


def run_snapshot(tmp_path, moto, chain, events, *, dry_run=False, approved_by="alice", request_id="ops-1"):
    from opwatch.cli.compose import registry as local_registry
    from opwatch.remedies.request import RemedyRequest
    from opwatch.remedies.service import Seams, handle
    from opwatch.remedies.store import SqliteRemedyStore

    bucket = "chg-" + request_id
    aws_client("s3", moto).create_bucket(Bucket=bucket)
    section = f'[remediation.networks.devnet.snapshot]\nprovider = "s3"\nbucket = "{bucket}"\nendpoint_url = "{moto}"\n'
    seams = Seams(registry=local_registry(), store=SqliteRemedyStore(tmp_path / "r.db"),
                  s3_client=aws_client("s3", moto),
                  listeners=[compose.remedy_changes(lambda: ROUTING_KEY, pagerduty_base_url=events.base_url)])
    request = RemedyRequest("snapshot", "devnet", request_id, approved_by=approved_by, dry_run=dry_run)
    return handle(request, load(config_text(l2_url=chain, remediation=section)), seams)


def test_a_remedy_that_acted_is_one_change_event_in_the_timeline(tmp_path, moto, chain, events):
    out = run_snapshot(tmp_path, moto, chain, events)
    assert out["status"] == "done", out
    [change] = events.changes
    assert change["routing_key"] == ROUTING_KEY and events.accepted == []  # nobody paged
    assert change["payload"]["summary"].startswith("opwatch remedy snapshot on devnet: done")
    assert change["payload"]["source"] == "opwatch/devnet/remedy/snapshot"
    details = change["payload"]["custom_details"]
    assert details["request_id"] == "ops-1" and details["approved_by"] == "alice"
    assert details["snapshot"] == out["snapshot"]["id"]


def test_dry_runs_and_refusals_change_nothing_and_send_nothing(tmp_path, moto, chain, events):
    assert run_snapshot(tmp_path, moto, chain, events, dry_run=True, request_id="ops-2")["status"] == "dry-run"
    refused = run_snapshot(tmp_path, moto, chain, events, approved_by=None, request_id="ops-3")
    assert refused["status"] == "refused", refused
    assert events.changes == []


def test_an_undeliverable_change_event_never_fails_the_remedy(tmp_path, moto, chain, events):
    events.fail_next(503, times=10)
    assert run_snapshot(tmp_path, moto, chain, events, request_id="ops-4")["status"] == "done"
    assert events.changes == [] and events.requests == 2  # two attempts, then logged


def test_the_deploy_hook_sends_a_change_event(events, monkeypatch, capsys):
    monkeypatch.setenv("OPWATCH_SECRET_PAGERDUTY", ROUTING_KEY)
    code = main(["--summary", "opwatch 1.4 deployed to production", "--detail", "version=1.4",
                 "--link", "https://ci.example/run/7", "--base-url", events.base_url])
    assert code == 0
    [change] = events.changes
    assert change["payload"]["custom_details"] == {"version": "1.4"}
    assert change["links"] == [{"href": "https://ci.example/run/7", "text": "details"}]
    monkeypatch.delenv("OPWATCH_SECRET_PAGERDUTY")
    assert main(["--summary", "x", "--base-url", events.base_url]) == 1
    assert "OPWATCH_SECRET_PAGERDUTY" in capsys.readouterr().err


def test_both_clouds_remedy_functions_send_change_events_where_they_hold_the_routing_key(tmp_path, monkeypatch):
    from opwatch.aws import compose as aws
    from opwatch.gcp import compose as gcp

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    config = load(config_text())
    assert len(aws.remedy_seams(config, remedy_table="t", routing_key_secret="opwatch/pd").listeners) == 1
    assert aws.remedy_seams(config, remedy_table="t", routing_key_secret=None).listeners == []
    spec = f"sqlite:{tmp_path / 'r.db'}"
    with_key = gcp.remedy_seams(config, gcp.registry(), remedy_store=spec,
                                routing_key_secret="projects/p/secrets/pd/versions/latest")
    assert len(with_key.listeners) == 1
    assert gcp.remedy_seams(config, gcp.registry(), remedy_store=spec, routing_key_secret=None).listeners == []
