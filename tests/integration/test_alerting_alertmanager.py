"""The Alertmanager sink against the real Alertmanager (Debian's `prometheus-alertmanager`,
installed by scripts/bootstrap), started here on a free loopback port with a temp config whose
only receiver is a webhook this test runs. A firing alert, declared in [alerting.sinks] and
built by the composition root, lands there once with the finding's labels and annotations and
is resolved; Alertmanager notifies the receiver of the firing, then of the resolve.

A missing binary fails the test with the set-up step to run: never a silent skip.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from alerting_fixtures import T0, finding
from opwatch import compose
from opwatch.alerting import Kind, SqliteStore
from opwatch.alerting.sinks import authorized
from opwatch.config import parse_config
from opwatch.findings import Severity, Status
from pagerduty_standin import EventsStandIn

BINARY = "prometheus-alertmanager"
DIAGNOSIS = [{"cause": "op_node_down", "holds": True, "measured": "connection refused", "text": "op-node is down"}]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Receiver:
    """The webhook Alertmanager notifies (its documented webhook_config payload, version 4)."""

    port: int
    notifications: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Alertmanager:
    url: str
    receiver: Receiver
    login: str  # the URL with its credentials when behind basic auth

    def alerts(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(authorized(f"{self.login}/api/v2/alerts"), timeout=10) as reply:
            return list(json.load(reply))


def wait(what: str, ready: Callable[[], Any], timeout: float = 60.0) -> Any:
    # Generous: the machine is shared; the behaviour is "it arrives", not how fast.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = ready()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def alertmanager(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Alertmanager]:
    """`@pytest.mark.parametrize("alertmanager", [password], indirect=True)`: behind basic auth
    (user `opwatch`), as its --web.config.file sets it up."""
    password = getattr(request, "param", None)
    binary = shutil.which(BINARY)
    if binary is None:
        pytest.fail(f"{BINARY} is not installed: run scripts/bootstrap as root (it apt-installs Debian's "
                    "prometheus-alertmanager)", pytrace=False)
    received: list[dict[str, Any]] = []

    class Hook(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

    hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    receiver = Receiver(hook.server_address[1], received)
    port = free_port()
    (tmp_path / "am.yml").write_text(f"""
route:
  receiver: hook
  group_by: [dedup_key]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: http://127.0.0.1:{receiver.port}/hook
        send_resolved: true
""")
    log = (tmp_path / "am.log").open("w")
    web = []
    if password:
        import crypt  # bcrypt, as Alertmanager's web config wants (libxcrypt's $2b$)

        hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
        (tmp_path / "web.yml").write_text(f"basic_auth_users:\n  opwatch: '{hashed}'\n")
        web = [f"--web.config.file={tmp_path / 'web.yml'}"]
    process = subprocess.Popen([binary, f"--config.file={tmp_path / 'am.yml'}", f"--storage.path={tmp_path / 'data'}",
                                f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", *web],
                               stdout=log, stderr=subprocess.STDOUT)
    am = Alertmanager(f"http://127.0.0.1:{port}", receiver,
                      f"http://opwatch:{password}@127.0.0.1:{port}" if password else f"http://127.0.0.1:{port}")

    def ready() -> bool:
        try:
            with urllib.request.urlopen(authorized(f"{am.login}/-/ready"), timeout=2) as reply:
                return bool(reply.status == 200)
        except OSError:
            assert process.poll() is None, (tmp_path / "am.log").read_text()
            return False

    try:
        wait("alertmanager to be ready", ready)
        yield am
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
        hook.shutdown()
        hook.server_close()


def config(url: str = "", secret: str = "") -> str:
    return f"""
[networks.mainnet]
l1_rpc = "http://127.0.0.1:8545"
l2_rpc = "http://127.0.0.1:9545"
l1_chain_id = 1
l2_chain_id = 10
block_time = "2s"

