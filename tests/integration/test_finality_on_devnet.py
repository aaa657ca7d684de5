"""finality on the devnet (real anvil L1 and L2, the op-node stand-in): a healthy chain is ok on
both targets; halt-finality (op-node sees L1 finality stall) fires `finalized` as a warning and
the heal resolves it; rewind-finalized (op-node serves a finalized head below one it served
before) fires critical on the run after one that remembered the higher head, never on a first
run; a stopped batcher eats the sequencing window's runway and fires `seq_window`.

Thresholds are set from what the healthy devnet measures (its finalized head trails by L1's 64
finalized blocks plus the batch interval), a margin above it, so the tests time the behaviour
and not the machine. Every fault is healed: the session devnet is left healthy.
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

Seen = dict[str, Finding]


def _config(devnet, **thresholds: str) -> Config:  # type: ignore[no-untyped-def]
    return parse_config(tight_config_text(devnet, **thresholds))


def _run(config: Config, memory: SqliteMemoryStore) -> Seen:
    return {f.target: f for f in run_checks(config, check_ids=["finality"], memory=memory).findings}


def _wait(config: Config, memory: SqliteMemoryStore, want: Callable[[Seen], bool], timeout: float) -> Seen:
    deadline = time.monotonic() + timeout
    while True:
        seen = _run(config, memory)
        if want(seen) or time.monotonic() > deadline:
            return seen
        time.sleep(1.0)


def _healthy(devnet, tmp_path) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """The healthy devnet's finalized head age (s) and sequencing window runway (L1 blocks), once
    L1 is past its first finalized epochs (before, L1 `finalized` is still genesis)."""
    from opwatch_devnet.jsonrpc import RpcClient

    l1 = RpcClient(devnet.l1_url)
    devnet.wait_for(lambda: l1.block_number() >= 100, timeout=180, poll=1.0)
    seen = _wait(_config(devnet), SqliteMemoryStore(tmp_path / "probe.db"),
                 lambda s: all(f.status == Status.OK for f in s.values()), 60)
    assert all(f.status == Status.OK for f in seen.values()), {t: f.summary for t, f in seen.items()}
    age, runway = seen["finalized"].observed.value, seen["seq_window"].observed.value
    assert age is not None and runway is not None
    return age, runway


def test_healthy_devnet_is_ok_and_a_second_run_finds_nothing_went_backwards(devnet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    config, memory = _config(devnet), SqliteMemoryStore(tmp_path / "m.db")
    first = _run(config, memory)
    assert {t: f.status for t, f in first.items()} == {"finalized": Status.OK, "seq_window": Status.OK}
    assert first["finalized"].details["went_backwards"] is None  # a first run cannot tell
    time.sleep(2.0)
    second = _run(config, memory)
    assert all(f.status == Status.OK for f in second.values())
    assert second["finalized"].details["went_backwards"] is False
    assert second["seq_window"].details["seq_window_size"] == 3600  # from optimism_rollupConfig


def test_halt_finality_fires_finalized_as_a_warning_and_the_heal_resolves_it(devnet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    age, _ = _healthy(devnet, tmp_path)
    config = _config(devnet, finality_max_age=f'"{int(age) + 15}s"')
    memory = SqliteMemoryStore(tmp_path / "m.db")
    assert _run(config, memory)["finalized"].status == Status.OK
    devnet.fault("halt-finality")
    try:
        seen = _wait(config, memory, lambda s: s["finalized"].status == Status.FIRING, 90)
    finally:
        devnet.heal("halt-finality")
    finding = seen["finalized"]
    assert finding.status == Status.FIRING, finding.summary
    assert finding.severity == Severity.WARNING
    assert "L1 finality or batching has stalled" in finding.summary
    assert seen["seq_window"].status == Status.OK  # batches still land: the window is fine
    healed = _wait(config, memory, lambda s: s["finalized"].status == Status.OK, 60)
    assert healed["finalized"].status == Status.OK, healed["finalized"].summary


def test_a_finalized_head_going_backwards_fires_critical_on_the_second_run_never_the_first(devnet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = _config(devnet)
    memory = SqliteMemoryStore(tmp_path / "m.db")
    assert _run(config, memory)["finalized"].status == Status.OK  # remembers the finalized head
    # 60 L2 blocks: far more than the finalized head advances between two runs (1 s blocks).
    devnet.fault("rewind-finalized", n=60)
    try:
        first = _run(config, SqliteMemoryStore(tmp_path / "fresh.db"))  # a first run: no memory
        second = _run(config, memory)
    finally:
        devnet.heal("rewind-finalized")
    assert first["finalized"].status == Status.OK, first["finalized"].summary
    assert first["finalized"].details["went_backwards"] is None
    finding = second["finalized"]
    assert finding.status == Status.FIRING, finding.summary
    assert finding.severity == Severity.CRITICAL
    assert finding.details["went_backwards"] is True
    assert "is below #" in finding.summary and "finalized or safe L2 blocks were undone" in finding.summary
    healed = _wait(config, memory, lambda s: s["finalized"].status == Status.OK, 30)
    assert healed["finalized"].status == Status.OK, healed["finalized"].summary


def test_a_stopped_batcher_eats_the_sequencing_window_and_fires_seq_window(devnet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, runway = _healthy(devnet, tmp_path)
    # 12 L1 blocks (12 s on the devnet) under the healthy runway: the window's runway falls one
    # block per L1 block while no batch lands.
    config = _config(devnet, seq_window_min_blocks=str(int(runway) - 12))
    memory = SqliteMemoryStore(tmp_path / "m.db")
    assert _run(config, memory)["seq_window"].status == Status.OK
    devnet.fault("stop-batcher")
    try:
        seen = _wait(config, memory, lambda s: s["seq_window"].status == Status.FIRING, 90)
    finally:
        devnet.heal("stop-batcher")
    finding = seen["seq_window"]
    assert finding.status == Status.FIRING, finding.summary
    assert finding.severity == Severity.WARNING  # far above a quarter of the minimum
    assert finding.observed.value is not None and finding.observed.value < int(runway) - 12
    healed = _wait(config, memory, lambda s: s["seq_window"].status == Status.OK, 90)
    assert healed["seq_window"].status == Status.OK, healed["seq_window"].summary
