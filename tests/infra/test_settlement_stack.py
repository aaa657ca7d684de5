"""output_root and dispute_games on AWS, as the CDK app synthesises them: a network with the
settlement config gets a function and a schedule for each, reading the rpc_endpoints secret
(where its trusted_l2_rpc URLs come from, like every other endpoint's); a network without it
gets neither. Asset bundling is skipped, as in test_aws_stack.py."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "infra" / "example.toml"
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")

FAULT_PROOF_NETWORK = """
[networks.fpnet]
l1_rpc = [{ url = "https://l1-fp.example", name = "l1-fp" }]
l2_rpc = { url = "https://sequencer-fp.example", name = "sequencer-fp" }
trusted_l2_rpc = [{ url = "https://placeholder.example", name = "verifier-a" }]
l1_chain_id = 1
l2_chain_id = 8453
block_time = "2s"
proposer = "0x642229f238fb9dE03374Be34B0eD8D9De80752c5"
dispute_game_factory = "0x43edB88C4B80fDD2AdFF2412A7BebF9dF42cB40e"
game_type = 0
"""


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from aws_cdk import App

    import app as opwatch_app

    text = EXAMPLE.read_text()
    head, sep, tail = text.partition("\n[schedules]")
    text = (head + "\n" + FAULT_PROOF_NETWORK + sep + tail).replace(
        'networks = ["mainnet"]', 'networks = ["mainnet", "fpnet"]', 1)
    assert '"fpnet"' in text
    workdir = tmp_path_factory.mktemp("settlement-synth")
    config = workdir / "opwatch.toml"
    config.write_text(text)
    app = opwatch_app.build(App(outdir=str(workdir / "cdk.out"),
                                context={"aws:cdk:bundling-stacks": [], "config": str(config)}))
    stack = next(s for s in app.synth().stacks if s.stack_name == "opwatch-production")
    return dict(json.loads(Path(stack.template_full_path).read_text()))


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["Properties"]["FunctionName"]: r["Properties"] for r in template["Resources"].values()
            if r["Type"] == "AWS::Lambda::Function"}


def scheduled_checks(template: dict[str, Any]) -> list[str]:
    return [json.dumps(r["Properties"]["Target"].get("Input", "")) for r in template["Resources"].values()
            if r["Type"] == "AWS::Scheduler::Schedule"]


def test_a_fault_proof_network_gets_output_root_and_dispute_games(production: dict[str, Any]) -> None:
    fns = functions(production)
    # One function per check over the networks it applies to (`[aws] layout = "per_check"`):
    # output_root runs on both networks, dispute_games on the fault-proof network alone (so its
    # function keeps that network in its name).
    for name, check, networks in (("opwatch-production-output-root", "output_root", "mainnet,fpnet"),
                                  ("opwatch-production-fpnet-dispute-games", "dispute_games", "fpnet")):
        assert name in fns, sorted(fns)
        env = fns[name]["Environment"]["Variables"]
        assert env["OPWATCH_NETWORK"] == networks and env["OPWATCH_CHECK"] == check
        # The trusted nodes' real URLs (with their keys) are in the secret, never in the template.
        assert "RPC_ENDPOINTS_SECRET" in env
    assert "placeholder.example" not in json.dumps(fns)
    inputs = " ".join(scheduled_checks(production))
    assert "dispute_games" in inputs and "output_root" in inputs


def test_an_oracle_network_gets_output_root_and_no_dispute_games(production: dict[str, Any]) -> None:
    fns = functions(production)
    networks = {p["Environment"]["Variables"]["OPWATCH_CHECK"]: p["Environment"]["Variables"]["OPWATCH_NETWORK"]
                for p in fns.values() if "OPWATCH_CHECK" in p.get("Environment", {}).get("Variables", {})}
    assert "mainnet" in networks["output_root"].split(",")
    assert networks["dispute_games"] == "fpnet"
