"""Per-check knowledge lives on the `Check`: everything that used to retype it derives from `CHECKS`.

The throwaway check registered here (one module, one registry line, one runbook) is accepted
everywhere a real one is: the config (`[alerting.checks.<id>]`, silences, schedules), the
alerting defaults, inhibition, remedy triggers, the CloudWatch dashboard, the GCP plan and the
CDK app.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from opwatch.alerting.policy import Hold
from opwatch.checks import CHECKS, Check
from opwatch.config import parse_config
from opwatch.findings import Finding, Measure, Severity, Status
from opwatch.remedies.request import TRIGGERS

ROOT = Path(__file__).resolve().parents[2]

BASE = """
[networks.mainnet]
l1_rpc = "http://127.0.0.1:8545"
l2_rpc = "http://127.0.0.1:9545"
l1_chain_id = 1
l2_chain_id = 10
block_time = "2s"
"""


def test_alerting_accepts_timings_for_every_registered_check():
    # heartbeat had no alert timings of its own, so [alerting.checks.heartbeat] was an "unknown check".
    policy = parse_config(BASE + """
[alerting.checks.heartbeat]
fire_after = 4
[alerting.checks.snapshot_freshness]
resolve_after = 7
""").section("alerting")
    assert policy.timing("heartbeat").fire.evaluations == 4
    assert policy.timing("snapshot_freshness").resolve.evaluations == 7


def test_a_silence_on_snapshot_freshness_is_accepted_and_matches():
    policy = parse_config(BASE + """
[[alerting.silences]]
network = "mainnet"
check = "snapshot_freshness"
until = "2099-01-01T00:00:00Z"
reason = "disk migration"
""").section("alerting")
    [silence] = policy.silences
    assert policy.silenced("mainnet", "snapshot_freshness", silence.until - 1) == silence
    assert policy.silenced("mainnet", "rpc_sync", silence.until - 1) is None


# --- a throwaway check: one module (here, this one), one registry line, one runbook -----------

PROBE_ID = "throwaway_probe"


def _probe() -> Check:
    from opwatch.checks.base import Hold, Timing, Verdict

    return Check(
        id=PROBE_ID,
        title="probe age (s)",
        missing=lambda net: None,
        targets=lambda net: ["probe"],
        threshold=lambda net: Measure(60.0, "s"),
        measure=lambda ctx, shared, target: Verdict(Status.OK, "fine", Measure(1.0, "s"), Measure(60.0, "s")),
        every_minutes=3,
        timing=Timing(Hold(7), Hold(4), Hold(6, 900.0)),
        reads_l1=True,
    )


@pytest.fixture
def probe() -> Iterator[Check]:
    check = _probe()
    CHECKS[check.id] = check  # the registry line
    try:
        yield check
    finally:
        del CHECKS[check.id]


def test_a_registered_check_is_accepted_by_the_config(probe):
    config = parse_config(BASE + f"""
