"""The Cloud Functions as the gcloud plan deploys them (entry point, trigger and environment
from `opwatch gcp deploy --dry-run`, code from `opwatch gcp bundle`) under the real
functions-framework, against the Google APIs stand-in (Pub/Sub, Secret Manager), the devnet
and the PagerDuty stand-in. See gcp_deployed.py for what the harness reads and the one thing
it adds (where Google's APIs and PagerDuty are)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

pytestmark = pytest.mark.anvil

KEY = "opwatch/devnet/sequencer_liveness/sequencer"


@pytest.fixture(scope="module")
def apis(gcp_plan, keyed_config_text) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """The Google APIs stand-in holding what the plan requires to exist: the findings topic and
    the secrets (the config secret holds the keyed config; the bundle holds no config)."""
    from gcp_standins import GoogleApisStandIn

    plan, _ = gcp_plan
    standin = GoogleApisStandIn.start()
    for fn in plan.functions().values():
        if "OPWATCH_FINDINGS_TOPIC" in fn.env:
            standin.topics.add(fn.env["OPWATCH_FINDINGS_TOPIC"])
        for name in ("OPWATCH_CONFIG_SECRET", "OPWATCH_PAGERDUTY_SECRET"):
            if name in fn.env:
                secret = fn.env[name].split("/versions/")[0]
                standin.secrets[secret] = keyed_config_text.encode() if name == "OPWATCH_CONFIG_SECRET" else b"R" * 32
    yield standin
    standin.stop()


@pytest.fixture(scope="module")
def firestore() -> Iterator[Any]:
    """The Firestore v1 REST stand-in: the pager's alert state (OPWATCH_STATE_STORE), the checks'
    memory (OPWATCH_MEMORY_STORE) and the remedies' state (OPWATCH_REMEDY_STORE), as the plan names them."""
    from firestore_standin import FirestoreStandIn

    standin = FirestoreStandIn.start()
    yield standin
    standin.stop()


def destinations(apis: Any, events: Any = None, firestore: Any = None) -> dict[str, str]:
    """Where Google's APIs (the stand-ins) and PagerDuty are: destinations, never behaviour."""
    out = {"OPWATCH_PUBSUB_ENDPOINT": apis.base_url, "OPWATCH_SECRETMANAGER_ENDPOINT": apis.base_url,
           "OPWATCH_STORAGE_ENDPOINT": apis.base_url}
    if firestore is not None:  # the stand-in serves /v1 under its root, as Firestore does
        out["OPWATCH_FIRESTORE_ENDPOINT"] = firestore.base_url.removesuffix("/v1")
    return out | ({"OPWATCH_PAGERDUTY_URL": events.base_url} if events is not None else {})


@dataclass
class HaltRun:
    """One tick of the fast-lane function across a halt and a recovery: what reached the topic, when."""

    block_time: float
    halted_at: float = 0.0
    arrivals: list[tuple[float, Any]] = field(default_factory=list)
    status: int = 0


@pytest.fixture(scope="module")
def halt_run(gcp_plan, apis, firestore, devnet, tmp_path_factory) -> HaltRun:  # type: ignore[no-untyped-def]
    from gcp_deployed import GcpFunction
    from opwatch.config import parse_config

    plan, source = gcp_plan
    [fn] = [f for f in plan.functions().values() if f.entry_point == "sequencer_liveness"]
    topic = fn.env["OPWATCH_FINDINGS_TOPIC"]
    secret = apis.secrets[fn.env["OPWATCH_CONFIG_SECRET"].split("/versions/")[0]].decode()
    run = HaltRun(parse_config(secret).network("devnet").block_time)
    function = GcpFunction(fn, source, destinations(apis, None, firestore),  # its memory: Firestore too
                           tmp_path_factory.mktemp("gcp-logs") / "check.log")
    seen = len(apis.messages(topic))

    def poll(until: float, stop: Any) -> None:
        nonlocal seen
        while time.monotonic() < until and not stop():
            for m in apis.messages(topic)[seen:]:
                run.arrivals.append((time.monotonic(), m))
                seen += 1
            time.sleep(0.05)

    def statuses() -> list[str]:
        return [m.attributes["status"] for _, m in run.arrivals]

    devnet.heal()
    worker = threading.Thread(target=lambda: setattr(run, "status", function.tick(plan, "halt-run")))
    worker.start()
    try:
        poll(time.monotonic() + 30, lambda: bool(run.arrivals))  # generous: a cold start on a busy box
        assert statuses() == ["ok"], (statuses(), function.log.read_text()[-4000:])
        devnet.fault("halt-sequencer")
        run.halted_at = time.monotonic()
        poll(run.halted_at + 30, lambda: "firing" in statuses())
        devnet.heal("halt-sequencer")
        worker.join(fn.timeout_s + 60)
        poll(time.monotonic() + 1, lambda: False)
    finally:
        devnet.heal()
        function.stop()
    return run


