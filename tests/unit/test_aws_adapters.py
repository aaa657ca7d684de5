"""The AWS adapters' pure logic: the [aws] section, scheduler input (the fast lane itself:
test_fastlane.py), RPC URLs from a secret, and SNS batching (with a recording stand-in for the SNS client)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from opwatch.aws.events import ScheduledRun, scheduled_input
from opwatch.aws.publisher import PublishError, SnsPublisher
from opwatch.aws.secrets import with_endpoint_urls
from opwatch.config import ConfigError, load_config, parse_config
from opwatch.deploy.aws import timeout_seconds
from opwatch.findings import Finding, Measure, Severity, Status

EXAMPLE = Path(__file__).resolve().parents[2] / "infra" / "example.toml"
NETWORK = """
[networks.mainnet]
l1_rpc = [{ url = "https://l1.example", name = "l1" }]
l2_rpc = { url = "https://placeholder.example", name = "sequencer" }
l1_chain_id = 1
l2_chain_id = 10
block_time = "2s"
"""


def aws_problems(section: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(NETWORK + section)
    return info.value.problems


def test_example_environments_secrets_and_subscriptions_load() -> None:
    aws = load_config(EXAMPLE).section("aws")
    assert list(aws.environments) == ["staging", "production"]
    prod = aws.environments["production"]
    assert (prod.region, prod.account, prod.networks) == ("us-east-1", "222222222222", ("mainnet",))
    assert set(prod.secrets) == {"pagerduty_routing_key", "rpc_endpoints"}
    assert aws.subscriptions[0].filter == {"status": ("firing",), "severity": ("critical", "warning")}
    assert aws.memory_mb("rpc_sync") == 512 and aws.memory_mb("pager") == 256


def test_without_an_aws_section_one_default_environment_watches_every_network() -> None:
    aws = parse_config(NETWORK).section("aws")
    [env] = aws.environments.values()
    assert (env.name, env.region, env.networks) == ("default", None, ("mainnet",))


@pytest.mark.parametrize(("section", "path"), [
    ('[aws.environments.prod]\nregion = "mars-1"', "aws.environments.prod.region"),
    ('[aws.environments.prod]\naccount = 1234', "aws.environments.prod.account"),
    ('[aws.environments.prod]\nnetworks = ["testnet"]', "aws.environments.prod.networks"),
    ('[aws.environments.prod]\nsecrets.pagerduty_routing_key = "abc123"', "aws.environments.prod.secrets."
                                                                          "pagerduty_routing_key"),
    ('[aws.environments.prod]\nregion = "eu-west-1"\nsecrets.funder_key = '
     '"arn:aws:secretsmanager:us-east-1:111111111111:secret:k-AbCdEf"', "aws.environments.prod.secrets.funder_key"),
    ('[[aws.subscriptions]]\nprotocol = "sms"\nendpoint = "x"', "aws.subscriptions[0].protocol"),
    ('[[aws.subscriptions]]\nprotocol = "email"\nendpoint = "a@b.example"\nfilter = { status = ["bad"] }',
     "aws.subscriptions[0].filter.status"),
    ('[aws.memory]\nrpc_sync = 64', "aws.memory.rpc_sync"),
    ('[aws]\nlog_retention_days = 31', "aws.log_retention_days"),
    ('[aws]\nregion = "us-east-1"', "aws.region"),
])
def test_a_bad_aws_field_is_named(section: str, path: str) -> None:
    assert any(p.startswith(path + ":") for p in aws_problems(section)), aws_problems(section)


def test_a_secret_value_in_place_of_an_arn_is_never_echoed() -> None:
    [problem] = aws_problems('[aws.environments.prod]\nsecrets.pagerduty_routing_key = "R0UTINGKEY123"')
    assert "R0UTINGKEY123" not in problem


def test_timeouts_follow_rpc_settings_and_the_fast_lane() -> None:
    config = parse_config(NETWORK + '[rpc]\ntimeout = "5s"\nretries = 2\n')
    assert timeout_seconds("sequencer_liveness", config) == 70  # 4 round trips × 15 s + 10 s
    assert timeout_seconds("batch_submission", config) == 130
    assert timeout_seconds("sequencer_liveness", config, fast_lane=True) == 130


def test_scheduler_input_round_trips_and_a_function_runs_only_its_own_check() -> None:
    event = scheduled_input(("mainnet",), "batcher_lag") | {"execution_id": "e-1", "attempt": "2"}
    run = ScheduledRun.from_event(event, ("mainnet",), "batcher_lag")
    assert (run.execution_id, run.attempt) == ("e-1", 2)
    assert ScheduledRun.from_event({}, ("mainnet",), "batcher_lag").check == "batcher_lag"
    with pytest.raises(ValueError, match="check"):
        ScheduledRun.from_event({"check": "rpc_sync"}, ("mainnet",), "batcher_lag")
    with pytest.raises(ValueError, match="unknown event keys"):
        ScheduledRun.from_event({"url": "http://x"}, ("mainnet",), "batcher_lag")


def finding(status: str, target: str = "sequencer", at: str = "2026-01-01T00:00:00Z") -> Finding:
    return Finding(network="mainnet", check="sequencer_liveness", target=target, status=Status(status),
                   severity=Severity.CRITICAL if status == "firing" else Severity.INFO, summary=status,
                   observed=Measure(1.0, "s"), threshold=Measure(30.0, "s"), observed_at=at)


def test_rpc_urls_come_from_the_secret_by_endpoint_name() -> None:
    config = parse_config(NETWORK)
    swapped = with_endpoint_urls(config, '{"sequencer": "https://seq.example/API-KEY"}')
    assert swapped.network("mainnet").l2_rpc.url == "https://seq.example/API-KEY"
    assert swapped.network("mainnet").l1_rpc[0].url == "https://l1.example"
    with pytest.raises(ConfigError) as info:
        with_endpoint_urls(config, '{"sequencr": "https://seq.example/API-KEY"}')
    assert "sequencr" in str(info.value) and "API-KEY" not in str(info.value)


def test_the_failovers_named_endpoints_come_from_the_secret_too() -> None:
    config = parse_config(NETWORK + """
