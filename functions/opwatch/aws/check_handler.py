"""Lambda entry point for one check on one network, run by EventBridge Scheduler.

Scheduler input (or `{}` from a manual invoke) → the check (`run_checks`) → metrics, logs,
and the findings published to the findings topic → a short reply. With the fast lane
(`FAST_LANE_EVERY_S`, sequencer_liveness only) the check is sampled every few seconds for
the minute until the next schedule, and the first sample, every change of status and the
last sample are published, so a halted sequencer is seen within a few block times.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..findings import Finding
from ..runner import run_checks
from . import runtime
from .events import ScheduledRun
from .telemetry import heartbeat, log_findings, logger, record_findings, tracer

# Time kept back from the Lambda timeout for publishing after the last sample.
RESERVE_S = 10.0
SCHEDULE_PERIOD_S = 60.0


@logger.inject_lambda_context(correlation_id_path="execution_id", clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    fn = runtime.check_function()
    run = ScheduledRun.from_event(event, fn.network, fn.check)
    logger.append_keys(network=run.network, check=run.check, scheduled_time=run.scheduled_time)

    def once() -> list[Finding]:
        return run_checks(fn.config(), [run.network], [run.check]).findings

    if fn.fast_lane_every_s:
        window = min(SCHEDULE_PERIOD_S, context.get_remaining_time_in_millis() / 1000 - RESERVE_S)
        samples = sample(once, fn.fast_lane_every_s, window)
    else:
        samples = [once()]
    for findings in samples:
        record_findings(findings)
    chosen = to_publish(samples)
    log_findings(chosen)
    published = fn.publisher.publish(chosen)
    # Only after the findings are out: the heartbeat means "ran and delivered", so a function
    # that measures but cannot publish (KMS, SNS, permissions) goes silent and alarms.
    heartbeat(run.network, run.check)
    last = samples[-1]
    return {"network": run.network, "check": run.check, "samples": len(samples), "published": published,
            "status": {f.target: str(f.status) for f in last}}


def sample(once: Callable[[], list[Finding]], every_s: float, window_s: float,
           clock: Callable[[], float] = time.monotonic,
           sleep: Callable[[float], None] = time.sleep) -> list[list[Finding]]:
    """Run `once` every `every_s` while a run can still start within `window_s` (at least once)."""
    start = clock()
    samples = [once()]
    n = 1
    while start + n * every_s < start + window_s:
        sleep(max(0.0, start + n * every_s - clock()))
        samples.append(once())
        n += 1
    return samples


def to_publish(samples: list[list[Finding]]) -> list[Finding]:
    """Per target: the first sample, each change of status, and the last sample (once)."""
    chosen: list[Finding] = []
    last_status: dict[str, str] = {}
    for i, findings in enumerate(samples):
        final = i == len(samples) - 1
        for f in findings:
            if f.dedup_key not in last_status or last_status[f.dedup_key] != f.status or final:
                chosen.append(f)
            last_status[f.dedup_key] = f.status
    return chosen
