"""The Lambda handlers against AWS services in a moto server (over HTTP) and the real devnet.

Handlers run in-process (moto cannot run Lambda code without Docker), exactly as deployed:
they build real boto3 clients, which reach the moto server through `AWS_ENDPOINT_URL`.
SNS → SQS subscriptions with filter policies stand in for the subscribers (pager, remedies,
e-mail), so what each one would receive is observable.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

import pytest
from pagerduty_standin import EventsStandIn
from remedies_fixtures import start_moto

pytestmark = pytest.mark.anvil

REGION = "us-east-1"


@dataclass
class LambdaContext:
    """A stand-in for the Lambda context object (the fields Powertools reads)."""

    function_name: str = "opwatch-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:opwatch-test"
    aws_request_id: str = "req-1"
    remaining_ms: int = 60_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture(scope="module")
def moto_endpoint():
    server, endpoint = start_moto()
    yield endpoint
    server.stop()


@pytest.fixture
def aws(moto_endpoint, monkeypatch):
    """Environment every handler sees; returns a boto3 client factory for the moto server."""
    import boto3
    from opwatch.aws import runtime

    for name, value in {"AWS_ENDPOINT_URL": moto_endpoint, "AWS_DEFAULT_REGION": REGION,
                        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "POWERTOOLS_SERVICE_NAME": "opwatch", "POWERTOOLS_METRICS_NAMESPACE": "opwatch",
                        "POWERTOOLS_TRACE_DISABLED": "true"}.items():
        monkeypatch.setenv(name, value)
    runtime.reset()
    yield lambda service: boto3.client(service, endpoint_url=moto_endpoint, region_name=REGION)
    runtime.reset()


def subscribe_queue(aws, topic_arn: str, name: str, policy: dict | None) -> str:
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attrs = {"FilterPolicy": json.dumps(policy)} if policy else {}
    aws("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes=attrs)
    return url


def drain(aws, url: str) -> list[dict]:
    """SNS envelopes delivered to a queue so far."""
    sqs, out = aws("sqs"), []
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not msgs:
            return out
        for m in msgs:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_check_handler_publishes_findings_only_matching_subscribers_receive(devnet, aws, tmp_path, monkeypatch):
    from opwatch.aws import check_handler, runtime

    # The sequencer's URL lives in a secret; the bundled config has only a keyless placeholder.
    seq_url = re.search(r'^l2_rpc = "(.*)"$', devnet.config_text(), re.M).group(1)
    text = devnet.config_text().replace(f'l2_rpc = "{seq_url}"',
                                        'l2_rpc = { url = "http://127.0.0.1:9", name = "sequencer" }')
    (tmp_path / "opwatch.toml").write_text(text)
    secret_arn = aws("secretsmanager").create_secret(Name="opwatch/rpc",
                                                     SecretString=json.dumps({"sequencer": seq_url}))["ARN"]
    topic = aws("sns").create_topic(Name="opwatch-findings-check")["TopicArn"]
    everything = subscribe_queue(aws, topic, "devnet-all", {"network": ["devnet"]})
    firing = subscribe_queue(aws, topic, "devnet-firing", {"status": ["firing"], "severity": ["critical"]})
    elsewhere = subscribe_queue(aws, topic, "mainnet-all", {"network": ["mainnet"]})
    for name, value in {"OPWATCH_CONFIG": str(tmp_path / "opwatch.toml"), "OPWATCH_NETWORK": "devnet",
                        "OPWATCH_CHECK": "sequencer_liveness", "FINDINGS_TOPIC_ARN": topic,
                        "RPC_ENDPOINTS_SECRET": secret_arn}.items():
        monkeypatch.setenv(name, value)
    event = {"network": "devnet", "check": "sequencer_liveness", "execution_id": "exec-1",
             "scheduled_time": "2026-01-01T00:00:00Z", "schedule_arn": "arn:aws:scheduler:::schedule/x", "attempt": "1"}

    # Start from a producing sequencer: an earlier test on the shared devnet may have halted it,
    # and the gap keeps the mean block interval high for a few blocks after the heal.
    heal_sequencer(devnet, tmp_path / "opwatch.toml")
    reply = check_handler.handler(event, LambdaContext())
    assert reply["status"] == {"sequencer": "ok"} and reply["published"] == 1
    [envelope] = drain(aws, everything)
    attributes = {k: v["Value"] for k, v in envelope["MessageAttributes"].items()}
    assert attributes == {"network": "devnet", "check": "sequencer_liveness", "status": "ok", "severity": "info"}
    assert json.loads(envelope["Message"])["dedup_key"] == "opwatch/devnet/sequencer_liveness/sequencer"
    assert drain(aws, firing) == [] and drain(aws, elsewhere) == []

    # Fast lane: halted sequencer, sampled every second for the time the context leaves.
    devnet.fault("halt-sequencer")
    try:
        time.sleep(6.5)  # the devnet's sequencer_max_head_age is 5 s
        # The fast lane follows the bundled config's [schedules] (not an environment variable).
        (tmp_path / "opwatch.toml").write_text(text + '\n[schedules]\nfast_lane = true\nfast_lane_every = "1s"\n')
        runtime.reset()
        reply = check_handler.handler({}, LambdaContext(remaining_ms=int((check_handler.RESERVE_S + 2.5) * 1000)))
    finally:
        heal_sequencer(devnet, tmp_path / "opwatch.toml")
    assert reply["samples"] == 3 and reply["status"] == {"sequencer": "firing"}
    assert reply["published"] == 2  # the first and the last sample: no change in between
    paged = drain(aws, firing)
    assert len(paged) == 2 and all(json.loads(e["Message"])["status"] == "firing" for e in paged)
    assert len(drain(aws, everything)) == 2 and drain(aws, elsewhere) == []

    with pytest.raises(ValueError, match="runs network 'devnet'"):
        check_handler.handler({"network": "mainnet"}, LambdaContext())


def heal_sequencer(devnet, config_path) -> None:
    """Heal, then wait until sequencer_liveness is ok again (the halt's gap leaves the mean block
    interval high for a few blocks), so later tests on the shared devnet start from health."""
    from opwatch.aws.runtime import reset
    from opwatch.config import load_config
    from opwatch.runner import run_checks

    devnet.heal()
    reset()
    config = load_config(devnet.write_config(config_path.with_name("healthy.toml")))
    devnet.wait_for(lambda: run_checks(config, ["devnet"], ["sequencer_liveness"]).findings[0].status == "ok",
                    timeout=30)


@pytest.fixture
def standin():
    server = EventsStandIn.start()
    yield server
    server.stop()


def sns_lambda_event(envelope: dict, subscription_arn: str) -> dict:
    """The Lambda SNS event for a message SNS delivered (the same envelope, in Lambda's record shape)."""
    sns = {k: v for k, v in envelope.items() if k not in ("SigningCertURL", "UnsubscribeURL")}
    sns["SigningCertUrl"] = envelope.get("SigningCertURL", "")
    sns["UnsubscribeUrl"] = envelope.get("UnsubscribeURL", "")
    sns.setdefault("Subject", None)
    return {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": subscription_arn,
                         "Sns": sns}]}


