"""The deployed AWS remedy function, in-process (moto cannot run Lambda code without Docker),
against a moto server over HTTP (DynamoDB remedy and idempotency tables, Secrets Manager) and
a real anvil L1, configured as the CDK app configures the top-up function.

What it proves: the function reads L1 through the `rpc_endpoints` secret (the bundled config
holds only a keyless placeholder); its state lives in the remedy table, not the alerts table;
Powertools remembers only completed outcomes (a refusal releases the request id, and a second
responder with the same approve command is not turned away); a bare request never acts on an
automatic network; a network of the other cloud is refused; SNS attributes must agree with the
body; the caller is audited as the adapter knows it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from opwatch.chain.rpc import RpcClient
from opwatch.config import Endpoint
from opwatch.findings import Finding, Measure, Severity, Status
from remedies_fixtures import BATCHER, FUNDER, FUNDER_KEY, L1_CHAIN_ID, config_text, start_moto, topup_section
from test_aws_lambda import REGION, LambdaContext

pytestmark = pytest.mark.anvil
ETH = 10**18
GWEI = 10**9
KEYLESS = "http://127.0.0.1:1"  # the bundled config's placeholder: nothing listens there
REMEDY_TABLE, ALERTS_TABLE, IDEMPOTENCY_TABLE = "opwatch-remedies", "opwatch-alerts", "opwatch-idem-remedies"
TOPIC = "arn:aws:sns:us-east-1:123456789012:opwatch-findings"


@pytest.fixture(scope="module")
def l1(tmp_path_factory):
    from opwatch_devnet.anvil import AnvilProcess

    with AnvilProcess.start("l1", tmp_path_factory.mktemp("l1"), ["--chain-id", str(L1_CHAIN_ID)]) as proc:
        yield proc.url


@pytest.fixture(scope="module")
def moto_endpoint():
    server, endpoint = start_moto()
    yield endpoint
    server.stop()


def client(url: str) -> RpcClient:
    return RpcClient(Endpoint(url, "l1"), retries=0)


def balance(url: str) -> int:
    return int(client(url).call("eth_getBalance", BATCHER, "latest"), 16)


def nonce(url: str) -> int:
    return int(client(url).call("eth_getTransactionCount", FUNDER, "latest"), 16)


def next_base_fee(url: str, wei: int) -> None:
    """The head's base fee becomes `wei` (anvil sets the next block's, then one block is mined)."""
    client(url).call("anvil_setNextBlockBaseFeePerGas", hex(wei))
    client(url).call("evm_mine")


def write_config(path: Path, runs_on: str = "aws") -> Path:
    # Unattended top-ups on: a firing finding may pay without a person, which is exactly
    # where a bare request must still be refused.
    text = config_text(KEYLESS, topup_section(path.parent / "unused.db", auto=True, approval="auto", per_day=100))
    text = text.replace(f'l1_rpc = ["{KEYLESS}"]', f'l1_rpc = [{{url = "{KEYLESS}", name = "l1-main"}}]')
    text = text.replace('approval = "auto"', f'approval = "auto"\nruns_on = "{runs_on}"')
    path.write_text(text)
    return path


@pytest.fixture
def fn(l1, moto_endpoint, tmp_path, monkeypatch):
    """The top-up function's environment, as the CDK app sets it; returns a boto3 client factory."""
    import boto3
    from opwatch.aws import runtime
    from opwatch.aws.alert_store import create_table

    for name, value in {"AWS_ENDPOINT_URL": moto_endpoint, "AWS_DEFAULT_REGION": REGION,
                        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "POWERTOOLS_SERVICE_NAME": "opwatch", "POWERTOOLS_TRACE_DISABLED": "true"}.items():
        monkeypatch.setenv(name, value)

    def aws(service: str):
        return boto3.client(service, endpoint_url=moto_endpoint, region_name=REGION)

    dynamodb = aws("dynamodb")
    existing = dynamodb.list_tables()["TableNames"]
    for table in (REMEDY_TABLE, ALERTS_TABLE):
        if table not in existing:
            create_table(dynamodb, table)
    if IDEMPOTENCY_TABLE not in existing:
        dynamodb.create_table(TableName=IDEMPOTENCY_TABLE, BillingMode="PAY_PER_REQUEST",
                              AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                              KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    sm = aws("secretsmanager")
    name = "opwatch/rpc-endpoints"
    try:
        arn = sm.create_secret(Name=name, SecretString=json.dumps({"l1-main": l1}))["ARN"]
    except sm.exceptions.ResourceExistsException:
        arn = sm.describe_secret(SecretId=name)["ARN"]
    # ALERTS_TABLE is the pager's: set here so that a function still using it shows up as
    # state written to the wrong table, not as a missing variable.
    for key, value in {"OPWATCH_CONFIG": str(write_config(tmp_path / "opwatch.toml")), "OPWATCH_REMEDIES": "topup",
                       "REMEDY_TABLE": REMEDY_TABLE, "ALERTS_TABLE": ALERTS_TABLE,
                       "IDEMPOTENCY_TABLE": IDEMPOTENCY_TABLE, "RPC_ENDPOINTS_SECRET": arn,
                       "OPWATCH_FUNDER_KEY": FUNDER_KEY}.items():  # anvil's published test key 0
        monkeypatch.setenv(key, value)
    next_base_fee(l1, GWEI)
    runtime.reset()
    yield aws
    runtime.reset()


def invoke(event: dict, request_id: str = "req-1") -> dict:
    from opwatch.aws import remedy_handler

    return remedy_handler.handler(event, LambdaContext(aws_request_id=request_id))


def audit(aws, request_id: str) -> list[dict]:
    from opwatch.aws.remedy_store import DynamoDBRemedyStore

    return [r for r in DynamoDBRemedyStore(REMEDY_TABLE, client=aws("dynamodb")).audit(500)
            if r.get("request_id") == request_id]


def approve(request_id: str, who: str = "alice") -> dict:
    return {"remedy": "topup", "network": "devnet", "request_id": request_id, "target": "batcher",
            "approved_by": who}


def test_it_reads_l1_through_the_endpoint_secret_and_keeps_its_state_in_the_remedy_table(fn, l1):
    client(l1).call("anvil_setBalance", BATCHER, hex(7 * ETH))
    out = invoke(approve("ops-secret-1"), request_id="lambda-secret-1")
    assert out["status"] == "sent", out
    assert balance(l1) == 10 * ETH
    records = audit(fn, "ops-secret-1")
    assert {r["step"] for r in records} >= {"received", "result"}
    assert {r["caller"] for r in records} == {"aws-invoke:lambda-secret-1"}
    assert all(r["approved_by"] == "alice" for r in records)
    alerts = fn("dynamodb").scan(TableName=ALERTS_TABLE)["Items"]
    assert not [i for i in alerts if "ops-secret-1" in json.dumps(i)]  # nothing in the pager's table
    assert l1 not in json.dumps(records)  # the keyed URL never reaches the audit


def test_a_refusal_is_not_remembered_and_a_second_responder_runs_the_same_approval(fn, l1):
    client(l1).call("anvil_setBalance", BATCHER, hex(7 * ETH))
    next_base_fee(l1, 500 * GWEI)  # above the 100 gwei ceiling: a transient refusal
    first = invoke(approve("approve:devnet/wallet_runway/batcher:1", "alice"))
    assert first["status"] == "refused" and "ceiling" in first["reason"], first
    next_base_fee(l1, GWEI)  # the fee spike is over; bob presses the same approve command
    second = invoke(approve("approve:devnet/wallet_runway/batcher:1", "bob"), request_id="req-2")
    assert second["status"] == "sent", second
    assert balance(l1) == 10 * ETH
    sent_nonce = nonce(l1)
    third = invoke(approve("approve:devnet/wallet_runway/batcher:1", "alice"), request_id="req-3")
    assert third == second  # completed: remembered, answered, not paid again
    assert nonce(l1) == sent_nonce and balance(l1) == 10 * ETH
    items = fn("dynamodb").scan(TableName=IDEMPOTENCY_TABLE)["Items"]
    assert items and all(i["status"]["S"] == "COMPLETED" for i in items)  # nothing left in progress


def test_a_bare_request_never_acts_even_where_unattended_top_ups_are_on(fn, l1):
    client(l1).call("anvil_setBalance", BATCHER, hex(7 * ETH))
    before = nonce(l1)
    out = invoke({"remedy": "topup", "network": "devnet", "request_id": "bare-1", "target": "batcher"})
    assert out["status"] == "refused" and "bare request never acts" in out["reason"], out
    assert nonce(l1) == before and balance(l1) == 7 * ETH


def test_a_request_for_a_network_this_deployment_does_not_run_is_refused_not_an_error(fn, l1):
    # Raised before, so Lambda reported an error and SNS redelivered it until the dead letter.
    before = nonce(l1)
    out = invoke({**approve("ops-elsewhere"), "network": "not-here"})
    assert out["status"] == "refused" and "no network 'not-here'" in out["reason"], out
    assert nonce(l1) == before


def test_a_network_whose_remedies_run_on_gcp_is_refused_on_aws(fn, l1, tmp_path, monkeypatch):
    from opwatch.aws import runtime

    monkeypatch.setenv("OPWATCH_CONFIG", str(write_config(tmp_path / "gcp.toml", runs_on="gcp")))
    runtime.reset()
    client(l1).call("anvil_setBalance", BATCHER, hex(7 * ETH))
    before = nonce(l1)
    out = invoke(approve("ops-other-cloud-1"))
    assert out["status"] == "refused" and "runs its remedies on gcp" in out["reason"], out
    assert nonce(l1) == before and balance(l1) == 7 * ETH
    assert [r["outcome"] for r in audit(fn, "ops-other-cloud-1") if r["step"] == "result"] == ["refused"]


def sns_event(finding: Finding, attributes: dict[str, str]) -> dict:
    """Lambda's SNS event shape, as SNS delivers it to a subscribed function."""
    return {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
                         "EventSubscriptionArn": f"{TOPIC}:sub-topup",
                         "Sns": {"Type": "Notification", "MessageId": f"m-{finding.observed_at}", "TopicArn": TOPIC,
                                 "Subject": None, "Message": json.dumps(finding.to_dict()),
                                 "Timestamp": "2026-01-01T00:00:00.000Z", "SignatureVersion": "1",
                                 "Signature": "", "SigningCertUrl": "", "UnsubscribeUrl": "",
                                 "MessageAttributes": {k: {"Type": "String", "Value": v}
                                                       for k, v in attributes.items()}}}]}


