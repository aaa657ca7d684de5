"""finality and tx_health are deployed on AWS (CDK synth) and GCP (the gcloud plan) by their
registry lines alone: tx_health on every network (it needs only L1), finality only where the
network names op-node (`rollup_rpc`); its GCP function is skipped elsewhere, saying why."""

from __future__ import annotations

import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")


def test_the_aws_stack_deploys_tx_health_everywhere_and_finality_where_op_node_is_named(tmp_path: Path) -> None:
    from aws_cdk import App

    import app as opwatch_app

    assembly = opwatch_app.build(App(outdir=str(tmp_path / "cdk.out"), context={
        "aws:cdk:bundling-stacks": [], "config": str(ROOT / "infra" / "example.toml")})).synth()
    names: set[str] = set()
    for stack in assembly.stacks:
        template = json.loads(Path(stack.template_full_path).read_text())
        names |= {r["Properties"]["FunctionName"] for r in template["Resources"].values()
                  if r["Type"] == "AWS::Lambda::Function"}
    # mainnet (production) names rollup_rpc; sepolia (staging) does not.
    assert {"opwatch-production-mainnet-finality", "opwatch-production-mainnet-tx-health",
            "opwatch-staging-sepolia-tx-health"} <= names
    assert "opwatch-staging-sepolia-finality" not in names


def test_the_gcp_plan_deploys_both_where_they_apply() -> None:
    from opwatch.checks import CHECKS
    from opwatch.checks.base import Context
    from opwatch.config import load_config
    from opwatch.deploy.gcp_plan import functions

    config = load_config(ROOT / "gcp" / "example.toml")
    entry_points = {f.entry_point for f in functions(config, config.section("gcp").with_overrides())}
    assert {"finality", "tx_health"} <= entry_points
    # l3 names no op-node: finality cannot run there, and says so.
    l3 = Context(config.network("l3"), config=config)
    assert CHECKS["finality"].missing(l3.network) == "needs rollup_rpc (op-node)"
    assert CHECKS["tx_health"].missing(l3.network) is None
    plan = (ROOT / "gcp" / "plan.example.sh").read_text()
    assert "--entry-point=finality" in plan and "--entry-point=tx_health" in plan
