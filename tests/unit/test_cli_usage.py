"""The CLI as a person uses it: --version, completion, --help with choices and exit codes, and
`opwatch check` saying which checks it skipped and why."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# A network whose endpoints refuse connections at once (port 9 on loopback): every check that
# runs is unknown, and most checks are skipped for lack of addresses.
MINIMAL = """
[rpc]
timeout = "1s"
retries = 0

[networks.tiny]
l1_rpc = "http://127.0.0.1:9"
l2_rpc = "http://127.0.0.1:9"
l1_chain_id = 1
l2_chain_id = 10
block_time = 2
"""


def opwatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opwatch.cli.main", *args], capture_output=True, text=True,
                          timeout=120)


def test_version() -> None:
    from importlib.metadata import version

    proc = opwatch("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"opwatch {version('opwatch')}"


def test_bash_completion_parses_and_knows_the_commands(tmp_path: Path) -> None:
    proc = opwatch("completion", "bash")
    assert proc.returncode == 0
    script = tmp_path / "opwatch.bash"
    script.write_text(proc.stdout)
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    # Ask the completion function itself, as bash would on <TAB>.
    def complete(line: str) -> list[str]:
        words = line.split(" ")
        cmd = (f"source {script}; COMP_WORDS=({' '.join(repr(w) for w in words)}); "
               f"COMP_CWORD={len(words) - 1}; _opwatch; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
        out = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        return out.stdout.split()
    assert {"check", "watch", "config", "init", "alerts", "completion"} <= set(complete("opwatch "))
    assert "--format" in complete("opwatch check --f")
    assert complete("opwatch check --format ") == ["table", "json"]
    assert "validate" in complete("opwatch config ")


@pytest.mark.parametrize("command", ["check", "watch", "config", "init", "alerts", "completion"])
def test_every_subcommand_help_describes_it_and_its_exit_codes(command: str) -> None:
    proc = opwatch(command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert "exit codes" in proc.stdout.lower(), proc.stdout


def test_every_reporting_subcommand_takes_format_table_or_json() -> None:
    for command in (["check"], ["watch"], ["alerts"], ["config", "validate"], ["init"]):
        out = opwatch(*command, "--help").stdout
        assert "--format {table,json}" in out, (command, out)


def test_devnet_fault_help_lists_every_fault_with_its_arguments() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "devnet"))
    from opwatch_devnet.faults import FAULT_NAMES

    proc = opwatch("devnet", "fault", "--help")
    assert proc.returncode == 0
    for name in FAULT_NAMES:
        assert f"\n  {name}" in proc.stdout, name
    assert "n=10" in proc.stdout and "node=0" in proc.stdout  # lag-rpc's arguments and defaults


def test_check_lists_skipped_checks_and_why(tmp_path: Path) -> None:
    path = tmp_path / "tiny.toml"
    path.write_text(MINIMAL)
    proc = opwatch("check", "--config", str(path))
    assert proc.returncode == 3, proc.stdout + proc.stderr  # unknown: nothing answers
    assert "SKIPPED" in proc.stdout
    skipped = proc.stdout.split("SKIPPED", 1)[1]
    assert "proposer_freshness" in skipped and "batcher_lag" in skipped
    assert "rollup_rpc" in skipped  # the reason names what is missing
    proc = opwatch("check", "--config", str(path), "--format", "json")
    report = json.loads(proc.stdout)
    assert isinstance(report, list)  # the findings array, as before
    assert "proposer_freshness" in proc.stderr


def test_check_named_that_cannot_run_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "tiny.toml"
    path.write_text(MINIMAL)
    proc = opwatch("check", "--config", str(path), "--check", "proposer_freshness")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "tiny/proposer_freshness" in proc.stderr and "Traceback" not in proc.stderr
