"""Diagnosis on the devnet (real anvil L1 and L2, the op-node stand-in): each fault's firing
finding names its cause first, in `details.diagnosis` and at the end of its summary, and the
heal resolves it with no diagnosis left. Memory is a real SQLite store; a first run (empty
memory) is judged on what it measures now.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from devnet_config import tight_config_text
from opwatch.config import Config, parse_config
from opwatch.findings import Finding, Status
from opwatch.memory import SqliteMemoryStore
from opwatch.runner import run_checks

pytestmark = pytest.mark.anvil


@pytest.fixture
def config(devnet) -> Config:  # type: ignore[no-untyped-def]
    return parse_config(tight_config_text(devnet))


def _run(config: Config, memory: SqliteMemoryStore, checks: list[str]) -> dict[tuple[str, str], Finding]:
    return {(f.check, f.target): f for f in run_checks(config, check_ids=checks, memory=memory).findings}


def _wait(config: Config, memory: SqliteMemoryStore, checks: list[str],
          want: Callable[[dict[tuple[str, str], Finding]], bool], timeout: float) -> dict[tuple[str, str], Finding]:
    deadline = time.monotonic() + timeout
    while True:
        seen = _run(config, memory, checks)
        if want(seen) or time.monotonic() > deadline:
            return seen
        time.sleep(1.0)


def _leading(finding: Finding) -> str:
    return str(finding.details["diagnosis"][0]["cause"])


BATCHER = ["batch_submission", "batcher_lag"]


@pytest.mark.parametrize(("fault", "checks", "key", "cause"), [
    ("drain-batcher", BATCHER, ("batch_submission", "batcher"), "wallet_cannot_pay"),
    ("halt-sequencer", ["sequencer_liveness"], ("sequencer_liveness", "sequencer"), "sequencing_stopped"),
], ids=["drain-batcher", "halt-sequencer"])
def test_a_fault_leads_its_diagnosis_and_the_heal_resolves_it(devnet, config: Config, tmp_path, fault: str,  # type: ignore[no-untyped-def]
                                                              checks: list[str], key: tuple[str, str],
                                                              cause: str) -> None:
    memory = SqliteMemoryStore(tmp_path / "state.db")
    healthy = _wait(config, memory, checks, lambda s: all(f.status == Status.OK for f in s.values()), 60)
    assert all(f.status == Status.OK and "diagnosis" not in f.details for f in healthy.values())
    devnet.fault(fault)
    try:
        seen = _wait(config, memory, checks, lambda s: s[key].status == Status.FIRING, 60)
        finding = seen[key]
        assert finding.status == Status.FIRING, finding.summary
        assert _leading(finding) == cause, finding.details["diagnosis"]
        assert finding.details["diagnosis"][0]["holds"] is True
        assert "here's why: " in finding.summary and finding.details["diagnosis"][0]["text"] in finding.summary
    finally:
        devnet.heal(fault)
    healed = _wait(config, memory, checks, lambda s: all(f.status == Status.OK for f in s.values()), 90)
    assert all(f.status == Status.OK and "diagnosis" not in f.details for f in healed.values())


def test_a_first_run_without_memory_says_so_and_never_fires_on_memory(devnet, config: Config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    devnet.fault("stop-batcher")
    try:
        seen = _wait(config, SqliteMemoryStore(tmp_path / "a.db"), ["batch_submission"],
                     lambda s: s[("batch_submission", "batcher")].status == Status.FIRING, 60)
        # A fresh, empty store: the first run measures what it can; nothing rests on memory.
        first = _run(config, SqliteMemoryStore(tmp_path / "fresh.db"), ["batch_submission"])
    finally:
        devnet.heal("stop-batcher")
    finding = first[("batch_submission", "batcher")]
    assert finding.status == Status.FIRING  # fired on the scan, not on memory
    causes = {c["cause"]: c for c in finding.details["diagnosis"]}
    assert causes["txs_stuck"]["holds"] is False and causes["wallet_cannot_pay"]["holds"] is False
    assert causes["l1_unreachable"]["holds"] is False
    assert seen[("batch_submission", "batcher")].status == Status.FIRING
