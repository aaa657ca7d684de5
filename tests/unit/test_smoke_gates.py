"""The smoke gate's verdicts: only ok passes, unknown fails, nothing-to-check is skipped and
says why, and the report names every failed gate first."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opwatch.checks.heartbeat import HttpBeatSource
from opwatch.findings import Finding, Measure, Severity, Status
from opwatch.smoke import FAIL, PASS, SKIPPED, GateResult, SmokeReport, gate_from, render_text
from opwatch.smoke_cli import heartbeat_sources


def finding(status: Status, check: str = "rpc_sync", target: str = "rpc-0") -> Finding:
    return Finding("devnet", check, target, status, Severity.CRITICAL, f"{target} is {status}",
                   Measure(1.0, "blocks"), Measure(5.0, "blocks"), "2026-01-01T00:00:00Z")


@given(st.lists(st.sampled_from(list(Status)), min_size=1, max_size=8))
def test_a_gate_passes_only_when_every_finding_is_ok(statuses: list[Status]) -> None:
    gate = gate_from("rpc", [finding(s, target=f"rpc-{i}") for i, s in enumerate(statuses)])
    assert (gate.status == PASS) == all(s == Status.OK for s in statuses)
    for i, s in enumerate(statuses):  # every failing finding is named in the reason
        assert (f"rpc_sync/rpc-{i} {s}" in gate.reason) == (s != Status.OK)


def test_unknown_fails_the_gate() -> None:
    gate = gate_from("rpc", [finding(Status.OK), finding(Status.UNKNOWN, target="rpc-1")])
    assert gate.status == FAIL and gate.reason == "rpc_sync/rpc-1 unknown: rpc-1 is unknown"


def test_a_gate_without_findings_is_skipped_with_the_reason() -> None:
    gate = gate_from("batcher", [], ["batcher_lag: no rollup_rpc"])
    assert (gate.status, gate.reason) == (SKIPPED, "batcher_lag: no rollup_rpc")


def test_the_report_names_failed_gates_and_skips_do_not_fail() -> None:
    halted = finding(Status.FIRING, "sequencer_liveness", "sequencer")
    report = SmokeReport("devnet", [gate_from("block_production", [halted]), gate_from("rpc", [finding(Status.OK)]),
                                    GateResult("watchdog", SKIPPED, [], "no heartbeat peers given")])
    assert not report.passed and report.to_dict()["failed"] == ["block_production"]
    text = render_text(report).splitlines()
    assert text[0].startswith("opwatch smoke devnet: FAIL (block_production)")
    assert text[1].split()[:2] == ["FAIL", "block_production"]
    assert "skipped: no heartbeat peers given" in text[3]
    assert SmokeReport("devnet", report.gates[1:]).passed


def test_heartbeat_urls_from_flags_else_none_here() -> None:
    flagged = heartbeat_sources(["https://b.example/heartbeat/gcp/{network}.json", "aws=https://a.example/{network}"])
    assert sorted(flagged) == ["aws", "deployed"]
    assert all(isinstance(s, HttpBeatSource) for s in flagged.values())
    # Without flags the gate reads [heartbeat]'s peers (tests/unit/test_heartbeat_config.py).
    assert heartbeat_sources(None) == {}
    with pytest.raises(ValueError, match="NAME=URL"):
        heartbeat_sources(["ftp://nope"])


def test_every_check_a_smoke_run_makes_is_part_of_a_gate() -> None:
    """A check added to the registry but to no gate would run in `opwatch smoke` and be ignored."""
    from opwatch.smoke import CORE_CHECKS, GATES

    gated = {check for parts in GATES.values() for check, _target in parts}
    assert set(CORE_CHECKS) - gated == set()