def runway(observed_at: str, network: str = "devnet") -> Finding:
    return Finding(network=network, check="wallet_runway", target="batcher", status=Status.FIRING,
                   severity=Severity.CRITICAL, summary="batcher runway 1 h", observed=Measure(1.0, "h"),
                   threshold=Measure(24.0, "h"), observed_at=observed_at)


def test_sns_attributes_must_agree_with_the_body_and_the_topic_is_the_caller(fn, l1, caplog):
    client(l1).call("anvil_setBalance", BATCHER, hex(7 * ETH))
    before = nonce(l1)
    finding = runway("2026-01-01T00:01:00Z")
    # The filter policy let it through on its attributes; the body says something else.
    lying = invoke(sns_event(finding, finding.attributes() | {"status": "ok"}))
    missing = invoke(sns_event(finding, {"severity": "critical"}))
    for out in (lying, missing):
        [outcome] = out["outcomes"]
        assert outcome["status"] == "rejected", outcome
    assert "disagree with the finding body" in lying["outcomes"][0]["reason"]
    assert "missing" in missing["outcomes"][0]["reason"]
    assert nonce(l1) == before and balance(l1) == 7 * ETH
    assert [r.getMessage() for r in caplog.records].count("remedy: rejected an SNS message") == 2  # logged

    [outcome] = invoke(sns_event(finding, finding.attributes()))["outcomes"]
    assert outcome["status"] == "sent", outcome
    assert balance(l1) == 10 * ETH
    from opwatch.remedies.request import RemedyRequest

    records = audit(fn, RemedyRequest.from_finding(finding).request_id)
    assert records and {r["caller"] for r in records} == {f"aws-sns:{TOPIC}"}
    assert all(r["approved_by"] is None and r["finding"] == finding.dedup_key for r in records)