def test_pager_records_state_in_dynamodb_and_processes_a_duplicate_delivery_once(aws, standin, tmp_path,
                                                                                 monkeypatch):
    from opwatch.aws import pager_handler
    from opwatch.aws.alert_store import DynamoDBStore, create_table
    from opwatch.aws.publisher import SnsPublisher
    from opwatch.findings import Finding, Measure, Severity, Status

    dynamodb = aws("dynamodb")
    create_table(dynamodb, "opwatch-alerts")
    dynamodb.create_table(TableName="opwatch-idempotency", BillingMode="PAY_PER_REQUEST",
                          AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    secret = aws("secretsmanager").create_secret(Name="opwatch/pagerduty", SecretString="r" * 32)["ARN"]
    topic = aws("sns").create_topic(Name="opwatch-findings-pager")["TopicArn"]
    queue = subscribe_queue(aws, topic, "pager-deliveries", {"network": ["devnet"]})
    # The pager's policy is the bundled config's [alerting] (here: none, the defaults).
    (tmp_path / "opwatch.toml").write_text('[networks.devnet]\nl1_rpc = "http://127.0.0.1:1"\n'
                                           'l2_rpc = "http://127.0.0.1:2"\nl1_chain_id = 900\nl2_chain_id = 901\n'
                                           'block_time = "1s"\n')
    for name, value in {"OPWATCH_CONFIG": str(tmp_path / "opwatch.toml"), "ALERTS_TABLE": "opwatch-alerts",
                        "IDEMPOTENCY_TABLE": "opwatch-idempotency", "PAGERDUTY_SECRET": secret,
                        "PAGERDUTY_BASE_URL": standin.base_url}.items():
        monkeypatch.setenv(name, value)

    finding = Finding(network="devnet", check="sequencer_liveness", target="sequencer", status=Status.FIRING,
                      severity=Severity.CRITICAL, summary="unsafe head #7 is 40 s old (limit 5.0 s)",
                      observed=Measure(40.0, "s"), threshold=Measure(5.0, "s"), observed_at="2026-01-01T00:00:00Z")
    SnsPublisher(topic, client=aws("sns")).publish([finding])
    [envelope] = drain(aws, queue)
    event = sns_lambda_event(envelope, f"{topic}:pager")

    first = pager_handler.handler(event, LambdaContext())
    kinds = [t["kind"] for t in first["transitions"]]
    assert "firing" in kinds and "notified" in kinds
    assert standin.actions(finding.dedup_key) == ["trigger"]
    store = DynamoDBStore("opwatch-alerts", client=dynamodb)
    assert store.get(finding.dedup_key).phase == "firing"
    history = store.transitions(finding.dedup_key)

    # SNS delivers at least once: the same message again is answered from the idempotency record.
    again = pager_handler.handler(event, LambdaContext(aws_request_id="req-2"))
    assert again == first
    assert standin.actions(finding.dedup_key) == ["trigger"]
    assert store.transitions(finding.dedup_key) == history
    [record] = dynamodb.scan(TableName="opwatch-idempotency")["Items"]
    assert record["status"] == {"S": "COMPLETED"}


def test_remedy_handler_runs_a_manual_request_once_and_a_firing_finding_from_sns(devnet, aws, tmp_path, monkeypatch):
    """The snapshot remedy (S3 in moto, the devnet's L2 state): a manual invoke payload, its
    duplicate, and a firing snapshot_freshness finding delivered by SNS."""
    from opwatch.aws import remedy_handler
    from opwatch.aws.alert_store import create_table
    from opwatch.aws.publisher import SnsPublisher
    from opwatch.findings import Finding, Measure, Severity, Status

    dynamodb, s3 = aws("dynamodb"), aws("s3")
    create_table(dynamodb, "opwatch-state-remedies")
    dynamodb.create_table(TableName="opwatch-idempotency-remedies", BillingMode="PAY_PER_REQUEST",
                          AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    s3.create_bucket(Bucket="opwatch-snapshots")
    # Unattended snapshots on this network: approval auto and snapshot.auto (a pushed finding acts).
    (tmp_path / "opwatch.toml").write_text(devnet.config_text() + '\n[remediation.networks.devnet]\napproval = "auto"\n'
                                           '[remediation.networks.devnet.snapshot]\nauto = true\n'
                                           'provider = "s3"\nbucket = "opwatch-snapshots"\nretention = 5\n')
    for name, value in {"OPWATCH_CONFIG": str(tmp_path / "opwatch.toml"), "OPWATCH_REMEDIES": "snapshot",
                        "REMEDY_TABLE": "opwatch-state-remedies",
                        "IDEMPOTENCY_TABLE": "opwatch-idempotency-remedies"}.items():
        monkeypatch.setenv(name, value)
    devnet.heal()

    def snapshots() -> list[str]:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="opwatch-snapshots").get("Contents", [])]
        return [k for k in keys if k.endswith(".state.gz")]

    manual = {"remedy": "snapshot", "network": "devnet", "request_id": "ops-2026-0001", "approved_by": "alice"}
    first = remedy_handler.handler(manual, LambdaContext())
    assert first["status"] == "done", first
    assert len(snapshots()) == 1
    assert remedy_handler.handler(dict(manual), LambdaContext(aws_request_id="req-2")) == first
    assert len(snapshots()) == 1  # the duplicate did not snapshot again

    with pytest.raises(ValueError, match="this function runs snapshot"):
        remedy_handler.handler(manual | {"remedy": "topup", "request_id": "ops-2"}, LambdaContext())

    topic = aws("sns").create_topic(Name="opwatch-findings-remedies")["TopicArn"]
    queue = subscribe_queue(aws, topic, "snapshot-remedy",
                            {"check": ["snapshot_freshness"], "status": ["firing"], "network": ["devnet"]})
    stale = Finding(network="devnet", check="snapshot_freshness", target="sequencer", status=Status.FIRING,
                    severity=Severity.WARNING, summary="newest snapshot is 2 d old", observed=Measure(172800.0, "s"),
                    threshold=Measure(86400.0, "s"), observed_at="2026-01-01T00:00:00Z")
    SnsPublisher(topic, client=aws("sns")).publish([stale, Finding.from_dict(stale.to_dict() | {"status": "ok"})])
    [envelope] = drain(aws, queue)  # the filter policy let the firing one through only
    reply = remedy_handler.handler(sns_lambda_event(envelope, f"{topic}:remedy"), LambdaContext())
    [outcome] = reply["outcomes"]
    assert outcome["status"] == "done" and outcome["snapshot"]["id"] in snapshots(), outcome


