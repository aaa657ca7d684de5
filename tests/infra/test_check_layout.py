"""`[aws] layout`: one check function per check over every network of the environment
(`per_check`, the default) or one per check and network (`per_network`), as the CDK app
synthesises them. Asset bundling is skipped, as in test_aws_stack.py.

What a deployment of many networks (an L2 and its L3s) needs from the layout: the stack stays
deployable (CloudFormation's 500 resources, 1024-byte description, 500 widgets a dashboard)
whatever the number of networks, each function may touch only its own networks' memory, and
each network keeps its own schedule input, dashboard section and alarm text.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")

NETWORK = """
[networks.{name}]
l1_rpc = ["https://l1-a.example", "https://l1-b.example"]
l2_rpc = "https://sequencer-{name}.example"
rollup_rpc = "https://op-node-{name}.example"
l1_chain_id = 1
l2_chain_id = {chain_id}
block_time = "2s"
batcher = "0x6887246668a3b87F54DeB3b94Ba47a6f63F32985"
batch_inbox = "0xFF00000000000000000000000000000000000010"
proposer = "0x473300df21D047806A082244b417f96b32f13A33"
l2_output_oracle = "0xdfe97868233d1aa22e815a266982f2cf17685a27"
"""
# rpc_sync only where a network lists its RPC nodes: the L2 alone, here.
RPC_NODES = 'rpc_nodes = ["https://rpc-1.example", "https://rpc-2.example"]\n'
MAX_RESOURCES = 500  # CloudFormation, per stack
MAX_WIDGETS = 500  # CloudWatch, per dashboard


def config_text(n: int, layout: str | None) -> str:
    nets = [NETWORK.format(name="l2" if i == 0 else f"l3-{i:03d}", chain_id=1000 + i) + (RPC_NODES if i == 0 else "")
            for i in range(n)]
    aws = "\n[aws]\n" + (f'layout = "{layout}"\n' if layout else "")
    return "".join(nets) + aws + '\n[aws.environments.production]\nregion = "us-east-1"\n'


def synth(tmp_path: Path, n: int, layout: str | None) -> dict[str, Any]:
    from aws_cdk import App

    import app as opwatch_app

    path = tmp_path / f"opwatch-{n}-{layout}.toml"
    path.write_text(config_text(n, layout))
    app = opwatch_app.build(App(outdir=str(tmp_path / f"cdk.out-{n}-{layout}"),
                                context={"aws:cdk:bundling-stacks": [], "config": str(path)}))
    (stack,) = app.synth().stacks
    return dict(json.loads(Path(stack.template_full_path).read_text()))


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def check_functions(template: dict[str, Any]) -> dict[str, dict[str, str]]:
    """function name -> its environment, for the check functions."""
    return {r["Properties"]["FunctionName"]: r["Properties"]["Environment"]["Variables"]
            for r in resources(template, "AWS::Lambda::Function").values()
            if "OPWATCH_CHECK" in r["Properties"]["Environment"]["Variables"]}


def memory_partitions(template: dict[str, Any]) -> dict[str, list[str]]:
    """role logical id -> the memory partitions its policy allows."""
    out: dict[str, list[str]] = {}
    for policy in resources(template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            keys = statement.get("Condition", {}).get("ForAllValues:StringEquals", {}).get("dynamodb:LeadingKeys")
            if keys:
                for role in policy["Properties"]["Roles"]:
                    out.setdefault(role["Ref"], []).extend(keys)
    return out


def test_per_check_runs_each_check_once_over_the_networks_it_applies_to(tmp_path: Path) -> None:
    template = synth(tmp_path, 3, None)  # the default layout
    fns = check_functions(template)
    assert fns["opwatch-production-sequencer-liveness"]["OPWATCH_NETWORK"] == "l2,l3-001,l3-002"
    # A check that applies to one network only keeps that network's name.
    assert fns["opwatch-production-l2-rpc-sync"]["OPWATCH_NETWORK"] == "l2"
    assert not any(re.search(r"-l3-00\d-", name) for name in fns), sorted(fns)
    assert len({env["OPWATCH_CHECK"] for env in fns.values()}) == len(fns)  # one function per check
    # Each function's memory: exactly the partitions of its own check on its own networks.
    partitions = sorted(p for keys in memory_partitions(template).values() for p in keys
                        if p.endswith("#sequencer_liveness"))
    assert partitions == ["memory#l2#sequencer_liveness", "memory#l3-001#sequencer_liveness",
                          "memory#l3-002#sequencer_liveness"]
    assert all(len({p.rsplit("#", 1)[1] for p in keys}) == 1 for keys in memory_partitions(template).values())
    # Each schedule's input names the function's networks (what ScheduledRun checks).
    inputs = [json.loads(s["Properties"]["Target"]["Input"])
              for s in resources(template, "AWS::Scheduler::Schedule").values()]
    by_check = {i["check"]: i["network"] for i in inputs}
    assert by_check["sequencer_liveness"] == "l2,l3-001,l3-002" and by_check["rpc_sync"] == "l2"


def test_per_network_keeps_one_function_per_check_and_network(tmp_path: Path) -> None:
    fns = check_functions(synth(tmp_path, 3, "per_network"))
    liveness = {name: env["OPWATCH_NETWORK"] for name, env in fns.items()
                if env["OPWATCH_CHECK"] == "sequencer_liveness"}
    assert liveness == {"opwatch-production-l2-sequencer-liveness": "l2",
                        "opwatch-production-l3-001-sequencer-liveness": "l3-001",
                        "opwatch-production-l3-002-sequencer-liveness": "l3-002"}
    assert all("," not in env["OPWATCH_NETWORK"] for env in fns.values())


def test_one_network_synthesises_the_same_stack_under_both_layouts(tmp_path: Path) -> None:
    """Upgrading a one-network deployment to the per_check default replaces nothing (only the
    bundled config, which names the layout, differs: the code asset's hash)."""
    def without_code(template: dict[str, Any]) -> dict[str, Any]:
        for r in resources(template, "AWS::Lambda::Function").values():
            r["Properties"].pop("Code")
        return template["Resources"]

    per_check, per_network = synth(tmp_path, 1, "per_check"), synth(tmp_path, 1, "per_network")
    assert len(check_functions(per_check)) > 5
    assert without_code(per_check) == without_code(per_network)


def test_a_hundred_networks_fit_one_stack_and_its_dashboards(tmp_path: Path) -> None:
    one, hundred = synth(tmp_path, 1, None), synth(tmp_path, 100, None)
    assert len(hundred["Resources"]) <= MAX_RESOURCES
    # Functions, roles, schedules and alarms do not grow with the networks.
    for kind in ("AWS::Lambda::Function", "AWS::Scheduler::Schedule", "AWS::CloudWatch::Alarm", "AWS::IAM::Role"):
        assert len(resources(hundred, kind)) == len(resources(one, kind)), kind
    assert len(hundred["Description"].encode()) <= 1024 and "100 networks" in hundred["Description"]
    boards = resources(hundred, "AWS::CloudWatch::Dashboard").values()
    bodies = [json.dumps(b["Properties"]["DashboardBody"]) for b in boards]
    widgets = [body.count('\\"type\\":') for body in bodies]
    assert len(boards) > 1 and all(0 < w <= MAX_WIDGETS for w in widgets), widgets
    # Every network has its own section, on exactly one dashboard.
    for name in ("l2", "l3-001", "l3-050", "l3-099"):
        assert sum(f"## {name}\\\\" in body or f"## {name}\\" in body for body in bodies) == 1, name
    # Alarm texts name how many networks (CloudWatch caps a description at 1024 characters).
    descriptions = [a["Properties"]["AlarmDescription"] for a in resources(hundred, "AWS::CloudWatch::Alarm").values()]
    assert all(len(d) <= 1024 for d in descriptions)
    assert any("on 100 networks (l2 … l3-099) is unwatched" in d for d in descriptions)


def test_an_unknown_layout_is_a_config_error() -> None:
    from opwatch.config import ConfigError, parse_config

    with pytest.raises(ConfigError, match=r"aws\.layout: expected one of per_check, per_network"):
        parse_config(config_text(1, "per_region")).section("aws")


def test_networks_whose_names_overflow_lambdas_environment_are_a_config_error(tmp_path: Path) -> None:
    """OPWATCH_NETWORK lists a per_check function's networks; past Lambda's 4 KB of environment the
    deploy would fail late, so synth refuses it and says what to do."""
    from opwatch.config import ConfigError

    long_names = config_text(60, None)
    for i in range(1, 60):
        long_names = long_names.replace(f"l3-{i:03d}", f"l3-{i:03d}-" + "x" * 50)
    path = tmp_path / "long.toml"
    path.write_text(long_names)
    from aws_cdk import App

    import app as opwatch_app

    with pytest.raises(ConfigError, match="split them across environments"):
        opwatch_app.build(App(outdir=str(tmp_path / "out"), context={"aws:cdk:bundling-stacks": [],
                                                                     "config": str(path)}))
