"""The pager: the findings topic → opwatch.aws.pager_handler → alert state → PagerDuty and the
sinks `[alerting.sinks]` declares (reading exactly their secrets).

Its subscription's filter policy takes every status (ok findings resolve incidents) for the
networks this stack watches, so another stack's findings on a shared topic never reach it.
Async retries: 2 (Lambda's default), then the function's dead-letter queue; SNS's own
delivery failures go to the subscription's dead-letter queue.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as sm
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from opwatch.deploy.aws import AwsSettings

from .findings import filter_policy
from .function import OpwatchFunction
from .queues import dead_letter_queue
from .state import ALERT_STORE_ACTIONS, IDEMPOTENCY_ACTIONS, StateTables

# PagerDuty retries (4 attempts, backoff up to 16 s) for a burst of alerts fit in a minute.
TIMEOUT_S = 60


class Pager(Construct):
    def __init__(self, scope: Construct, id: str, *, env_name: str, networks: Sequence[str], settings: AwsSettings,
                 code: lambda_.Code, key: kms.IKey, topic: sns.ITopic, tables: StateTables,
                 routing_key: sm.ISecret, async_dlq: sqs.IQueue, sink_secrets: Sequence[str] = ()) -> None:
        super().__init__(scope, id)
        self.fn = OpwatchFunction(
            self, "Function", name=f"opwatch-{env_name}-pager", description="opwatch pager: findings → PagerDuty",
            code=code, handler="opwatch.aws.pager_handler.handler",
            # Runbook links, routes, timings and silences: the bundled config's [alerting].
            environment={"OPWATCH_CONFIG": "/var/task/opwatch.toml", "ALERTS_TABLE": tables.alerts.table_name,
                         "IDEMPOTENCY_TABLE": tables.idempotency.table_name,
                         "PAGERDUTY_SECRET": routing_key.secret_arn, "POWERTOOLS_SERVICE_NAME": "opwatch",
                         "POWERTOOLS_METRICS_NAMESPACE": settings.namespace},
            memory_mb=settings.memory_mb("pager"), timeout_s=TIMEOUT_S, key=key, dead_letter_queue=async_dlq,
            retry_attempts=2, max_event_age=Duration.hours(1), log_retention_days=settings.log_retention_days)
        role = self.fn.role
        role.add_to_policy(iam.PolicyStatement(actions=list(ALERT_STORE_ACTIONS),
                                               resources=[tables.alerts.table_arn]))
        role.add_to_policy(iam.PolicyStatement(actions=list(IDEMPOTENCY_ACTIONS),
                                               resources=[tables.idempotency.table_arn]))
        key.grant(role, "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey")
        routing_key.grant_read(role)
        # The declared sinks' secrets ([alerting.sinks.<name>] secret: a webhook URL or another
        # service's routing key), read by name at call time; this function alone may read them.
        # By name, so the grant is the name plus Secrets Manager's random 6-character suffix.
        for i, name in enumerate(sorted(set(sink_secrets))):
            sm.Secret.from_secret_name_v2(self, f"SinkSecret{i}", name).grant_read(role)
        self.dead_letter_queue = dead_letter_queue(self, "SubscriptionDlq")
        topic.add_subscription(subs.LambdaSubscription(
            self.fn.function, filter_policy=filter_policy({"network": list(networks)}),
            dead_letter_queue=self.dead_letter_queue))
