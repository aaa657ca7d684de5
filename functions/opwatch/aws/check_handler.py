"""Lambda entry point for one check on its network or networks (`[aws] layout`), run by
EventBridge Scheduler: the networks are evaluated concurrently, each in its own thread (the
core's `run_checks`), so a run over many networks lasts about as long as its slowest network.

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
    run = ScheduledRun.from_event(event, fn.networks, fn.check)
    label = ",".join(run.networks)
    # A one-network function logs its network on every line, as it always did; a finding's own
    # log line (log_findings) names its network either way.
    logger.append_keys(network=label, check=run.check, scheduled_time=run.scheduled_time)

    errors: dict[tuple[str, str], str] = {}  # (network, check) -> the error, over every sample

    def once() -> list[Finding]:
        result = fn.run(run.networks, run.check)
        errors.update({(n, c): e for n, c, e in result.errors})
        record_findings(result.findings)
        return result.findings

    def publish(findings: list[Finding]) -> None:
        log_findings(findings)
        fn.publisher.publish(findings)

    lane = fastlane.run(once, publish, every_s=fn.fast_lane_every_s,
                        window_s=fastlane.window_s(context.get_remaining_time_in_millis() / 1000))
    # Only after the findings are out: the heartbeat means "ran and delivered", so a function
    # that measures but cannot publish (KMS, SNS, permissions) goes silent and alarms.
    # A network whose evaluation failed inside opwatch did not run and deliver: no heartbeat or beat.
    delivered = tuple(n for n in run.networks if (n, run.check) not in errors)
    for network in delivered:
        heartbeat(network, run.check)
    _write_beats(fn.config(), delivered, run.check, lane.published)
    if errors:  # after every other network's findings are out: the run fails, its Errors alarm says so
        from ..runner import EvaluationError

        raise EvaluationError([(n, c, e) for (n, c), e in errors.items()])
    status = ({f.target: str(f.status) for f in lane.last} if len(run.networks) == 1
              else {f"{f.network}/{f.target}": str(f.status) for f in lane.last})
    return {"network": label, "check": run.check, "samples": lane.samples, "published": len(lane.published),
            "status": status}


def _write_beats(config: Any, networks: tuple[str, ...], check: str, published: list[Finding]) -> None:
    """This side's beat per network for the GCP watchdog's `heartbeat` check (`[heartbeat.aws]`),
    written by the writer check's function once its findings are out: the same "ran and delivered"."""
    from ..checks.heartbeat import WRITER, Beat

    own = config.section("heartbeat").own("aws")
    if check != WRITER or own is None or not networks:
        return
    import time

    from .beats import S3BeatWriter

    writer = S3BeatWriter(own.bucket, own.region, own.endpoint)

    def write(network: str) -> None:
        writer.write(Beat("aws", network, time.time(), sum(f.network == network for f in published)))

    if len(networks) == 1:
        write(networks[0])
        return
    from concurrent.futures import ThreadPoolExecutor

    writer.client()  # built once, before the threads (boto3's clients are thread-safe, their creation is not)
    with ThreadPoolExecutor(max_workers=min(16, len(networks))) as pool:
        list(pool.map(write, networks))  # every beat is attempted; the first failure then fails the run
