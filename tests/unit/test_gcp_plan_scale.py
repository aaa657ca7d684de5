"""The GCP plan at 1, 10, 30 and 100 networks: it renders, every Pub/Sub filter fits in 256 bytes,
and the routing stays what the plan promises.

Past about five networks the network clause no longer fits in a filter; the plan then passes
findings of any network and the receiving function refuses the ones the clause would have left
out. So the routing is the filter AND the function: the tests below evaluate the rendered filter
with `filters.matches` (as Pub/Sub would) and then hand what passes to the real entry points'
refusal, in process (tests/integration/test_gcp_functions.py and test_gcp_remedy_function.py do
the same through functions-framework over HTTP).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cloudevents.http import CloudEvent
from opwatch.config import parse_config
from opwatch.deploy.gcp_plan import (
    ANY_NETWORK,
    functions,
    names_networks,
    pager_filter,
    remedy_filter,
    remedy_networks,
    render_plan,
)
from opwatch.findings import Finding, Measure, Severity, Status
from opwatch.gcp import filters, main
from opwatch.gcp.events import MESSAGE_PUBLISHED, BadEvent
from opwatch.remedies.request import TRIGGERS

from bench.gcp_counts import network_names, plan_counts, scale_config

SIZES = (1, 10, 30, 100)


def rendered(n: int) -> tuple[Any, list[tuple[str, ...]], list[str]]:
    config = parse_config(scale_config(n))
    steps = render_plan(config, config.section("gcp").with_overrides())
    subscriptions = [s.create for s in steps if s.create[1:4] == ("pubsub", "subscriptions", "create")]
    comments = [s.comment for s in steps if s.create[1:4] == ("pubsub", "subscriptions", "create")]
    return config, subscriptions, comments


def message_filter(argv: tuple[str, ...]) -> str:
    return next(a for a in argv if a.startswith("--message-filter=")).split("=", 1)[1]


def finding(network: str, check: str = "sequencer_liveness", status: Status = Status.FIRING) -> Finding:
    return Finding(network, check, "sequencer", status, Severity.CRITICAL, "head is 60 s old",
                   Measure(60.0, "s"), Measure(30.0, "s"), "2026-12-02T07:00:00Z")


@pytest.mark.parametrize("n", SIZES)
def test_the_plan_renders_and_every_filter_fits_in_pubsubs_256_bytes(n):
    config, subscriptions, _ = rendered(n)
    assert len(config.networks) == n
    # The pager's, and one per remedy that runs on GCP for some network, plus the dead letters.
    assert len(subscriptions) == 5
    for argv in subscriptions:
        if any(a.startswith("--message-filter=") for a in argv):
            expression = message_filter(argv)
            assert len(expression.encode()) <= filters.MAX_FILTER_BYTES, expression
            filters.compile_filter(expression)  # parses as Pub/Sub's grammar


@pytest.mark.parametrize("n", SIZES)
def test_the_deployment_does_not_grow_with_the_networks(n):
    counts = plan_counts(scale_config(n))
    assert counts["networks"] == n
    # One function per check over every network, the pager, one per remedy: the same at 1 and 100.
    assert {k: counts[k] for k in ("functions", "scheduler_jobs", "subscriptions", "alert_conditions")} == {
        "functions": 16, "scheduler_jobs": 12, "subscriptions": 5, "alert_conditions": 2}
    assert counts["longest_filter_bytes"] <= filters.MAX_FILTER_BYTES


def test_filters_name_the_networks_while_they_fit_and_the_plan_says_when_they_do_not():
    _, one, one_comments = rendered(1)
    assert all(names_networks(message_filter(a)) for a in one if any(x.startswith("--message-filter") for x in a))
    assert not any("refuses" in c for c in one_comments)
    _, many, comments = rendered(100)
    pager = next(a for a in many if a[4] == "opwatch-pager")
    assert message_filter(pager) == f"{ANY_NETWORK} AND attributes:check AND attributes:status"
    assert "the pager refuses" in comments[0]
    assert sum("function refuses" in c for c in comments) == 3  # topup, snapshot, failover


def test_a_clause_that_fits_is_kept_byte_for_byte():
    config = parse_config(scale_config(4))  # four names of at most six letters still fit
    expression = pager_filter(config)
    assert names_networks(expression) and expression.startswith('(attributes.network = "l2" OR ')
    assert remedy_filter("topup", ["l2", "l3-002"]) == (
        'attributes.check = "wallet_runway" AND attributes.status = "firing" AND '
        '(attributes.network = "l2" OR attributes.network = "l3-002")')


def test_at_100_networks_the_pager_filter_routes_every_status_of_network_57():
    _, subscriptions, _ = rendered(100)
    name = network_names(100)[56]  # the 57th network
    expression = message_filter(next(a for a in subscriptions if a[4] == "opwatch-pager"))
    for status in Status:
        assert filters.matches(expression, finding(name, status=status).attributes())
    assert not filters.matches(expression, {"check": "x", "status": "ok"})  # no network: never routed


def test_at_100_networks_a_firing_trigger_finding_of_an_enabled_network_reaches_its_remedy():
    config, subscriptions, _ = rendered(100)
    enabled = remedy_networks(config)
    assert len(enabled["topup"]) == 50 and "l3-056" in enabled["topup"] and "l3-057" not in enabled["topup"]
    for remedy in ("topup", "snapshot", "failover"):
        [trigger] = [c for c, r in TRIGGERS.items() if r == remedy]
        expression = message_filter(next(a for a in subscriptions if a[4] == f"opwatch-remedy-{remedy}"))
        assert filters.matches(expression, finding("l3-056", trigger).attributes())
        assert not filters.matches(expression, finding("l3-056", trigger, Status.UNKNOWN).attributes())
        assert not filters.matches(expression, finding("l3-056", "rpc_sync").attributes())


# --- the functions' side: what the filter no longer leaves out, they refuse -----------------

@pytest.fixture
def deployed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """gcp/main.py's caches pointed at a 100-network config, as the plan deploys it."""
    (tmp_path / "opwatch.toml").write_text(scale_config(100))
    monkeypatch.setenv("OPWATCH_CONFIG", str(tmp_path / "opwatch.toml"))
    monkeypatch.delenv("OPWATCH_CONFIG_SECRET", raising=False)
    monkeypatch.delenv("OPWATCH_PAGERDUTY_SECRET", raising=False)
    caches = (main._config, main._pushed_networks, main._manager)
    for cache in caches:
        cache.cache_clear()
    yield main
    for cache in caches:
        cache.cache_clear()


