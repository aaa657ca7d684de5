"""The one fast lane (`opwatch.fastlane.run`), with a fake clock: when it samples, what it
publishes, and when (publishing at the sample that sees a change, not at the window's end)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

import pytest
from alerting_fixtures import finding
from hypothesis import given
from hypothesis import strategies as st
from opwatch import fastlane
from opwatch.findings import Finding


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds


class Lane:
    """Samples from a script of statuses (one target), each taking `cost_s`; records every
    sample's start and every publish with the clock's time."""

    def __init__(self, statuses: list[str], cost_s: float = 0.3) -> None:
        self.clock = FakeClock()
        self.script: Iterator[str] = iter(statuses)
        self.cost_s = cost_s
        self.sampled_at: list[float] = []
        self.published: list[tuple[float, list[str]]] = []

    def sample(self) -> list[Finding]:
        self.sampled_at.append(self.clock.now)
        self.clock.now += self.cost_s
        return [finding(next(self.script), int(self.clock.now * 10))]

    def publish(self, findings: list[Finding]) -> None:
        self.published.append((round(self.clock.now, 6), [str(f.status) for f in findings]))

    def run(self, every_s: float | None, window_s: float) -> fastlane.FastLaneRun:
        return fastlane.run(self.sample, self.publish, every_s=every_s, window_s=window_s,
                            clock=self.clock, sleep=self.clock.sleep)


def test_samples_on_a_fixed_grid_within_the_window() -> None:
    lane = Lane(["ok"] * 20)
    result = lane.run(5.0, 55.0)
    assert lane.sampled_at == [5.0 * i for i in range(11)]  # a sample's own time does not push the next
    assert result.samples == 11


def test_a_change_is_published_when_it_is_sampled_not_when_the_window_ends() -> None:
    lane = Lane(["ok", "firing", "firing", "firing", "ok", "ok", "ok"], cost_s=0.3)
    result = lane.run(5.0, 33.0)
    # the first sample at once (0.3 s: its own time), the halt at the sample that saw it
    # (5 s + 0.3 s), the recovery at its sample (20.3 s), the last sample (30.3 s) once.
    assert lane.published == [(0.3, ["ok"]), (5.3, ["firing"]), (20.3, ["ok"]), (30.3, ["ok"])]
    assert [str(f.status) for f in result.last] == ["ok"] and result.samples == 7
    assert len(result.published) == 4


def test_a_last_sample_that_was_a_change_is_not_sent_twice() -> None:
    lane = Lane(["ok", "ok", "firing"])
    lane.run(5.0, 12.0)
    assert [statuses for _, statuses in lane.published] == [["ok"], ["firing"]]


def test_without_the_fast_lane_one_sample_is_published_once() -> None:
    for every in (None, 0.0):
        lane = Lane(["firing"])
        result = lane.run(every, 60.0)
        assert lane.published == [(0.3, ["firing"])] and result.samples == 1


def test_slow_samples_start_at_once_and_none_starts_after_the_window() -> None:
    lane = Lane(["ok"] * 10, cost_s=7.0)  # slower than the interval
    lane.run(5.0, 20.0)
    assert lane.sampled_at == [0.0, 7.0, 14.0]  # 21 s would be past the window


def test_each_target_is_tracked_on_its_own() -> None:
    clock = FakeClock()
    rounds = iter([[finding("ok", 0, target="a"), finding("ok", 0, target="b")],
                   [finding("firing", 1, target="a"), finding("ok", 1, target="b")],
                   [finding("firing", 2, target="a"), finding("ok", 2, target="b")]])
    sent: list[list[tuple[str, str]]] = []
    fastlane.run(lambda: next(rounds), lambda fs: sent.append([(f.target, str(f.status)) for f in fs]),
                 every_s=1.0, window_s=2.5, clock=clock, sleep=clock.sleep)
    assert sent == [[("a", "ok"), ("b", "ok")], [("a", "firing")], [("a", "firing"), ("b", "ok")]]


@pytest.mark.parametrize(("time_left", "window"), [(None, 60.0), (70.0, 60.0), (40.0, 30.0), (5.0, 0.0)])
def test_the_window_is_the_schedule_period_or_the_time_left_less_the_reserve(time_left, window) -> None:
    assert fastlane.window_s(time_left) == window


@given(st.lists(st.sampled_from(["ok", "firing", "unknown"]), min_size=1, max_size=15))
def test_every_change_is_published_at_its_sample_and_the_last_status_is_out(statuses: list[str]) -> None:
    lane = Lane(statuses + ["ok"] * 5, cost_s=0.1)
    result = lane.run(1.0, len(statuses) - 0.5)
    assert result.samples == len(statuses)
    times = dict(lane.published)
    previous = None
    for i, status in enumerate(statuses):
        if status != previous:
            assert times.get(round(i + 0.1, 6), [None])[0] == status  # published at its own sample
        previous = status
    assert lane.published[-1][1] == [statuses[-1]]  # the status the run ended on is on the topic
    changes = sum(1 for a, b in pairwise(statuses) if a != b)
    last_unchanged = len(statuses) > 1 and statuses[-1] == statuses[-2]
    assert len(lane.published) == 1 + changes + last_unchanged  # nothing else: no message every sample
