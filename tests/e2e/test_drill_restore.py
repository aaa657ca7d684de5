"""The restore drill end to end: snapshot → kill the sequencer → restore → production resumes."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anvil


def test_restore_drill_resumes_production_and_reports_rto_and_rpo(tmp_path):
    from opwatch_devnet.drill import run_restore_drill

    report = run_restore_drill(tmp_path, pre_blocks=2, lost_blocks=3, say=lambda _: None)
    assert report.outcome == "done"
    # The replacement continues from the snapshot: the snapshot's block keeps its hash, the
    # blocks after it (up to the old head) are what was lost.
    assert report.snapshot_hash_kept
    assert report.rpo_blocks == report.head_at_kill - report.snapshot_block >= 3
    assert report.restored_head > report.snapshot_block
    assert report.rpc_nodes_following
    assert len(report.observers_stalled) >= 2  # confirmed by independent observers, not one failed call
    assert 0 < report.rto_s < 60
