"""A silence added with the CLI reaches the deployed pagers without a redeploy.

On each cloud: `opwatch silence add` (a subprocess, as an operator runs it, with the operator's
own credentials) writes into the store the deployed pager keeps its alert state in; a firing
finding delivered to the pager then pages no one; `opwatch silence remove` ends it, and the next
delivery pages. The pagers run as deployed:
- AWS: the real pager handler in-process (Lambda cannot run here), DynamoDB in a moto server
  over HTTP, the findings through moto's SNS → SQS, the environment infra/pager.py gives it;
- GCP: the pager from the bundle `opwatch gcp bundle` makes, under the real functions-framework
  over HTTP, its state in Firestore (the v1 REST stand-in, tests/firestore_standin.py: no
  emulator runs here), as `OPWATCH_STATE_STORE=firestore:PROJECT/DATABASE` names it.
PagerDuty is the Events v2 stand-in in both.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from firestore_standin import FirestoreStandIn
from gcp_standins import GoogleApisStandIn, Published
from opwatch.config import parse_config
from pagerduty_standin import EventsStandIn
from remedies_fixtures import start_moto
from test_alerting_deployed_routes import EAGER, REGION, LambdaContext, lagging

OPWATCH = str(Path(sys.executable).parent / "opwatch")
KEY = lagging(0).dedup_key


def opwatch(env: dict[str, str], *argv: str) -> str:
    """The CLI as an operator runs it: its own process, its own credentials (in `env`)."""
    done = subprocess.run([OPWATCH, *argv], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})
    assert done.returncode == 0, (argv, done.stdout, done.stderr)
    return done.stdout.strip()


def silence_then_remove(env: dict[str, str], store: str, deliver: Any, events: EventsStandIn) -> None:
    """The scenario both clouds run: silenced, no page; removed, the next delivery pages."""
    silence = opwatch(env, "silence", "add", "--store", store, "--network", "devnet", "--check", "rpc_sync",
                      "--for", "2h", "--reason", "node migration")
    assert silence.startswith("sil-")
    deliver(0)
    deliver(1)
    assert events.accepted == []
    view = json.loads(opwatch(env, "alerts", "--store", store, "--format", "json"))
    assert [a["phase"] for a in view["open"]] == ["firing"]  # the lifecycle ran; only the page was held
    [firing] = [t for t in view["transitions"] if t["kind"] == "firing"]
    assert silence in firing["detail"] and "node migration" in firing["detail"]
    assert [s["id"] for s in view["silences"]] == [silence]

    opwatch(env, "silence", "remove", "--store", store, silence)
    deliver(2)
    assert events.actions(KEY) == ["trigger"], events.accepted
    deliver(3)
    assert events.actions(KEY) == ["trigger"]  # paged once


@pytest.fixture
def events() -> Iterator[EventsStandIn]:
    server = EventsStandIn.start()
    yield server
    server.stop()


def test_the_aws_pager_honours_a_silence_added_with_the_cli_and_pages_once_it_is_removed(
        tmp_path, events, monkeypatch):
    import boto3
    from opwatch.aws import pager_handler, runtime
    from opwatch.aws.alert_store import create_table
    from opwatch.aws.publisher import SnsPublisher

    (tmp_path / "opwatch.toml").write_text(EAGER)
    server, endpoint = start_moto()
    operator = {"AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing"}
    try:
        for name, value in {**operator, "POWERTOOLS_SERVICE_NAME": "opwatch",
                            "POWERTOOLS_TRACE_DISABLED": "true"}.items():
            monkeypatch.setenv(name, value)

        def aws(service: str) -> Any:
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
        # The pager's environment as infra/pager.py sets it, plus where PagerDuty is (a destination).
        for name, value in {"OPWATCH_CONFIG": str(tmp_path / "opwatch.toml"), "ALERTS_TABLE": "opwatch-alerts",
                            "IDEMPOTENCY_TABLE": "opwatch-idempotency", "PAGERDUTY_SECRET": secret,
                            "PAGERDUTY_BASE_URL": events.base_url}.items():
            monkeypatch.setenv(name, value)
        runtime.reset()

        def deliver(i: int) -> None:
            SnsPublisher(topic, client=aws("sns")).publish([lagging(i)])
            [message] = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5)["Messages"]
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
            envelope = json.loads(message["Body"])
            sns = {k: v for k, v in envelope.items() if k not in ("SigningCertURL", "UnsubscribeURL")}
            sns |= {"SigningCertUrl": "", "UnsubscribeUrl": "", "Subject": None}
            event = {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
                                  "EventSubscriptionArn": f"{topic}:pager", "Sns": sns}]}
            pager_handler.handler(event, LambdaContext(aws_request_id=f"req-{i}"))

        silence_then_remove(operator, "dynamodb:opwatch-alerts", deliver, events)
    finally:
        runtime.reset()
        server.stop()


def test_the_gcp_pager_honours_a_silence_added_with_the_cli_and_pages_once_it_is_removed(tmp_path, events):
    from opwatch.deploy.gcp import GcpSettings
    from opwatch.deploy.gcp_cli import bundle
    from test_gcp_functions import Function, push

    apis = GoogleApisStandIn.start()
    firestore = FirestoreStandIn.start()
    fn = None
    try:
        secret = "projects/opwatch-test/secrets/opwatch-pagerduty-routing-key"
        apis.secrets[secret] = b"R" * 32
        (tmp_path / "opwatch.toml").write_text(EAGER)
        bundle(parse_config(EAGER, source=str(tmp_path / "opwatch.toml")), GcpSettings(project="opwatch-test"),
               tmp_path / "bundle")
        # Where Firestore is: the stand-in, for the pager and for the operator's CLI alike.
        where = {"OPWATCH_FIRESTORE_ENDPOINT": firestore.base_url.removesuffix("/v1")}
        store = "firestore:opwatch-test/(default)"
        fn = Function(tmp_path / "bundle", "pager", {
            "OPWATCH_STATE_STORE": store, "OPWATCH_PAGERDUTY_SECRET": secret + "/versions/latest",
            "OPWATCH_SECRETMANAGER_ENDPOINT": apis.base_url, "OPWATCH_PAGERDUTY_URL": events.base_url, **where},
            tmp_path / "pager.log")

        def deliver(i: int) -> None:
            f = lagging(i)
            message = Published(topic="projects/opwatch-test/topics/opwatch-findings", message_id=f"m-{i}",
                                data=json.dumps(f.to_dict()).encode(), attributes=f.attributes(),
                                publish_time=f.observed_at)
            body, headers = push(message.envelope("projects/opwatch-test/subscriptions/opwatch-pager"), f"m-{i}")
            assert fn is not None and fn.post(body, headers) == 200, fn and fn.log.read_text()

        silence_then_remove(where, store, deliver, events)
        assert list(firestore.collection("alert_silence"))  # kept (removed, not deleted): the audit
    finally:
        if fn is not None:
            fn.stop()
        firestore.stop()
        apis.stop()