def test_the_plan_holds_no_keyed_url_and_the_bundle_no_config(gcp_plan, devnet):
    from conftest import sequencer_url

    plan, source = gcp_plan
    assert sequencer_url(devnet) not in plan.script
    assert not (source / "opwatch.toml").exists()  # read from the config secret, as the plan says
    # Every function reads the config from the secret, the pager too ([alerting]), and may read it.
    for fn in plan.functions().values():
        assert fn.env["OPWATCH_CONFIG_SECRET"].endswith("/secrets/opwatch-config/versions/latest"), fn.name
        account = next(a for a in plan.commands if a[1:3] == ["functions", "deploy"] and a[3] == fn.name)
        member = next(w for w in account if w.startswith("--service-account=")).split("=", 1)[1]
        assert any(a[1:4] == ["secrets", "add-iam-policy-binding", "opwatch-config"]
                   and f"--member=serviceAccount:{member}" in a for a in plan.commands), fn.name


def test_a_halted_sequencer_is_published_by_the_fast_lane_within_3_block_times_and_2_s(halt_run):
    statuses = [m.attributes["status"] for _, m in halt_run.arrivals]
    firing = [t for t, m in halt_run.arrivals if m.attributes["status"] == "firing"]
    assert firing, statuses
    assert firing[0] - halt_run.halted_at <= 3 * halt_run.block_time + 2.0, \
        f"published {firing[0] - halt_run.halted_at:.1f} s after the halt"
    # One message per change of status (and the last sample): ok, firing, ok after the recovery.
    assert statuses[:2] == ["ok", "firing"] and statuses[-1] == "ok", statuses
    assert halt_run.status == 200


def test_the_halt_pages_once_and_resolves_once_through_the_deployed_pager(
        halt_run, gcp_plan, apis, firestore, events, tmp_path):
    from gcp_deployed import GcpFunction, deliver

    plan, source = gcp_plan
    [pager] = [f for f in plan.functions().values() if f.entry_point == "pager"]
    subscription = plan.subscription_to(pager.name)
    function = GcpFunction(pager, source, destinations(apis, events, firestore), tmp_path / "pager.log")
    try:
        for _, message in halt_run.arrivals:
            assert deliver(function, subscription, message)
            if message.attributes["status"] == "firing":  # Pub/Sub delivers at least once: no second page
                assert deliver(function, subscription, message)
    finally:
        function.stop()
    assert events.actions(KEY) == ["trigger", "resolve"], function.log.read_text()[-4000:]


@dataclass
class FaultRun:
    """A check function ticked under a devnet fault, each message it published pushed to the pager."""

    delivered: list[tuple[str, str]] = field(default_factory=list)  # (check, status) the pager got


