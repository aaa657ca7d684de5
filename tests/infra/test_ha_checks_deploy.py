"""sequencer_ha and rollup_nodes are deployed on AWS (CDK synth) and GCP (the gcloud plan) by their
registry lines alone, wherever the network names conductors / sequencer nodes and replica op-nodes;
where it names none they are not deployed."""

from __future__ import annotations

import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")
HA = ('conductors = [{ name = "conductor-0", url = "http://conductor-0:8547" }, '
      '{ name = "conductor-1", url = "http://conductor-1:8547" }]\n'
      'rollup_nodes = [{ name = "replica-0", url = "http://replica-0:9545" }]\n')


def _with_ha(example: Path, tmp: Path) -> Path:
    head, sep, tail = example.read_text().partition("[networks.mainnet]\n")
    assert sep, "the example has a mainnet network"
    out = tmp / example.name
    out.write_text(head + sep + HA + tail)
    return out


def test_the_aws_stack_deploys_both_checks_where_named(tmp_path: Path) -> None:
    from aws_cdk import App

    import app as opwatch_app

    config = _with_ha(ROOT / "infra" / "example.toml", tmp_path)
    assembly = opwatch_app.build(App(outdir=str(tmp_path / "cdk.out"), context={
        "aws:cdk:bundling-stacks": [], "config": str(config)})).synth()
    prod = next(s for s in assembly.stacks if s.stack_name == "opwatch-production")
    template = json.loads(Path(prod.template_full_path).read_text())
    names = {r["Properties"]["FunctionName"] for r in template["Resources"].values()
             if r["Type"] == "AWS::Lambda::Function"}
    assert {"opwatch-production-mainnet-sequencer-ha", "opwatch-production-mainnet-rollup-nodes"} <= names


def test_the_gcp_plan_deploys_both_checks_only_where_named(tmp_path: Path) -> None:
    from opwatch.config import load_config
    from opwatch.deploy.gcp_plan import functions

    def entry_points(path: Path) -> set[str]:
        config = load_config(path)
        return {f.entry_point for f in functions(config, config.section("gcp").with_overrides())}

    assert {"sequencer_ha", "rollup_nodes"} <= entry_points(_with_ha(ROOT / "gcp" / "example.toml", tmp_path))
    assert not {"sequencer_ha", "rollup_nodes"} & entry_points(ROOT / "gcp" / "example.toml")
