"""The CDK app synthesised from infra/example.toml: what each stack contains, and that
cdk-nag (AwsSolutions), cfn-lint and checkov accept it.

Unit synths skip asset bundling (`aws:cdk:bundling-stacks: []`); `test_cdk_cli_synth_*`
is the one real `cdk synth` through the CLI, bundling the Lambda asset without Docker.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "infra" / "example.toml"
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")


def _synth(outdir: Path, config: Path = EXAMPLE):
    from aws_cdk import App

    import app as opwatch_app

    app = opwatch_app.build(App(outdir=str(outdir), context={"aws:cdk:bundling-stacks": [], "config": str(config)}))
    return app.synth()


@pytest.fixture(scope="module")
def assembly(tmp_path_factory):
    return _synth(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="module")
def templates(assembly):
    return {s.stack_name: json.loads(Path(s.template_full_path).read_text()) for s in assembly.stacks}


def resources(template, kind):
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def functions_by_name(template):
    return {r["Properties"]["FunctionName"]: r["Properties"]
            for r in resources(template, "AWS::Lambda::Function").values()}


def check_functions(template):
    return {n: p for n, p in functions_by_name(template).items() if not n.endswith("-pager") and "-remedy-" not in n}


def test_one_stack_per_environment_with_its_account_and_region(assembly):
    stacks = {s.stack_name: s.environment for s in assembly.stacks}
    assert set(stacks) == {"opwatch-staging", "opwatch-production"}
    assert (stacks["opwatch-production"].account, stacks["opwatch-production"].region) == ("222222222222",
                                                                                          "us-east-1")
    assert stacks["opwatch-staging"].region == "eu-west-1"


def test_one_arm64_function_and_schedule_per_configured_check_and_network(templates):
    from opwatch.checks import CHECKS
    from opwatch.config import load_config

    config = load_config(EXAMPLE)
    prod = templates["opwatch-production"]
    fns = functions_by_name(prod)
    mainnet = config.network("mainnet")
    expected = {f"opwatch-production-mainnet-{c}".replace("_", "-") for c, chk in CHECKS.items()
                if not chk.missing(mainnet)}
    assert set(check_functions(prod)) == expected
    # snapshot_freshness applies where [remediation] keeps snapshots; the heartbeat is not deployed yet.
    assert "opwatch-production-mainnet-snapshot-freshness" in fns
    assert not [n for n in fns if "heartbeat" in n]
    assert all(p["Architectures"] == ["arm64"] and p["Runtime"] == "python3.14" and p["TracingConfig"] ==
               {"Mode": "Active"} for p in fns.values())
    assert fns["opwatch-production-mainnet-rpc-sync"]["MemorySize"] == 512  # [aws.memory]
    assert fns["opwatch-production-mainnet-batcher-lag"]["MemorySize"] == 256
    schedules = resources(prod, "AWS::Scheduler::Schedule").values()
    assert len(schedules) == len(expected)  # remedies and the pager are not scheduled
    by_check = {json.loads(s["Properties"]["Target"]["Input"])["check"]: s["Properties"] for s in schedules}
    assert by_check["wallet_runway"]["ScheduleExpression"] == "rate(10 minutes)"
    assert by_check["batch_submission"]["ScheduleExpression"] == "rate(2 minutes)"
    assert by_check["sequencer_liveness"]["ScheduleExpression"] == "rate(1 minute)"
    payload = json.loads(by_check["sequencer_liveness"]["Target"]["Input"])
    assert payload == {"network": "mainnet", "check": "sequencer_liveness",
                       "execution_id": "<aws.scheduler.execution-id>",
                       "scheduled_time": "<aws.scheduler.scheduled-time>",
                       "schedule_arn": "<aws.scheduler.schedule-arn>", "attempt": "<aws.scheduler.attempt-number>"}
    assert all(s["Properties"]["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 0 for s in schedules)
    # The fast lane: only sequencer_liveness samples within its invocation, and has the time for it.
    env = {n: p["Environment"]["Variables"] for n, p in fns.items()}
    assert env["opwatch-production-mainnet-sequencer-liveness"]["FAST_LANE_EVERY_S"] == "5"
    assert not any("FAST_LANE_EVERY_S" in v for n, v in env.items() if "sequencer-liveness" not in n)
    assert fns["opwatch-production-mainnet-sequencer-liveness"]["Timeout"] > 60 + 10
    # Staging watches sepolia, which configures no op-node, batch inbox or proposer.
    staging = functions_by_name(templates["opwatch-staging"])
    assert set(staging) == {"opwatch-staging-sepolia-sequencer-liveness", "opwatch-staging-sepolia-wallet-runway",
                            "opwatch-staging-pager", "opwatch-staging-remedy-topup"}


def test_subscriptions_filter_on_message_attributes_and_each_has_a_dead_letter_queue(templates):
    prod = templates["opwatch-production"]
    subs = list(resources(prod, "AWS::SNS::Subscription").values())
    by_protocol = {}
    for s in subs:
        by_protocol.setdefault(s["Properties"]["Protocol"], []).append(s["Properties"])
        assert "RedrivePolicy" in s["Properties"], s
    [pager] = [p for p in by_protocol["lambda"] if p["Endpoint"]["Fn::GetAtt"][0].startswith("Pager")]
    env = functions_by_name(prod)["opwatch-production-pager"]["Environment"]["Variables"]
    assert env["RUNBOOK_BASE_URL"] == "https://github.com/example/opwatch/blob/main"  # pages link the runbooks
    assert pager["FilterPolicy"] == {"network": ["mainnet"]}  # every status: ok findings resolve incidents
    findings_emails = [p for p in by_protocol["email"] if "FilterPolicy" in p]
    assert [p["FilterPolicy"] for p in findings_emails] == [{"status": ["firing"], "severity": ["critical", "warning"]}]
    hooks = [p for p in by_protocol["https"] if "FilterPolicy" in p]
    assert [p["FilterPolicy"] for p in hooks] == [{"status": ["firing", "unknown"], "network": ["mainnet"]}]


def test_each_remedy_function_takes_only_firing_findings_of_its_trigger_check(templates):
    prod = templates["opwatch-production"]
    fns = {k: r["Properties"] for k, r in resources(prod, "AWS::Lambda::Function").items()}
    policies = {}
    for s in resources(prod, "AWS::SNS::Subscription").values():
        target = s["Properties"]["Endpoint"]
        if isinstance(target, dict) and "Remedies" in target["Fn::GetAtt"][0]:
            policies[fns[target["Fn::GetAtt"][0]]["FunctionName"]] = s["Properties"]["FilterPolicy"]
    assert policies == {
        "opwatch-production-remedy-topup": {"check": ["wallet_runway"], "status": ["firing"], "network": ["mainnet"]},
        "opwatch-production-remedy-snapshot": {"check": ["snapshot_freshness"], "status": ["firing"],
                                               "network": ["mainnet"]},
    }
    by_name = functions_by_name(prod)
    assert by_name["opwatch-production-remedy-topup"]["Environment"]["Variables"]["OPWATCH_REMEDIES"] == "topup"
    # The top-up function has its own asset (eth-account); checks, pager and snapshot share one.
    keys = {n: p["Code"]["S3Key"] for n, p in by_name.items()}
    assert len({k for n, k in keys.items() if n != "opwatch-production-remedy-topup"}) == 1
    assert keys["opwatch-production-remedy-topup"] != keys["opwatch-production-pager"]


def test_every_async_invocation_and_schedule_has_a_dead_letter_queue_and_every_queue_an_alarm(templates):
    for template in templates.values():
        fns = resources(template, "AWS::Lambda::Function").values()
        assert all("DeadLetterConfig" in f["Properties"] for f in fns)
        assert all("DeadLetterConfig" in s["Properties"]["Target"]
                   for s in resources(template, "AWS::Scheduler::Schedule").values())
        queues = resources(template, "AWS::SQS::Queue")
        alarmed = {a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
                   for a in resources(template, "AWS::CloudWatch::Alarm").values()
                   if a["Properties"].get("Namespace") == "AWS/SQS"}
        assert alarmed == set(queues)


def test_self_watch_alarms_on_errors_throttles_and_a_missing_heartbeat(templates):
    prod = templates["opwatch-production"]
    alarms = list(resources(prod, "AWS::CloudWatch::Alarm").values())
    checks = list(check_functions(prod))
    others = len(functions_by_name(prod)) - len(checks)  # the pager and the remedies
    heartbeats = [a["Properties"] for a in alarms if a["Properties"].get("MetricName") == "Heartbeat"]
    assert len(heartbeats) == len(checks)
    assert all(h["TreatMissingData"] == "breaching" and h["Namespace"] == "opwatch" and
               {d["Name"] for d in h["Dimensions"]} == {"network", "check"} for h in heartbeats)
    for metric in ("Errors", "Throttles"):
        assert len([a for a in alarms if a["Properties"].get("MetricName") == metric]) == len(checks) + others
    [alarm_topic] = [k for k, r in resources(prod, "AWS::SNS::Topic").items() if "AlarmTopic" in k]
    assert all(a["Properties"]["AlarmActions"] == [{"Ref": alarm_topic}] for a in alarms)


def _statements(template, role_name_part):
    policies = resources(template, "AWS::IAM::Policy").values()
    return [s for p in policies for r in p["Properties"]["Roles"] if role_name_part in r["Ref"]
            for s in p["Properties"]["PolicyDocument"]["Statement"]]


def _actions(statement):
    a = statement["Action"]
    return [a] if isinstance(a, str) else a


def test_roles_are_least_privilege(templates):
    prod = templates["opwatch-production"]
    check = _statements(prod, "ChecksmainnetbatcherlagRole")
    actions = {a for s in check for a in _actions(s)}
    assert actions == {"logs:CreateLogStream", "logs:PutLogEvents", "sns:Publish", "kms:Decrypt",
                       "kms:GenerateDataKey*", "xray:PutTraceSegments", "xray:PutTelemetryRecords",
                       "secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "sqs:SendMessage"}
    [publish] = [s for s in check if "sns:Publish" in _actions(s)]
    assert publish["Resource"]["Ref"].startswith("FindingsTopic")
    [rpc] = [s for s in check if "secretsmanager:GetSecretValue" in _actions(s)]
    assert "rpc-endpoints" in json.dumps(rpc["Resource"])  # the RPC URL secret only, not the PagerDuty key
    pager = _statements(prod, "PagerFunctionRole")
    dynamo = [s for s in pager if any(a.startswith("dynamodb:") for a in _actions(s))]
    assert {json.dumps(s["Resource"]) for s in dynamo} == {json.dumps({"Fn::GetAtt": [t, "Arn"]}) for t in
                                                           resources(prod, "AWS::DynamoDB::Table")}
    # Remedies: the funder's KMS key by alias only, the snapshot bucket's prefix only.
    topup = _statements(prod, "RemediestopupRole")
    [sign] = [s for s in topup if "kms:Sign" in _actions(s)]
    assert sign["Condition"] == {"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/opwatch-funder"}}
    freshness = _statements(prod, "ChecksmainnetsnapshotfreshnessRole")
    [listing] = [s for s in freshness if any(a.startswith("s3:") for a in _actions(s))]
    assert _actions(listing) == ["s3:ListBucket"]  # the check only lists; it never reads or writes snapshots
    assert listing["Condition"] == {"StringLike": {"s3:prefix": "snapshots/*"}}
    snapshot = _statements(prod, "RemediessnapshotRole")
    s3 = {a: json.dumps(s["Resource"]) for s in snapshot for a in _actions(s) if a.startswith("s3:")}
    assert all("opwatch-mainnet-snapshots/snapshots/*" in r for a, r in s3.items() if a != "s3:ListBucket")
    staging_topup = _statements(templates["opwatch-staging"], "RemediestopupRole")
    [read] = [s for s in staging_topup if "secretsmanager:GetSecretValue" in _actions(s)]
    assert "SecretsFunderKey" in json.dumps(read["Resource"])
    everything = [s for t in templates.values() for p in resources(t, "AWS::IAM::Policy").values()
                  for s in p["Properties"]["PolicyDocument"]["Statement"]]
    assert not [s for s in everything if "*" in _actions(s)]
    assert {a for s in everything if s["Resource"] == "*" for a in _actions(s)} == {"xray:PutTraceSegments",
                                                                                    "xray:PutTelemetryRecords"}


def test_the_stack_never_contains_a_secret_value(templates):
    staging, prod = templates["opwatch-staging"], templates["opwatch-production"]
    created = list(resources(staging, "AWS::SecretsManager::Secret").values())
    assert len(created) == 2  # PagerDuty routing key and funder key, created with generated placeholders
    # The funder secret carries the name the top-up policy reads it by.
    assert {s["Properties"].get("Name") for s in created} == {None, "opwatch/staging/funder"}
    assert all("SecretString" not in s["Properties"] and "GenerateSecretString" in s["Properties"] for s in created)
    # Production imports its PagerDuty key by ARN: only the funder key is created.
    assert len(resources(prod, "AWS::SecretsManager::Secret")) == 1
    text = json.dumps(templates)
    assert "sequencer.example" not in text and "rpc-1.example" not in text  # RPC URLs stay in the asset/secret


def test_state_tables_have_ttl_recovery_and_the_stack_key(templates):
    tables = resources(templates["opwatch-production"], "AWS::DynamoDB::Table").values()
    ttl = {t["Properties"]["TimeToLiveSpecification"]["AttributeName"] for t in tables}
    assert ttl == {"expires_at", "expiration"}
    assert all(t["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] and
               t["Properties"]["SSESpecification"]["SSEType"] == "KMS" for t in tables)


def test_dashboard_graphs_each_check_value_per_target(templates):
    [board] = resources(templates["opwatch-production"], "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(board["Properties"]["DashboardBody"])
    for signal in ("sequencer_liveness", "batcher_lag", "batch_submission", "wallet_runway", "proposer_freshness",
                   "rpc_sync", "rpc-1", "rpc-2", "batcher", "proposer"):
        assert signal in body


def test_cdk_nag_reports_an_unacknowledged_finding(tmp_path):
    """The nag pack is really wired in: a resource with a finding and no acknowledgement fails synth."""
    from aws_cdk import App, Stack, Validations
    from aws_cdk import aws_sqs as sqs
    from cdk_nag import AwsSolutionsChecks

    app = App(outdir=str(tmp_path))
    sqs.Queue(Stack(app, "Bad"), "NoDlq", enforce_ssl=True)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(Exception, match="AwsSolutions-SQS3"):
        app.synth()


def test_cfn_lint_accepts_the_templates(assembly):
    paths = [s.template_full_path for s in assembly.stacks]
    # W3005: CDK adds DependsOn on a function's role although GetAtt already orders them.
    result = subprocess.run([str(ROOT / ".venv/bin/cfn-lint"), "--ignore-checks", "W3005", "--", *paths],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


@pytest.mark.skipif(not CHECKOV.exists(), reason="checkov has its own virtualenv: run scripts/bootstrap")
def test_checkov_accepts_the_templates(assembly):
    failed = []
    for stack in assembly.stacks:
        result = subprocess.run(
            [str(CHECKOV), "--quiet", "--compact", "--skip-download", "--framework", "cloudformation",
             "--config-file", str(ROOT / "infra" / "checkov.yaml"), "-o", "json", "-f", stack.template_full_path],
            capture_output=True, text=True, timeout=300)
        report = json.loads(result.stdout or "{}")
        failed += [(c["check_id"], c["resource"]) for c in report.get("results", {}).get("failed_checks", [])]
    assert failed == []


def test_cdk_cli_synth_bundles_a_small_asset_without_docker(tmp_path):
    out = tmp_path / "cdk.out"
    started = time.monotonic()
    result = subprocess.run(
        [str(ROOT / "node_modules/.bin/cdk"), "synth", "--quiet", "-o", str(out), "-c", f"config={EXAMPLE}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PATH": f"{ROOT / '.venv/bin'}:{os.environ['PATH']}", "DOCKER": "/nonexistent/docker"})
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-3000:]
    assets = {p: {c.name for c in p.iterdir()} for p in out.glob("asset.*") if p.is_dir()}
    # Two assets for the functions of both stacks: the shared one, and the top-up remedy's (eth-account).
    [core] = [p for p, top in assets.items() if "eth_account" not in top]
    [topup] = [p for p, top in assets.items() if "eth_account" in top]
    for asset in (core, topup):
        assert {"opwatch", "opwatch.toml", "aws_lambda_powertools", "aws_xray_sdk", "Crypto"} <= assets[asset]
        assert not assets[asset] & {"web3", "boto3", "botocore", "opwatch_devnet"}
        assert (asset / "opwatch.toml").read_text() == EXAMPLE.read_text()
    assert not assets[core] & {"eth_account", "eth_utils", "pydantic"}
    sizes = {a: sum(p.stat().st_size for p in a.rglob("*") if p.is_file()) / 2**20 for a in (core, topup)}
    assert sizes[core] < 10 and sizes[topup] < 60, sizes
    print(f"\ncdk synth (CLI, with bundling): {elapsed:.1f} s; assets {sizes[core]:.1f} MiB (checks, pager, "
          f"snapshot) and {sizes[topup]:.1f} MiB (top-up) unzipped")
    shutil.rmtree(out)


def test_without_an_aws_section_one_environment_agnostic_stack_passes_cdk_nag(tmp_path):
    """No [aws]: one stack in the CLI's account and region (tokens everywhere an ARN needs them)."""
    config = tmp_path / "opwatch.toml"
    config.write_text(EXAMPLE.read_text().split("[aws]")[0] + (
        '[remediation.networks.mainnet.topup]\nfunder = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"\n'
        'signer = "aws-kms"\nkms_key_id = "alias/opwatch-funder"\ntarget_balance_eth = 1.0\nmax_per_tx_eth = 1.0\n'
        'max_per_day_eth = 2.0\nmax_gas_price_gwei = 50\nrecipients = ["batcher"]\n\n'
        '[remediation.networks.mainnet.snapshot]\nprovider = "ebs"\nvolume_id = "vol-0123456789abcdef0"\n\n'
        '[remediation.networks.mainnet.failover]\nstrategy = "restore"\nreplacement_instance = "i-0123456789abcdef0"\n'
        'replacement_rpc = "http://10.0.2.15:8545"\ndns_zone_id = "Z0123456789ABC"\n'
        'dns_record = "sequencer.l2.internal"\n'))
    [stack] = _synth(tmp_path / "cdk.out", config).stacks
    assert stack.stack_name == "opwatch-default"
    assert stack.environment.account == "unknown-account" and stack.environment.region == "unknown-region"
    names = set(functions_by_name(json.loads(Path(stack.template_full_path).read_text())))
    assert {"opwatch-default-pager", "opwatch-default-remedy-topup", "opwatch-default-remedy-snapshot",
            "opwatch-default-remedy-failover", "opwatch-default-sepolia-sequencer-liveness"} <= names
    # The restore failover: one instance started, only volumes it tagged detached or deleted, one zone.
    restore = _statements(json.loads(Path(stack.template_full_path).read_text()), "RemediesfailoverRole")
    by_action = {a: s for s in restore for a in _actions(s)}
    assert "i-0123456789abcdef0" in json.dumps(by_action["ec2:StartInstances"]["Resource"])
    assert _actions(by_action["ec2:StartInstances"]) == ["ec2:StartInstances"]
    assert by_action["ec2:DeleteVolume"]["Condition"] == {
        "StringLike": {"aws:ResourceTag/opwatch:restored-from": "snap-*"}}
    assert "hostedzone/Z0123456789ABC" in json.dumps(by_action["route53:ChangeResourceRecordSets"]["Resource"])
    assert not {"ec2:StopInstances", "ec2:TerminateInstances", "ec2:RunInstances"} & set(by_action)
    # The failover pages what it did (aborted midway, refused unattended): it alone reads the routing key.
    fns = functions_by_name(json.loads(Path(stack.template_full_path).read_text()))
    assert "PAGERDUTY_SECRET" in fns["opwatch-default-remedy-failover"]["Environment"]["Variables"]
    assert "PAGERDUTY_SECRET" not in fns["opwatch-default-remedy-topup"]["Environment"]["Variables"]
    assert "secretsmanager:GetSecretValue" in by_action
