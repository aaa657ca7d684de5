"""`opwatch watch --page --state FILE` as a service on the devnet: a halted sequencer pages once
and resolves once through the PagerDuty Events v2 stand-in, across a SIGTERM and a restart on the
same SQLite state (no second page), with the fast lane from `[schedules]`, JSON findings on
stdout and JSON log lines in the common schema on stderr."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from devnet_config import tight_config_text
from opwatch.logschema import FINDING_FIELDS, LINE_FIELDS
from pagerduty_standin import EventsStandIn

pytestmark = pytest.mark.anvil

ROOT = Path(__file__).resolve().parents[2]
SEQUENCER_KEY = "opwatch/devnet/sequencer_liveness/sequencer"
# sequencer_liveness every second (the fast lane), everything else on its minute.
SCHEDULES = '\n[schedules]\nfast_lane = true\nfast_lane_every = "1s"\n'


class Service:
    """One `opwatch watch` process; its stdout (findings) and stderr (logs) in files."""

    def __init__(self, work: Path, name: str, args: list[str], env: dict[str, str]) -> None:
        self.out, self.err = work / f"{name}.out", work / f"{name}.err"
        with self.out.open("w") as out, self.err.open("w") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "opwatch.cli.main", "watch", *args],
                                         stdout=out, stderr=err, env=env, cwd=work)

    def findings(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.out.read_text().splitlines() if line.strip()]

    def logs(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.err.read_text().splitlines() if line.startswith("{")]

    def sequencer(self) -> list[str]:
        return [str(f["status"]) for f in self.findings() if f["dedup_key"] == SEQUENCER_KEY]

    def stop(self, timeout: float = 60.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"opwatch watch did not stop on SIGTERM: {self.err.read_text()[-2000:]}") from None


def wait_for(what: str, predicate: Callable[[], bool], service: Service, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if service.proc.poll() is not None:
            raise AssertionError(f"opwatch watch exited ({service.proc.returncode}) while waiting for {what}: "
                                 f"{service.err.read_text()[-3000:]}")
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}: {service.err.read_text()[-3000:]}")


@pytest.fixture
def standin() -> Iterator[EventsStandIn]:
    server = EventsStandIn.start()
    yield server
    server.stop()


def test_the_service_pages_a_halt_once_across_a_restart_and_resolves_once(  # type: ignore[no-untyped-def]
        devnet, standin: EventsStandIn, tmp_path: Path) -> None:
    config = tmp_path / "opwatch.toml"
    config.write_text(tight_config_text(devnet, timeout="1s") + SCHEDULES)
    state = tmp_path / "state.db"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "functions"), str(ROOT / "devnet")]),
           "OPWATCH_SECRET_PAGERDUTY": "devnet-placeholder-routing-key",  # the stand-in takes any key
           "OPWATCH_PAGERDUTY_URL": standin.base_url}
    args = ["--config", str(config), "--page", "--state", str(state), "--format", "json"]

    started = time.monotonic()
    first = Service(tmp_path, "first", args, env)
    try:
        wait_for("a healthy baseline", lambda: first.sequencer().count("ok") >= 3, first, timeout=90)
        assert standin.actions(SEQUENCER_KEY) == []
        devnet.fault("halt-sequencer")
        wait_for("the page", lambda: standin.actions(SEQUENCER_KEY) == ["trigger"], first, timeout=60)
        # The fast lane ran sequencer_liveness every second; the others run once a minute.
        runs: dict[str, int] = {}
        for f in first.findings():
            runs[str(f["dedup_key"])] = runs.get(str(f["dedup_key"]), 0) + 1
        minutes = (time.monotonic() - started) / 60
        assert runs[SEQUENCER_KEY] >= 5, runs
        others = {key: n for key, n in runs.items() if key != SEQUENCER_KEY}
        assert others and max(others.values()) <= minutes + 1, (minutes, runs)
    except BaseException:
        first.proc.kill()
        devnet.heal("halt-sequencer")
        raise
    assert first.stop() == 0
    stopped = [entry for entry in first.logs() if "stopped" in str(entry["message"])]
    assert stopped and "SIGTERM" in str(stopped[-1]["message"])

    second = Service(tmp_path, "second", args, env)
    try:
        # Still halted, on the same state: it sees the halt again and does not page again.
        wait_for("the halt seen after the restart", lambda: second.sequencer().count("firing") >= 5, second,
                 timeout=90)
        assert standin.actions(SEQUENCER_KEY) == ["trigger"]
        devnet.heal("halt-sequencer")
        wait_for("the resolve", lambda: standin.actions(SEQUENCER_KEY) == ["trigger", "resolve"], second,
                 timeout=90)
        oks = second.sequencer().count("ok")
        wait_for("healthy rounds", lambda: second.sequencer().count("ok") >= oks + 4, second, timeout=60)
        assert standin.actions(SEQUENCER_KEY) == ["trigger", "resolve"]
    finally:
        devnet.heal("halt-sequencer")
        code = second.stop()
    assert code == 0

    logs = first.logs() + second.logs()
    lines = [entry for entry in logs if entry.get("dedup_key") == SEQUENCER_KEY and "transition" not in entry]
    assert {str(entry["status"]) for entry in lines} >= {"ok", "firing"}
    for entry in lines:  # the common schema: the same names the cloud functions log
        assert set(LINE_FIELDS) | set(FINDING_FIELDS) <= set(entry), entry
    notified = [entry for entry in logs if entry.get("transition") == "notified"
                and entry.get("dedup_key") == SEQUENCER_KEY]
    assert len(notified) == 2, notified
    assert "devnet-placeholder-routing-key" not in first.err.read_text() + second.err.read_text()