def envelope(f: Finding, subscription: str) -> dict[str, Any]:
    return {"message": {"data": base64.b64encode(f.to_json().encode()).decode(), "attributes": f.attributes(),
                        "messageId": "m-1"}, "subscription": f"projects/opwatch-example/subscriptions/{subscription}"}


def test_the_pager_refuses_a_finding_of_a_network_the_config_does_not_name(deployed, capsys):
    event = CloudEvent({"type": MESSAGE_PUBLISHED, "source": "//pubsub.googleapis.com/x"},
                       envelope(finding("l3-100"), "opwatch-pager"))
    # It passes the 100-network filter (any network) ...
    assert filters.matches(pager_filter(deployed._config()), finding("l3-100").attributes())
    # ... and is acknowledged without reaching the alert lifecycle: building it would need
    # OPWATCH_PAGERDUTY_SECRET, which is unset here (KeyError), so returning proves it never did.
    deployed.pager(event)
    line = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert line["severity"] == "ERROR" and "refused a finding of network 'l3-100'" in line["message"]
    known = CloudEvent({"type": MESSAGE_PUBLISHED, "source": "//pubsub.googleapis.com/x"},
                       envelope(finding("l3-056"), "opwatch-pager"))
    with pytest.raises(KeyError, match="OPWATCH_PAGERDUTY_SECRET"):
        deployed.pager(known)  # a configured network goes on to the lifecycle


