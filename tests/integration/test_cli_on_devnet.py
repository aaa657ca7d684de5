"""The `opwatch` command against the devnet: output formats and the exit-code contract."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from devnet_config import tight_config_text
from opwatch.cli.main import transitions
from opwatch.findings import Finding, Measure, Severity, Status

pytestmark = pytest.mark.anvil



@pytest.fixture(scope="module")
def config_file(devnet, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("cli") / "opwatch.toml"
    path.write_text(tight_config_text(devnet))
    return path


def opwatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opwatch.cli.main", *args], capture_output=True, text=True,
                          timeout=120)


def wait_exit(config_file: Path, code: int, timeout: float = 40) -> subprocess.CompletedProcess[str]:
    deadline = time.monotonic() + timeout
    while True:
        proc = opwatch("check", "--config", str(config_file), "--format", "json")
        if proc.returncode == code or time.monotonic() > deadline:
            return proc
        time.sleep(0.5)


def test_exit_codes_follow_the_worst_status(devnet, config_file: Path) -> None:  # type: ignore[no-untyped-def]
    healthy = wait_exit(config_file, 0)
    assert healthy.returncode == 0, healthy.stdout
    findings = json.loads(healthy.stdout)  # stdout is the JSON array and nothing else
    assert {f["status"] for f in findings} == {"ok"}
    assert all(f["dedup_key"].startswith("opwatch/devnet/") for f in findings)

    devnet.fault("kill-l1")
    try:
        blind = opwatch("check", "--config", str(config_file), "--format", "json")
        assert blind.returncode == 3
        assert {f["status"] for f in json.loads(blind.stdout)} == {"ok", "unknown"}
    finally:
        devnet.heal("kill-l1")

    devnet.fault("halt-sequencer")
    try:
        firing = wait_exit(config_file, 1)
        assert firing.returncode == 1
        statuses = {(f["check"], f["status"]) for f in json.loads(firing.stdout)}
        assert ("sequencer_liveness", "firing") in statuses
    finally:
        devnet.heal("halt-sequencer")
    assert wait_exit(config_file, 0).returncode == 0


def test_table_names_value_and_limit_without_colour_off_a_tty(config_file: Path) -> None:
    proc = opwatch("check", "--config", str(config_file), "--check", "sequencer_liveness", "--check", "rpc_sync")
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:6] == ["STATUS", "NETWORK", "CHECK", "TARGET", "OBSERVED", "LIMIT"]
    assert any("sequencer_liveness" in line and "3.0 s" in line for line in lines)
    assert sum("rpc_sync" in line for line in lines) == 2
    assert "\033[" not in proc.stdout
    assert "RPC requests" in lines[-1]


def test_an_unknown_check_id_is_bad_usage(config_file: Path) -> None:
    proc = opwatch("check", "--config", str(config_file), "--check", "sequencer_livenes")
    assert proc.returncode == 2 and "unknown check id" in proc.stderr


def test_an_unknown_network_is_bad_usage(config_file: Path) -> None:
    proc = opwatch("check", "--config", str(config_file), "--network", "mainnet")
    assert proc.returncode == 2 and "no such network" in proc.stderr


def test_watch_prints_transitions_only_on_change() -> None:
    def finding(status: Status) -> Finding:
        return Finding("devnet", "rpc_sync", "rpc-0", status, Severity.INFO, f"is {status}", Measure(1, "blocks"),
                       Measure(5, "blocks"), "2026-11-28T12:00:00Z")

    last: dict[str, Status] = {}
    assert transitions(last, [finding(Status.OK)]) == []
    assert transitions(last, [finding(Status.OK)]) == []
    (line,) = transitions(last, [finding(Status.FIRING)])
    assert "devnet/rpc_sync/rpc-0" in line and "ok → firing" in line
    assert transitions(last, [finding(Status.FIRING)]) == []
    (line,) = transitions(last, [finding(Status.OK)])
    assert "firing → ok" in line


def test_watch_runs_rounds_and_exits(config_file: Path) -> None:
    proc = opwatch("watch", "--config", str(config_file), "--interval", "1s", "--iterations", "2",
                   "--check", "sequencer_liveness")
    assert proc.returncode == 0, proc.stderr
    assert "sequencer_liveness" in proc.stdout
