"""`opwatch init` on the devnet: the config it writes from op-node's rollup config and L1's
SystemConfig names what the devnet's own config names, and `opwatch check` on it is all ok."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from opwatch.config import load_config, parse_config

pytestmark = pytest.mark.anvil


def opwatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opwatch.cli.main", *args], capture_output=True, text=True,
                          timeout=180)


def test_init_then_check_is_all_ok(devnet, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "opwatch.toml"
    proc = opwatch("init", "--rollup-rpc", devnet.proxies["rollup"].url, "--l1-rpc", devnet.proxies["l1-0"].url,
                   "--l2-rpc", devnet.proxies["l2"].url, "--network", "devnet", "-o", str(path), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["missing"] == {}, report

    written = load_config(path).network("devnet")
    own = parse_config(devnet.config_text()).network("devnet")
    for key in ("l1_chain_id", "l2_chain_id", "block_time", "batcher", "batch_inbox", "proposer", "system_config",
                "optimism_portal", "l2_output_oracle", "dispute_game_factory"):
        assert getattr(written, key) == getattr(own, key), key

    deadline = time.monotonic() + 60  # the session devnet may still be healing a previous test's fault
    while True:
        check = opwatch("check", "--config", str(path), "--format", "json")
        if check.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert check.returncode == 0, check.stdout + check.stderr
    findings = json.loads(check.stdout)
    assert findings and {f["status"] for f in findings} == {"ok"}
    assert {"sequencer_liveness", "batcher_lag", "batch_submission", "proposer_freshness"} <= \
        {f["check"] for f in findings}


def test_init_marks_what_it_cannot_find_and_refuses_to_overwrite(devnet, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "opwatch.toml"
    args = ("init", "--rollup-rpc", devnet.proxies["rollup"].url, "--l1-rpc", devnet.proxies["l1-0"].url,
            "-o", str(path))
    proc = opwatch(*args)
    assert proc.returncode == 0, proc.stderr
    assert "# FILL IN: l2_rpc = " in path.read_text()  # no --l2-rpc: a placeholder, not a guess
    invalid = opwatch("config", "validate", str(path))
    assert invalid.returncode == 2 and "l2_rpc" in invalid.stderr
    again = opwatch(*args)
    assert again.returncode == 2 and "exists" in again.stderr


def test_init_refuses_an_l1_of_another_chain(devnet, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = opwatch("init", "--rollup-rpc", devnet.proxies["rollup"].url, "--l1-rpc", devnet.proxies["l2"].url,
                   "-o", str(tmp_path / "x.toml"))
    assert proc.returncode == 2 and "chain" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "x.toml").exists()
