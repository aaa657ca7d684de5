"""The Lambda functions as `cdk deploy` ships them (handler, environment and bundled config
from the synthesized template and asset) against moto server, the devnet and the PagerDuty
stand-in. See aws_deployed.py for what the harness resolves and the one thing it adds
(where AWS and PagerDuty are)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest

pytestmark = pytest.mark.anvil

KEY = "opwatch/devnet/sequencer_liveness/sequencer"
WINDOW_S = 40.0  # the fast lane's window in this invocation: time for a halt and a recovery




def provision(aws_synth, moto, monkeypatch, endpoints: dict[str, str]):  # type: ignore[no-untyped-def]
    """The synthesized deployment on moto, its imported rpc_endpoints secret holding `endpoints`
    (name -> keyed URL), its created secrets a routing key and the funder's test key."""
    import boto3
    from aws_deployed import REGION, AwsDeployment
    from conftest import FUNDER_TEST_KEY

    for name, value in {"AWS_ENDPOINT_URL": moto, "AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "POWERTOOLS_TRACE_DISABLED": "true"}.items():
        monkeypatch.setenv(name, value)
    template, outdir = aws_synth
    d = AwsDeployment(template, outdir, lambda s: boto3.client(s, endpoint_url=moto, region_name=REGION))
    d.provision({"opwatch/rpc-endpoints-AbCdEf": json.dumps(endpoints),
                 d.logical_id("SecretsPagerDutyRoutingKey"): "R" * 32,
                 d.logical_id("SecretsFunderKey"): FUNDER_TEST_KEY})
    return d


@pytest.fixture
def deployment(aws_synth, moto, devnet, monkeypatch):  # type: ignore[no-untyped-def]
    """The deployment as its operator completes it: the keyed URLs (sequencer, L1) exist only in
    the rpc_endpoints secret, by the endpoint's name (conftest.keyed_urls)."""
    from conftest import keyed_urls

    d = provision(aws_synth, moto, monkeypatch, keyed_urls(devnet))
    yield d
    d.close()


def test_the_bundled_config_holds_no_keyed_url(deployment, devnet):
    from conftest import keyed_urls

    for fn in deployment.functions().values():
        bundled = (fn.asset / "opwatch.toml").read_text()
        assert not [n for n, url in keyed_urls(devnet).items() if url in bundled], fn.name


def test_a_halted_sequencer_is_published_by_the_fast_lane_within_3_block_times_and_2_s_and_pages_once(
        deployment, devnet, events):
    from aws_deployed import pager_filter, receive, sns_lambda_event, subscribe_queue
    from opwatch.config import load_config

    fns = deployment.functions()
    [check] = [f for n, f in fns.items() if n.endswith("-devnet-sequencer-liveness")]
    [pager] = [f for n, f in fns.items() if n.endswith("-pager")]
    assert "FAST_LANE_EVERY_S" not in check.environment  # the fast lane is the bundled config's [schedules]
    block_time = load_config(deployment.environment(check)["OPWATCH_CONFIG"]).network("devnet").block_time
    topic = deployment.environment(check)["FINDINGS_TOPIC_ARN"]
    # What SNS delivers to the pager: the template's subscription filter, on an SQS queue.
    to_pager = subscribe_queue(deployment, topic, "to-pager", pager_filter(deployment, pager.name))
    destinations = {"PAGERDUTY_BASE_URL": events.base_url}
    devnet.heal()

    arrivals: list[tuple[float, str]] = []
    replies: list[Any] = []

    def page(envelope: dict[str, Any]) -> None:
        arrivals.append((time.monotonic(), json.loads(envelope["Message"])["status"]))
        deployment.invoke(pager, sns_lambda_event(envelope, f"{topic}:pager"), destinations)

    def pump(until: float, stop: Any = lambda: False) -> None:
        while time.monotonic() < until and not stop():
            for envelope in receive(deployment, to_pager):
                page(envelope)

    worker = threading.Thread(target=lambda: replies.append(deployment.invoke(
        check, {}, destinations, remaining_s=WINDOW_S + 10.0)))  # 10 s: fastlane.RESERVE_S
    worker.start()
    halted_at = healed_at = None
    try:
        pump(time.monotonic() + 20, lambda: bool(arrivals))  # generous: the first publish on a busy box
        assert [s for _, s in arrivals] == ["ok"], arrivals
        devnet.fault("halt-sequencer")
        halted_at = time.monotonic()
        pump(halted_at + WINDOW_S, lambda: any(s == "firing" for _, s in arrivals))
        devnet.heal("halt-sequencer")
        healed_at = time.monotonic()
        worker.join(WINDOW_S + 60)
        pump(time.monotonic() + 3)
    finally:
        devnet.heal()
    firing = [t for t, s in arrivals if s == "firing"]
    assert firing, arrivals
    assert firing[0] - halted_at <= 3 * block_time + 2.0, f"published {firing[0] - halted_at:.1f} s after the halt"
    assert healed_at is not None and replies and replies[0]["status"] == {"sequencer": "ok"}, (replies, arrivals)
    assert events.actions(KEY) == ["trigger", "resolve"], arrivals


@dataclass
class LagRun:
    """rpc_sync ticks on a node kept 10 blocks behind (lag-rpc), each delivery paged as SNS would."""

    firing_delivered_before_trigger: int = 0
    route: tuple[str, ...] = ()


@pytest.fixture
def lag_run(deployment, devnet, events) -> LagRun:  # type: ignore[no-untyped-def]
    from aws_deployed import pager_filter, receive, sns_lambda_event, subscribe_queue
    from opwatch.config import load_config

    fns = deployment.functions()
    [check] = [f for n, f in fns.items() if n.endswith("-devnet-rpc-sync")]
    [pager] = [f for n, f in fns.items() if n.endswith("-pager")]
    config = load_config(pager.asset / "opwatch.toml")  # the pager's bundled config
    run = LagRun(route=config.section("alerting").route("warning"))
    topic = deployment.environment(check)["FINDINGS_TOPIC_ARN"]
    to_pager = subscribe_queue(deployment, topic, "to-pager-lag", pager_filter(deployment, pager.name))
    destinations = {"PAGERDUTY_BASE_URL": events.base_url}
    devnet.fault("lag-rpc")
    try:
        for _ in range(8):  # the default holds fire after 2 evaluations; [alerting] asks for 1
            deployment.invoke(check, {}, destinations)
            for envelope in receive(deployment, to_pager, wait_s=5):
                firing = json.loads(envelope["Message"])["status"] == "firing"
                run.firing_delivered_before_trigger += firing and not events.accepted
                deployment.invoke(pager, sns_lambda_event(envelope, f"{topic}:pager"), destinations)
            if events.accepted:
                break
    finally:
        devnet.heal("lag-rpc")
    return run


def test_an_rpc_sync_warning_reaches_the_sink_its_route_names(lag_run, events):
    assert lag_run.route == ("pagerduty",)  # the only sink a deployed pager builds (alerting.DEPLOYED_SINKS)
    triggers = [e for e in events.accepted if e["event_action"] == "trigger"]
    assert len(triggers) == 1, events.accepted
    assert triggers[0]["dedup_key"].startswith("opwatch/devnet/rpc_sync/")
    assert triggers[0]["payload"]["severity"] == "warning"


def test_fire_after_1_in_alerting_pages_on_the_first_firing_finding(lag_run, events):
    # rpc_sync's default holds for 2 evaluations: only a pager that reads [alerting] pages at the first.
    assert events.accepted
    assert lag_run.firing_delivered_before_trigger == 1


@dataclass
class FaultRun:
    """A check function ticked under a devnet fault, each delivery to the pager as SNS would."""

    delivered: list[tuple[str, str]]  # (check, status) of each finding the pager got
    pager_config: Any  # the pager's bundled config, parsed


def run_under_fault(deployment, devnet, events, check_suffix: str, fault: str, ticks: int,  # type: ignore[no-untyped-def]
                    done: Any = lambda run: False) -> FaultRun:
    """Tick the deployed `*-devnet-<check_suffix>` function up to `ticks` times while `fault` is
    injected; every message the template's pager subscription lets through goes to the pager."""
    from aws_deployed import pager_filter, receive, sns_lambda_event, subscribe_queue
    from opwatch.config import load_config

    fns = deployment.functions()
    [check] = [f for n, f in fns.items() if n.endswith(f"-devnet-{check_suffix}")]
    [pager] = [f for n, f in fns.items() if n.endswith("-pager")]
    run = FaultRun([], load_config(pager.asset / "opwatch.toml"))
    topic = deployment.environment(check)["FINDINGS_TOPIC_ARN"]
    to_pager = subscribe_queue(deployment, topic, f"to-pager-{check_suffix}", pager_filter(deployment, pager.name))
    destinations = {"PAGERDUTY_BASE_URL": events.base_url}
    devnet.fault(fault)
    try:
        for _ in range(ticks):
            deployment.invoke(check, {}, destinations)
            for envelope in receive(deployment, to_pager, wait_s=5):
                message = json.loads(envelope["Message"])
                run.delivered.append((message["check"], message["status"]))
                deployment.invoke(pager, sns_lambda_event(envelope, f"{topic}:pager"), destinations)
            if done(run):
                break
    finally:
        devnet.heal(fault)
    return run


def test_a_silence_in_alerting_suppresses_the_page(deployment, devnet, events):
    run = run_under_fault(deployment, devnet, events, "wallet-runway", "drain-batcher", 3,
                          lambda r: ("wallet_runway", "firing") in r.delivered)
    assert ("wallet_runway", "firing") in run.delivered, run.delivered
    assert not [e for e in events.accepted if "/wallet_runway/" in e["dedup_key"]], events.accepted
    policy = run.pager_config.section("alerting")
    assert policy.timing("wallet_runway").fire.evaluations == 1  # without the silence: a page at once
    assert policy.silenced("devnet", "wallet_runway", time.time()) is not None  # the bundled [alerting]




def test_the_topup_function_reaches_l1_through_the_keyed_url_from_the_rpc_endpoints_secret(deployment, devnet):
    from conftest import l1_balance, reset_l1_balance, topup_request
    from opwatch.config import load_config

    [fn] = [f for n, f in deployment.functions().items() if n.endswith("-remedy-topup")]
    config = load_config(fn.asset / "opwatch.toml")  # its bundled config: keyless L1 URLs only
    assert all(e.url.startswith("http://127.0.0.1:9/keyless/") for e in config.network("devnet").l1_rpc)
    batcher = config.network("devnet").batcher
    devnet.heal()
    before = reset_l1_balance(devnet, batcher)
    out = deployment.invoke(fn, topup_request("deployed-topup-1"), {})
    assert out["status"] == "sent", out
    # Paid up to the 12,000 ETH target on the devnet's L1 (less what the busy batcher spent since).
    after = l1_balance(devnet, batcher)
    assert 11999 * 10**18 < after <= 12000 * 10**18, (before, after)
    assert "127.0.0.1:9" not in json.dumps(out)


def test_without_the_keyed_l1_urls_the_topup_function_refuses(aws_synth, moto, devnet, monkeypatch):
    from conftest import keyed_urls, reset_l1_balance, topup_request

    # The operator's secret names only the sequencer: the function has the bundled keyless L1 URLs.
    reset_l1_balance(devnet, "0x70997970C51812dc3A010C7d01b50e0d17dc79C8")  # the devnet's batcher
    d = provision(aws_synth, moto, monkeypatch, {"sequencer": keyed_urls(devnet)["sequencer"]})
    try:
        [fn] = [f for n, f in d.functions().items() if n.endswith("-remedy-topup")]
        out = d.invoke(fn, topup_request("deployed-topup-2"), {})
    finally:
        d.close()
    assert out["status"] == "refused" and "cannot read L1" in out["reason"], out