[remediation.networks.mainnet.failover]
strategy = "admin"
active_admin = { url = "https://placeholder.example", name = "op-node-a" }
standby_admin = { url = "https://placeholder.example", name = "op-node-b" }
standby_rpc = { url = "https://placeholder.example", name = "op-geth-b" }
""")
    swapped = with_endpoint_urls(config, '{"op-node-a": "https://a.example/KEY-A", "op-node-b": "https://b.example/KEY-B",'
                                         ' "sequencer": "https://seq.example/KEY-S"}')
    fo = swapped.section("remediation").for_network("mainnet").failover
    assert (fo.active_admin.url, fo.standby_admin.url) == ("https://a.example/KEY-A", "https://b.example/KEY-B")
    assert fo.standby_rpc.url == "https://placeholder.example" and fo.standby_rpc.name == "op-geth-b"
    assert swapped.network("mainnet").l2_rpc.url == "https://seq.example/KEY-S"
    assert config.section("remediation").for_network("mainnet").failover.active_admin.url == \
        "https://placeholder.example"  # the bundled config itself is left as it was


class RecordingSns:
    """Stand-in for boto3's SNS client: records PublishBatch calls, may refuse entries."""

    def __init__(self, refuse: bool = False) -> None:
        self.calls: list[dict] = []
        self.refuse = refuse

    def publish_batch(self, **kwargs: object) -> dict:
        self.calls.append(kwargs)
        if self.refuse:
            return {"Successful": [], "Failed": [{"Id": "0", "Code": "KMSAccessDenied", "Message": "denied"}]}
        return {"Successful": [{"Id": e["Id"]} for e in kwargs["PublishBatchRequestEntries"]], "Failed": []}


def test_publisher_batches_by_ten_with_filterable_attributes() -> None:
    sns = RecordingSns()
    assert SnsPublisher("arn:topic", client=sns).publish([finding("firing", f"t{i}") for i in range(23)]) == 23
    assert sorted(len(c["PublishBatchRequestEntries"]) for c in sns.calls) == [3, 10, 10]
    sent = [json.loads(e["Message"])["target"] for c in sns.calls for e in c["PublishBatchRequestEntries"]]
    assert sorted(sent) == sorted(f"t{i}" for i in range(23))  # each finding once
    entry = sns.calls[0]["PublishBatchRequestEntries"][0]
    assert entry["MessageAttributes"]["status"] == {"DataType": "String", "StringValue": "firing"}
    assert set(entry["MessageAttributes"]) == {"network", "check", "status", "severity"}
    with pytest.raises(PublishError, match="KMSAccessDenied"):
        SnsPublisher("arn:topic", client=RecordingSns(refuse=True)).publish([finding("ok")])


def test_a_hundred_networks_findings_go_out_side_by_side_and_a_refusal_still_fails_the_run() -> None:
    """Ten batches (a function over 100 networks): sent side by side, not one round trip after
    another. The stand-in holds each call at a barrier that only three calls in flight at once
    pass: sent in turn, the first call times out there (whatever the machine's speed)."""
    import threading

    barrier = threading.Barrier(3, timeout=10)
    lock, started = threading.Lock(), []

    class Concurrent(RecordingSns):
        def publish_batch(self, **kwargs: object) -> dict:
            with lock:  # exactly the first three calls meet at the barrier
                started.append(1)
                first_three = len(started) <= 3
            if first_three:
                barrier.wait()
            return super().publish_batch(**kwargs)

    sns = Concurrent()
    assert SnsPublisher("arn:topic", client=sns).publish([finding("ok", f"t{i}") for i in range(100)]) == 100
    assert len(sns.calls) == 10

    class RefusesOne(RecordingSns):
        def publish_batch(self, **kwargs: object) -> dict:
            entries = kwargs["PublishBatchRequestEntries"]
            if any(json.loads(e["Message"])["target"] == "t42" for e in entries):  # type: ignore[attr-defined]
                self.calls.append(kwargs)
                return {"Successful": [], "Failed": [{"Id": "0", "Code": "Throttled", "Message": "slow down"}]}
            return super().publish_batch(**kwargs)

    refuses = RefusesOne()
    with pytest.raises(PublishError, match=r"1 of 10 batches not published \(90 findings were\).*Throttled"):
        SnsPublisher("arn:topic", client=refuses).publish([finding("ok", f"t{i}") for i in range(100)])
    assert len(refuses.calls) == 10  # every batch was attempted