@pytest.mark.parametrize("network, why", [
    ("l3-100", "not in the config"),
    ("l3-057", "configured, its remedies not on GCP"),
])
def test_a_remedy_function_refuses_a_pushed_finding_of_a_network_it_does_not_serve(
        deployed, monkeypatch, network, why):
    monkeypatch.setenv("OPWATCH_REMEDIES", "topup")
    body = envelope(finding(network, "wallet_runway"), "opwatch-remedy-topup")
    with pytest.raises(BadEvent, match=f"network '{network}': topup does not run on GCP for it"):
        deployed._remedy_request(body, True, "gcp:push")
    # A network it serves is let through to the remedy, which applies its own guards.
    request = deployed._remedy_request(envelope(finding("l3-056", "wallet_runway"), "opwatch-remedy-topup"),
                                       True, "gcp:push")
    assert (request.remedy, request.network) == ("topup", "l3-056")


def test_the_remedy_function_answers_a_refused_push_with_200_so_it_is_not_redelivered(deployed, monkeypatch):
    from flask import Flask

    monkeypatch.setenv("OPWATCH_REMEDIES", "snapshot")
    body = envelope(finding("l3-057", "snapshot_freshness"), "opwatch-remedy-snapshot")
    with Flask(__name__).test_request_context("/", method="POST", json=body):
        from flask import request

        text, code, _ = deployed.remedy(request)
    assert code == 200 and json.loads(text)["status"] == "rejected"
    assert "snapshot does not run on GCP for it" in json.loads(text)["reason"]


def test_every_function_the_plan_deploys_reads_the_config_it_routes_by():
    config = parse_config(scale_config(100))
    for f in functions(config, config.section("gcp").with_overrides()):
        if f.entry_point in ("pager", "remedy"):
            assert dict(f.env).get("OPWATCH_CONFIG_SECRET") or dict(f.env).get("OPWATCH_CONFIG")


def test_a_config_too_large_for_one_secret_version_is_refused_at_plan_time_not_at_upload(tmp_path):
    from opwatch.config import ConfigError, load_config

    text = scale_config(100)
    assert len(text.encode()) > 64 * 1024
    path = tmp_path / "opwatch.toml"
    path.write_text(text.replace('[gcp]\n', '[gcp]\nconfig_secret = "opwatch-config"\n'))
    config = load_config(path)
    with pytest.raises(ConfigError, match=r"opwatch\.toml is \d+ bytes, over the 65536 bytes Secret Manager keeps"):
        render_plan(config, config.section("gcp").with_overrides())
    path.write_text(text)  # bundled with the functions instead: no such limit
    config = load_config(path)
    assert render_plan(config, config.section("gcp").with_overrides())
    small = tmp_path / "small.toml"
    small.write_text(scale_config(30).replace('[gcp]\n', '[gcp]\nconfig_secret = "opwatch-config"\n'))
    config = load_config(small)
    assert render_plan(config, config.section("gcp").with_overrides())


@pytest.mark.parametrize("n, instances", [(1, 2), (10, 10), (30, 30), (100, 100)])
def test_the_pagers_instances_grow_with_the_networks_and_the_checks_do_not(n, instances):
    """The pager takes one push at a time per instance and every network's findings arrive at the
    same minute ticks: with two instances at 100 networks, pushes would be refused and retried
    into the dead-letter topic. The check functions run every network in one invocation."""
    config = parse_config(scale_config(n))
    s = config.section("gcp").with_overrides()
    deploys = {argv[3]: argv for step in render_plan(config, s) for argv in step.argvs()
               if argv[1:3] == ("functions", "deploy")}
    def max_instances(name: str) -> int:
        return int(next(a for a in deploys[name] if a.startswith("--max-instances=")).split("=")[1])
    assert max_instances(s.name("pager")) == instances
    assert {max_instances(name) for name in deploys if name != s.name("pager")} == {s.max_instances}