[schedules]
{PROBE_ID} = "4m"
[alerting.checks.{PROBE_ID}]
fire_after = 9
[[alerting.silences]]
network = "mainnet"
check = "{PROBE_ID}"
until = "2099-01-01T00:00:00Z"
""")
    policy = config.section("alerting")
    assert policy.timing(PROBE_ID).fire == Hold(9) and policy.timing(PROBE_ID).resolve == probe.timing.resolve
    assert policy.silenced("mainnet", PROBE_ID, 0.0) is not None
    assert config.section("schedules").every(PROBE_ID) == 4


def test_a_registered_check_brings_its_own_defaults(probe):
    from opwatch.alerting.policy import DEFAULT_TIMINGS, AlertPolicy
    from opwatch.deploy.schedules import Schedules

    assert AlertPolicy().timing(PROBE_ID) == probe.timing == DEFAULT_TIMINGS[PROBE_ID]
    assert Schedules().every(PROBE_ID) == 3 and Schedules().cron(PROBE_ID) == "*/3 * * * *"
    assert PROBE_ID not in TRIGGERS  # no remedy declared, none triggered


def _l1_down(check: str) -> Finding:
    return Finding(network="mainnet", check=check, target="t", status=Status.UNKNOWN, severity=Severity.WARNING,
                   summary="cannot tell", observed=Measure(None, "s"), threshold=Measure(1.0, "s"),
                   observed_at="2026-01-01T00:00:00Z",
                   details={"error": "NoHealthyEndpoint", "endpoint": "l1", "reason": "all down"})


def test_a_check_that_reads_l1_joins_the_l1_root_cause(probe):
    from opwatch.alerting import inhibit

    findings = [_l1_down(c) for c in ("wallet_runway", PROBE_ID)]
    [cause] = inhibit.group_causes(findings)
    assert cause.status == Status.UNKNOWN and sorted(cause.details["explains"]) == sorted(f.dedup_key for f in findings)
    # And it is a member: its own finding that still reaches L1 means L1 answers.
    ok = replace(findings[1], status=Status.OK, details={})
    [cause] = inhibit.group_causes([findings[0], ok])
    assert cause.status == Status.OK


# --- the deployments ------------------------------------------------------------------------

GCP = BASE + """
[gcp]
project = "opwatch-test"
project_number = "123456789012"
region = "europe-west1"
pagerduty_secret = "opwatch-pagerduty-routing-key"
"""


def test_a_registered_check_gets_a_function_and_a_schedule_in_the_gcp_plan(probe):
    from opwatch.deploy.gcp_plan import functions, render_plan

    config = parse_config(GCP)
    settings = config.section("gcp").with_overrides()
    [fn] = [f for f in functions(config, settings) if f.entry_point == PROBE_ID]
    argvs = [list(a) for step in render_plan(config, settings) for a in step.argvs()]
    deploy = [a for a in argvs if a[:4] == ["gcloud", "functions", "deploy", fn.name]]
    assert deploy and f"--trigger-topic={fn.trigger_topic}" in deploy[0]
    [job] = [a for a in argvs if a[:5] == ["gcloud", "scheduler", "jobs", "create", "pubsub"]
             and f"--topic={fn.trigger_topic}" in a]
    assert "--schedule=*/3 * * * *" in job


def test_a_registered_check_has_an_entry_point_in_the_gcp_bundle(probe):
    from opwatch.gcp import main

    assert callable(getattr(main, PROBE_ID, None))


AWS = BASE + """
[aws]
namespace = "opwatch"
[aws.environments.prod]
region = "us-east-1"
account = "222222222222"
networks = ["mainnet"]
"""


def test_a_registered_check_gets_a_function_schedule_and_graph_in_the_cdk_app(probe, tmp_path):
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")
    from aws_cdk import App

    sys.path.insert(0, str(ROOT))
    try:
        import app as opwatch_app
    finally:
        sys.path.remove(str(ROOT))
    path = tmp_path / "opwatch.toml"
    path.write_text(AWS)
    app = opwatch_app.build(App(outdir=str(tmp_path / "cdk.out"), context={
        "aws:cdk:bundling-stacks": [], "config": str(path), "nag": "false"}))
    [stack] = app.synth().stacks
    template = json.loads(Path(stack.template_full_path).read_text())
    fns = {r["Properties"]["FunctionName"]: r["Properties"] for r in template["Resources"].values()
           if r["Type"] == "AWS::Lambda::Function"}
    probe_fn = fns["opwatch-prod-mainnet-throwaway-probe"]
    assert probe_fn["Environment"]["Variables"]["OPWATCH_CHECK"] == PROBE_ID
    assert "(fast lane)" not in probe_fn["Description"]  # fast_lane is off
    schedules = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Scheduler::Schedule"]
    assert any(s["ScheduleExpression"] == "rate(3 minutes)" and PROBE_ID in json.dumps(s) for s in schedules)
    dashboards = json.dumps([r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"])
    assert "mainnet · probe age (s)" in dashboards or "mainnet \\u00b7 probe age (s)" in dashboards


# --- the registry agrees with itself ----------------------------------------------------------

def test_reads_l1_is_declared_by_exactly_the_checks_that_read_l1():
    import importlib

    for cid, check in CHECKS.items():
        source = Path(importlib.import_module(f"opwatch.checks.{cid}").__file__ or "").read_text()
        assert ("ctx.l1()" in source) == check.reads_l1, cid


def test_every_check_has_a_runbook_a_title_and_only_known_inhibition_and_remedy_names():
    from opwatch.alerting.inhibit import RULES
    from opwatch.remedies.request import REMEDIES, trigger_of

    for cid, check in CHECKS.items():
        assert (ROOT / "docs" / "runbooks" / f"{cid}.md").is_file(), cid
        assert check.title and check.every_minutes >= 1
        assert check.remedy is None or check.remedy in REMEDIES
    assert len({c.title for c in CHECKS.values()}) == len(CHECKS)
    assert [cid for cid, c in CHECKS.items() if c.fast_lane] == ["sequencer_liveness"]
    for rule in RULES:
        assert {rule.source_check, *rule.consequences} <= set(CHECKS), rule
    assert {r: trigger_of(r) for r in REMEDIES} == {"topup": "wallet_runway", "snapshot": "snapshot_freshness",
                                                   "failover": "sequencer_liveness",
                                                   "restore": "sequencer_liveness"}
