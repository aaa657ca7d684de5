"""The fast lane: sub-minute detection inside one scheduled run, for both clouds.

Schedulers fire at most once a minute (EventBridge Scheduler, Cloud Scheduler), so a check
that must see a halted sequencer within a few block times samples several times inside one
invocation: every `every_s` for the window until the next schedule.

What it publishes, per finding (dedup key):
- the first sample, at once: the lifecycle sees every run, and a fault already there is out
  within one round trip of the run starting;
- each change of status, at the sample that sees it, not at the end of the window: a halt
  seen at the first sample used to wait ~50 s for the window to close on AWS;
- the last sample, once (unless it was just published as a change): a steady status still
  reaches the lifecycle each minute, which is what keeps a firing alert firing and lets a
  resolve follow an ok.

Between the first and the last sample, a steady status is not republished: sub-minute
detection without a message every few seconds. The clock, the sleep and the publisher are
injected: the Lambda handler and the Cloud Function call this same function with their own
publisher, and the unit tests with a fake clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .findings import Finding

# One schedule period: the next scheduled run takes over after this.
SCHEDULE_PERIOD_S = 60.0
# Kept back from the function's timeout for the last sample's publish and the heartbeat.
RESERVE_S = 10.0


def window_s(time_left_s: float | None) -> float:
    """How long a run may keep starting samples: the schedule period, or less when the
    function's time left (minus the reserve) is shorter."""
    if time_left_s is None:
        return SCHEDULE_PERIOD_S
    return max(0.0, min(SCHEDULE_PERIOD_S, time_left_s - RESERVE_S))


@dataclass(slots=True)
class FastLaneRun:
    samples: int = 0
    published: list[Finding] = field(default_factory=list)
    last: list[Finding] = field(default_factory=list)  # the last sample's findings


def run(sample: Callable[[], list[Finding]], publish: Callable[[list[Finding]], Any], *,
        every_s: float | None, window_s: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep) -> FastLaneRun:
    """Sample at once, then every `every_s` while a sample can still start within `window_s`
    (a slot whose time has passed starts at once; none starts after the window); publish as
    the module says. `every_s` None or not positive: one sample, published once."""
    out = FastLaneRun()
    start = clock()
    seen: dict[str, str] = {}  # dedup key -> the status last published

    def take() -> list[Finding]:
        findings = sample()
        out.samples += 1
        out.last = findings
        return findings

    def send(findings: Sequence[Finding]) -> None:
        if findings:
            publish(list(findings))
            out.published += findings
            seen.update({f.dedup_key: str(f.status) for f in findings})

    send(take())
    if not every_s or every_s <= 0:
        return out
    n = 1
    unsent: list[Finding] = []  # of the latest sample, what was not published as a change
    while n * every_s < window_s and clock() - start < window_s:
        sleep(max(0.0, start + n * every_s - clock()))
        findings = take()
        changed = [f for f in findings if seen.get(f.dedup_key) != str(f.status)]
        send(changed)
        sent = {id(f) for f in changed}
        unsent = [f for f in findings if id(f) not in sent]
        n += 1
    send(unsent)  # the last sample, once (the first sample, when it was the only one, is out already)
    return out
