"""The stack's KMS key: SNS topics, DynamoDB tables, created secrets and log groups.

One customer-managed key (rotated yearly) rather than AWS-managed ones, because CloudWatch
alarms can publish to an encrypted topic only when the key policy lets them, which the
`aws/sns` key never does. Dead-letter queues use SQS-managed encryption instead (see
`queues`): SNS and Lambda then deliver to them without key-policy plumbing.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct


class StackKey(Construct):
    def __init__(self, scope: Construct, id: str, *, env_name: str) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.key = kms.Key(self, "Key", alias=f"alias/opwatch-{env_name}", enable_key_rotation=True,
                           description=f"opwatch {env_name}: findings and alarm topics, state tables, secrets, logs",
                           removal_policy=RemovalPolicy.RETAIN)
        # CloudWatch alarms publish to the (encrypted) alarm topic.
        self.key.add_to_resource_policy(iam.PolicyStatement(
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")], resources=["*"],
            conditions={"StringEquals": {"aws:SourceAccount": stack.account}}))
        # CloudWatch Logs encrypts this stack's log groups (and only those).
        self.key.add_to_resource_policy(iam.PolicyStatement(
            actions=["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey",
                     "kms:DescribeKey"],
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")], resources=["*"],
            conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                    f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:/aws/lambda/opwatch-*"}}))