def run_under_fault(gcp_plan, apis, firestore, events, devnet, logs, entry_point: str,  # type: ignore[no-untyped-def]
                    fault: str, ticks: int, done: Any = lambda run: False) -> FaultRun:
    """Tick the plan's `entry_point` function up to `ticks` times (a scheduler tick each) while
    `fault` is injected; what it publishes goes through the pager subscription's filter to the
    deployed pager, as Pub/Sub pushes it."""
    from gcp_deployed import GcpFunction, deliver

    plan, source = gcp_plan
    [fn] = [f for f in plan.functions().values() if f.entry_point == entry_point]
    [pager] = [f for f in plan.functions().values() if f.entry_point == "pager"]
    subscription = plan.subscription_to(pager.name)
    topic = fn.env["OPWATCH_FINDINGS_TOPIC"]
    check = GcpFunction(fn, source, destinations(apis, None, firestore), logs / f"{entry_point}.log")
    to_pager = GcpFunction(pager, source, destinations(apis, events, firestore), logs / "pager.log")
    run = FaultRun()
    seen = len(apis.messages(topic))
    devnet.fault(fault)
    try:
        # At least `ticks` ticks, and while the fault has not shown yet, more, a block time apart,
        # for up to a minute: a run takes milliseconds, a follower falls behind a block a second.
        deadline = time.monotonic() + 60
        i = 0
        while i < ticks or (time.monotonic() < deadline and not done(run)):
            if i:
                time.sleep(1.0)
            assert check.tick(plan, f"{entry_point}-{i}") == 200, check.log.read_text()[-4000:]
            i += 1
            for message in apis.messages(topic)[seen:]:
                seen += 1
                if message.attributes["check"] == entry_point and deliver(to_pager, subscription, message):
                    run.delivered.append((entry_point, message.attributes["status"]))
            if done(run):
                break
    finally:
        devnet.heal(fault)
        check.stop()
        to_pager.stop()
    return run


def explain_no_page(events: Any, firestore: Any, logs: Any) -> str:
    """What the pager's store and log held, whole (pytest shortens a non-string message)."""
    import json

    states = {k: json.loads(v.get("doc", {}).get("stringValue", "{}"))
              for k, v in firestore.collection("alert_state").items()}
    transitions = [v.get("doc", {}).get("stringValue", "") for _, v in sorted(
        firestore.collection("alert_transition").items())]  # ids start with the recorded ns
    log = (logs / "pager.log").read_text()[-6000:] if (logs / "pager.log").exists() else "(no pager log)"
    return (f"accepted={events.accepted}\nstates={json.dumps(states, indent=1, default=str)}\n"
            f"transitions={json.dumps(transitions, indent=1)}\npager log:\n{log}")


def test_an_rpc_sync_warning_reaches_the_sink_its_route_names_and_fire_after_1_pages_at_once(
        gcp_plan, apis, firestore, events, devnet, keyed_config_text, tmp_path):
    from opwatch.config import parse_config

    policy = parse_config(keyed_config_text).section("alerting")  # what the pager reads: the config secret
    assert policy.route("warning") == ("pagerduty",)
    assert policy.timing("rpc_sync").fire.evaluations == 1  # the default holds for 2
    run = run_under_fault(gcp_plan, apis, firestore, events, devnet, tmp_path, "rpc_sync", "lag-rpc", 8,
                          lambda r: ("rpc_sync", "firing") in r.delivered)
    firing = [s for c, s in run.delivered if s == "firing"]
    assert len(firing) == 1, run.delivered  # stopped at the first firing finding: it paged at once
    triggers = [e for e in events.accepted if e["event_action"] == "trigger"]
    assert len(triggers) == 1, f"delivered={run.delivered}\n" + explain_no_page(events, firestore, tmp_path)
    assert triggers[0]["dedup_key"].startswith("opwatch/devnet/rpc_sync/")
    assert triggers[0]["payload"]["severity"] == "warning"


def test_a_silence_in_alerting_suppresses_the_page(gcp_plan, apis, firestore, events, devnet, keyed_config_text,
                                                   tmp_path):
    from opwatch.config import parse_config

    run = run_under_fault(gcp_plan, apis, firestore, events, devnet, tmp_path, "wallet_runway", "drain-batcher", 3,
                          lambda r: ("wallet_runway", "firing") in r.delivered)
    assert ("wallet_runway", "firing") in run.delivered, run.delivered
    assert not [e for e in events.accepted if "/wallet_runway/" in e["dedup_key"]], events.accepted
    policy = parse_config(keyed_config_text).section("alerting")  # what the pager reads: the config secret
    assert policy.timing("wallet_runway").fire.evaluations == 1  # without the silence: a page at once
    assert policy.silenced("devnet", "wallet_runway", time.time()) is not None


