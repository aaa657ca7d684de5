"""Stored silences on AWS (cdk synth of infra/example.toml): the pager reads them from its alert
table (`pk="silence"`, opwatch.aws.alert_store) with the Query it already has on that table,
unbounded by any dynamodb:LeadingKeys condition; the check functions, whose grants are bound to
their own `memory#...` partition, can neither read nor write them."""

from __future__ import annotations

from test_check_memory_grants import _check_functions, _role_of, _statements_of, _table, template

__all__ = ["template"]  # the synth fixture, shared with test_check_memory_grants


def _actions(statement):  # type: ignore[no-untyped-def]
    return [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]


def _on(statement, table):  # type: ignore[no-untyped-def]
    import json

    return table in json.dumps(statement.get("Resource", ""))


def test_the_pager_may_query_the_silence_partition_of_its_alert_table(template):
    alerts = _table(template, "Alerts")
    stmts = [s for s in _statements_of(template, _role_of(template, "opwatch.aws.pager_handler.handler"))
             if _on(s, alerts) and s.get("Effect", "Allow") == "Allow"]
    query = [s for s in stmts if "dynamodb:Query" in _actions(s)]
    assert query and all("Condition" not in s for s in query), query
    denies = [s for s in _statements_of(template, _role_of(template, "opwatch.aws.pager_handler.handler"))
              if s.get("Effect") == "Deny" and _on(s, alerts)]
    assert denies == []


def test_check_functions_cannot_reach_the_silence_partition(template):
    for fid, fn, _env in _check_functions(template):
        role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
        for s in _statements_of(template, role):
            if any(str(a).startswith("dynamodb:") for a in _actions(s)):
                keys = s["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"]
                assert "silence" not in keys and "dynamodb:Query" not in _actions(s), fid


def test_the_stack_outputs_the_alert_table_the_cli_reads_and_silences(template):
    """`opwatch alerts|silence --store dynamodb:<AlertTable>`: the output names the pager's table."""
    alerts = _table(template, "Alerts")
    output = template["Outputs"]["AlertTable"]["Value"]
    assert output == {"Ref": alerts}, output
    pager = next(r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"
                 and r["Properties"].get("Handler") == "opwatch.aws.pager_handler.handler")
    assert pager["Properties"]["Environment"]["Variables"]["ALERTS_TABLE"] == {"Ref": alerts}
