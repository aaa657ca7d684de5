"""Lambda entry point for one check on one network, run by EventBridge Scheduler.

Scheduler input (or `{}` from a manual invoke) → the check (`run_checks`) → metrics, logs,
and the findings published to the findings topic → a short reply. With the fast lane
(`[schedules] fast_lane` and the check's `fast_lane`) the run is the core's `fastlane.run`, as on GCP: sampled every few
seconds for the minute until the next schedule, each change of status published as it is
sampled (and the first and last sample), so a halted sequencer is on the topic within a
few block times.
"""

from __future__ import annotations

from typing import Any

from .. import fastlane
from ..findings import Finding
from . import runtime
from .events import ScheduledRun
from .telemetry import heartbeat, log_findings, logger, record_findings

RESERVE_S = fastlane.RESERVE_S


# No X-Ray Tracer here (opwatch.aws.tracing says why): the SDK's import alone was a quarter
# of a second of every cold start.
@logger.inject_lambda_context(correlation_id_path="execution_id", clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    fn = runtime.check_function()
    run = ScheduledRun.from_event(event, fn.network, fn.check)
    logger.append_keys(network=run.network, check=run.check, scheduled_time=run.scheduled_time)

    def once() -> list[Finding]:
        findings = fn.run(run.network, run.check).findings
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
    _write_beat(fn.config(), run.network, run.check, len(lane.published))
    return {"network": run.network, "check": run.check, "samples": lane.samples, "published": len(lane.published),
            "status": {f.target: str(f.status) for f in lane.last}}


def _write_beat(config: Any, network: str, check: str, published: int) -> None:
    """This side's beat for the GCP watchdog's `heartbeat` check (`[heartbeat.aws]`), written by
    the writer check's function once its findings are out: the same "ran and delivered"."""
    from ..checks.heartbeat import WRITER, Beat

    own = config.section("heartbeat").own("aws")
    if check != WRITER or own is None:
        return
    import time

    from .beats import S3BeatWriter

    S3BeatWriter(own.bucket, own.region, own.endpoint).write(Beat("aws", network, time.time(), published))
