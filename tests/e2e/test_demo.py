"""The demo end to end: faults go into a real devnet, opwatch's findings show them, and the
demo leaves nothing running.

The timeline runs against the session devnet (tests/conftest.py). Proving that `run()` stops
every process it started needs a devnet of its own: one short fault in-process, one SIGTERM
in a subprocess.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from opwatch.config import load_config
from opwatch_devnet import demo
from opwatch_devnet.timeline import standard_scenarios
from opwatch_devnet.topology import Devnet

pytestmark = pytest.mark.anvil


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for every purpose but the process table.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ", 1)[1][:1] != "Z"


def pids_in(workdir: Path) -> list[int]:
    state = json.loads((workdir / "state.json").read_text())
    return [node["pid"] for node in state["nodes"].values()]


def test_the_timeline_detects_and_recovers_a_halted_sequencer_and_a_dead_l1(devnet: Devnet) -> None:
    scenarios = standard_scenarios(load_config(devnet.config_path).network("devnet"))
    out = io.StringIO()
    try:
        report = demo.run_demo(devnet, [scenarios["halt-sequencer"], scenarios["kill-l1"]], out)
    finally:
        devnet.heal()
    data = json.loads(json.dumps(report.to_dict()))
    assert data["baseline_ok"] is True
    halt, dead_l1 = data["faults"]
    assert halt["fault"] == "halt-sequencer" and halt["expected"] == ["sequencer_liveness firing"]
    assert halt["detected"] and halt["recovered"] and halt["unexpected"] == []
    limit = float(devnet.thresholds.sequencer_max_head_age.rstrip("s"))
    # The last head is up to one block (plus a second of timestamp rounding) older than the
    # halt; then a few 1 s rounds at most.
    assert limit - 2 * devnet.l2_block_time <= halt["detect_s"] <= limit + 6
    assert any("sequencer_liveness/sequencer firing" in text for text in halt["detected_by"])
    assert dead_l1["detected"] and dead_l1["recovered"] and dead_l1["unexpected"] == []
    assert set(dead_l1["detections"]) == {
        "batch_submission unknown", "wallet_runway/batcher unknown", "wallet_runway/proposer unknown",
        "proposer_freshness unknown"}
    assert all(isinstance(v, float) for v in dead_l1["detections"].values())
    assert all("cannot tell" in text for text in dead_l1["detected_by"])
    # Paged once each, through the real alert manager and PagerDuty client, and resolved.
    assert halt["paging"]["triggers"] == ["pagerduty:opwatch/devnet/sequencer_liveness/sequencer"]
    assert halt["paging"]["resolves"] == ["pagerduty:opwatch/devnet/sequencer_liveness/sequencer"]
    # A dead L1 is one root-cause alert ("opwatch cannot see L1"), not one per L1 check.
    assert dead_l1["paging"]["triggers"] == ["chat:opwatch/devnet/opwatch_blind/l1/endpoints"]
    assert halt["paging"]["still_open"] == [] and dead_l1["paging"]["still_open"] == []
    assert data["passed"] is True and report.passed
    assert data["settings"]["thresholds"]["sequencer_max_head_age"] == devnet.thresholds.sequencer_max_head_age
    text = out.getvalue()
    assert "detected in" in text and "recovered in" in text and "\033[" not in text  # no colour off a TTY


def test_demo_run_reports_json_and_stops_every_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = demo.run(["--only", "lag-rpc", "--json", "--no-colour", "--workdir", str(tmp_path)])
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert code == 0, captured.err
    assert report["passed"] is True
    (lag,) = report["faults"]
    # A lagging replica is a warning: it goes to chat, not to the pager.
    assert [t.split(":", 1)[0] for t in lag["paging"]["triggers"]] == ["chat"]
    assert lag["fault"] == "lag-rpc" and lag["detected"] and lag["recovered"]
    assert lag["expected"][0].startswith("rpc_sync/") and lag["expected"][0].endswith(" firing")
    assert set(lag) >= {"detect_s", "recover_s", "detections", "unexpected", "rounds", "passed"}
    assert "lag-rpc" in captured.err  # the live view went to stderr, the report alone to stdout
    assert not [pid for pid in pids_in(tmp_path) if alive(pid)]


def test_sigterm_stops_the_demo_and_its_devnet(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "opwatch_devnet.demo", "--workdir", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "state.json").exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the devnet did not come up"
            time.sleep(0.2)
        pids = pids_in(tmp_path)
        assert pids and all(alive(pid) for pid in pids)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "SIGTERM" in err
    assert not [pid for pid in pids if alive(pid)]


def test_a_drained_batcher_is_topped_up_once_by_the_unattended_remedy(devnet: Devnet, tmp_path: Path) -> None:
    from opwatch_devnet.remediation import policy_text

    config_path = tmp_path / "opwatch.toml"
    config_path.write_text(devnet.config_path.read_text() + policy_text(tmp_path))
    scenarios = standard_scenarios(load_config(config_path).network("devnet"))
    out = io.StringIO()
    try:
        report = demo.run_demo(devnet, [scenarios["drain-batcher"]], out, config_path=config_path)
    finally:
        devnet.heal()
    (drain,) = report.to_dict()["faults"]
    assert drain["detected"] and drain["passed"], out.getvalue()
    # One transaction, however many rounds saw the wallet firing (a drained wallet is urgent: it
    # pages at the first round, so there may be only one; later rounds answer "already funded").
    assert len(drain["remedies"]) == 1 and "sent 40 ETH" in drain["remedies"][0]
    assert out.getvalue().count("top-up of the batcher wallet: sent") == 1, out.getvalue()
    assert drain["paging"]["triggers"] and not drain["paging"]["still_open"], drain["paging"]


def test_the_oracle_demo_pages_on_bad_output_and_the_challengers_delete_resolves_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # What `opwatch demo` promises after its standard timeline, played alone (--only).
    code = demo.run(["--only", "bad-output", "--json", "--no-colour", "--workdir", str(tmp_path)])
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert code == 0, captured.err
    (bad,) = report["faults"]
    assert bad["fault"] == "bad-output" and bad["expected"] == ["output_root firing"]
    assert bad["detected"] and bad["recovered"] and not bad["unexpected"], bad
    # A wrong root is critical: it pages, once, and the page resolves after the heal.
    assert [t for t in bad["paging"]["triggers"] if "output_root" in t and t.startswith("pagerduty")], bad["paging"]
    assert not bad["paging"]["still_open"]
    assert not [pid for pid in pids_in(tmp_path) if alive(pid)]


def test_the_fault_proof_demo_counters_a_bad_game_and_pages_when_the_challenger_is_down(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `opwatch demo --proofs fault`'s dispute-game scenarios: about two minutes (60 s clocks).
    code = demo.run(["--proofs", "fault", "--only", "bad-game", "--only", "bad-game-unchallenged", "--json",
                     "--no-colour", "--workdir", str(tmp_path)])
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert code == 0, captured.err
    countered, unchallenged = [f for f in report["faults"] if f["fault"] == "bad-game"]
    # With the challenger: nothing fires, nobody is paged.
    assert countered["noise"] and countered["passed"] and not countered["unexpected"], countered
    assert not countered["paging"]["triggers"]
    # Without it: dispute_games fires once the clock passes the limit, pages, and resolves
    # once the challenger is back and counters the game.
    assert unchallenged["expected"] == ["dispute_games firing"]
    assert unchallenged["detected"] and unchallenged["recovered"], unchallenged
    assert unchallenged["detect_s"] >= demo.DEMO_CLOCK_S / 2 - 5  # not before half the clock is gone
    assert [t for t in unchallenged["paging"]["triggers"] if "dispute_games" in t], unchallenged["paging"]
    assert not unchallenged["paging"]["still_open"]
    assert not [pid for pid in pids_in(tmp_path) if alive(pid)]