def test_deployed_check_function_remembers_in_the_alert_tables_memory_keys(devnet, aws, tmp_path, monkeypatch):
    """MEMORY_TABLE (the CDK app sets it to the alert table) gives the check function its memory:
    a firing batch_submission's diagnosis stores the batcher's nonces under
    `memory#devnet#batch_submission`, and the next run reads them back (no "no memory store")."""
    from devnet_config import tight_config_text
    from opwatch.aws import check_handler, runtime
    from opwatch.aws.alert_store import create_table

    dynamodb = aws("dynamodb")
    create_table(dynamodb, "opwatch-alerts-memory")
    (tmp_path / "opwatch.toml").write_text(tight_config_text(devnet))
    topic = aws("sns").create_topic(Name="opwatch-findings-memory")["TopicArn"]
    for name, value in {"OPWATCH_CONFIG": str(tmp_path / "opwatch.toml"), "OPWATCH_NETWORK": "devnet",
                        "OPWATCH_CHECK": "batch_submission", "FINDINGS_TOPIC_ARN": topic,
                        "MEMORY_TABLE": "opwatch-alerts-memory"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("RPC_ENDPOINTS_SECRET", raising=False)
    runtime.reset()
    key = {"pk": {"S": "memory#devnet#batch_submission"}, "sk": {"S": "batcher"}}
    devnet.fault("stop-batcher")
    try:
        deadline, reply = time.monotonic() + 90, {}
        while time.monotonic() < deadline:
            reply = check_handler.handler({}, LambdaContext())
            if reply["status"].get("batcher") == "firing" and "Item" in dynamodb.get_item(
                    TableName="opwatch-alerts-memory", Key=key, ConsistentRead=True):
                break
            time.sleep(1.0)
        assert reply["status"].get("batcher") == "firing", reply
        item = dynamodb.get_item(TableName="opwatch-alerts-memory", Key=key, ConsistentRead=True)["Item"]
        remembered = json.loads(item["doc"]["S"])["data"]
        assert {"mined_nonce", "pending_nonce"} <= set(remembered)
        # Nothing else of the table was written by the check function: only its own partition.
        scanned = dynamodb.scan(TableName="opwatch-alerts-memory")["Items"]
        assert {i["pk"]["S"] for i in scanned} == {"memory#devnet#batch_submission"}
    finally:
        devnet.heal("stop-batcher")
        runtime.reset()
