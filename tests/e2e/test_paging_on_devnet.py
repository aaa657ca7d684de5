"""One incident pages once and resolves itself, on the devnet, under RPC flakiness and
duplicate deliveries.

The whole path runs for real except PagerDuty: real anvil nodes behind fault proxies, the
real checks over HTTP, the real alert manager on a real SQLite state file, and the real
PagerDuty client posting over HTTP to the Events v2 stand-in (tests/pagerduty_standin.py).
Every round of findings is delivered twice (as SNS and Pub/Sub may), and a share of RPC
answers fail or arrive late throughout.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from devnet_config import tight_config_text
from opwatch.alerting import AlertManager, SqliteStore
from opwatch.alerting.pagerduty import PagerDutyClient, PagerDutySink
from opwatch.config import Config, parse_config
from opwatch.findings import Status
from opwatch.runner import run_checks
from pagerduty_standin import EventsStandIn

pytestmark = pytest.mark.anvil


SEQUENCER_KEY = "opwatch/devnet/sequencer_liveness/sequencer"


@pytest.fixture
def standin() -> Iterator[EventsStandIn]:
    server = EventsStandIn.start()
    yield server
    server.stop()


@pytest.fixture
def config(devnet) -> Config:  # type: ignore[no-untyped-def]
    return parse_config(tight_config_text(devnet, timeout="1s", batcher_max_safe_lag='"20s"',
                                          batcher_max_submission_age='"12s"', proposer_max_output_age='"30s"'))


def test_a_halted_sequencer_pages_once_and_resolves_once(devnet, config: Config, standin: EventsStandIn,  # type: ignore[no-untyped-def]
                                                         tmp_path: Path) -> None:
    client = PagerDutyClient(routing_key=lambda: "devnet-routing-key", base_url=standin.base_url, backoff=0.05)
    manager = AlertManager(SqliteStore(str(tmp_path / "alerts.db")), sinks=[PagerDutySink(client)])

    def round_trip() -> dict[str, Status]:
        findings = run_checks(config).findings
        manager.process(findings)
        manager.process(findings)  # a duplicate delivery of the same findings
        return {f.dedup_key: f.status for f in findings}

    def rounds_until(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            round_trip()
            if predicate():
                return True
            time.sleep(0.3)
        return False

    devnet.fault("flaky-rpc", p=0.1, delay=1.5)
    try:
        for _ in range(5):  # a healthy, noisy baseline pages nobody
            round_trip()
        assert standin.accepted == []

        devnet.fault("halt-sequencer")
        assert rounds_until(lambda: standin.actions(SEQUENCER_KEY) == ["trigger"], timeout=30)
        for _ in range(4):  # still halted: no second page
            round_trip()
        assert standin.actions(SEQUENCER_KEY) == ["trigger"]

        devnet.heal("halt-sequencer")
        assert rounds_until(lambda: standin.actions(SEQUENCER_KEY) == ["trigger", "resolve"], timeout=45)
        for _ in range(4):  # healthy again: nothing more
            round_trip()
    finally:
        devnet.heal()

    assert standin.actions(SEQUENCER_KEY) == ["trigger", "resolve"]
    assert standin.open_incidents() == []
    assert len(standin.incidents) == 1
    # Nothing else paged: no symptom of the halt, no blip of the flaky RPC.
    assert {e["dedup_key"] for e in standin.accepted} == {SEQUENCER_KEY}
    trigger = standin.accepted[0]
    assert trigger["payload"]["severity"] == "critical"
    assert "not producing blocks" in trigger["payload"]["summary"]
