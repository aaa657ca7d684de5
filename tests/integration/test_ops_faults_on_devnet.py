"""The on-call faults of issue #18 on the session devnet (real anvil L1 and L2, the op-node
stand-in and its replica, the op-conductor cluster stand-in), injected through the devnet's
FaultController as `opwatch devnet fault NAME` does: each fires its check, with the right
leading cause where the check diagnoses, and its heal resolves it. Memory is a real SQLite store.

- stuck-batcher-tx: tx_health (batcher) fires once the mined nonce stood still for tx_max_stuck;
  batch_submission and batcher_lag lead with txs_stuck.
- halt-derivation: batcher_lag leads with derivation_stalled (batches land; not the batcher).
- conductor-split: sequencer_ha critical. conductor-pause: sequencer_ha warns after
  conductor_max_paused, never on a first run; with the sequencer halted too, sequencer_liveness
  leads with the conductor.
- replica-no-peers: rollup_nodes warns. replica-diverge: rollup_nodes critical.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from devnet_config import tight_config_text
from opwatch.config import Config, parse_config
from opwatch.findings import Finding, Severity, Status
from opwatch.memory import SqliteMemoryStore
from opwatch.runner import run_checks

pytestmark = pytest.mark.anvil

Seen = dict[tuple[str, str], Finding]
NEW = ["sequencer_ha", "rollup_nodes", "tx_health", "finality"]
BATCHER = ["batch_submission", "batcher_lag"]


@pytest.fixture
def config(devnet) -> Config:  # type: ignore[no-untyped-def]
    return parse_config(tight_config_text(devnet, tx_max_stuck='"6s"', conductor_max_paused='"5s"'))


@pytest.fixture
def memory(tmp_path) -> SqliteMemoryStore:  # type: ignore[no-untyped-def]
    return SqliteMemoryStore(tmp_path / "memory.db")


def _run(config: Config, memory: SqliteMemoryStore, checks: list[str]) -> Seen:
    return {(f.check, f.target): f for f in run_checks(config, check_ids=checks, memory=memory).findings}


def _wait(config: Config, memory: SqliteMemoryStore, checks: list[str], want: Callable[[Seen], bool],
          timeout: float) -> Seen:
    deadline = time.monotonic() + timeout
    while True:
        seen = _run(config, memory, checks)
        if want(seen) or time.monotonic() > deadline:
            return seen
        time.sleep(1.0)


def _ok(seen: Seen) -> bool:
    return bool(seen) and all(f.status == Status.OK for f in seen.values())


def _bad(seen: Seen) -> dict[tuple[str, str], str]:
    return {k: f.summary for k, f in seen.items() if f.status != Status.OK}


def _leading(finding: Finding) -> str:
    return str(finding.details["diagnosis"][0]["cause"])


def _healthy(config: Config, memory: SqliteMemoryStore, checks: list[str]) -> None:
    seen = _wait(config, memory, checks, _ok, 60)
    assert _ok(seen), f"not healthy before the fault: {_bad(seen)}"


def _healed(config: Config, memory: SqliteMemoryStore, checks: list[str]) -> None:
    seen = _wait(config, memory, checks, _ok, 90)
    assert _ok(seen), f"the heal did not resolve: {_bad(seen)}"
    assert not any("diagnosis" in f.details for f in seen.values())


def test_the_devnet_writes_the_ha_cluster_and_the_replica_and_healthy_fires_none_of_the_new_checks(  # type: ignore[no-untyped-def]
        devnet, config: Config, memory: SqliteMemoryStore) -> None:
    net = config.network("devnet")
    assert [e.name for e in net.conductors] == ["conductor-0", "conductor-1", "conductor-2"]
    assert len(net.sequencer_nodes) == 3 and [e.name for e in net.rollup_nodes] == ["replica-0"]
    # Runs every 2 s over two minutes (20 times the 6 s tx_max_stuck and 24 times the 5 s
    # conductor_max_paused of this config), memory kept between them: nothing new fires.
    deadline = time.monotonic() + 120
    runs = 0
    while time.monotonic() < deadline or runs < 3:
        seen = _run(config, memory, NEW)
        assert {("sequencer_ha", "cluster"), ("rollup_nodes", "replica-0"), ("tx_health", "batcher")} <= set(seen)
        assert not any(f.status == Status.FIRING for f in seen.values()), _bad(seen)
        runs += 1
        time.sleep(2.0)
    assert _ok(seen), _bad(seen)
    assert seen[("rollup_nodes", "replica-0")].details["node_hash"] == \
        seen[("rollup_nodes", "replica-0")].details["sequencer_hash"]


def test_stuck_batcher_tx_fires_tx_health_and_the_batcher_checks_lead_with_txs_stuck(  # type: ignore[no-untyped-def]
        devnet, config: Config, memory: SqliteMemoryStore, tmp_path) -> None:
    checks = ["tx_health", *BATCHER]
    _healthy(config, memory, checks)
    devnet.fault("stuck-batcher-tx")
    try:
        stuck = devnet.faults.active["stuck-batcher-tx"]["nonce"]
        seen = _wait(config, memory, checks, lambda s: all(
            s[k].status == Status.FIRING for k in [("tx_health", "batcher"), ("batch_submission", "batcher"),
                                                   ("batcher_lag", "safe-head")]), 90)
        tx = seen[("tx_health", "batcher")]
        assert tx.status == Status.FIRING and tx.severity == Severity.CRITICAL, tx.summary
        assert tx.details["mined_nonce"] == stuck and tx.details["pending_nonce"] > stuck + 1
        assert tx.details["stuck_for_s"] >= 6.0
        for key in [("batch_submission", "batcher"), ("batcher_lag", "safe-head")]:
            assert seen[key].status == Status.FIRING, seen[key].summary
            assert _leading(seen[key]) == "txs_stuck", seen[key].details["diagnosis"]
            assert "batcher transactions stuck in the mempool" in seen[key].summary
        # A first run with an empty memory sees the stuck transaction, never fires on it.
        fresh = _run(config, SqliteMemoryStore(tmp_path / "fresh.db"), ["tx_health"])
        assert fresh[("tx_health", "batcher")].status == Status.OK
        assert "first seen now" in fresh[("tx_health", "batcher")].summary
    finally:
        devnet.heal("stuck-batcher-tx")
    _healed(config, memory, checks)
    assert devnet.batcher.stuck_nonce is None


def test_halt_derivation_fires_batcher_lag_leading_with_derivation_not_the_batcher(  # type: ignore[no-untyped-def]
        devnet, config: Config, memory: SqliteMemoryStore) -> None:
    _healthy(config, memory, BATCHER)
    devnet.fault("halt-derivation")
    try:
        seen = _wait(config, memory, BATCHER, lambda s: s[("batcher_lag", "safe-head")].status == Status.FIRING, 60)
        lag = seen[("batcher_lag", "safe-head")]
        assert lag.status == Status.FIRING, lag.summary
        assert _leading(lag) == "derivation_stalled", lag.details["diagnosis"]
        causes = {c["cause"]: c["holds"] for c in lag.details["diagnosis"]}
        assert causes["txs_stuck"] is False and causes["wallet_cannot_pay"] is False
        assert seen[("batch_submission", "batcher")].status == Status.OK  # batches keep landing
    finally:
        devnet.heal("halt-derivation")
    _healed(config, memory, BATCHER)


def test_conductor_split_is_critical_and_the_heal_resolves_it(devnet, config: Config,  # type: ignore[no-untyped-def]
                                                               memory: SqliteMemoryStore) -> None:
    key = ("sequencer_ha", "cluster")
    _healthy(config, memory, ["sequencer_ha"])
    devnet.fault("conductor-split")
    try:
        finding = _run(config, memory, ["sequencer_ha"])[key]
        assert finding.status == Status.FIRING and finding.severity == Severity.CRITICAL, finding.summary
        assert "split brain" in finding.summary and len(finding.details["leaders"]) == 2
        assert len(finding.details["sequencers_active"]) == 2
    finally:
        devnet.heal("conductor-split")
    _healed(config, memory, ["sequencer_ha"])


def test_conductor_pause_warns_after_conductor_max_paused_never_on_a_first_run(  # type: ignore[no-untyped-def]
        devnet, config: Config, memory: SqliteMemoryStore, tmp_path) -> None:
    key = ("sequencer_ha", "cluster")
    _healthy(config, memory, ["sequencer_ha"])
    devnet.fault("conductor-pause")
    try:
        first = _run(config, memory, ["sequencer_ha"])[key]
        assert first.status == Status.OK, first.summary  # paused, first seen now
        seen = _wait(config, memory, ["sequencer_ha"], lambda s: s[key].status == Status.FIRING, 60)[key]
        assert seen.status == Status.FIRING and seen.severity == Severity.WARNING, seen.summary
        assert "conductor-1 has been paused" in seen.summary
        fresh = _run(config, SqliteMemoryStore(tmp_path / "fresh.db"), ["sequencer_ha"])[key]
        assert fresh.status == Status.OK, fresh.summary
    finally:
        devnet.heal("conductor-pause")
    _healed(config, memory, ["sequencer_ha"])


def test_a_halted_sequencer_under_a_paused_conductor_leads_its_diagnosis_with_the_conductor(  # type: ignore[no-untyped-def]
        devnet, config: Config, memory: SqliteMemoryStore) -> None:
    key = ("sequencer_liveness", "sequencer")
    _healthy(config, memory, ["sequencer_liveness"])
    devnet.fault("conductor-pause")
    devnet.fault("halt-sequencer")
    try:
        finding = _wait(config, memory, ["sequencer_liveness"], lambda s: s[key].status == Status.FIRING, 60)[key]
        assert finding.status == Status.FIRING, finding.summary
        assert _leading(finding) == "conductor_held", finding.details["diagnosis"]
        assert "conductor-1 paused" in finding.summary
    finally:
        devnet.heal("halt-sequencer")
        devnet.heal("conductor-pause")
    _healed(config, memory, ["sequencer_liveness"])
    # Without the pause, the same halt leads with the sequencer itself; the conductor is ruled out.
    devnet.fault("halt-sequencer")
    try:
        finding = _wait(config, memory, ["sequencer_liveness"], lambda s: s[key].status == Status.FIRING, 60)[key]
        causes = {c["cause"]: c["holds"] for c in finding.details["diagnosis"]}
        assert _leading(finding) == "sequencing_stopped" and causes["conductor_held"] is False
    finally:
        devnet.heal("halt-sequencer")
    _healed(config, memory, ["sequencer_liveness"])


@pytest.mark.parametrize(("fault", "severity", "text"), [
    ("replica-no-peers", Severity.WARNING, "0 connected peers (minimum 3)"),
    ("replica-diverge", Severity.CRITICAL, "the replica is on another chain"),
], ids=["replica-no-peers", "replica-diverge"])
def test_a_replica_fault_fires_rollup_nodes_and_the_heal_resolves_it(devnet, config: Config,  # type: ignore[no-untyped-def]
                                                                      memory: SqliteMemoryStore, fault: str,
                                                                      severity: Severity, text: str) -> None:
    key = ("rollup_nodes", "replica-0")
    _healthy(config, memory, ["rollup_nodes"])
    devnet.fault(fault)
    try:
        finding = _wait(config, memory, ["rollup_nodes"], lambda s: s[key].status == Status.FIRING, 30)[key]
        assert finding.status == Status.FIRING and finding.severity == severity, finding.summary
        assert text in finding.summary
    finally:
        devnet.heal(fault)
    _healed(config, memory, ["rollup_nodes"])
