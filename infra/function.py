"""One opwatch Lambda: its own role (only what it calls), log group, async dead-letter queue.

arm64 (Graviton: about 20 % cheaper per GB-second, and the wheels are built for it), the
bundled asset from `bundling`, JSON logs from Powertools, active X-Ray tracing where the
handler traces (`tracing`: the pager and the remedies; not the check functions, whose handler
leaves the X-Ray SDK out of its cold start: opwatch.aws.tracing). The role gets logs for its
own log group only; each caller adds what its handler calls.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .bundling import ARCHITECTURE, RUNTIME
from .nag import XRAY, acknowledge


class OpwatchFunction(Construct):
    def __init__(self, scope: Construct, id: str, *, name: str, description: str, code: lambda_.Code, handler: str,
                 environment: Mapping[str, str], memory_mb: int, timeout_s: int, key: kms.IKey,
                 dead_letter_queue: sqs.IQueue, retry_attempts: int, max_event_age: Duration,
                 log_retention_days: int, tracing: bool = True) -> None:
        super().__init__(scope, id)
        self.name = name
        self.log_group = logs.LogGroup(self, "Logs", log_group_name=f"/aws/lambda/{name}",
                                       encryption_key=key, removal_policy=RemovalPolicy.DESTROY)
        # Any retention CloudWatch accepts (validated in [aws]), not only RetentionDays' named ones.
        self.log_group.node.default_child.retention_in_days = log_retention_days  # type: ignore[union-attr]
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                             description=f"opwatch {name}: only what its handler calls")
        self.role.add_to_policy(iam.PolicyStatement(actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                                                    resources=[self.log_group.log_group_arn]))
        self.function = lambda_.Function(
            self, "Function", function_name=name, description=description, runtime=RUNTIME,
            architecture=ARCHITECTURE, code=code, handler=handler, memory_size=memory_mb,
            timeout=Duration.seconds(timeout_s), role=self.role, log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE if tracing else lambda_.Tracing.DISABLED,
            dead_letter_queue=dead_letter_queue, retry_attempts=retry_attempts,
            max_event_age=max_event_age, environment=dict(environment))
        if tracing:  # X-Ray's write actions take no resource; only a traced function has them
            acknowledge(self.role, XRAY)
