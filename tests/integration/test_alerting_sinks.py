"""Slack and JSON webhook sinks, declared in [alerting.sinks], built by the composition root,
delivering over real HTTP to the stand-in of Slack's incoming webhooks (tests/slack_standin.py).
Their URLs are credentials: read from the secret source at call time, never in a transition,
dead letter or error."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from alerting_fixtures import T0, finding
from opwatch import compose
from opwatch.alerting import Kind, SqliteStore
from opwatch.config import parse_config
from opwatch.findings import Status
from pagerduty_standin import EventsStandIn
from slack_standin import WebhookStandIn

ROUTING_KEY = "R0UT1NGKEY0000000000000000000000"

CONFIG = """
[networks.mainnet]
l1_rpc = "http://127.0.0.1:8545"
l2_rpc = "http://127.0.0.1:9545"
l1_chain_id = 1
l2_chain_id = 10
block_time = "2s"

[alerting]
runbook_base_url = "https://git.example/opwatch/blob/main"
routes = { critical = ["chat", "hook"], warning = ["chat"] }
[alerting.checks.sequencer_liveness]
fire_after = 1
resolve_after = 1
[alerting.sinks.chat]
type = "slack"
secret = "opwatch-slack-webhook"
[alerting.sinks.hook]
type = "webhook"
secret = "opwatch-hook"
"""

DIAGNOSIS = [{"cause": "op_node_down", "holds": True, "measured": "connection refused", "text": "op-node is down"},
             {"cause": "engine_stuck", "holds": False, "measured": "head advances", "text": "the engine is stuck"},
             {"cause": "drift", "holds": None, "measured": "L1 unreachable", "text": "sequencer drift"}]


@pytest.fixture
def standin() -> Iterator[WebhookStandIn]:
    server = WebhookStandIn.start()
    events = EventsStandIn.start()
    server.events = events  # type: ignore[attr-defined]
    yield server
    events.stop()
    server.stop()


def manager(tmp_path, monkeypatch, standin, slack_url=None):
    monkeypatch.setenv("OPWATCH_SECRET_OPWATCH_SLACK_WEBHOOK", slack_url or standin.url)
    monkeypatch.setenv("OPWATCH_SECRET_OPWATCH_HOOK", standin.hook_url)
    return compose.alert_manager(parse_config(CONFIG), SqliteStore(tmp_path / "alerts.db"), lambda: ROUTING_KEY,
                                 pagerduty_base_url=standin.events.base_url)


def test_slack_gets_a_block_kit_trigger_with_diagnosis_and_runbook_then_a_resolve(tmp_path, monkeypatch, standin):
    m = manager(tmp_path, monkeypatch, standin)
    m.process([finding(Status.FIRING, 0, diagnosis=DIAGNOSIS)])
    m.process([finding(Status.OK, 60)])
    assert standin.rejected == []
    trigger, resolve = standin.slack
    assert "CRITICAL" in trigger["blocks"][0]["text"]["text"] and "sequencer_liveness" in trigger["text"]
    text = json.dumps(trigger["blocks"])
    assert "op-node is down" in text and "ruled out" in text and "could not tell" in text
    button = trigger["blocks"][-1]["elements"][0]
    assert button["url"] == "https://git.example/opwatch/blob/main/docs/runbooks/sequencer_liveness.md"
    assert "RESOLVED" in resolve["blocks"][0]["text"]["text"] and "opwatch/mainnet/sequencer_liveness" in \
        json.dumps(resolve)


def test_slack_message_stays_within_block_kit_limits_for_a_huge_summary(tmp_path, monkeypatch, standin):
    m = manager(tmp_path, monkeypatch, standin)
    huge = finding(Status.FIRING, 0, target="x" * 400, diagnosis=DIAGNOSIS * 200)
    huge = replace(huge, summary="s" * 10_000)
    m.process([huge])
    assert standin.rejected == [] and len(standin.slack) == 1


def test_json_webhook_gets_the_finding_and_transition(tmp_path, monkeypatch, standin):
    m = manager(tmp_path, monkeypatch, standin)
    m.process([finding(Status.FIRING, 0, diagnosis=DIAGNOSIS)])
    m.process([finding(Status.OK, 60)])
    trigger, resolve = standin.hooks
    assert (trigger["version"], trigger["action"], resolve["action"]) == (1, "trigger", "resolve")
    assert trigger["check"] == "sequencer_liveness" and trigger["network"] == "mainnet"
    assert trigger["details"]["details"]["diagnosis"] == DIAGNOSIS and trigger["observed"]
    assert trigger["runbook_url"].endswith("docs/runbooks/sequencer_liveness.md")
    assert resolve["dedup_key"] == trigger["dedup_key"]


def test_a_refused_webhook_url_never_appears_in_transitions_or_dead_letters(tmp_path, monkeypatch, standin):
    wrong = standin.url.replace("XXXXsecretXXXX", "YYYYsecretYYYY")  # Slack answers 404 no_service
    m = manager(tmp_path, monkeypatch, standin, slack_url=wrong)
    out = m.process([finding(Status.FIRING, 0)])
    undeliverable = [t for t in out if t.kind == Kind.UNDELIVERABLE]
    assert undeliverable and "404" in undeliverable[0].detail and "(final)" in undeliverable[0].detail
    stored = json.dumps([t.to_dict() for t in out] + [d.to_dict() for d in m.store.dead_letters()])
    assert "YYYYsecretYYYY" not in stored and "127.0.0.1" not in stored
    assert len(standin.hooks) == 2  # the trigger, and the alarm that chat could not be told
    assert "YYYYsecretYYYY" not in json.dumps(standin.hooks) + json.dumps(standin.events.accepted)
    assert standin.events.actions() == ["trigger"]  # the opwatch_paging alarm, on PagerDuty too


def test_a_missing_secret_is_a_retryable_delivery_error_naming_the_variable(tmp_path, monkeypatch, standin):
    m = manager(tmp_path, monkeypatch, standin)
    monkeypatch.delenv("OPWATCH_SECRET_OPWATCH_SLACK_WEBHOOK")
    out = m.process([finding(Status.FIRING, time.time() - T0)])
    detail = next(t.detail for t in out if t.kind == Kind.UNDELIVERABLE)
    assert "OPWATCH_SECRET_OPWATCH_SLACK_WEBHOOK" in detail and "(final)" not in detail
