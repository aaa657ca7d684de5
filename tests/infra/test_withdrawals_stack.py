"""withdrawals and l1_contracts are deployed on AWS (CDK synth) and GCP (the gcloud plan) by
their registry lines alone, wherever the network names the contracts they read."""

from __future__ import annotations

import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")
PORTAL = 'optimism_portal = "0xbEb5Fc579115071764c7423A4f12eDde41f106Ed"\n'


def _with_portal(example: Path, tmp: Path) -> Path:
    text = example.read_text()
    head, sep, tail = text.partition("[networks.mainnet]\n")
    assert sep, "the example has a mainnet network"
    out = tmp / example.name
    out.write_text(head + sep + (PORTAL if "optimism_portal" not in tail.split("[", 1)[0] else "") + tail)
    return out


def test_the_aws_stack_deploys_both_checks_where_the_portal_is_named(tmp_path: Path) -> None:
    from aws_cdk import App

    import app as opwatch_app

    config = _with_portal(ROOT / "infra" / "example.toml", tmp_path)
    assembly = opwatch_app.build(App(outdir=str(tmp_path / "cdk.out"), context={
        "aws:cdk:bundling-stacks": [], "config": str(config)})).synth()
    prod = next(s for s in assembly.stacks if s.stack_name == "opwatch-production")
    template = json.loads(Path(prod.template_full_path).read_text())
    names = {r["Properties"]["FunctionName"] for r in template["Resources"].values()
             if r["Type"] == "AWS::Lambda::Function"}
    assert {"opwatch-production-mainnet-withdrawals", "opwatch-production-mainnet-l1-contracts"} <= names


def test_the_gcp_plan_deploys_both_checks() -> None:
    from opwatch.config import load_config
    from opwatch.deploy.gcp_plan import functions

    config = load_config(ROOT / "gcp" / "example.toml")
    entry_points = {f.entry_point for f in functions(config, config.section("gcp").with_overrides())}
    assert {"withdrawals", "l1_contracts"} <= entry_points
