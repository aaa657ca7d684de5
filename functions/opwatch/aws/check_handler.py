"""Lambda entry point for one check on one network, run by EventBridge Scheduler.

Scheduler input (or `{}` from a manual invoke) → the check (`run_checks`) → metrics, logs,
and the findings published to the findings topic → a short reply. With the fast lane
(`FAST_LANE_EVERY_S`) the run is the core's `fastlane.run`, as on GCP: sampled every few
seconds for the minute until the next schedule, each change of status published as it is
sampled (and the first and last sample), so a halted sequencer is on the topic within a
few block times.
"""

from __future__ import annotations

from typing import Any

from .. import fastlane
from ..findings import Finding
from ..runner import run_checks
from . import runtime
from .events import ScheduledRun
from .telemetry import heartbeat, log_findings, logger, record_findings, tracer

RESERVE_S = fastlane.RESERVE_S


@logger.inject_lambda_context(correlation_id_path="execution_id", clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    fn = runtime.check_function()
    run = ScheduledRun.from_event(event, fn.network, fn.check)
    logger.append_keys(network=run.network, check=run.check, scheduled_time=run.scheduled_time)

    def once() -> list[Finding]:
        findings = run_checks(fn.config(), [run.network], [run.check]).findings
        record_findings(findings)
        return findings

    def publish(findings: list[Finding]) -> None:
        log_findings(findings)
        fn.publisher.publish(findings)

    lane = fastlane.run(once, publish, every_s=fn.fast_lane_every_s,
                        window_s=fastlane.window_s(context.get_remaining_time_in_millis() / 1000))
    # Only after the findings are out: the heartbeat means "ran and delivered", so a function
    # that measures but cannot publish (KMS, SNS, permissions) goes silent and alarms.
    heartbeat(run.network, run.check)
    return {"network": run.network, "check": run.check, "samples": lane.samples, "published": len(lane.published),
            "status": {f.target: str(f.status) for f in lane.last}}
