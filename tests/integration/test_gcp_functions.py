"""The GCP entry points under the real functions-framework, over HTTP, against the devnet.

Each function runs in its own `functions-framework` process (as Cloud Functions gen2 runs
it), from the very bundle `opwatch gcp bundle` prepares, on a free loopback port. Tests POST
real CloudEvents in structured mode, binary mode, and as a raw Pub/Sub push body (which the
framework converts). The check function reads the real anvil devnet and publishes over
Pub/Sub's REST API (gcp/publisher.py) to the Google APIs stand-in; the pager function reads
the PagerDuty routing key over Secret Manager's REST API from the same stand-in, keeps state
in SQLite (Firestore has no emulator here: see docs/gcp.md) and pages the Events v2 stand-in.
Between them, the pager subscription's rendered filter is applied to each message's
attributes, as Pub/Sub would.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from gcp_standins import GoogleApisStandIn, Published
from opwatch.config import parse_config
from opwatch.deploy.gcp import GcpSettings
from opwatch.deploy.gcp_cli import bundle
from opwatch.deploy.gcp_plan import pager_filter
from opwatch.findings import Finding
from opwatch.gcp.filters import matches
from pagerduty_standin import EventsStandIn

pytestmark = pytest.mark.anvil

PROJECT = "opwatch-test"
TOPIC = f"projects/{PROJECT}/topics/opwatch-findings"
SECRET = f"projects/{PROJECT}/secrets/opwatch-pagerduty-routing-key"
SUBSCRIPTION = f"projects/{PROJECT}/subscriptions/opwatch-pager"
KEY = "opwatch/devnet/sequencer_liveness/sequencer"
TIGHT = '\n[networks.devnet.thresholds]\nsequencer_max_head_age = "3s"\n'
# This side's beats go where [heartbeat] says (the stand-in answers at OPWATCH_STORAGE_ENDPOINT).
HEARTBEAT = '\n[heartbeat]\ngcp = { bucket = "beats" }\n'
FRAMEWORK = Path(sys.executable).parent / "functions-framework"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Function:
    """One functions-framework process serving one target."""

    def __init__(self, source: Path, target: str, env: dict[str, str], log: Path,
                 signature: str = "cloudevent") -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = log
        self.proc = subprocess.Popen(
            [str(FRAMEWORK), "--target", target, "--signature-type", signature, "--source",
             str(source / "main.py"), "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=source, env={**os.environ, **env, "PYTHONPATH": str(source)},
            stdout=log.open("w"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                assert self.proc.poll() is None, log.read_text()
                time.sleep(0.1)
        raise AssertionError(f"{target} did not start: {log.read_text()}")

    def post(self, body: bytes, headers: dict[str, str]) -> int:
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as reply:
                return int(reply.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    def logs(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def tick_envelope(check: str, message_id: str = "tick-1") -> dict[str, object]:
    body = base64.b64encode(json.dumps({"check": check}).encode()).decode()
    return {"message": {"data": body, "attributes": {}, "messageId": message_id,
                        "publishTime": "2024-01-01T00:00:00Z"},
            "subscription": f"projects/{PROJECT}/subscriptions/eventarc-tick"}


def structured(data: dict[str, object], event_id: str) -> tuple[bytes, dict[str, str]]:
    event = {"specversion": "1.0", "id": event_id, "source": f"//pubsub.googleapis.com/{TOPIC}",
             "type": "google.cloud.pubsub.topic.v1.messagePublished", "datacontenttype": "application/json",
             "time": "2024-01-01T00:00:00Z", "data": data}
    return json.dumps(event).encode(), {"Content-Type": "application/cloudevents+json"}


def binary(data: dict[str, object], event_id: str) -> tuple[bytes, dict[str, str]]:
    return json.dumps(data).encode(), {
        "Content-Type": "application/json", "ce-specversion": "1.0", "ce-id": event_id,
        "ce-source": f"//pubsub.googleapis.com/{TOPIC}", "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
        "ce-time": "2024-01-01T00:00:00Z"}


def push(data: dict[str, object], _event_id: str) -> tuple[bytes, dict[str, str]]:
    return json.dumps(data).encode(), {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def apis() -> Iterator[GoogleApisStandIn]:
    standin = GoogleApisStandIn.start()
    standin.topics.add(TOPIC)
    standin.secrets[SECRET] = b"R" * 32 + b"\n"
    yield standin
    standin.stop()


@pytest.fixture(scope="module")
def events() -> Iterator[EventsStandIn]:
    server = EventsStandIn.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def config_text(devnet) -> str:  # type: ignore[no-untyped-def]
    return devnet.config_text().split("[networks.devnet.thresholds]")[0] + TIGHT + HEARTBEAT


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory, config_text: str) -> Path:
    """The folder `gcloud functions deploy --source` would upload, made by `opwatch gcp bundle`."""
    work = tmp_path_factory.mktemp("gcp")
    (work / "opwatch.toml").write_text(config_text)
    config = parse_config(config_text, source=str(work / "opwatch.toml"))
    out = work / "bundle"
    bundle(config, GcpSettings(project=PROJECT), out)
    return out


@pytest.fixture(scope="module")
def check_fn(source: Path, apis: GoogleApisStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Function]:
    fn = Function(source, "sequencer_liveness", {
        "OPWATCH_CONFIG": "opwatch.toml", "OPWATCH_FINDINGS_TOPIC": TOPIC,
        "OPWATCH_PUBSUB_ENDPOINT": apis.base_url,
        "OPWATCH_STORAGE_ENDPOINT": apis.base_url}, tmp_path_factory.mktemp("logs") / "check.log")
    yield fn
    fn.stop()


@pytest.fixture(scope="module")
def pager_fn(source: Path, apis: GoogleApisStandIn, events: EventsStandIn,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Function]:
    work = tmp_path_factory.mktemp("pager")
    fn = Function(source, "pager", {
        "OPWATCH_STATE_STORE": f"sqlite:{work / 'alerts.db'}", "OPWATCH_PAGERDUTY_SECRET": SECRET + "/versions/latest",
        "OPWATCH_SECRETMANAGER_ENDPOINT": apis.base_url, "OPWATCH_PAGERDUTY_URL": events.base_url},
        work / "pager.log")
    yield fn
    fn.stop()


def tick(fn: Function, apis: GoogleApisStandIn, mode=structured, event_id: str = "1") -> list[Published]:  # type: ignore[no-untyped-def]
    before = len(apis.messages(TOPIC))
    assert fn.post(*mode(tick_envelope("sequencer_liveness", event_id), event_id)) == 200, fn.log.read_text()
    return apis.messages(TOPIC)[before:]


@pytest.mark.parametrize("mode", [structured, binary, push], ids=["structured", "binary", "push-envelope"])
def test_check_function_publishes_the_finding_with_the_aws_body_and_attributes(check_fn, apis, mode):
    published = tick(check_fn, apis, mode, event_id=f"tick-{mode.__name__}")
    assert len(published) == 1
    message = published[0]
    finding = Finding.from_dict(json.loads(message.data))
    assert finding.check == "sequencer_liveness" and finding.network == "devnet" and finding.status == "ok"
    # One consumer reads both clouds: the same JSON and the same attributes as on SNS.
    assert message.data.decode() == finding.to_json()
    assert message.attributes == finding.attributes()


def test_check_function_logs_in_cloud_logging_shape_without_secrets(check_fn, apis, config_text):
    tick(check_fn, apis, event_id="tick-logs")
    entries = check_fn.logs()
    assert entries, check_fn.log.read_text()
    for entry in entries:
        assert entry["severity"] in ("DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL")
        assert isinstance(entry["message"], str)
        assert entry["logging.googleapis.com/labels"]["cloud"] == "gcp"
    text = check_fn.log.read_text()
    # The devnet URLs go through fault proxies on 127.0.0.1 ports: none may appear in a log.
    for url in parse_config(config_text).network("devnet").l1_rpc:
        assert url.url not in text


def test_check_function_writes_this_sides_heartbeat(check_fn, apis):
    from opwatch.checks.heartbeat import Beat

    before = time.time()
    tick(check_fn, apis, event_id="tick-beat")
    beat = Beat.from_json(apis.objects[("beats", "heartbeat/gcp/devnet.json")])
    assert beat.cloud == "gcp" and beat.network == "devnet" and beat.at >= before - 1 and beat.findings == 1


def test_a_malformed_event_is_acknowledged_and_logged_not_retried(check_fn, apis):
    before = len(apis.messages(TOPIC))
    body, headers = structured({"message": {"data": "%%%not-base64", "messageId": "x"}}, "bad-1")
    assert check_fn.post(body, headers) == 200
    assert len(apis.messages(TOPIC)) == before
    assert any("malformed" in str(e["message"]) and e["severity"] == "ERROR" for e in check_fn.logs())


def deliver(pager_fn: Function, message: Published, config_text: str) -> bool:
    """Pub/Sub's part: the pager subscription's filter, then the push (a raw envelope)."""
    if not matches(pager_filter(parse_config(config_text)), message.attributes):
        return False
    body, headers = push(message.envelope(SUBSCRIPTION), message.message_id)
    assert pager_fn.post(body, headers) == 200, pager_fn.log.read_text()
    return True


def test_halted_sequencer_pages_once_through_gcp_and_resolves_after_healing(
        devnet, check_fn, pager_fn, apis, events, config_text):
    assert [m.attributes["status"] for m in tick(check_fn, apis, event_id="e2e-0")] == ["ok"]
    devnet.fault("halt-sequencer")
    try:
        deadline = time.monotonic() + 30
        firing: list[Published] = []
        while not firing and time.monotonic() < deadline:
            firing = [m for m in tick(check_fn, apis, event_id=f"e2e-{time.monotonic()}")
                      if m.attributes["status"] == "firing"]
            time.sleep(1)
        assert firing, "sequencer_liveness never fired on a halted sequencer"
        assert firing[0].attributes == {"network": "devnet", "check": "sequencer_liveness", "status": "firing",
                                        "severity": "critical"}
        assert deliver(pager_fn, firing[0], config_text)
        assert deliver(pager_fn, firing[0], config_text)  # Pub/Sub delivers at least once: no second page
        assert events.actions(KEY) == ["trigger"]
    finally:
        devnet.heal("halt-sequencer")
    deadline = time.monotonic() + 30
    oks = 0
    while events.actions(KEY) != ["trigger", "resolve"] and time.monotonic() < deadline:
        for m in tick(check_fn, apis, event_id=f"heal-{time.monotonic()}"):
            if m.attributes["status"] == "ok":
                oks += 1
                assert deliver(pager_fn, m, config_text)
        time.sleep(1)
    assert events.actions(KEY) == ["trigger", "resolve"], (oks, pager_fn.log.read_text())
    # The routing key came from Secret Manager once and was cached; it never reached a log.
    assert apis.secret_reads == 1
    assert "R" * 32 not in pager_fn.log.read_text()
    assert any(e["severity"] == "NOTICE" for e in pager_fn.logs())


def test_a_finding_of_an_unconfigured_network_is_filtered_out_before_the_pager(config_text):
    other = Published(TOPIC, "9", b"{}", {"network": "other", "check": "sequencer_liveness", "status": "firing",
                                          "severity": "critical"}, "")
    assert not matches(pager_filter(parse_config(config_text)), other.attributes)


def test_a_finding_of_an_unconfigured_network_that_reaches_the_pager_is_acknowledged_never_paged(pager_fn, events):
    """Past about five networks the pager's filter passes any network (deploy/gcp_plan.py,
    tests/unit/test_gcp_plan_scale.py): the pager itself refuses the ones the config does not name."""
    from opwatch.findings import Measure, Severity, Status, utc_now_iso

    stray = Finding("other", "sequencer_liveness", "sequencer", Status.FIRING, Severity.CRITICAL,
                    "head is 60 s old", Measure(60.0, "s"), Measure(3.0, "s"), utc_now_iso())
    message = Published(TOPIC, "stray-1", stray.to_json().encode(), stray.attributes(), "")
    before = len(events.actions())
    body, headers = push(message.envelope(SUBSCRIPTION), "stray-1")
    for _ in range(2):  # 200 both times: acknowledged, so Pub/Sub neither redelivers nor dead-letters it
        assert pager_fn.post(body, headers) == 200, pager_fn.log.read_text()
    assert len(events.actions()) == before
    refusals = [e for e in pager_fn.logs() if "refused a finding of network 'other'" in str(e["message"])]
    assert len(refusals) == 2 and {e["severity"] for e in refusals} == {"ERROR"}
