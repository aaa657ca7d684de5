"""One Lambda per check and network, each on its own EventBridge Scheduler schedule.

The rate comes from `[schedules]` (`rate_expression`); the schedule's input names the
network and check (`opwatch.aws.events.scheduled_input`). A check whose inputs a network
does not configure (e.g. rpc_sync without rpc_nodes) gets no function at all.

Retries: none, on purpose. A check result is only worth having now; the next run is at
most a few minutes away, and a failed run already raises the Errors alarm. Scheduler and
Lambda's async queue each keep a dead-letter queue for invocations they gave up on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_secretsmanager as sm
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from opwatch.aws.events import scheduled_input
from opwatch.aws.memory_store import partition
from opwatch.checks import CHECKS, Context
from opwatch.checks.base import why_skipped
from opwatch.config import Config
from opwatch.deploy.aws import AwsSettings, Environment, timeout_seconds

from .function import OpwatchFunction
from .nag import KMS_GENERATE, acknowledge
from .remedies import grant_snapshot_listing

# The heartbeat reads the peer's beats, never a chain: it gets no RPC endpoints secret
# (infra/heartbeat.py grants it the peer's read key only).
READS_NO_CHAIN = frozenset({"heartbeat"})
# What DynamoDBMemoryStore calls. Never Query or Scan: a Scan names no partition key, so a
# dynamodb:LeadingKeys condition (ForAllValues over an empty set) would not bound it.
MEMORY_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem")


@dataclass(frozen=True)
class CheckFunction:
    network: str
    check: str
    every_minutes: int
    function: OpwatchFunction


class Checks(Construct):
    def __init__(self, scope: Construct, id: str, *, config: Config, environment: Environment,
                 settings: AwsSettings, code: lambda_.Code, key: kms.IKey, topic: sns.ITopic,
                 rpc_endpoints: sm.ISecret | None, async_dlq: sqs.IQueue, scheduler_dlq: sqs.IQueue,
                 memory_table: dynamodb.ITable) -> None:
        super().__init__(scope, id)
        schedules = config.section("schedules")
        remediation = config.section("remediation")
        self.functions: list[CheckFunction] = []
        self.skipped: list[tuple[str, str, str]] = []
        for network_name in environment.networks:
            network = config.network(network_name)
            scope_n = Construct(self, network_name)
            for check_id, check in CHECKS.items():
                why = why_skipped(check, Context(network, config=config, cloud="aws"))
                if why:
                    self.skipped.append((network_name, check_id, why))
                    continue
                fast = schedules.fast_lane and check.fast_lane
                env = {"OPWATCH_CONFIG": "/var/task/opwatch.toml", "OPWATCH_NETWORK": network_name,
                       "OPWATCH_CHECK": check_id, "FINDINGS_TOPIC_ARN": topic.topic_arn,
                       "MEMORY_TABLE": memory_table.table_name,
                       "POWERTOOLS_SERVICE_NAME": "opwatch", "POWERTOOLS_METRICS_NAMESPACE": settings.namespace}
                endpoints = None if check_id in READS_NO_CHAIN else rpc_endpoints
                if endpoints is not None:
                    env["RPC_ENDPOINTS_SECRET"] = endpoints.secret_arn
                fn = OpwatchFunction(
                    scope_n, check_id, name=_name(environment.name, network_name, check_id),
                    description=f"opwatch {check_id} on {network_name}" + (" (fast lane)" if fast else ""),
                    code=code, handler="opwatch.aws.check_handler.handler", environment=env,
                    memory_mb=settings.memory_mb(check_id), timeout_s=timeout_seconds(check_id, config, fast),
                    key=key, dead_letter_queue=async_dlq, retry_attempts=0, max_event_age=Duration.minutes(2),
                    log_retention_days=settings.log_retention_days,
                    tracing=False)  # the handler has no Tracer: X-Ray's SDK was 0.25 s of each cold start
                topic.grant_publish(fn.role)
                _grant_memory(fn.role, memory_table, key, network_name, check_id)
                if endpoints is not None:
                    endpoints.grant_read(fn.role)
                snapshot = remediation.for_network(network_name).snapshot
                if check_id == "snapshot_freshness" and snapshot is not None:
                    grant_snapshot_listing(fn.role, snapshot)
                acknowledge(fn.role, KMS_GENERATE)
                scheduler.Schedule(
                    fn, "Schedule", description=f"opwatch {check_id} on {network_name}",
                    schedule=scheduler.ScheduleExpression.expression(schedules.rate_expression(check_id)),
                    target=targets.LambdaInvoke(
                        fn.function, input=scheduler.ScheduleTargetInput.from_object(
                            scheduled_input(network_name, check_id)),
                        dead_letter_queue=scheduler_dlq, retry_attempts=0, max_event_age=Duration.minutes(1)))
                # CDK's target role (one per target, at stack level) may invoke the function by its
                # ARN and its qualified ARNs (ARN:*, versions and aliases): still only this function.
                logical_id = Stack.of(self).get_logical_id(fn.function.node.default_child)  # type: ignore[arg-type]
                acknowledge(Stack.of(self), (f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>:*]",
                                             f"Scheduler may invoke only {fn.name} (any of its versions)."))
                self.functions.append(CheckFunction(network_name, check_id, schedules.every(check_id), fn))


def _grant_memory(role: iam.IRole, table: dynamodb.ITable, key: kms.IKey, network: str, check: str) -> None:
    """The check's memory (opwatch.aws.memory_store) lives in the alert table under the one
    partition `memory#<network>#<check>`: this function may read and write that partition and no
    other, so it can neither read nor forge the alert lifecycle's state, nor another check's memory."""
    role.add_to_principal_policy(iam.PolicyStatement(
        actions=list(MEMORY_ACTIONS), resources=[table.table_arn],
        conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [partition(network, check)]}}))
    key.grant(role, "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey")  # the table's key


def _name(env: str, network: str, check: str) -> str:
    """`opwatch-<env>-<network>-<check>`: the name a page leads to (Lambda allows 64 characters)."""
    name = f"opwatch-{env}-{network}-{check}".replace("_", "-")
    return name if len(name) <= 64 else name[:55] + "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
