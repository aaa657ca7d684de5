"""Deployed check memory on AWS (cdk synth of infra/example.toml): every check function is told
where its memory is (MEMORY_TABLE, the alert table) and may GetItem/PutItem there only under its
own `memory#<network>#<check>` partition (dynamodb:LeadingKeys), never Query or Scan (which a
LeadingKeys condition would not bound) and never the alert lifecycle's keys; the pager's and the
remedies' grants are unchanged."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "infra" / "example.toml"
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    from aws_cdk import App

    import app as opwatch_app

    out = tmp_path_factory.mktemp("cdk")
    app = opwatch_app.build(App(outdir=str(out), context={"aws:cdk:bundling-stacks": [], "config": str(EXAMPLE)}))
    return json.loads(Path(app.synth().get_stack_by_name("opwatch-production").template_full_path).read_text())


def _resources(template, kind):
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def _statements_of(template, role_logical_id):
    return [s for r in _resources(template, "AWS::IAM::Policy").values()
            for role in r["Properties"].get("Roles", []) if role.get("Ref") == role_logical_id
            for s in r["Properties"]["PolicyDocument"]["Statement"]]


def _table(template, part):
    return next(k for k in _resources(template, "AWS::DynamoDB::Table") if part in k)


def _names_table(resource, table):
    return table in json.dumps(resource)


def _check_functions(template):
    for fid, fn in _resources(template, "AWS::Lambda::Function").items():
        env = fn["Properties"].get("Environment", {}).get("Variables", {})
        if "OPWATCH_CHECK" in env:
            yield fid, fn, env


def test_each_check_function_may_touch_only_its_own_memory_keys(template):
    alerts = _table(template, "Alerts")
    checks = list(_check_functions(template))
    assert checks, "the example deploys check functions"
    for fid, fn, env in checks:
        assert env.get("MEMORY_TABLE") == {"Ref": alerts}, fid
        role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
        on_tables = [s for s in _statements_of(template, role)
                     if any(str(a).startswith("dynamodb:") for a in ([s["Action"]] if isinstance(s["Action"], str)
                                                                       else s["Action"]))]
        assert len(on_tables) == 1, (fid, on_tables)
        grant = on_tables[0]
        assert sorted(grant["Action"]) == ["dynamodb:GetItem", "dynamodb:PutItem"]
        assert _names_table(grant["Resource"], alerts) and "/index" not in json.dumps(grant["Resource"])
        keys = grant["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"]
        assert keys == [f"memory#{env['OPWATCH_NETWORK']}#{env['OPWATCH_CHECK']}"]
        for other in ("Remedies", "Idempotency", "RemedyIdempotency"):
            assert not _names_table(on_tables, _table(template, other))


def test_pager_and_remedies_keep_their_tables(template):
    alerts, remedies = _table(template, "Alerts"), _table(template, "Remedies")
    pager = [s for s in _statements_of(template, _role_of(template, "opwatch.aws.pager_handler.handler"))
             if "dynamodb:GetItem" in s["Action"] and _names_table(s["Resource"], alerts)]
    assert pager and all("Condition" not in s for s in pager)  # the pager's alert state: unrestricted keys
    for fid, fn in _resources(template, "AWS::Lambda::Function").items():
        if fn["Properties"].get("Handler") == "opwatch.aws.remedy_handler.handler":
            stmts = _statements_of(template, fn["Properties"]["Role"]["Fn::GetAtt"][0])
            assert not any(_names_table(s["Resource"], alerts) for s in stmts if "Resource" in s), fid
            assert any(_names_table(s["Resource"], remedies) for s in stmts if "Resource" in s), fid


def _role_of(template, handler):
    functions = _resources(template, "AWS::Lambda::Function").values()
    return next(fn["Properties"]["Role"]["Fn::GetAtt"][0] for fn in functions
                if fn["Properties"].get("Handler") == handler)
