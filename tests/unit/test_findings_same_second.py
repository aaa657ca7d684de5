"""Two results of one key within the same second are two results, not a duplicate.

The alert lifecycle ignores a finding that is not newer than the last one applied to its key
(redeliveries, late messages). Findings were stamped to the second, so an ok and the firing
result that followed it 0.5 s later (a fast-lane sample, a check ticked twice in a second, the
other cloud's run) compared equal and the firing one was dropped: the deployed GCP pager paged
nobody for an rpc_sync lag in one whole-suite run out of a few.
"""

from __future__ import annotations

import pytest
from alerting_fixtures import RecordingSink
from opwatch.alerting import AlertManager, SqliteStore
from opwatch.checks.base import Check, Context, Verdict, evaluate
from opwatch.config import parse_config
from opwatch.findings import Finding, Measure, Status, parse_observed

CONFIG = """
[networks.mainnet]
l1_rpc = "http://127.0.0.1:9"
l2_rpc = "http://127.0.0.1:9"
l1_chain_id = 1
l2_chain_id = 10
block_time = "2s"

[alerting.checks.rpc_sync]
fire_after = 1
"""
T = 1_700_000_000.2  # 0.2 s into a second


def scripted(statuses: list[str]) -> Check:
    """rpc_sync's id and routing, measuring a script of statuses through the real `evaluate`."""
    script = iter(statuses)

    def measure(ctx: Context, shared: object, target: str) -> Verdict:
        status = Status(next(script))
        return Verdict(status=status, summary=f"node {target} is {status}", observed=Measure(6.0, "blocks"),
                       threshold=Measure(5.0, "blocks"))

    return Check(id="rpc_sync", missing=lambda n: None, targets=lambda n: ["rpc-0"],
                 threshold=lambda n: Measure(5.0, "blocks"), measure=measure, title="lag (blocks)")


def findings_at(times: list[float], statuses: list[str]) -> list[Finding]:
    config = parse_config(CONFIG)
    check, out = scripted(statuses), []
    for t in times:
        out += evaluate(check, Context(config.network("mainnet"), clock=lambda t=t: t, config=config))
    return out


def test_results_in_the_same_second_are_ordered_by_their_stamps() -> None:
    ok, firing = findings_at([T, T + 0.5], ["ok", "firing"])
    assert parse_observed(ok.observed_at) < parse_observed(firing.observed_at)


def test_a_firing_result_half_a_second_after_an_ok_one_pages(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = parse_config(CONFIG)
    store, pager = SqliteStore(tmp_path / "alerts.db"), RecordingSink("pagerduty")
    manager = AlertManager(store, [pager], config.section("alerting"), clock=lambda: T + 1)
    try:
        for f in findings_at([T, T + 0.5], ["ok", "firing"]):
            manager.process([f])
        assert [(n.action, n.dedup_key) for n in pager.sent] == [("trigger", "opwatch/mainnet/rpc_sync/rpc-0")]
        # A redelivery of the firing message is still a duplicate: no second page.
        manager.process([firing_again := findings_at([T + 0.5], ["firing"])[0]])
        assert firing_again.observed_at == findings_at([T + 0.5], ["firing"])[0].observed_at
        assert len(pager.sent) == 1
    finally:
        store.close()


@pytest.mark.parametrize("bad", ["yesterday", "2026-12-02T03:00:00", "", "2026-13-02T03:00:00Z"])
def test_a_finding_whose_time_cannot_be_ordered_is_malformed(bad: str) -> None:
    good = findings_at([T], ["ok"])[0].to_dict()
    assert Finding.from_dict(good).observed_at == good["observed_at"]
    with pytest.raises(ValueError, match="malformed finding"):
        Finding.from_dict(good | {"observed_at": bad})
