"""The GCP plan gives the pager exactly the secrets its declared sinks name ([alerting.sinks]),
requires them to exist (never with a value), and gives them to no other function."""

from __future__ import annotations

from opwatch.deploy.gcp_plan import functions
from test_gcp_plan_iam import EXAMPLE, grants, plan_of

SINKS = """
[alerting]
routes = { critical = ["pagerduty", "am"], warning = ["chat", "hook"] }
[alerting.sinks.am]
type = "alertmanager"
url = "http://alertmanager.internal:9093"
[alerting.sinks.chat]
type = "slack"
secret = "opwatch-slack-webhook"
[alerting.sinks.hook]
type = "webhook"
secret = "opwatch-ticket-hook"
"""
SECRETS = ("opwatch-slack-webhook", "opwatch-ticket-hook")


def test_the_pager_alone_may_read_its_sinks_secrets():
    config, s, cmds = plan_of(EXAMPLE + SINKS)
    for f in functions(config, s):
        readable = {resource for role, resource, _ in grants(cmds, f.service_account)
                    if role == "roles/secretmanager.secretAccessor"}
        if f.entry_point == "pager":
            assert set(SECRETS) <= readable
        else:
            assert not set(SECRETS) & readable, f.name
    for secret in SECRETS:
        assert ["gcloud", "secrets", "describe", secret] == [a for a in next(
            c for c in cmds if c[:3] == ["gcloud", "secrets", "describe"] and secret in c) if
            not a.startswith("--")]
    assert not any("alertmanager.internal" in a for c in cmds for a in c)  # a plain URL: no grant, no secret
