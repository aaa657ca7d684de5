"""`opwatch smoke` on the devnet: the gate passes on a healthy rollup, fails naming the gate
for each injected fault, and checks the deployed watchdog's heartbeat over real HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opwatch.checks.heartbeat import Beat
from opwatch.config import load_config
from opwatch.smoke import PASS, SKIPPED, SmokeReport, run_smoke
from opwatch.smoke_cli import heartbeat_sources

pytestmark = pytest.mark.anvil

# Tight enough that each fault shows within seconds (block time 1 s on the devnet).
THRESHOLDS = """
[rpc]
timeout = "2s"
retries = 1

[networks.devnet.thresholds]
sequencer_max_head_age = "3s"
batcher_max_safe_lag = "12s"
batcher_max_submission_age = "7s"
wallet_min_runway = "24h"
proposer_max_output_age = "22s"
rpc_max_lag_blocks = 5
"""


@pytest.fixture(scope="module")
def config_file(devnet, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("smoke") / "opwatch.toml"
    path.write_text(devnet.config_text().split("[networks.devnet.thresholds]")[0] + THRESHOLDS)
    return path


class _Beats(BaseHTTPRequestHandler):
    """A stand-in of the bucket a deployed watchdog writes its beats to (GET /heartbeat/<network>.json)."""

    beats: dict[str, bytes] = {}

    def do_GET(self) -> None:
        body = self.beats.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture(scope="module")
def beat_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Beats)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/heartbeat/{{network}}.json"
    server.shutdown()


def smoke_cli(config_file: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opwatch.cli.main", "smoke", "--config", str(config_file),
                           "--network", "devnet", *extra], capture_output=True, text=True, timeout=120)


def wait_for(config_file: Path, passed: bool, timeout: float = 40) -> SmokeReport:
    config = load_config(config_file)
    deadline = time.monotonic() + timeout
    while True:
        report = run_smoke(config, "devnet")
        if report.passed == passed or time.monotonic() > deadline:
            return report
        time.sleep(0.5)


def test_gate_passes_on_a_healthy_devnet_with_a_fresh_heartbeat(devnet, config_file: Path,  # type: ignore[no-untyped-def]
                                                                  beat_server: str) -> None:
    _Beats.beats["/heartbeat/devnet.json"] = Beat("gcp", "devnet", time.time(), findings=7).to_json().encode()
    assert wait_for(config_file, passed=True).passed
    proc = smoke_cli(config_file, "--format", "json", "--heartbeat", f"gcp={beat_server}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)  # stdout is the JSON document and nothing else
    statuses = {g["gate"]: g["status"] for g in report["gates"]}
    assert report["passed"] is True and report["failed"] == []
    assert statuses == {"block_production": PASS, "rpc": PASS, "batcher": PASS, "proposer": PASS,
                        "finality": PASS, "l1_contracts": PASS, "snapshots": SKIPPED, "watchdog": PASS}
    rpc = next(g for g in report["gates"] if g["gate"] == "rpc")
    # Every node answered, and every replica op-node.
    assert sum(f["check"] == "rpc_sync" for f in rpc["findings"]) == len(devnet.rpc_proxies)
    assert [f["target"] for f in rpc["findings"] if f["check"] == "rollup_nodes"] == ["replica-0"]


def test_stale_or_missing_heartbeat_fails_the_watchdog_gate(devnet, config_file: Path,  # type: ignore[no-untyped-def]
                                                            beat_server: str) -> None:
    _Beats.beats["/heartbeat/devnet.json"] = Beat("gcp", "devnet", time.time() - 120).to_json().encode()
    proc = smoke_cli(config_file, "--heartbeat", beat_server, "--max-heartbeat-age", "1m")
    assert proc.returncode == 1, proc.stdout
    assert "FAIL (watchdog)" in proc.stdout.splitlines()[0]
    assert "heartbeat/deployed firing: the deployed watchdog's last heartbeat" in proc.stdout

    _Beats.beats.clear()  # the watchdog never wrote one
    report = run_smoke(load_config(config_file), "devnet", heartbeat_sources([beat_server]))
    assert [g.name for g in report.failed] == ["watchdog"]
    assert "never wrote a heartbeat" in report.failed[0].reason


@pytest.mark.parametrize(("fault", "kwargs", "gate", "words"), [
    ("kill-l1", {}, "batcher", "unknown"),
    ("lag-rpc", {"n": 10}, "rpc", "firing"),
    ("stop-batcher", {}, "batcher", "batch_submission"),
    ("halt-sequencer", {}, "block_production", "sequencer_liveness/sequencer firing"),
    ("conductor-split", {}, "block_production", "sequencer_ha/cluster firing"),
    ("replica-diverge", {}, "rpc", "rollup_nodes/replica-0 firing"),
])
def test_each_fault_fails_its_gate_with_a_named_reason(devnet, config_file: Path, fault: str,  # type: ignore[no-untyped-def]
                                                        kwargs: dict[str, int], gate: str, words: str) -> None:
    assert wait_for(config_file, passed=True).passed, "devnet not healthy before the fault"
    devnet.fault(fault, **kwargs)
    try:
        report = wait_for(config_file, passed=False)
        failed = {g.name: g for g in report.failed}
        assert gate in failed, report.to_dict()
        assert words in failed[gate].reason
        if fault == "halt-sequencer":  # once through the real command: exit code and the report's words
            proc = smoke_cli(config_file)
            assert proc.returncode == 1
            assert proc.stdout.startswith("opwatch smoke devnet: FAIL (block_production")
            assert "FAIL    block_production" in proc.stdout
    finally:
        devnet.heal(fault)
    assert wait_for(config_file, passed=True, timeout=60).passed, "devnet did not recover"