@dataclass(frozen=True)
class GcpnetDeployment:
    """The deployed config plus gcpnet (tests/deployed/gcpnet.toml: its remedies on GCP)."""

    plan: Any
    source: Any
    keyless_text: str  # what the plan was rendered from: no keyed URL
    keyed_text: str  # the config secret's value, as the operator stores it


@pytest.fixture(scope="module")
def gcpnet(deployed_config, devnet, tmp_path_factory) -> GcpnetDeployment:  # type: ignore[no-untyped-def]
    from conftest import HERE, keyed, network_block
    from gcp_deployed import GcpPlan, bundle, render

    path = tmp_path_factory.mktemp("gcpnet") / "opwatch.toml"
    path.write_text(deployed_config.read_text() + "\n" + network_block(devnet, "gcpnet") + "\n"
                    + (HERE / "gcpnet.toml").read_text())
    text = path.read_text()
    return GcpnetDeployment(GcpPlan(render(path)), bundle(path, path.parent / "bundle"), text, keyed(text, devnet))


def topup_on_gcp(gcpnet: GcpnetDeployment, config_secret_value: str, firestore: Any, log: Any,
                 request_id: str) -> tuple[int, Any]:
    """The plan's top-up function, its config secret holding `config_secret_value`, POSTed an
    approved request by hand (as `opwatch remediate topup --invoke` does)."""
    from conftest import FUNDER_TEST_KEY, topup_request
    from gcp_deployed import GcpFunction
    from gcp_standins import GoogleApisStandIn

    [fn] = [f for f in gcpnet.plan.functions().values() if f.name.endswith("-remedy-topup")]
    apis = GoogleApisStandIn.start()
    apis.secrets[fn.env["OPWATCH_CONFIG_SECRET"].split("/versions/")[0]] = config_secret_value.encode()
    apis.secrets["projects/opwatch-deployed/secrets/gcpnet-funder"] = FUNDER_TEST_KEY.encode()
    function = GcpFunction(fn, gcpnet.source, destinations(apis, None, firestore), log)
    try:
        return function.post_json(topup_request(request_id) | {"network": "gcpnet"})
    finally:
        function.stop()
        apis.stop()


def test_the_topup_function_reaches_l1_through_the_keyed_urls_of_the_config_secret(gcpnet, firestore, devnet,
                                                                                  tmp_path):
    from conftest import keyed_urls, l1_balance, reset_l1_balance
    from opwatch.config import parse_config

    assert not [url for url in keyed_urls(devnet).values() if url in gcpnet.plan.script]
    assert not (gcpnet.source / "opwatch.toml").exists()
    batcher = parse_config(gcpnet.keyed_text).network("gcpnet").batcher
    assert batcher is not None
    devnet.heal()
    reset_l1_balance(devnet, batcher)
    status, out = topup_on_gcp(gcpnet, gcpnet.keyed_text, firestore, tmp_path / "topup.log", "gcp-topup-1")
    assert status == 200 and out["status"] == "sent", (status, out, (tmp_path / "topup.log").read_text()[-4000:])
    # Paid up to the 12,000 ETH target on the devnet's L1 (less what the busy batcher spent since).
    assert 11999 * 10**18 < l1_balance(devnet, batcher) <= 12000 * 10**18


def test_with_the_keyless_config_the_topup_function_refuses(gcpnet, firestore, devnet, tmp_path):
    from conftest import reset_l1_balance

    reset_l1_balance(devnet, "0x70997970C51812dc3A010C7d01b50e0d17dc79C8")  # the devnet's batcher
    status, out = topup_on_gcp(gcpnet, gcpnet.keyless_text, firestore, tmp_path / "topup.log", "gcp-topup-2")
    assert status == 200 and out["status"] == "refused" and "cannot read L1" in out["reason"], (status, out)