[alerting]
runbook_base_url = "https://git.example/opwatch/blob/main"
routes = {{ critical = ["am"], warning = ["am"] }}
[alerting.checks.wallet_runway]
fire_after = 1
resolve_after = 1
[alerting.sinks.am]
type = "alertmanager"
{f'url = "{url}"' if url else f'secret = "{secret}"'}
"""


def test_a_fault_is_one_alert_in_alertmanager_then_resolved_and_its_receiver_told_both(tmp_path, alertmanager):
    events = EventsStandIn.start()
    try:
        manager = compose.alert_manager(parse_config(config(alertmanager.url)), SqliteStore(tmp_path / "a.db"),
                                        lambda: "R0UT1NGKEY0000000000000000000000",
                                        pagerduty_base_url=events.base_url)
        now = time.time() - T0  # Alertmanager judges startsAt/endsAt against its own clock
        # A warning first, critical on the next run: one incident; its resolve must end the
        # alert Alertmanager holds whatever severity it was triggered with.
        manager.process([finding(Status.FIRING, now, check="wallet_runway", target="batcher",
                                 severity=Severity.WARNING, diagnosis=DIAGNOSIS)])
        manager.process([finding(Status.FIRING, now + 1, check="wallet_runway", target="batcher")])
        alerts = wait("the alert in alertmanager", alertmanager.alerts)
        assert len(alerts) == 1, alerts
        alert = alerts[0]
        assert alert["labels"] == {"alertname": "wallet_runway", "network": "mainnet", "target": "batcher",
                                   "severity": "warning", "dedup_key": "opwatch/mainnet/wallet_runway/batcher",
                                   "source": "opwatch"}
        assert alert["status"]["state"] == "active"
        assert alert["annotations"]["runbook_url"] == \
            "https://git.example/opwatch/blob/main/docs/runbooks/wallet_runway.md"
        assert "op-node is down" in alert["annotations"]["diagnosis"] and alert["annotations"]["summary"]
        firing = wait("the firing notification", lambda: [n for n in alertmanager.receiver.notifications
                                                          if n["status"] == "firing"])
        assert [a["labels"]["alertname"] for a in firing[0]["alerts"]] == ["wallet_runway"]

        manager.process([finding(Status.OK, now + 2, check="wallet_runway", target="batcher")])
        wait("the alert to be resolved", lambda: not alertmanager.alerts())
        resolved = wait("the resolved notification", lambda: [n for n in alertmanager.receiver.notifications
                                                              if n["status"] == "resolved"])
        assert [(a["labels"]["severity"], a["status"]) for a in resolved[0]["alerts"]] == [("warning", "resolved")]
        assert [n["status"] for n in alertmanager.receiver.notifications] == ["firing", "resolved"]
        assert events.accepted == []  # routed to Alertmanager only
    finally:
        events.stop()


@pytest.mark.parametrize("alertmanager", ["s3cr3t-pw"], indirect=True)
def test_behind_basic_auth_the_url_with_credentials_comes_from_a_secret_and_never_shows(tmp_path, alertmanager,
                                                                                        monkeypatch):
    events = EventsStandIn.start()
    try:
        monkeypatch.setenv("OPWATCH_SECRET_AM_URL", alertmanager.url)  # no credentials: refused for good
        manager = compose.alert_manager(parse_config(config(secret="am-url")), SqliteStore(tmp_path / "a.db"),
                                        lambda: "R0UT1NGKEY0000000000000000000000",
                                        pagerduty_base_url=events.base_url)
        now = time.time() - T0
        out = manager.process([finding(Status.FIRING, now, check="wallet_runway", target="batcher")])
        [failed] = [t for t in out if t.kind == Kind.UNDELIVERABLE]
        assert "HTTP 401" in failed.detail and "(final)" in failed.detail
        monkeypatch.setenv("OPWATCH_SECRET_AM_URL", alertmanager.login)
        manager.process([finding(Status.OK, now + 1, check="wallet_runway", target="batcher")])
        out = manager.process([finding(Status.FIRING, now + 2, check="wallet_runway", target="batcher")])
        assert [t.detail for t in out if t.kind == Kind.NOTIFIED] == \
            ["trigger via am (opwatch/mainnet/wallet_runway/batcher)"]
        [alert] = wait("the alert in alertmanager", alertmanager.alerts)
        assert alert["labels"]["alertname"] == "wallet_runway"
        manager.process([finding(Status.OK, now + 3, check="wallet_runway", target="batcher")])
        wait("the alert to be resolved", lambda: not alertmanager.alerts())
        stored = json.dumps([d.to_dict() for d in manager.store.dead_letters()] + events.accepted)
        assert "s3cr3t-pw" not in stored and "127.0.0.1" not in stored
    finally:
        events.stop()
