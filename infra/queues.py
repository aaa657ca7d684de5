"""Dead-letter queues: where an undeliverable finding or a failed invocation ends up.

Kept 14 days (SQS's maximum) so an incident found on Monday still has Friday's letters.
SQS-managed encryption (SSE-SQS): SNS redrive and Lambda's async DLQ can write without a
key-policy grant, and what lands here is findings, never secrets.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .nag import acknowledge


def dead_letter_queue(scope: Construct, id: str) -> sqs.Queue:
    queue = sqs.Queue(scope, id, encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
                      retention_period=Duration.days(14))
    acknowledge(queue, ("AwsSolutions-SQS3", "This queue is itself a dead-letter queue; an alarm watches its depth."))
    return queue
