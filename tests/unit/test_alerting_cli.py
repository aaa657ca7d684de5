"""`opwatch alerts --state FILE`: open alerts, recent transitions, undelivered pages."""

from __future__ import annotations

import argparse
import io
import json

from alerting_fixtures import Clock, RecordingSink, finding
from opwatch.alerting import AlertManager, AlertPolicy, SqliteStore, cli
from opwatch.alerting.sinks import DeliveryError


def parse(argv):
    parser = argparse.ArgumentParser(prog="opwatch")
    cli.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def populate(path):
    store = SqliteStore(path)
    pager = RecordingSink("pagerduty")
    pager.fail = DeliveryError("HTTP 400: Event object is invalid", retryable=False)
    manager = AlertManager(store, [pager], AlertPolicy(), Clock())
    manager.process([finding("firing", 0)])
    manager.process([finding("firing", 0, check="rpc_sync", target="node-a")])
    store.close()


def test_lists_open_alerts_recent_transitions_and_undelivered_pages(tmp_path):
    path = tmp_path / "alerts.db"
    populate(path)
    out = io.StringIO()
    assert cli.run(parse(["alerts", "--state", str(path)]), out) == 0
    text = out.getvalue()
    assert "OPEN ALERTS" in text and "FIRING #1" in text and "mainnet/sequencer_liveness/sequencer" in text
    assert "PENDING" in text and "mainnet/rpc_sync/node-a" in text
    assert "RECENT TRANSITIONS" in text and "undeliverable" in text and "UNDELIVERED" in text


def test_json_output_and_one_keys_history(tmp_path):
    path = tmp_path / "alerts.db"
    populate(path)
    out = io.StringIO()
    key = "opwatch/mainnet/sequencer_liveness/sequencer"
    assert cli.run(parse(["alerts", "--state", str(path), "--key", key, "--format", "json"]), out) == 0
    data = json.loads(out.getvalue())
    assert [a["key"] for a in data["open"]] == [key]
    assert [t["kind"] for t in data["transitions"]] == ["undeliverable", "firing", "pending"]


def test_a_missing_state_file_is_a_usage_error(tmp_path):
    assert cli.run(parse(["alerts", "--state", str(tmp_path / "none.db")]), io.StringIO()) == 2
