"""One evaluation that fails inside opwatch (a defect, not the chain's answer) over many
networks: with one function per check over every network, an exception there used to end the
run, and every network lost its findings. Now that network's targets are `unknown` (naming only
the error's type), every other network's findings stand, and the run reports the failure so the
runtime can fail after publishing (tests/integration/test_aws_check_networks.py)."""

from __future__ import annotations

import dataclasses

import pytest
from opwatch.checks import CHECKS
from opwatch.checks.base import Verdict
from opwatch.config import parse_config
from opwatch.findings import Measure, Status
from opwatch.runner import EvaluationError, run_checks

NETWORK = """
[networks.{name}]
l1_rpc = ["http://127.0.0.1:9"]
l2_rpc = "http://127.0.0.1:9"
l1_chain_id = 900
l2_chain_id = {chain_id}
block_time = "2s"
"""


def config():  # type: ignore[no-untyped-def]
    return parse_config("".join(NETWORK.format(name=n, chain_id=901 + i) for i, n in enumerate(("a", "b", "c"))))


@pytest.fixture
def defect_on_b(monkeypatch: pytest.MonkeyPatch) -> None:
    """sequencer_liveness measuring ok everywhere but on network b, where it hits a defect whose
    message quotes a keyed URL."""
    def measure(ctx, shared, target):  # type: ignore[no-untyped-def]
        if ctx.network.name == "b":
            raise KeyError("https://rpc.example/v2/SECRETKEY123 had no 'number'")
        return Verdict(Status.OK, "head is 1 s old", Measure(1.0, "s"), Measure(30.0, "s"))

    check = dataclasses.replace(CHECKS["sequencer_liveness"], prepare=lambda ctx: None, measure=measure)
    monkeypatch.setitem(CHECKS, "sequencer_liveness", check)


def test_a_defect_on_one_network_is_that_networks_unknown_not_everyones_loss(defect_on_b: None) -> None:
    result = run_checks(config(), None, ["sequencer_liveness"])
    by_network = {f.network: f for f in result.findings}
    assert {n: f.status for n, f in by_network.items()} == {"a": Status.OK, "b": Status.UNKNOWN, "c": Status.OK}
    b = by_network["b"]
    assert "opwatch failed evaluating sequencer_liveness (KeyError)" in b.summary
    assert b.details == {"error": "KeyError", "internal": True} and b.target == "sequencer"
    [(network, check, error)] = result.errors
    assert (network, check) == ("b", "sequencer_liveness") and error.startswith("KeyError")
    assert "SECRETKEY123" not in error and "SECRETKEY123" not in b.to_json()
    with pytest.raises(EvaluationError, match="sequencer_liveness on b"):
        result.raise_errors()


def test_a_clean_run_reports_no_errors() -> None:
    run = run_checks(config(), ["a"], ["sequencer_liveness"])  # nothing listens: unknown, from the chain
    assert run.errors == [] and [f.status for f in run.findings] == [Status.UNKNOWN]
    run.raise_errors()  # nothing to raise
