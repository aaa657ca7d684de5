"""The self-watch after the cost cut: every signal that paged before still has an alarm whose
metric covers it, every alarm reads a metric AWS publishes for free, and no custom metric is
emitted unless something outside the stack reads it (`[aws] check_metrics`).

Signals, per function: erroring (Errors), throttled (Throttles); per check function: not run
for 3 schedule periods (Invocations, missing = breaching); per dead-letter queue: a message.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.infra.test_aws_stack import EXAMPLE, _synth, check_functions, resources

FIVE_MINUTES = 300


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    return {s.stack_name: json.loads(Path(s.template_full_path).read_text())
            for s in _synth(tmp_path_factory.mktemp("cdk.out")).stacks}


@pytest.fixture(scope="module")
def with_metrics(tmp_path_factory):
    folder = tmp_path_factory.mktemp("metrics")
    config = folder / "opwatch.toml"
    config.write_text(EXAMPLE.read_text().replace("[aws]\n", "[aws]\ncheck_metrics = true\n", 1))
    return {s.stack_name: json.loads(Path(s.template_full_path).read_text())
            for s in _synth(folder / "cdk.out", config).stacks}


def _alarms(template):
    return list(resources(template, "AWS::CloudWatch::Alarm").values())


def _alarm_on(template, metric, logical_id):
    """The alarms reading `metric` of the resource `logical_id` (by its Ref/GetAtt dimension)."""
    found = []
    for a in _alarms(template):
        p = a["Properties"]
        dims = [d["Value"] for d in p.get("Dimensions", [])]
        refs = {v.get("Ref") or v.get("Fn::GetAtt", [None])[0] for v in dims if isinstance(v, dict)}
        if p.get("MetricName") == metric and logical_id in refs:
            found.append(p)
    return found


def _alarm_topic(template):
    [topic] = [k for k, r in resources(template, "AWS::SNS::Topic").items() if "AlarmTopic" in k]
    return topic


def _schedule_minutes(template, function_id):
    """The rate of the schedule that invokes `function_id`, in minutes."""
    for s in resources(template, "AWS::Scheduler::Schedule").values():
        if s["Properties"]["Target"]["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}:
            expression = s["Properties"]["ScheduleExpression"]  # rate(N minute[s])
            return int(expression.split("(")[1].split()[0])
    raise AssertionError(f"no schedule invokes {function_id}")


def test_every_function_alarms_when_it_errors_or_is_throttled(templates):
    for name, template in templates.items():
        topic = _alarm_topic(template)
        for fid in resources(template, "AWS::Lambda::Function"):
            for metric in ("Errors", "Throttles"):
                [alarm] = _alarm_on(template, metric, fid)
                assert alarm["Namespace"] == "AWS/Lambda" and alarm["Threshold"] == 1, (name, fid, metric)
                assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
                assert alarm["Period"] == FIVE_MINUTES and alarm["Statistic"] == "Sum"
                assert alarm["AlarmActions"] == [{"Ref": topic}] and alarm["OKActions"] == [{"Ref": topic}]


def test_every_check_function_alarms_when_it_has_not_run_for_three_periods(templates):
    for template in templates.values():
        names = {r["Properties"]["FunctionName"]: fid
                 for fid, r in resources(template, "AWS::Lambda::Function").items()}
        for fn_name in check_functions(template):
            fid = names[fn_name]
            [alarm] = _alarm_on(template, "Invocations", fid)
            assert alarm["Namespace"] == "AWS/Lambda" and alarm["Statistic"] == "Sum"
            assert alarm["Period"] == 60 * _schedule_minutes(template, fid), fn_name
            assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == 3
            assert alarm["ComparisonOperator"] == "LessThanThreshold" and alarm["Threshold"] == 1
            assert alarm["TreatMissingData"] == "breaching"  # not invoked at all: no datapoint, alarm
        assert not _alarm_on(template, "Invocations", next(fid for fid, r in
                                                          resources(template, "AWS::Lambda::Function").items()
                                                          if r["Properties"]["FunctionName"].endswith("-pager")))


def test_every_alarm_reads_a_free_aws_metric(templates):
    for template in templates.values():
        for a in _alarms(template):
            assert a["Properties"]["Namespace"] in ("AWS/Lambda", "AWS/SQS"), a["Properties"]
            assert "Metrics" not in a["Properties"]  # no metric math: one billed metric per alarm


def test_check_functions_emit_no_custom_metric_by_default(templates, with_metrics):
    for template in templates.values():
        fns = resources(template, "AWS::Lambda::Function").values()
        checks = set(check_functions(template))
        for f in fns:
            env = f["Properties"]["Environment"]["Variables"]
            off = env.get("POWERTOOLS_METRICS_DISABLED") == "true"
            assert off == (f["Properties"]["FunctionName"] in checks), f["Properties"]["FunctionName"]
    for template in with_metrics.values():  # `[aws] check_metrics = true`: Grafana reads them
        assert not [f for f in resources(template, "AWS::Lambda::Function").values()
                    if "POWERTOOLS_METRICS_DISABLED" in f["Properties"]["Environment"]["Variables"]]


def _dashboard_text(body):
    """The dashboard JSON with CloudFormation references written as their logical ids."""
    if isinstance(body, str):
        return body
    parts = body["Fn::Join"][1]
    return "".join(p if isinstance(p, str) else (p.get("Ref") or p["Fn::GetAtt"][0]) for p in parts)


def test_one_dashboard_per_deployment_graphing_each_check_function_from_its_logs(templates):
    for template in templates.values():
        [board] = resources(template, "AWS::CloudWatch::Dashboard").values()
        widgets = json.loads(_dashboard_text(board["Properties"]["DashboardBody"]))["widgets"]
        logs = [w["properties"] for w in widgets if w["type"] == "log"]
        groups = {r["Properties"]["LogGroupName"]: lid for lid, r in resources(template, "AWS::Logs::LogGroup").items()}
        for fn_name in check_functions(template):
            [graph] = [w for w in logs if f"SOURCE '{groups[f'/aws/lambda/{fn_name}']}'" in w["query"]]
            assert graph["view"] == "timeSeries"
            assert "stats max(observed) by bin(" in graph["query"] and ", target" in graph["query"]
        assert len(logs) == len(check_functions(template))
        metrics = [m for w in widgets if w["type"] == "metric" for m in w["properties"]["metrics"]]
        assert all(m[0] == "AWS/Lambda" for m in metrics)  # errors and durations: Lambda's own
        assert len(metrics) <= 50  # the free tier's three dashboards hold up to 50 metrics each
