"""Self-watch: who watches the watchdog. Alarms go to the alarm topic (e-mail, and HTTPS,
e.g. PagerDuty's CloudWatch integration, from `[aws] alarm_emails` / `alarm_https`).

Per function: Errors ≥ 1 and Throttles ≥ 1 over 5 minutes. Per check function: fewer than
one invocation in each of 3 schedule periods, with missing data treated as breaching, so a
function that stopped running at all (schedule deleted, permissions broken, account limits,
persistent throttling) pages instead of going quiet. Per dead-letter queue: any visible message.

Every alarm reads a metric AWS publishes for free (AWS/Lambda, AWS/SQS): the heartbeat is
Lambda's own `Invocations`, not a custom metric. A check run counts as "ran and delivered"
when it was invoked and did not fail: a run that cannot publish its findings raises
(`aws.publisher.PublishError`) and Lambda counts it in `Errors`, which alarms at once. So
the custom `Heartbeat` metric (`aws.telemetry`) adds no signal, only $0.30 a series a
month; it is emitted for Grafana alone (`[aws] check_metrics`).

Why not fewer alarms: CloudWatch bills an alarm per metric it reads ($0.10 a month,
standard resolution), whether the metrics sit in one metric-math alarm or in one alarm
each, and a composite alarm costs $0.50 on top of the alarms it combines (list prices,
bench/monthly.py). Folding Errors and Throttles into one expression would save nothing and
lose which of the two fired; the saving is in the metrics, not the alarms.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from opwatch.deploy.aws import AwsSettings

from .queues import dead_letter_queue

HEARTBEAT_PERIODS = 3
AT_LEAST = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD


class SelfWatch(Construct):
    def __init__(self, scope: Construct, id: str, *, key: kms.IKey, settings: AwsSettings) -> None:
        super().__init__(scope, id)
        self.namespace = settings.namespace
        self.topic = sns.Topic(self, "AlarmTopic", display_name="opwatch self-watch alarms", master_key=key,
                               enforce_ssl=True)
        self.dead_letter_queue = dead_letter_queue(self, "AlarmSubscriptionDlq")
        for email in settings.alarm_emails:
            self.topic.add_subscription(subs.EmailSubscription(email, dead_letter_queue=self.dead_letter_queue))
        for url in settings.alarm_https:
            self.topic.add_subscription(subs.UrlSubscription(url, protocol=sns.SubscriptionProtocol.HTTPS,
                                                             dead_letter_queue=self.dead_letter_queue))
        self.action = actions.SnsAction(self.topic)
        self.alarms: list[cw.Alarm] = []

    def _alarm(self, scope: Construct, id: str, metric: cw.IMetric, description: str, missing: cw.TreatMissingData,
               periods: int = 1, comparison: cw.ComparisonOperator = AT_LEAST, threshold: float = 1) -> cw.Alarm:
        alarm = cw.Alarm(scope, id, metric=metric, threshold=threshold, evaluation_periods=periods,
                         datapoints_to_alarm=periods, comparison_operator=comparison, treat_missing_data=missing,
                         alarm_description=description)
        alarm.add_alarm_action(self.action)
        alarm.add_ok_action(self.action)
        self.alarms.append(alarm)
        return alarm

    def watch_function(self, scope: Construct, name: str, fn: lambda_.IFunction) -> None:
        five = Duration.minutes(5)
        self._alarm(scope, "Errors", fn.metric_errors(period=five, statistic="Sum"),
                    f"{name} failed (unhandled error or timeout): see its log group", cw.TreatMissingData.NOT_BREACHING)
        self._alarm(scope, "Throttles", fn.metric_throttles(period=five, statistic="Sum"),
                    f"{name} was throttled: runs are being dropped", cw.TreatMissingData.NOT_BREACHING)

    def watch_heartbeat(self, scope: Construct, name: str, fn: lambda_.IFunction, network: str, check: str,
                        every_minutes: int) -> None:
        """Invoked at least once in each of the last 3 periods of its schedule (missing data:
        not invoked, breaching). A throttled invocation is not an invocation, so a function
        that is throttled run after run alarms here too, besides its Throttles alarm."""
        metric = fn.metric_invocations(period=Duration.minutes(every_minutes), statistic="Sum")
        self._alarm(scope, "Heartbeat", metric,
                    f"{name} has not reported for {HEARTBEAT_PERIODS} runs: {check} on {network} is unwatched",
                    cw.TreatMissingData.BREACHING, periods=HEARTBEAT_PERIODS,
                    comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD)

    def watch_queue(self, scope: Construct, name: str, queue: sqs.IQueue) -> None:
        self._alarm(scope, "Depth", queue.metric_approximate_number_of_messages_visible(
            period=Duration.minutes(5), statistic="Maximum"),
            f"dead letters in {name}: findings or invocations were dropped", cw.TreatMissingData.NOT_BREACHING)
