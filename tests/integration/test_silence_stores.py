"""Silences in every alert store, through `opwatch silence` and `opwatch alerts --store`: one
contract, run against the real SQLite file, DynamoDB in a moto server over HTTP with real boto3
(the store built by the CLI from `dynamodb:TABLE`, `AWS_ENDPOINT_URL` pointing at moto), and
Firestore through the Firestore v1 REST stand-in (tests/firestore_standin.py; no emulator
runs here), `OPWATCH_FIRESTORE_ENDPOINT` pointing at it.

The contract: add prints an id and stores who, when and why; list shows active silences (and
with --all expired and removed ones, the audit); remove marks the record, never deletes it, and
is idempotent; an expired silence no longer suppresses; the alert manager on that store does
not page a silenced alert, pages it on the next evaluation once the silence is removed, and
pages anyway (with a warning) when the silence records cannot be read.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import count
from typing import Any

import pytest
from alerting_fixtures import Clock, RecordingSink, finding
from firestore_standin import FirestoreStandIn
from opwatch.alerting import AlertManager, AlertPolicy
from opwatch.alerting.silences import StoredSilence, operator
from opwatch.cli.main import main
from opwatch.findings import utc_now_iso
from remedies_fixtures import aws_client, start_moto

PROJECT = "opwatch-test"
KEY = "opwatch/mainnet/sequencer_liveness/sequencer"
_names = count()


@dataclass
class Backend:
    spec: str
    corrupt: Callable[[], None]  # writes one silence record the store cannot parse, as the backend stores it

    def store(self) -> Any:
        from opwatch.alerting.cli import open_store

        return open_store(self.spec)


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server, endpoint = start_moto()
    yield endpoint
    server.stop()


@pytest.fixture(scope="module")
def firestore() -> Iterator[FirestoreStandIn]:
    standin = FirestoreStandIn.start()
    yield standin
    standin.stop()


@pytest.fixture(params=["sqlite", "dynamodb", "firestore"])
def backend(request, tmp_path, monkeypatch) -> Backend:  # type: ignore[no-untyped-def]
    n = next(_names)
    if request.param == "sqlite":
        from opwatch.alerting import SqliteStore

        path = tmp_path / "alerts.db"
        SqliteStore(path).close()  # the file `opwatch watch --page --state` creates

        def corrupt_sqlite() -> None:
            with sqlite3.connect(path) as conn:
                conn.execute("INSERT INTO alert_silence (id, created, ended, doc) VALUES ('sil-000000000bad', "
                             "?, ?, '{')", (time.time(), time.time() + 3600))
        return Backend(f"sqlite:{path}", corrupt_sqlite)
    if request.param == "dynamodb":
        from opwatch.aws.alert_store import create_table

        endpoint = request.getfixturevalue("moto_endpoint")
        for name, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": "us-east-1",
                            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
            monkeypatch.setenv(name, value)
        table = f"opwatch-alerts-{n}"
        create_table(aws_client("dynamodb", endpoint), table)

        def corrupt_dynamodb() -> None:
            aws_client("dynamodb", endpoint).put_item(TableName=table, Item={
                "pk": {"S": "silence"}, "sk": {"S": "sil-000000000bad"}, "doc": {"S": "{"}})
        return Backend(f"dynamodb:{table}", corrupt_dynamodb)
    standin = request.getfixturevalue("firestore")
    monkeypatch.setenv("OPWATCH_FIRESTORE_ENDPOINT", standin.base_url.removesuffix("/v1"))
    database = f"db-{n}"

    def corrupt_firestore() -> None:
        import requests
        from opwatch.gcp.rest import FirestoreRest, integer, string, update

        rest = FirestoreRest(database, session=requests.Session(), project=PROJECT, base_url=standin.base_url)
        name = rest.name("alert_silence", "sil-000000000bad")
        rest.commit("corrupt", [update(name, {"doc": string("{"), "until": integer(int(time.time()) + 3600)})])
    return Backend(f"firestore:{PROJECT}/{database}", corrupt_firestore)


def cli(capsys, *argv: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def add(capsys, backend: Backend, *extra: str) -> str:  # type: ignore[no-untyped-def]
    code, out, err = cli(capsys, "silence", "add", "--store", backend.spec, "--network", "mainnet", *extra)
    assert code == 0, err
    return out.strip()


def test_add_list_remove_and_the_audit(backend, capsys):
    first = add(capsys, backend, "--check", "sequencer_liveness", "--for", "2h", "--reason", "node migration")
    end = int(time.time()) + 3 * 86400
    second = add(capsys, backend, "--until", utc_now_iso(end), "--reason", "whole network")
    assert first.startswith("sil-") and second.startswith("sil-") and first != second

    code, out, _ = cli(capsys, "silence", "list", "--store", backend.spec, "--format", "json")
    listed = json.loads(out)
    assert code == 0 and [s["id"] for s in listed] == [second, first]  # newest first
    mine = listed[1]
    assert mine["check"] == "sequencer_liveness" and mine["reason"] == "node migration"
    assert mine["created_by"] == operator() and abs(mine["created_at"] - time.time()) < 600
    assert 7000 < mine["until"] - mine["created_at"] < 7400 and mine["removed_at"] == 0
    assert listed[0]["check"] is None and listed[0]["until"] == end

    code, out, _ = cli(capsys, "silence", "remove", "--store", backend.spec, first)
    assert code == 0 and "removed" in out
    code, out, _ = cli(capsys, "silence", "remove", "--store", backend.spec, first)  # idempotent
    assert code == 0
    code, out, _ = cli(capsys, "silence", "list", "--store", backend.spec, "--format", "json")
    assert [s["id"] for s in json.loads(out)] == [second]
    code, out, _ = cli(capsys, "silence", "list", "--store", backend.spec, "--all", "--format", "json")
    audit = {s["id"]: s for s in json.loads(out)}
    assert set(audit) == {first, second}  # the removed one is kept, with who ended it and when
    assert audit[first]["removed_by"] == operator() and audit[first]["removed_at"] >= audit[first]["created_at"]
    assert audit[first]["reason"] == "node migration"
    code, out, _ = cli(capsys, "silence", "list", "--store", backend.spec, "--all")
    assert "removed" in out and "active" in out and "node migration" in out

    code, _, err = cli(capsys, "silence", "remove", "--store", backend.spec, "sil-0123456789ab")
    assert code == 1 and "no silence sil-0123456789ab" in err


def test_an_expired_silence_is_listed_as_expired_and_suppresses_nothing(backend, capsys):
    store = backend.store()
    now = time.time()
    store.add_silence(StoredSilence(id="sil-00000000e0e0", network="mainnet", check=None, until=now - 60,
                                    reason="last week's upgrade", created_by="alice@ops", created_at=now - 3600))
    with pytest.raises(ValueError):  # an id is never reused
        store.add_silence(StoredSilence(id="sil-00000000e0e0", network="mainnet", check=None, until=now + 60,
                                        reason="again", created_by="alice@ops", created_at=now))
    code, out, _ = cli(capsys, "silence", "list", "--store", backend.spec)
    assert code == 0 and "no active silences" in out
    code, out, _ = cli(capsys, "silence", "list", "--store", backend.spec, "--all")
    assert "expired" in out and "sil-00000000e0e0" in out
    sink = RecordingSink("pagerduty")
    AlertManager(store, [sink], AlertPolicy(), Clock(now)).process([finding("firing", 0)])
    assert sink.actions(KEY) == ["trigger"]


def test_the_manager_on_the_store_honours_a_silence_and_pages_once_it_is_removed(backend, capsys):
    silence = add(capsys, backend, "--check", "sequencer_liveness", "--for", "1h", "--reason", "failover drill")
    store = backend.store()
    sink, clock = RecordingSink("pagerduty"), Clock()
    manager = AlertManager(store, [sink], AlertPolicy(), clock)
    manager.process([finding("firing", 0)])
    manager.process([finding("firing", 60)])
    assert sink.sent == []
    [firing] = [t for t in store.transitions(KEY) if t.kind == "firing"]
    assert silence in firing.detail and "failover drill" in firing.detail  # the page that was not sent says why
    # The same check on another network is not silenced.
    manager.process([finding("firing", 60, network="sepolia")])
    assert [n.dedup_key for n in sink.sent] == ["opwatch/sepolia/sequencer_liveness/sequencer"]

    code, out, _ = cli(capsys, "alerts", "--store", backend.spec)
    assert code == 0 and "FIRING #1" in out and silence in out and "STORED SILENCES" in out

    assert cli(capsys, "silence", "remove", "--store", backend.spec, silence)[0] == 0
    manager.process([finding("firing", 120, network="sepolia")])  # the next evaluation, of any finding
    assert sink.actions(KEY) == ["trigger"]


def test_unreadable_silence_records_never_hold_back_a_page(backend, capsys, caplog):
    add(capsys, backend, "--for", "1h", "--reason", "maintenance")  # would silence the whole network
    backend.corrupt()
    sink = RecordingSink("pagerduty")
    with caplog.at_level(logging.WARNING, logger="opwatch.alerting"):
        AlertManager(backend.store(), [sink], AlertPolicy(), Clock()).process([finding("firing", 0)])
    assert sink.actions(KEY) == ["trigger"]
    assert any("stored silences could not be read" in r.getMessage() for r in caplog.records)
    # The operator's view says so too, instead of listing half the silences.
    code, _, err = cli(capsys, "silence", "list", "--store", backend.spec)
    assert code == 1 and backend.spec in err


def test_bad_silences_are_refused_before_anything_is_written(backend, capsys):
    for argv, why in [
        (["--for", "2h", "--reason", " "], "--reason"),
        (["--check", "no_such_check", "--for", "2h", "--reason", "x"], "unknown check"),
        (["--until", "2020-01-01T00:00:00Z", "--reason", "x"], "in the future"),
        (["--until", "2099-01-01T00:00:00", "--reason", "x"], "no zone"),
        (["--for", "soon", "--reason", "x"], "expected a duration"),
        (["--for", "800h", "--reason", "x"], "at most 30 days"),
        (["--network", "main net", "--for", "2h", "--reason", "x"], "--network"),
    ]:
        network = [] if "--network" in argv else ["--network", "mainnet"]
        code, _, err = cli(capsys, "silence", "add", "--store", backend.spec, *network, *argv)
        assert code == 2 and why in err, (argv, err)
    assert backend.store().stored_silences() == []


def test_a_store_that_does_not_exist_or_cannot_be_named_is_a_usage_error(tmp_path, capsys):
    for spec, why in [(f"sqlite:{tmp_path / 'typo.db'}", "no such state file"), ("alerts.db", "KIND:WHERE"),
                      ("redis:x", "not available in this runtime")]:
        code, _, err = cli(capsys, "silence", "list", "--store", spec)
        assert code == 2 and why in err, err
        code, _, err = cli(capsys, "alerts", "--store", spec)
        assert code == 2 and why in err, err
    assert not (tmp_path / "typo.db").exists()


@pytest.mark.parametrize("action", ["add", "list", "remove"])
def test_each_silence_action_says_its_stores_choices_and_exit_codes(action, capsys):
    with pytest.raises(SystemExit) as done:
        main(["silence", action, "--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0
    assert "exit codes: 0" in out and "--format {table,json}" in out
    assert "dynamodb:TABLE" in out and "AlertTable" in out and "firestore:PROJECT/DATABASE" in out
