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
routes = { warning = ["chat", "email"] }
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
    assert policy.route("warning") == ("chat", "email") and policy.route("critical") == ("pagerduty",)
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
