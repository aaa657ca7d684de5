"""The demo shows each page's "here's why": the diagnosis a firing summary ends with is found,
and clipping a long line keeps it whole, shortening the measurement before it."""

from __future__ import annotations

from opwatch_devnet.demo import _clip, here_is_why

WHY = "here's why: batcher transactions stuck in the mempool (pending nonce 9, mined 5)"


def test_the_diagnosis_is_found_at_the_end_of_a_summary_and_nothing_is_found_without_one() -> None:
    assert here_is_why(f"no batch landed for 30 s (limit 8 s): {WHY}") == WHY
    assert here_is_why("no batch landed for 30 s (limit 8 s)") is None


def test_clipping_keeps_the_diagnosis_whole_and_the_width() -> None:
    text = "batch_submission/batcher firing: " + "m" * 300 + ": " + WHY
    clipped = _clip(text)
    assert len(clipped) == 200 and clipped.endswith(": " + WHY) and "…" in clipped
    assert clipped.startswith("batch_submission/batcher firing: ")


def test_short_lines_are_untouched_and_lines_without_a_diagnosis_are_cut_at_the_width() -> None:
    assert _clip("short") == "short"
    long = "x" * 300
    assert _clip(long) == "x" * 199 + "…"
    huge_why = "a: here's why: " + "y" * 300  # a diagnosis longer than the line: cut like any text
    assert len(_clip(huge_why)) == 200
