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
    from opwatch.checks import CHECKS, Context
    from opwatch.checks.base import why_skipped
    from opwatch.config import load_config

    config = load_config(EXAMPLE)
    prod = templates["opwatch-production"]
    fns = functions_by_name(prod)
    mainnet = config.network("mainnet")
    # As the stack decides (on AWS's terms, `why_skipped`).
    on_aws = Context(mainnet, config=config, cloud="aws")
    expected = {f"opwatch-production-mainnet-{c}".replace("_", "-") for c, chk in CHECKS.items()
                if not why_skipped(chk, on_aws)}
    assert set(check_functions(prod)) == expected
    # snapshot_freshness applies where [remediation] keeps snapshots; the heartbeat where
    # [heartbeat] names the GCP watchdog's beats for AWS to read.
    assert "opwatch-production-mainnet-snapshot-freshness" in fns
    assert "opwatch-production-mainnet-heartbeat" in fns
    assert all(p["Architectures"] == ["arm64"] and p["Runtime"] == "python3.14" for p in fns.values())
    # X-Ray only where the handler traces (opwatch.aws.tracing): the pager and the remedies, not
    # the check functions, whose cold start no longer imports the X-Ray SDK.
    traced = {name for name, p in fns.items() if p.get("TracingConfig") == {"Mode": "Active"}}
    assert traced == set(fns) - expected and "opwatch-production-pager" in traced
    assert not any("TracingConfig" in fns[name] for name in expected)
    assert fns["opwatch-production-mainnet-rpc-sync"]["MemorySize"] == 512  # [aws.memory]
    assert fns["opwatch-production-mainnet-batcher-lag"]["MemorySize"] == 256
    schedules = resources(prod, "AWS::Scheduler::Schedule").values()
    assert len(schedules) == len(expected)  # remedies and the pager are not scheduled
    by_check = {json.loads(s["Properties"]["Target"]["Input"])["check"]: s["Properties"] for s in schedules}
    assert by_check["wallet_runway"]["ScheduleExpression"] == "rate(2 minutes)"
    assert by_check["batch_submission"]["ScheduleExpression"] == "rate(2 minutes)"
    assert by_check["sequencer_liveness"]["ScheduleExpression"] == "rate(1 minute)"
    payload = json.loads(by_check["sequencer_liveness"]["Target"]["Input"])
    assert payload == {"network": "mainnet", "check": "sequencer_liveness",
                       "execution_id": "<aws.scheduler.execution-id>",
                       "scheduled_time": "<aws.scheduler.scheduled-time>",
                       "schedule_arn": "<aws.scheduler.schedule-arn>", "attempt": "<aws.scheduler.attempt-number>"}
    assert all(s["Properties"]["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 0 for s in schedules)
    # The fast lane: only sequencer_liveness samples within its invocation, and has the time for it.
    # The function reads that from its bundled config's [schedules]: no environment variable says so.
    env = {n: p["Environment"]["Variables"] for n, p in fns.items()}
    assert not any("FAST_LANE_EVERY_S" in v for v in env.values())
    assert "(fast lane)" in fns["opwatch-production-mainnet-sequencer-liveness"]["Description"]
    assert not any("(fast lane)" in p["Description"] for n, p in fns.items() if "sequencer-liveness" not in n)
    assert fns["opwatch-production-mainnet-sequencer-liveness"]["Timeout"] > 60 + 10
    # Staging watches sepolia, which configures no op-node, batch inbox or proposer.
    staging = functions_by_name(templates["opwatch-staging"])
    assert set(staging) == {"opwatch-staging-sepolia-sequencer-liveness", "opwatch-staging-sepolia-wallet-runway",
                            "opwatch-staging-sepolia-tx-health",  # a batcher is all tx_health needs
                            "opwatch-staging-sepolia-heartbeat", "opwatch-staging-pager",
                            "opwatch-staging-remedy-topup"}


def test_subscriptions_filter_on_message_attributes_and_each_has_a_dead_letter_queue(templates):
    prod = templates["opwatch-production"]
    subs = list(resources(prod, "AWS::SNS::Subscription").values())
    by_protocol = {}
    for s in subs:
        by_protocol.setdefault(s["Properties"]["Protocol"], []).append(s["Properties"])
        assert "RedrivePolicy" in s["Properties"], s
    [pager] = [p for p in by_protocol["lambda"] if p["Endpoint"]["Fn::GetAtt"][0].startswith("Pager")]
    env = functions_by_name(prod)["opwatch-production-pager"]["Environment"]["Variables"]
    # Pages link the runbooks by the bundled config ([alerting], else [aws] runbook_base_url), not the env.
    assert set(env) == {"OPWATCH_CONFIG", "ALERTS_TABLE", "IDEMPOTENCY_TABLE", "PAGERDUTY_SECRET",
                        "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"}
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
    # The heartbeat is Lambda's own Invocations (free), per check function: tests/infra/test_self_watch.py.
    heartbeats = [a["Properties"] for a in alarms if a["Properties"].get("MetricName") == "Invocations"]
    assert len(heartbeats) == len(checks)
    assert all(h["TreatMissingData"] == "breaching" and h["Namespace"] == "AWS/Lambda" and
               {d["Name"] for d in h["Dimensions"]} == {"FunctionName"} for h in heartbeats)
    for metric in ("Errors", "Throttles"):
        assert len([a for a in alarms if a["Properties"].get("MetricName") == metric]) == len(checks) + others
    [alarm_topic] = [k for k, r in resources(prod, "AWS::SNS::Topic").items() if "AlarmTopic" in k]
    assert all(a["Properties"]["AlarmActions"] == [{"Ref": alarm_topic}] for a in alarms)


def _statements(template, role_name_part):
    policies = resources(template, "AWS::IAM::Policy").values()
    return [s for p in policies for r in p["Properties"].get("Roles", []) if role_name_part in r["Ref"]
            for s in p["Properties"]["PolicyDocument"]["Statement"]]


def _actions(statement):
    a = statement["Action"]
    return [a] if isinstance(a, str) else a


def test_roles_are_least_privilege(templates):
    prod = templates["opwatch-production"]
    check = _statements(prod, "ChecksmainnetbatcherlagRole")
    actions = {a for s in check for a in _actions(s)}
    assert actions == {"logs:CreateLogStream", "logs:PutLogEvents", "sns:Publish", "kms:Decrypt",
                       "kms:GenerateDataKey*",  # no X-Ray: a check function is not traced
                       "secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "sqs:SendMessage",
                       # its memory: its own memory# partition of the alert table (test_check_memory_grants)
                       "dynamodb:GetItem", "dynamodb:PutItem", "kms:Encrypt", "kms:GenerateDataKey"}
    [publish] = [s for s in check if "sns:Publish" in _actions(s)]
    assert publish["Resource"]["Ref"].startswith("FindingsTopic")
    [rpc] = [s for s in check if "secretsmanager:GetSecretValue" in _actions(s)]
    assert "rpc-endpoints" in json.dumps(rpc["Resource"])  # the RPC URL secret only, not the PagerDuty key
    pager = _statements(prod, "PagerFunctionRole")
    dynamo = [s for s in pager if any(a.startswith("dynamodb:") for a in _actions(s))]
    assert {json.dumps(s["Resource"]) for s in dynamo} == {json.dumps({"Fn::GetAtt": [t, "Arn"]}) for t in
                                                           resources(prod, "AWS::DynamoDB::Table")
                                                           if not t.startswith("StateRemed")}
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
    # From the finding log lines, one line per target (tests/infra/test_self_watch.py: one graph per check function).
    for signal in ("sequencer_liveness", "batcher_lag", "batch_submission", "wallet_runway", "proposer_freshness",
                   "rpc_sync", "rpc-1", "rpc-2", "batcher", "proposer", "by bin("):
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


# --- Remedies on a real cloud: their own state, the endpoints secret, narrow EC2/Route 53 grants,
# timeouts that outlast their waits (issue 14: items 5, 6, 10, 14) ---

ACCOUNT, REGION = "333333333333", "eu-central-1"
VOLUME, INSTANCE, ZONE = "vol-0123456789abcdef0", "i-0123456789abcdef0", "Z0123456789ABC"
RESTORE_CONFIG = EXAMPLE.read_text().split("[aws]")[0] + f"""
[aws.environments.ops]
region = "{REGION}"
account = "{ACCOUNT}"
networks = ["mainnet"]
secrets.rpc_endpoints = "arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:opwatch/rpc-endpoints-GhIjKl"

[remediation.networks.mainnet.topup]
funder = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
signer = "aws-kms"
kms_key_id = "alias/opwatch-funder"
target_balance_eth = 1.0
max_per_tx_eth = 1.0
max_per_day_eth = 2.0
max_gas_price_gwei = 50
recipients = ["batcher"]

[remediation.networks.mainnet.snapshot]
provider = "ebs"
volume_id = "{VOLUME}"

[remediation.networks.mainnet.failover]
strategy = "restore"
replacement_instance = "{INSTANCE}"
replacement_rpc = "http://10.0.2.15:8545"
dns_zone_id = "{ZONE}"
dns_record = "sequencer.l2.internal"
lease_ttl = "30m"
"""


@pytest.fixture(scope="module")
def restore_stack(tmp_path_factory):
    """One stack (account and region fixed) with every AWS remedy: EBS snapshots, a restore
    into a stopped instance with a Route 53 record, a KMS-signed top-up, and the RPC secret."""
    tmp = tmp_path_factory.mktemp("restore")
    config = tmp / "opwatch.toml"
    config.write_text(RESTORE_CONFIG)
    [stack] = _synth(tmp / "cdk.out", config).stacks
    return stack


@pytest.fixture(scope="module")
def restore_template(restore_stack):
    return json.loads(Path(restore_stack.template_full_path).read_text())


def test_cfn_lint_accepts_the_templates(assembly, restore_stack):
    paths = [s.template_full_path for s in (*assembly.stacks, restore_stack)]
    # W3005: CDK adds DependsOn on a function's role although GetAtt already orders them.
    result = subprocess.run([str(ROOT / ".venv/bin/cfn-lint"), "--ignore-checks", "W3005", "--", *paths],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


@pytest.mark.skipif(not CHECKOV.exists(), reason="checkov has its own virtualenv: run scripts/bootstrap")
def test_checkov_accepts_the_templates(assembly, restore_stack):
    failed = []
    for stack in (*assembly.stacks, restore_stack):
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
            "opwatch-default-remedy-failover", "opwatch-default-sequencer-liveness"} <= names
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


def _resolve(value):
    """A template value as a string, with the pseudo parameters of RESTORE_CONFIG's stack."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(_resolve(p) for p in parts)
    if "Ref" in value:
        return {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT,
                "AWS::URLSuffix": "amazonaws.com"}.get(value["Ref"], f"<{value['Ref']}>")
    if "Fn::GetAtt" in value:
        return f"<{'.'.join(value['Fn::GetAtt'])}>"
    raise AssertionError(f"cannot resolve {value!r}")


def _glob(pattern, text):
    import fnmatch

    return fnmatch.fnmatchcase(text, pattern.replace("[", "[[]"))


def _condition_holds(condition, context):
    """IAM's reading of the operators these policies use: every key must hold; a key absent
    from the request fails a positive match (which is how a tag condition denies an untagged resource)."""
    for operator, keys in condition.items():
        for key, wanted in keys.items():
            wanted = [wanted] if isinstance(wanted, str) else wanted
            present = context.get(key)
            values = [] if present is None else [present] if isinstance(present, str) else list(present)
            match = _glob if operator.endswith("StringLike") else str.__eq__  # (pattern, value)
            if operator.startswith("ForAllValues:"):
                ok = all(any(match(w, v) for w in wanted) for v in values)
            else:
                ok = any(match(w, v) for v in values for w in wanted)
            if not ok:
                return False
    return True


def allowed(statements, action, resource, context=None):
    """Whether some Allow statement grants `action` on `resource` with the request's condition context."""
    for s in statements:
        resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        if (s["Effect"] == "Allow" and any(_glob(a, action) for a in _actions(s))
                and any(_glob(_resolve(r), resource) for r in resources)
                and _condition_holds(s.get("Condition", {}), context or {})):
            return True
    return False


def test_snapshot_role_creates_tags_and_prunes_only_opwatch_snapshots_of_its_volume(restore_template):
    role = _statements(restore_template, "RemediessnapshotRole")
    ec2 = f"arn:aws:ec2:{REGION}"
    volume, other_volume = f"{ec2}:{ACCOUNT}:volume/{VOLUME}", f"{ec2}:{ACCOUNT}:volume/vol-0fffffffffffffff0"
    snapshot = f"{ec2}::snapshot/snap-0123456789abcdef0"
    ours = {"aws:ResourceTag/opwatch:network": "mainnet"}
    tagging = {"aws:RequestTag/opwatch:network": "mainnet", "ec2:CreateAction": "CreateSnapshot",
               "aws:TagKeys": ["opwatch:network", "opwatch:block", "opwatch:taken_at"]}
    # What EbsSnapshots calls: CreateSnapshot of the volume with its tags, DeleteSnapshot of its own.
    assert allowed(role, "ec2:CreateSnapshot", volume, tagging)
    assert allowed(role, "ec2:CreateSnapshot", snapshot, tagging)
    assert allowed(role, "ec2:CreateTags", snapshot, tagging)
    assert allowed(role, "ec2:DeleteSnapshot", snapshot, ours)
    # And nothing else: another volume, anyone's snapshot, tags on an existing snapshot (which would
    # make it look like opwatch's and then prunable).
    assert not allowed(role, "ec2:CreateSnapshot", other_volume, tagging)
    assert not allowed(role, "ec2:DeleteSnapshot", snapshot)
    assert not allowed(role, "ec2:DeleteSnapshot", snapshot, {"aws:ResourceTag/opwatch:network": "sepolia"})
    assert not allowed(role, "ec2:CreateTags", snapshot, {"aws:RequestTag/opwatch:network": "mainnet"})
    assert not allowed(role, "ec2:CreateSnapshot", snapshot, {"ec2:CreateAction": "CreateSnapshot"})


def test_restore_role_reaches_only_the_replacement_instance_the_zone_and_volumes_it_made(restore_template):
    role = _statements(restore_template, "RemediesfailoverRole")
    ec2 = f"arn:aws:ec2:{REGION}"
    instance, other_instance = f"{ec2}:{ACCOUNT}:instance/{INSTANCE}", f"{ec2}:{ACCOUNT}:instance/i-0fffffffffffffff0"
    volume, snapshot = f"{ec2}:{ACCOUNT}:volume/vol-0aaaaaaaaaaaaaaa0", f"{ec2}::snapshot/snap-0123456789abcdef0"
    restored = {"aws:ResourceTag/opwatch:restored-from": "snap-0123456789abcdef0"}
    request = {"aws:RequestTag/opwatch:restored-from": "snap-0123456789abcdef0", "ec2:CreateAction": "CreateVolume",
               "aws:RequestTag/opwatch:network": "mainnet"}
    # EbsVolumeLauncher.launch and its clean-up: IAM authorises every resource of each call.
    calls = [("ec2:CreateVolume", volume, request), ("ec2:CreateVolume", snapshot, {
        "aws:ResourceTag/opwatch:network": "mainnet"}), ("ec2:CreateTags", volume, request),
        ("ec2:AttachVolume", volume, restored), ("ec2:AttachVolume", instance, {}),
        ("ec2:StartInstances", instance, {}),
        ("ec2:DetachVolume", volume, restored), ("ec2:DetachVolume", instance, {}),
        ("ec2:DeleteVolume", volume, restored)]
    for action, resource, context in calls:
        assert allowed(role, action, resource, context), (action, resource)
    # Not: another instance, a volume opwatch did not make, someone else's snapshot, or tagging after the fact.
    denied = [("ec2:AttachVolume", other_instance, {}), ("ec2:DetachVolume", other_instance, {}),
              ("ec2:StartInstances", other_instance, {}), ("ec2:AttachVolume", volume, {}),
              ("ec2:DetachVolume", volume, {}), ("ec2:DeleteVolume", volume, {}),
              ("ec2:CreateVolume", snapshot, {}), ("ec2:CreateTags", volume, {}),
              ("ec2:CreateVolume", volume, {"ec2:CreateAction": "CreateVolume"})]
    for action, resource, context in denied:
        assert not allowed(role, action, resource, context), (action, resource)
    zone = f"arn:aws:route53:::hostedzone/{ZONE}"
    upsert = {"route53:ChangeResourceRecordSetsNormalizedRecordNames": ["sequencer.l2.internal"],
              "route53:ChangeResourceRecordSetsRecordTypes": ["CNAME"],
              "route53:ChangeResourceRecordSetsActions": ["UPSERT"]}
    assert allowed(role, "route53:ChangeResourceRecordSets", zone, upsert)
    assert not allowed(role, "route53:ChangeResourceRecordSets", "arn:aws:route53:::hostedzone/ZOTHER", upsert)
    assert not allowed(role, "route53:ChangeResourceRecordSets", zone,
                       upsert | {"route53:ChangeResourceRecordSetsNormalizedRecordNames": ["www.l2.internal"]})
    assert not allowed(role, "route53:ChangeResourceRecordSets", zone,
                       upsert | {"route53:ChangeResourceRecordSetsActions": ["DELETE"]})


def _table_of(env_value, template):
    [(logical, _)] = [(k, t) for k, t in resources(template, "AWS::DynamoDB::Table").items()
                      if env_value == {"Ref": k}]
    return logical


def test_remedy_state_has_its_own_tables_that_only_the_remedy_functions_touch(templates, restore_template):
    for template in (*templates.values(), restore_template):
        fns = functions_by_name(template)
        tables = resources(template, "AWS::DynamoDB::Table")
        pager_env = next(p for n, p in fns.items() if n.endswith("-pager"))["Environment"]["Variables"]
        remedy_envs = {n: p["Environment"]["Variables"] for n, p in fns.items() if "-remedy-" in n}
        assert remedy_envs
        pager_tables = {_table_of(pager_env[k], template) for k in ("ALERTS_TABLE", "IDEMPOTENCY_TABLE")}
        remedy_tables = {_table_of(env[k], template) for env in remedy_envs.values()
                         for k in ("REMEDY_TABLE", "IDEMPOTENCY_TABLE")}
        assert len(pager_tables) == 2 and len(remedy_tables) == 2 and not pager_tables & remedy_tables
        assert not any("ALERTS_TABLE" in env for env in remedy_envs.values())  # remedies keep no alert state
        for logical in remedy_tables:
            props = tables[logical]
            assert props["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
            assert props["Properties"]["SSESpecification"]["SSEType"] == "KMS"
            assert "TimeToLiveSpecification" in props["Properties"]
        [state] = [t for t in remedy_tables if "pk" in json.dumps(tables[t]["Properties"]["KeySchema"])]
        assert tables[state]["DeletionPolicy"] == "Retain"  # caps, claims and the audit log outlive the stack

        pager = _dynamodb_grants(template, "PagerFunctionRole")
        assert {t for t, _ in pager} == pager_tables
        for fn in remedy_envs:
            role = next(r for r in resources(template, "AWS::IAM::Role")
                        if r.startswith(f"Remedies{fn.rsplit('-', 1)[1]}Role"))
            remedy = _dynamodb_grants(template, role)
            assert {t for t, _ in remedy} == remedy_tables, fn
            assert {a for t, a in remedy if t == state} == {"dynamodb:GetItem", "dynamodb:PutItem",
                                                            "dynamodb:DeleteItem", "dynamodb:Query"}
        checks = [r for r in resources(template, "AWS::IAM::Role") if r.startswith("Checks")]
        # Checks reach the alert table only (their memory# partition: test_check_memory_grants), never remedy state.
        assert checks and all({t for t, _ in _dynamodb_grants(template, r)} <= pager_tables - {
            _table_of(pager_env["IDEMPOTENCY_TABLE"], template)} for r in checks)


def _dynamodb_grants(template, role_part):
    """(table logical id, action) for each DynamoDB action a role's policies grant."""
    return {(_table_of_arn(s["Resource"]), a) for s in _statements(template, role_part)
            for a in _actions(s) if a.startswith("dynamodb:")}


def _table_of_arn(resource):
    refs = resource if isinstance(resource, list) else [resource]
    [only] = refs
    assert "Fn::GetAtt" in only and only["Fn::GetAtt"][1] == "Arn", only
    return only["Fn::GetAtt"][0]


def test_every_function_that_reads_a_chain_reads_the_rpc_endpoints_secret(templates, restore_template):
    for template, arn in ((templates["opwatch-production"], "opwatch/rpc-endpoints-GhIjKl"),
                          (restore_template, "opwatch/rpc-endpoints-GhIjKl")):
        fns = functions_by_name(template)
        # Every check and every remedy; the heartbeat reads the peer's beats, no chain.
        readers = {n for n in fns if not n.endswith(("-pager", "-heartbeat"))}
        assert {n for n in readers if "-remedy-" in n}
        for name in readers:
            assert arn in fns[name]["Environment"]["Variables"].get("RPC_ENDPOINTS_SECRET", ""), name
        assert "RPC_ENDPOINTS_SECRET" not in fns[next(n for n in fns if n.endswith("-pager"))]["Environment"][
            "Variables"]
        for role in (r for r in resources(template, "AWS::IAM::Role") if r.startswith("Remedies")):
            reads = [s for s in _statements(template, role) if "secretsmanager:GetSecretValue" in _actions(s)]
            assert any(arn in json.dumps(s["Resource"]) for s in reads), role
    # Staging configures no RPC secret: its functions read the URLs of the bundled config.
    assert not any("RPC_ENDPOINTS_SECRET" in p["Environment"]["Variables"]
                   for p in functions_by_name(templates["opwatch-staging"]).values())


def test_every_function_outlasts_its_longest_wait_within_lambdas_limit(templates, restore_template, tmp_path):
    from opwatch.config import load_config
    from opwatch.deploy.aws import LAMBDA_MAX_TIMEOUT_S, check_longest_wait_s
    from opwatch.remedies.permissions import longest_wait_s

    restore_config = tmp_path / "restore.toml"
    restore_config.write_text(RESTORE_CONFIG)
    for template, config in ((templates["opwatch-production"], load_config(EXAMPLE)),
                             (templates["opwatch-staging"], load_config(EXAMPLE)),
                             (restore_template, load_config(restore_config))):
        remediation = config.section("remediation")
        for name, fn in functions_by_name(template).items():
            env = fn["Environment"]["Variables"]
            assert fn["Timeout"] <= LAMBDA_MAX_TIMEOUT_S, name
            if "-remedy-" in name:
                remedy = name.rsplit("-", 1)[1]
                networks = fn["Description"].split("(")[1].rstrip(")").split(", ")
                wait = max(longest_wait_s(remedy, remediation.for_network(n)) for n in networks)
                assert fn["Timeout"] > wait, (name, fn["Timeout"], wait)
            elif "OPWATCH_CHECK" in env:
                wait = check_longest_wait_s(env["OPWATCH_CHECK"], config, "(fast lane)" in fn["Description"])
                assert fn["Timeout"] > wait, (name, fn["Timeout"], wait)
    # The restore waits for its launch, then the node's first blocks and Route 53: counted, not 30 s.
    restore = functions_by_name(restore_template)["opwatch-ops-remedy-failover"]
    assert restore["Timeout"] > 300 + 300 + 120


@pytest.mark.parametrize(("setting", "where"), [
    ('receipt_timeout = "15m"', "remediation.networks.mainnet.topup"),
    ('replacement_wait = "10m"', "remediation.networks.mainnet.failover"),
])
def test_a_wait_lambda_cannot_hold_is_refused_at_synth_not_cut_short(tmp_path, setting, where):
    """A remedy whose wait exceeds 900 s used to get 900 s and be stopped midway (a payment sent and
    never recorded, a replacement booted and never pointed at); now the synth names the setting."""
    from opwatch.config import ConfigError

    section = "[remediation.networks.mainnet.topup]" if "topup" in where else "[remediation.networks.mainnet.failover]"
    config = tmp_path / "opwatch.toml"
    config.write_text(RESTORE_CONFIG.replace(section, f"{section}\n{setting}"))
    with pytest.raises(ConfigError, match=rf"{where}: waits up to .*Lambda's 900 s"):
        _synth(tmp_path / "cdk.out", config)


def test_rpc_settings_a_check_cannot_outlast_are_refused():
    from dataclasses import replace

    from opwatch.config import ConfigError, load_config
    from opwatch.deploy.aws import timeout_seconds

    config = load_config(EXAMPLE)
    slow = replace(config, rpc=replace(config.rpc, timeout=60.0, retries=3))  # 240 s a request, 4 of them
    with pytest.raises(ConfigError, match=r"rpc: rpc_sync needs up to .* more than Lambda's 900 s"):
        timeout_seconds("rpc_sync", slow)
    assert timeout_seconds("rpc_sync", config) < 900


# --- The dead-man switch, AWS's half (infra/heartbeat.py) ---

def _role_of(template, function_name):
    [fn] = [r for r in resources(template, "AWS::Lambda::Function").values()
            if r["Properties"]["FunctionName"] == function_name]
    return fn["Properties"]["Role"]["Fn::GetAtt"][0]


def _statements_of_role(template, role):
    return [s for p in resources(template, "AWS::IAM::Policy").values()
            if {"Ref": role} in p["Properties"].get("Roles", [])
            for s in p["Properties"]["PolicyDocument"]["Statement"]]


def test_the_beats_bucket_is_private_encrypted_and_made_once(templates):
    from opwatch.config import load_config

    own = load_config(EXAMPLE).section("heartbeat").own("aws")
    prod, staging = templates["opwatch-production"], templates["opwatch-staging"]
    # Production is in the bucket's region: it creates it; staging (eu-west-1) only writes to it.
    [bucket] = resources(prod, "AWS::S3::Bucket").values()
    assert resources(staging, "AWS::S3::Bucket") == {}
    p = bucket["Properties"]
    assert p["BucketName"] == own.bucket and bucket["DeletionPolicy"] == "Retain"
    assert p["PublicAccessBlockConfiguration"] == {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                                   "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == \
        {"SSEAlgorithm": "AES256"}
    assert p["VersioningConfiguration"] == {"Status": "Enabled"}
    [policy] = resources(prod, "AWS::S3::BucketPolicy").values()
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for s in policy["Properties"]["PolicyDocument"]["Statement"])


def test_each_writer_may_put_only_its_own_networks_beat(templates):
    for env, network in (("production", "mainnet"), ("staging", "sepolia")):
        t = templates[f"opwatch-{env}"]
        writer = _statements_of_role(t, _role_of(t, f"opwatch-{env}-{network}-sequencer-liveness"))
        s3 = [s for s in writer if any(a.startswith("s3:") for a in _actions(s))]
        assert [_actions(s) for s in s3] == [["s3:PutObject"]]
        assert json.dumps(s3[0]["Resource"]).endswith(f'/heartbeat/aws/{network}.json"]]}}')
        # No other function of the stack touches the beats.
        others = [s for p in resources(t, "AWS::IAM::Policy").values()
                  for s in p["Properties"]["PolicyDocument"]["Statement"]
                  if "heartbeat/aws" in json.dumps(s["Resource"]) and s not in s3
                  and not any(g for g in p["Properties"].get("Groups", []))]
        assert others == []


def test_the_gcp_reader_is_a_user_that_may_only_read_aws_beats_and_has_no_key_in_the_template(templates):
    prod = templates["opwatch-production"]
    [user] = resources(prod, "AWS::IAM::User").values()
    assert "Policies" not in user["Properties"] and "ManagedPolicyArns" not in user["Properties"]
    [group] = user["Properties"]["Groups"]
    policies = [p["Properties"] for p in resources(prod, "AWS::IAM::Policy").values()
                if p["Properties"].get("Groups") == [group]]
    assert len(policies) == 1 and not any("Users" in p or "Roles" in p for p in policies)
    statements = policies[0]["PolicyDocument"]["Statement"]
    assert {a for s in statements for a in _actions(s)} == {"s3:GetObject", "s3:ListBucket"}
    [get] = [s for s in statements if _actions(s) == ["s3:GetObject"]]
    assert json.dumps(get["Resource"]).endswith('/heartbeat/aws/*"]]}')
    [listing] = [s for s in statements if _actions(s) == ["s3:ListBucket"]]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": "heartbeat/aws/*"}}
    assert resources(prod, "AWS::IAM::AccessKey") == {}  # made by hand (docs/aws.md), never in a template


def test_the_heartbeat_function_reads_only_the_gcp_peers_key_secret(templates):
    for env, network, region, account in (("production", "mainnet", "us-east-1", "222222222222"),
                                          ("staging", "sepolia", "eu-west-1", "111111111111")):
        t = templates[f"opwatch-{env}"]
        fn = f"opwatch-{env}-{network}-heartbeat"
        statements = _statements_of_role(t, _role_of(t, fn))
        secrets = [s for s in statements if any(a.startswith("secretsmanager:") for a in _actions(s))]
        assert [_actions(s) for s in secrets] == [["secretsmanager:GetSecretValue"]]
        assert json.dumps(secrets[0]["Resource"]).endswith(
            f':secretsmanager:{region}:{account}:secret:opwatch/gcs-beat-reader-??????"]]}}')
        assert not [s for s in statements if any(a.startswith("s3:") for a in _actions(s))]
        env_vars = functions_by_name(t)[fn]["Environment"]["Variables"]
        assert "RPC_ENDPOINTS_SECRET" not in env_vars  # it reads no chain


def test_without_a_gcp_peer_aws_deploys_no_heartbeat_function(tmp_path):
    text = EXAMPLE.read_text().split("[heartbeat]")[0] + \
        '[heartbeat]\naws = { bucket = "opwatch-example-beats-aws", region = "us-east-1" }\n'
    config = tmp_path / "opwatch.toml"
    config.write_text(text)
    stacks = _synth(tmp_path / "cdk.out", config).stacks
    names = [r["Properties"]["FunctionName"] for s in stacks
             for r in resources(json.loads(Path(s.template_full_path).read_text()), "AWS::Lambda::Function").values()]
    assert names and not [n for n in names if n.endswith("-heartbeat")]
