"""`opwatch watch --listen` scraped by the real Prometheus on the devnet: the series exist with
their documented labels, and `opwatch_finding_status` moves when the sequencer halts and heals."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from devnet_config import tight_config_text
from opwatch.config import load_config
from opwatch.redact import redact_url
from prometheus_server import Prometheus, free_port, running_prometheus

pytestmark = pytest.mark.anvil


@pytest.fixture(scope="module")
def scraped(devnet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:  # type: ignore[no-untyped-def]
    work = tmp_path_factory.mktemp("prom")
    config = work / "opwatch.toml"
    config.write_text(tight_config_text(devnet))
    port = free_port()
    log = (work / "watch.log").open("w")
    watch = subprocess.Popen([sys.executable, "-m", "opwatch.cli.main", "watch", "--config", str(config),
                              "--interval", "1s", "--listen", f"127.0.0.1:{port}",
                              "--check", "sequencer_liveness", "--check", "rpc_sync", "--check", "wallet_runway"],
                             stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_metrics(port, watch, work / "watch.log")
        with running_prometheus(work, [f"127.0.0.1:{port}"]) as prom:
            yield prom
    finally:
        watch.terminate()
        try:
            watch.wait(timeout=20)
        except subprocess.TimeoutExpired:
            watch.kill()
            watch.wait()
        log.close()


def load_config_text(text: str):  # type: ignore[no-untyped-def]
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".toml") as f:
        f.write(text)
        f.flush()
        return load_config(f.name)


def _wait_metrics(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
                if b"opwatch_finding_status{" in resp.read():
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"opwatch watch --listen served no findings: {log.read_text()}")
        time.sleep(0.3)


def test_series_carry_the_documented_labels(scraped: Prometheus, devnet) -> None:  # type: ignore[no-untyped-def]
    status = scraped.wait_for('opwatch_finding_status{check="sequencer_liveness"}', lambda r: len(r) == 1)
    assert status[0]["metric"]["network"] == "devnet" and status[0]["metric"]["target"]
    observed = scraped.wait_for('opwatch_observed{check="sequencer_liveness"}', lambda r: len(r) == 1)
    assert observed[0]["metric"]["unit"] == "seconds" and observed[0]["value"] >= 0
    threshold = scraped.query('opwatch_threshold{check="sequencer_liveness"}')
    assert [t["value"] for t in threshold] == [3.0]  # TIGHT's sequencer_max_head_age
    assert {r["metric"]["unit"] for r in scraped.query('opwatch_observed{check="rpc_sync"}')} == {"blocks"}
    runway = scraped.wait_for('opwatch_threshold{check="wallet_runway"}', bool)
    assert {r["metric"]["unit"] for r in runway} == {"hours"} and {r["value"] for r in runway} == {24.0}
    assert scraped.wait_for("opwatch_l1_base_fee_wei", bool)[0]["value"] > 0
    durations = scraped.wait_for("opwatch_check_duration_seconds", lambda r: len(r) == 3)
    assert {r["metric"]["check"] for r in durations} == {"sequencer_liveness", "rpc_sync", "wallet_runway"}
    last = scraped.query('opwatch_last_run_timestamp_seconds{check="rpc_sync"}')
    assert abs(last[0]["value"] - time.time()) < 60
    requests = scraped.wait_for("opwatch_rpc_requests_total", bool)
    from opwatch.cli.metrics import _endpoints

    # Labelled by the endpoints' configured names, the ones findings use; never by their URLs.
    configured = load_config_text(tight_config_text(devnet))
    names = {e.name for e in _endpoints(configured)}
    labels = {r["metric"]["endpoint"] for r in requests}
    assert labels and labels <= names and all(r["value"] > 0 for r in requests)
    # (the devnet's endpoints are unnamed: their name is the redacted URL, which keeps no path)
    assert all(redact_url(n) == n for n in labels if "://" in n), labels


def test_finding_status_follows_a_halted_sequencer(scraped: Prometheus, devnet) -> None:  # type: ignore[no-untyped-def]
    query = 'opwatch_finding_status{check="sequencer_liveness"}'
    scraped.wait_for(query, lambda r: len(r) == 1 and r[0]["value"] == 0)
    devnet.fault("halt-sequencer")
    try:
        scraped.wait_for(query, lambda r: len(r) == 1 and r[0]["value"] == 1)
        # The rule an operator would write sees it too: the series went 0 -> 1 within the window.
        assert scraped.query(f"max_over_time({query}[2m]) - min_over_time({query}[2m])")[0]["value"] == 1
    finally:
        devnet.heal("halt-sequencer")
    scraped.wait_for(query, lambda r: len(r) == 1 and r[0]["value"] == 0)
