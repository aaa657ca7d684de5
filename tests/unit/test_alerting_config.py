"""`[alerting]` in the config file: defaults when absent, overrides, every problem named by field."""

from __future__ import annotations

import pytest
from opwatch.alerting.policy import DEFAULT_TIMINGS, AlertPolicy, Hold
from opwatch.config import ConfigError, parse_config

BASE = """
[networks.mainnet]
l1_rpc = "http://127.0.0.1:8545"
l2_rpc = "http://127.0.0.1:9545"
l1_chain_id = 1
l2_chain_id = 10
block_time = "2s"
"""


def test_absent_section_gives_the_default_policy():
    policy = parse_config(BASE).section("alerting")
    assert isinstance(policy, AlertPolicy) and policy.timings == DEFAULT_TIMINGS and policy.silences == ()


def test_overrides_routes_timings_and_silences():
    policy = parse_config(BASE + """
[alerting]
runbook_base_url = "https://git.example/opwatch/blob/main"
claim_time = "90s"
routes = { info = ["pagerduty"] }
[alerting.checks.rpc_sync]
fire_after = 10
fire_after_time = "10m"
blind_severity = "critical"
[[alerting.silences]]
network = "mainnet"
check = "rpc_sync"
until = "2026-01-01T00:00:00Z"
reason = "node migration"
""").section("alerting")
    assert policy.route("info") == ("pagerduty",) and policy.route("critical") == ("pagerduty",)
    assert policy.timing("rpc_sync").fire == Hold(10, 600.0) and policy.timing("rpc_sync").blind_severity == "critical"
    assert policy.timing("rpc_sync").resolve == DEFAULT_TIMINGS["rpc_sync"].resolve
    assert policy.claim_seconds == 90.0 and policy.runbook_url("docs/runbooks/x.md").startswith("https://git.example/")
    [silence] = policy.silences
    assert silence.check == "rpc_sync" and silence.matches("mainnet", "rpc_sync", silence.until - 1)
    assert not silence.matches("mainnet", "rpc_sync", silence.until)


def test_every_problem_names_its_field():
    with pytest.raises(ConfigError) as info:
        parse_config(BASE + """
[alerting]
colour = "red"
routes = { urgent = ["pagerduty"] }
[alerting.checks.rpc_sync]
fire_after = 0
blind_severity = "loud"
[alerting.checks.nope]
fire_after = 1
[[alerting.silences]]
network = "testnet"
until = "2026-01-01T00:00:00Z"
[[alerting.silences]]
network = "mainnet"
until = "tomorrow"
""")
    fields = {p.split(":")[0] for p in info.value.problems}
    assert fields == {"alerting.colour", "alerting.routes.urgent", "alerting.checks.rpc_sync.fire_after",
                      "alerting.checks.rpc_sync.blind_severity", "alerting.checks.nope",
                      "alerting.silences[0].network", "alerting.silences[1].until"}


def test_warnings_page_at_low_urgency_by_default():
    # No chat sink is deployed yet: a warning that routes to one would notify no one.
    policy = parse_config(BASE).section("alerting")
    assert policy.route("warning") == ("pagerduty",) and policy.route("critical") == ("pagerduty",)


def test_a_route_to_a_sink_no_pager_builds_is_an_error_naming_its_field():
    with pytest.raises(ConfigError) as info:
        parse_config(BASE + """
[alerting]
routes = { warning = ["chat"], critical = ["pagerduty", "email"] }
""")
    problems = sorted(info.value.problems)
    assert [p.split(":")[0] for p in problems] == ["alerting.routes.critical", "alerting.routes.warning"]
    assert "'email'" in problems[0] and "'chat'" in problems[1] and "pagerduty" in problems[1]


@pytest.mark.parametrize("severity", ["critical", "warning"])
def test_a_route_that_sends_critical_or_warning_alerts_nowhere_is_an_error(severity):
    with pytest.raises(ConfigError) as info:
        parse_config(BASE + f"\n[alerting]\nroutes = {{ {severity} = [] }}\n")
    [problem] = info.value.problems
    assert problem.startswith(f"alerting.routes.{severity}:") and "no one" in problem


def test_info_may_be_only_recorded():
    assert parse_config(BASE + "\n[alerting]\nroutes = { info = [] }\n").section("alerting").route("info") == ()
