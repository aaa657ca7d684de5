"""Warnings reach someone through the pagers as deployed: the AWS pager handler (in-process,
DynamoDB in a moto server over HTTP) and the GCP pager (functions-framework over HTTP, from
the bundle `opwatch gcp bundle` makes), both with the default routes and the sinks those
runtimes build, paging the Events v2 stand-in.

An `rpc_sync` warning (a node a few blocks behind) firing for eight evaluations a minute
apart must open exactly one incident: before warnings were routed to a `chat` sink that no
deployed pager builds, so it changed the alert state and notified no one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from alerting_fixtures import finding
from gcp_standins import GoogleApisStandIn, Published
from opwatch.config import parse_config
from opwatch.findings import Finding, Severity
from pagerduty_standin import EventsStandIn
from remedies_fixtures import start_moto

REGION = "us-east-1"
EVALUATIONS = 8
CONFIG = """
[networks.devnet]
l1_rpc = "http://127.0.0.1:8545"
l2_rpc = "http://127.0.0.1:9545"
l1_chain_id = 900
l2_chain_id = 901
block_time = "2s"
"""


SILENCED = CONFIG + """
[[alerting.silences]]
network = "devnet"
check = "rpc_sync"
until = "2099-01-01T00:00:00Z"
reason = "node migration"
"""
EAGER = CONFIG + """
[alerting]
runbook_base_url = "https://runbooks.example.org/opwatch"
[alerting.checks.rpc_sync]
fire_after = 1
"""


def lagging(i: int) -> Finding:
    """The i-th evaluation of a node 12 blocks behind: rpc_sync fires at severity warning."""
    return finding("firing", 60.0 * i, check="rpc_sync", target="node-a", network="devnet",
                   severity=Severity.WARNING)


@pytest.fixture
def events() -> Iterator[EventsStandIn]:
    server = EventsStandIn.start()
    yield server
    server.stop()


@dataclass
class LambdaContext:
    function_name: str = "opwatch-pager"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:opwatch-pager"
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def run_aws_pager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, events: EventsStandIn, config: str,
                  evaluations: int) -> None:
    """Deliver `evaluations` rpc_sync warnings through SNS to the real pager handler, in-process,
    with the environment the CDK app gives it and `config` as its bundled opwatch.toml."""
    import boto3
    from opwatch.aws import pager_handler, runtime
    from opwatch.aws.alert_store import create_table
    from opwatch.aws.publisher import SnsPublisher

    (tmp_path / "opwatch.toml").write_text(config)
    server, endpoint = start_moto()
    try:
        for name, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": REGION,
                            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "POWERTOOLS_SERVICE_NAME": "opwatch", "POWERTOOLS_TRACE_DISABLED": "true"}.items():
            monkeypatch.setenv(name, value)

        def aws(service: str):  # type: ignore[no-untyped-def]
            return boto3.client(service, endpoint_url=endpoint, region_name=REGION)

        create_table(aws("dynamodb"), "opwatch-alerts")
        aws("dynamodb").create_table(TableName="opwatch-idempotency", BillingMode="PAY_PER_REQUEST",
                                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
        secret = aws("secretsmanager").create_secret(Name="opwatch/pagerduty", SecretString="r" * 32)["ARN"]
        topic = aws("sns").create_topic(Name="opwatch-findings")["TopicArn"]
        sqs = aws("sqs")
        queue = sqs.create_queue(QueueName="pager-deliveries")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        aws("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn,
                             Attributes={"FilterPolicy": json.dumps({"network": ["devnet"]})})
        # The pager's environment as infra/pager.py sets it (the bundled config is /var/task/opwatch.toml
        # there), plus where PagerDuty is: the Events v2 stand-in (a destination, not behaviour).
        for name, value in {"OPWATCH_CONFIG": str(tmp_path / "opwatch.toml"), "ALERTS_TABLE": "opwatch-alerts",
                            "IDEMPOTENCY_TABLE": "opwatch-idempotency", "PAGERDUTY_SECRET": secret,
                            "PAGERDUTY_BASE_URL": events.base_url}.items():
            monkeypatch.setenv(name, value)
        runtime.reset()

        for i in range(evaluations):
            SnsPublisher(topic, client=aws("sns")).publish([lagging(i)])
            [message] = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5)["Messages"]
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
            envelope = json.loads(message["Body"])
            sns = {k: v for k, v in envelope.items() if k not in ("SigningCertURL", "UnsubscribeURL")}
            sns |= {"SigningCertUrl": "", "UnsubscribeUrl": "", "Subject": None}
            event = {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
                                  "EventSubscriptionArn": f"{topic}:pager", "Sns": sns}]}
            pager_handler.handler(event, LambdaContext(aws_request_id=f"req-{i}"))
    finally:
        runtime.reset()
        server.stop()


def test_aws_pager_pages_an_rpc_sync_warning_once(tmp_path, events, monkeypatch):
    run_aws_pager(tmp_path, monkeypatch, events, CONFIG, EVALUATIONS)
    key = lagging(0).dedup_key
    assert events.actions(key) == ["trigger"], events.accepted
    [trigger] = events.accepted
    # Low urgency on a service whose urgency follows severity (Events v2 has no urgency field).
    assert trigger["payload"]["severity"] == "warning"


def test_aws_pager_honours_a_silence_in_the_bundled_config(tmp_path, events, monkeypatch):
    run_aws_pager(tmp_path, monkeypatch, events, SILENCED, EVALUATIONS)
    assert events.accepted == []


def test_aws_pager_with_fire_after_1_pages_on_the_first_firing_finding(tmp_path, events, monkeypatch):
    run_aws_pager(tmp_path, monkeypatch, events, EAGER, 1)
    [trigger] = events.accepted
    assert trigger["event_action"] == "trigger"
    # The runbook link follows [alerting] runbook_base_url, not an environment variable.
    assert trigger["links"][0]["href"] == "https://runbooks.example.org/opwatch/docs/runbooks/rpc_sync.md"


@pytest.fixture
def gcp_pager(tmp_path: Path, events: EventsStandIn) -> Iterator[Callable[[str], object]]:
    """Starts the GCP pager from the bundle `opwatch gcp bundle` makes of a config, with the
    environment the gcloud plan gives it (plus where Secret Manager and PagerDuty are)."""
    from opwatch.deploy.gcp import GcpSettings
    from opwatch.deploy.gcp_cli import bundle
    from test_gcp_functions import Function

    apis = GoogleApisStandIn.start()
    secret = "projects/opwatch-test/secrets/opwatch-pagerduty-routing-key"
    apis.secrets[secret] = b"R" * 32
    started: list[Function] = []

    def start(config: str) -> Function:
        (tmp_path / "opwatch.toml").write_text(config)
        bundle(parse_config(config, source=str(tmp_path / "opwatch.toml")), GcpSettings(project="opwatch-test"),
               tmp_path / "bundle")
        fn = Function(tmp_path / "bundle", "pager", {
            "OPWATCH_STATE_STORE": f"sqlite:{tmp_path / 'alerts.db'}",
            "OPWATCH_PAGERDUTY_SECRET": secret + "/versions/latest",
            "OPWATCH_SECRETMANAGER_ENDPOINT": apis.base_url, "OPWATCH_PAGERDUTY_URL": events.base_url},
            tmp_path / "pager.log")
        started.append(fn)
        return fn

    try:
        yield start
    finally:
        for fn in started:
            fn.stop()
        apis.stop()


def push_lagging(fn: object, evaluations: int) -> None:
    from test_gcp_functions import push

    for i in range(evaluations):
        f = lagging(i)
        message = Published(topic="projects/opwatch-test/topics/opwatch-findings", message_id=f"m-{i}",
                            data=json.dumps(f.to_dict()).encode(), attributes=f.attributes(),
                            publish_time=f.observed_at)
        body, headers = push(message.envelope("projects/opwatch-test/subscriptions/opwatch-pager"), f"m-{i}")
        assert fn.post(body, headers) == 200, fn.log.read_text()  # type: ignore[attr-defined]


def test_gcp_pager_pages_an_rpc_sync_warning_once(gcp_pager, events):
    fn = gcp_pager(CONFIG)
    push_lagging(fn, EVALUATIONS)
    assert events.actions(lagging(0).dedup_key) == ["trigger"], fn.log.read_text()
    assert [e["payload"]["severity"] for e in events.accepted] == ["warning"]


def test_gcp_pager_honours_a_silence_in_the_bundled_config(gcp_pager, events):
    fn = gcp_pager(SILENCED)
    push_lagging(fn, EVALUATIONS)
    assert events.accepted == [], fn.log.read_text()


def test_gcp_pager_with_fire_after_1_pages_on_the_first_firing_finding(gcp_pager, events):
    fn = gcp_pager(EAGER)
    push_lagging(fn, 1)
    [trigger] = events.accepted
    assert trigger["event_action"] == "trigger"
    assert trigger["links"][0]["href"] == "https://runbooks.example.org/opwatch/docs/runbooks/rpc_sync.md"
