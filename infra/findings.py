"""The findings topic and its configured subscribers (`[[aws.subscriptions]]`).

Every message carries the attributes `network`, `check`, `status`, `severity`, so each
subscriber's filter policy picks what it wants, e.g. e-mail for `status = ["firing"]`.
Each subscription has its own dead-letter queue (watched by `monitoring`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from opwatch.deploy.aws import Subscription

from .queues import dead_letter_queue


def filter_policy(values: Mapping[str, Sequence[str]]) -> dict[str, sns.SubscriptionFilter]:
    return {key: sns.SubscriptionFilter.string_filter(allowlist=list(vals)) for key, vals in values.items()}


class FindingsTopic(Construct):
    def __init__(self, scope: Construct, id: str, *, key: kms.IKey, subscriptions: Sequence[Subscription]) -> None:
        super().__init__(scope, id)
        self.topic = sns.Topic(self, "Topic", display_name="opwatch findings", master_key=key, enforce_ssl=True)
        self.dead_letter_queues: dict[str, sqs.IQueue] = {}
        for i, sub in enumerate(subscriptions):
            dlq = dead_letter_queue(self, f"Subscription{i}Dlq")
            policy = filter_policy(sub.filter) or None
            if sub.protocol == "email":
                target: sns.ITopicSubscription = subs.EmailSubscription(sub.endpoint, filter_policy=policy,
                                                                        dead_letter_queue=dlq)
            else:
                target = subs.UrlSubscription(sub.endpoint, protocol=sns.SubscriptionProtocol.HTTPS,
                                              filter_policy=policy, dead_letter_queue=dlq)
            self.topic.add_subscription(target)
            self.dead_letter_queues[f"subscription-{i}-{sub.protocol}"] = dlq
