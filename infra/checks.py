"""The check functions, each on its own EventBridge Scheduler schedule.

`[aws] layout`: `per_check` (the default) deploys one Lambda per check, running it over every
network of the environment it applies to, concurrently; `per_network` one Lambda per check and
network. docs/benchmarks.md ("Networks in one deployment") measured both at 1 to 100 networks:
per network, a stack grows by a function, role, schedule and three alarms per check and network
(about 110 resources a network: CloudFormation's 500 resources per stack hold 4 networks), while
one run over 100 networks, the networks side by side, lasts about as long as its slowest network
(the measured run times are in that section).
A function serving one network keeps that network in its name (`opwatch-<env>-<network>-<check>`),
one serving several is `opwatch-<env>-<check>`; `OPWATCH_NETWORK` holds its networks, comma-joined.

The rate comes from `[schedules]` (`rate_expression`); the schedule's input names the
networks and check (`opwatch.aws.events.scheduled_input`). A check whose inputs a network
does not configure (e.g. rpc_sync without rpc_nodes) does not run there; a check no network
configures gets no function at all.

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
from opwatch.config import Config, ConfigError
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
# Lambda allows 4 KB of environment (names and values); the other variables take about 600 bytes.
MAX_NETWORK_LIST = 3000


@dataclass(frozen=True)
class CheckFunction:
    networks: tuple[str, ...]
    check: str
    every_minutes: int
    function: OpwatchFunction

    @property
    def label(self) -> str:
        """The networks it watches, for alarm texts and descriptions (which have length limits:
        beyond four, how many and the first and last; the function's OPWATCH_NETWORK lists all)."""
        return networks_label(self.networks)


def networks_label(networks: tuple[str, ...]) -> str:
    if len(networks) <= 4:
        return ", ".join(networks)
    return f"{len(networks)} networks ({networks[0]} … {networks[-1]})"


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
        applies: dict[str, list[str]] = {c: [] for c in CHECKS}
        for network_name in environment.networks:
            context = Context(config.network(network_name), config=config, cloud="aws")
            for check_id, check in CHECKS.items():
                why = why_skipped(check, context)
                if why:
                    self.skipped.append((network_name, check_id, why))
                else:
                    applies[check_id].append(network_name)
        groups: list[tuple[str, ...]] = []
        for check_id, names in applies.items():
            if names and settings.layout == "per_network":
                groups += [(check_id, n) for n in names]
            elif names:
                groups.append((check_id, *names))
        for check_id, *names in groups:
            networks = tuple(names)
            if len(",".join(networks)) > MAX_NETWORK_LIST:
                raise ConfigError([f"aws.environments.{environment.name}.networks: {len(networks)} networks' names "
                                   f"take {len(','.join(networks))} bytes in one function's OPWATCH_NETWORK, over "
                                   f"the {MAX_NETWORK_LIST} that fit in Lambda's 4 KB of environment beside the rest: "
                                   "split them across environments (one stack each) or shorten their names"])
            # One network: its own construct scope and name (what the per-network layout always
            # had, so a one-network stack is the same under both layouts); several: `AllNetworks`
            # (no network name has capitals).
            scope_n = self._scope(networks[0] if len(networks) == 1 else "AllNetworks")
            label = networks_label(networks)
            fast = schedules.fast_lane and CHECKS[check_id].fast_lane
            env = {"OPWATCH_CONFIG": "/var/task/opwatch.toml", "OPWATCH_NETWORK": ",".join(networks),
                   "OPWATCH_CHECK": check_id, "FINDINGS_TOPIC_ARN": topic.topic_arn,
                   "MEMORY_TABLE": memory_table.table_name,
                   "POWERTOOLS_SERVICE_NAME": "opwatch", "POWERTOOLS_METRICS_NAMESPACE": settings.namespace}
            endpoints = None if check_id in READS_NO_CHAIN else rpc_endpoints
            if endpoints is not None:
                env["RPC_ENDPOINTS_SECRET"] = endpoints.secret_arn
            fn = OpwatchFunction(
                scope_n, check_id, name=_name(environment.name, networks, check_id),
                description=_description(check_id, label, fast),
                code=code, handler="opwatch.aws.check_handler.handler", environment=env,
                memory_mb=settings.memory_mb(check_id), timeout_s=timeout_seconds(check_id, config, fast),
                key=key, dead_letter_queue=async_dlq, retry_attempts=0, max_event_age=Duration.minutes(2),
                log_retention_days=settings.log_retention_days,
                tracing=False)  # the handler has no Tracer: X-Ray's SDK was 0.25 s of each cold start
            topic.grant_publish(fn.role)
            _grant_memory(fn.role, memory_table, key, networks, check_id)
            if endpoints is not None:
                endpoints.grant_read(fn.role)
            if check_id == "snapshot_freshness":
                for network_name in networks:
                    snapshot = remediation.for_network(network_name).snapshot
                    if snapshot is not None:
                        grant_snapshot_listing(fn.role, snapshot)
            acknowledge(fn.role, KMS_GENERATE)
            scheduler.Schedule(
                fn, "Schedule", description=_description(check_id, label, False),
                schedule=scheduler.ScheduleExpression.expression(schedules.rate_expression(check_id)),
                target=targets.LambdaInvoke(
                    fn.function, input=scheduler.ScheduleTargetInput.from_object(
                        scheduled_input(networks, check_id)),
                    dead_letter_queue=scheduler_dlq, retry_attempts=0, max_event_age=Duration.minutes(1)))
            # CDK's target role (one per target, at stack level) may invoke the function by its
            # ARN and its qualified ARNs (ARN:*, versions and aliases): still only this function.
            logical_id = Stack.of(self).get_logical_id(fn.function.node.default_child)  # type: ignore[arg-type]
            acknowledge(Stack.of(self), (f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>:*]",
                                         f"Scheduler may invoke only {fn.name} (any of its versions)."))
            self.functions.append(CheckFunction(networks, check_id, schedules.every(check_id), fn))

    def _scope(self, id: str) -> Construct:
        found = self.node.try_find_child(id)
        return found if isinstance(found, Construct) else Construct(self, id)


def _description(check: str, label: str, fast: bool) -> str:
    return f"opwatch {check} on {label}" + (" (fast lane)" if fast else "")


def _grant_memory(role: iam.IRole, table: dynamodb.ITable, key: kms.IKey, networks: tuple[str, ...],
                  check: str) -> None:
    """The check's memory (opwatch.aws.memory_store) lives in the alert table under the partition
    `memory#<network>#<check>` of each network it watches: this function may read and write those
    partitions and no other, so it can neither read nor forge the alert lifecycle's state, nor
    another check's memory."""
    role.add_to_principal_policy(iam.PolicyStatement(
        actions=list(MEMORY_ACTIONS), resources=[table.table_arn],
        conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [partition(n, check) for n in networks]}}))
    key.grant(role, "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey")  # the table's key


def _name(env: str, networks: tuple[str, ...], check: str) -> str:
    """`opwatch-<env>-<network>-<check>` for one network, `opwatch-<env>-<check>` for several: the
    name a page leads to (Lambda allows 64 characters)."""
    name = f"opwatch-{env}-{networks[0]}-{check}" if len(networks) == 1 else f"opwatch-{env}-{check}"
    name = name.replace("_", "-")
    return name if len(name) <= 64 else name[:55] + "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
