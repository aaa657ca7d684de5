"""The AWS pager reads exactly the secrets its declared sinks name ([alerting.sinks]), and no
other function reads them (cdk synth of infra/example.toml plus a Slack and a webhook sink)."""

from __future__ import annotations

import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "infra" / "example.toml"
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")
SINKS = """
[alerting]
routes = { critical = ["pagerduty", "am"], warning = ["chat", "hook"] }
[alerting.sinks.am]
type = "alertmanager"
url = "http://alertmanager.internal:9093"
[alerting.sinks.chat]
type = "slack"
secret = "opwatch-slack-webhook"
[alerting.sinks.hook]
type = "webhook"
secret = "opwatch-ticket-hook"
"""


def _statements(template: dict, role_part: str) -> list[dict]:
    return [s for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"
            for role in r["Properties"].get("Roles", []) if role_part in role["Ref"]
            for s in r["Properties"]["PolicyDocument"]["Statement"]]


def test_the_pager_alone_reads_its_sinks_secrets(tmp_path):
    from aws_cdk import App

    import app as opwatch_app

    config = tmp_path / "opwatch.toml"
    config.write_text(EXAMPLE.read_text() + SINKS)
    app = opwatch_app.build(App(outdir=str(tmp_path / "out"),
                                context={"aws:cdk:bundling-stacks": [], "config": str(config)}))
    template = json.loads(Path(app.synth().get_stack_by_name("opwatch-production").template_full_path).read_text())
    pager = [s for s in _statements(template, "PagerFunctionRole")
             if "secretsmanager:GetSecretValue" in s["Action"]]
    readable = json.dumps([s["Resource"] for s in pager])
    for secret in ("opwatch-slack-webhook", "opwatch-ticket-hook"):
        assert f":secret:{secret}-??????" in readable
    # Only the pager: no check or remedy function may read a webhook URL.
    policies = {k: r for k, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Policy"}
    everyone = json.dumps({k: r for k, r in policies.items()
                           if not any("PagerFunctionRole" in role["Ref"] for role in r["Properties"].get("Roles", []))})
    assert "opwatch-slack-webhook" not in everyone and "opwatch-ticket-hook" not in everyone
    assert "alertmanager.internal" not in readable  # a plain URL needs no grant
