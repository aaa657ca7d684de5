"""[alerting.sinks.<name>]: what a route may name, and what a sink's declaration must say."""

from __future__ import annotations

import pytest
from opwatch.alerting.policy import SinkSpec
from opwatch.config import ConfigError, parse_config

NETWORK = """
[networks.mainnet]
l1_rpc = "http://127.0.0.1:8545"
l2_rpc = "http://127.0.0.1:9545"
l1_chain_id = 1
l2_chain_id = 10
block_time = "2s"
"""


def problems(alerting: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(NETWORK + alerting)
    return list(info.value.problems)


def test_routes_may_name_declared_sinks_of_every_type():
    config = parse_config(NETWORK + """
[alerting]
routes = { critical = ["pagerduty", "am", "oncall2"], warning = ["chat", "hook"] }
[alerting.sinks.am]
type = "alertmanager"
url = "http://alertmanager:9093"
firing_ttl = "2h"
[alerting.sinks.chat]
type = "slack"
secret = "opwatch-slack-webhook"
[alerting.sinks.hook]
type = "webhook"
secret = "opwatch-hook"
[alerting.sinks.oncall2]
type = "pagerduty"
secret = "opwatch-second-routing-key"
""")
    policy = config.section("alerting")
    assert policy.sink_names == ("pagerduty", "am", "chat", "hook", "oncall2")
    assert policy.sinks["am"] == SinkSpec("am", "alertmanager", url="http://alertmanager:9093", firing_ttl_s=7200.0)
    assert policy.sinks["chat"].secret == "opwatch-slack-webhook" and policy.route("warning") == ("chat", "hook")


def test_a_route_to_an_undeclared_sink_stays_a_config_error():
    found = problems('[alerting]\nroutes = { warning = ["chat"] }\n')
    assert found == ["alerting.routes.warning: no sink named 'chat' (sinks: pagerduty)"]


def test_webhook_urls_are_credentials_kept_in_secrets_never_echoed():
    secret_url = "https://hooks.slack.example/services/T0/B0/s3cr3tpart"
    found = problems(f"""
[alerting.sinks.chat]
type = "slack"
url = "{secret_url}"
[alerting.sinks.am]
type = "alertmanager"
url = "https://user:pa55@alertmanager:9093"
[alerting.sinks.hook]
type = "webhook"
""")
    assert any(p.startswith("alerting.sinks.chat.url: a slack URL is a credential") for p in found)
    assert any(p.startswith("alerting.sinks.am.url: expected http(s)://host[:port] without credentials")
               for p in found)
    assert any(p.startswith("alerting.sinks.hook: expected secret") for p in found)
    assert not any("s3cr3tpart" in p or "pa55" in p for p in found)


def test_bad_declarations_name_their_field():
    found = problems("""
[alerting.sinks.pagerduty]
type = "pagerduty"
secret = "x"
[alerting.sinks.sms]
type = "sms"
secret = "x"
[alerting.sinks.chat]
type = "slack"
secret = "x"
firing_ttl = "1h"
channel = "#ops"
""")
    assert any(p.startswith("alerting.sinks.pagerduty:") for p in found)
    assert any(p.startswith("alerting.sinks.sms.type: expected one of") for p in found)
    assert any(p.startswith("alerting.sinks.chat.firing_ttl: only an alertmanager") for p in found)
    assert any(p.startswith("alerting.sinks.chat.channel: unknown key") for p in found)
