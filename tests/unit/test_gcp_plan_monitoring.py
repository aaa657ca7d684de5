"""The GCP self-watch in the plan: Cloud Monitoring alert policies on function errors and dead
letters, e-mail channels from `[gcp] alarm_emails`, and the one step that converges them.

The policies are checked against gcloud's own AlertPolicy message definitions (the SDK on
this machine), and the step's script is run for real by bash, twice, against a gcloud
stand-in (no GCP project here) that keeps what was created in a folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from opwatch.config import ConfigError, load_config, parse_config
from opwatch.deploy import gcp_monitoring
from opwatch.deploy.gcp_plan import render_plan

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "gcp" / "example.toml"
SDK = Path("/usr/lib/google-cloud-sdk")

# A stand-in for the gcloud CLI's `alpha monitoring channels|policies` commands: it answers
# `list` from what earlier `create` calls stored under $STATE, prints a created resource's name
# as `--format=value(name)` would, and appends every argv to $STATE/calls.jsonl.
GCLOUD = r'''#!/usr/bin/env python3
"""Stand-in for gcloud `alpha monitoring channels|policies list|create|update` (tests only)."""
import json, os, sys
state = os.environ["STATE"]
argv = sys.argv[1:]
with open(os.path.join(state, "calls.jsonl"), "a") as log:
    log.write(json.dumps(argv) + "\n")
flags = dict(a[2:].split("=", 1) for a in argv if a.startswith("--") and "=" in a)
kind, verb = argv[2], argv[3]
store = os.path.join(state, kind + ".json")
known = json.load(open(store)) if os.path.exists(store) else {}
if verb == "list":
    key = flags["filter"].split('"')[-2]  # the address or the display name the filter names
    if key in known:
        print(known[key])
elif verb == "create":
    key = flags["channel-labels"].split("=", 1)[1] if kind == "channels" else json.loads(flags["policy"])["displayName"]
    known[key] = f"projects/{flags['project']}/{kind}/{len(known) + 1}"
    json.dump(known, open(store, "w"))
    print(known[key])
'''


@pytest.fixture(scope="module")
def settings():  # type: ignore[no-untyped-def]
    return load_config(EXAMPLE).section("gcp").with_overrides()


def test_both_policies_are_alert_policies_gcloud_accepts(settings, tmp_path):
    python = SDK / "platform" / "bundledpythonunix" / "bin" / "python3"
    if not python.exists():
        pytest.skip("no Google Cloud SDK with its bundled Python here")
    check = tmp_path / "check.py"
    check.write_text(
        "import json, sys\n"
        f"sys.path[:0] = [{str(SDK / 'lib')!r}, {str(SDK / 'lib' / 'third_party')!r}]\n"
        "from apitools.base.py import encoding\n"
        "from googlecloudsdk.generated_clients.apis.monitoring.v3 import monitoring_v3_messages as m\n"
        "def unknown(msg, path=''):\n"
        "    out = [path + '.' + f for f in msg.all_unrecognized_fields()]\n"
        "    for field in msg.all_fields():\n"
        "        v = msg.get_assigned_value(field.name)\n"
        "        for i in (v if isinstance(v, list) else [v]):\n"
        "            if hasattr(i, 'all_unrecognized_fields'):\n"
        "                out += unknown(i, path + '.' + field.name)\n"
        "    return out\n"
        "for p in json.load(sys.stdin):\n"
        "    msg = encoding.DictToMessage(p, m.AlertPolicy)\n"
        "    print(json.dumps([unknown(msg), len(msg.conditions)]))\n")
    ok = json.dumps(gcp_monitoring.policies(settings))
    out = subprocess.run([str(python), str(check)], input=ok, capture_output=True, text=True, check=True).stdout
    assert [json.loads(line) for line in out.splitlines()] == [[[], 1], [[], 1]]
    bad = json.dumps([{"displayName": "x", "conditions": [{"conditionThreshold": {"filtre": "typo"}}]}])
    out = subprocess.run([str(python), str(check)], input=bad, capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == [[".conditions.conditionThreshold.filtre"], 1]  # the check can fail


def test_errors_cover_every_function_and_dead_letters_the_subscription_the_plan_creates(settings):
    config = load_config(EXAMPLE)
    plan = render_plan(config, settings)
    errors, dead = (p["conditions"][0]["conditionThreshold"] for p in gcp_monitoring.policies(settings))
    assert 'starts_with("opwatch-")' in errors["filter"] and '"5xx"' in errors["filter"]
    assert errors["aggregations"][0]["groupByFields"] == ["resource.label.service_name"]  # the incident names it
    deployed = [s.create for s in plan if s.create[:3] == ("gcloud", "functions", "deploy")]
    assert deployed and all(argv[3].startswith("opwatch-") for argv in deployed)
    assert 'subscription_id = "opwatch-findings-dead"' in dead["filter"]
    assert any(s.create[:5] == ("gcloud", "pubsub", "subscriptions", "create", "opwatch-findings-dead")
               for s in plan)
    assert all(c["comparison"] == "COMPARISON_GT" and c["thresholdValue"] == 0 for c in (errors, dead))
    [step] = [s for s in plan if s.create[:2] == ("bash", "-c")]
    assert step.create == gcp_monitoring.converge_argv(settings, ("oncall@example.com",))
    assert "monitoring.googleapis.com" in plan[0].create


def _run(argv, state: Path) -> list[list[str]]:
    (state / "calls.jsonl").unlink(missing_ok=True)
    env = {**os.environ, "STATE": str(state), "PATH": f"{state / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(list(argv), env=env, check=True, capture_output=True, text=True, timeout=60)
    return [json.loads(line) for line in (state / "calls.jsonl").read_text().splitlines()]


@pytest.fixture()
def state(tmp_path):  # type: ignore[no-untyped-def]
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    (tmp_path / "bin").mkdir()
    gcloud = tmp_path / "bin" / "gcloud"
    gcloud.write_text(GCLOUD.replace("#!/usr/bin/env python3", f"#!{sys.executable}", 1))
    gcloud.chmod(0o755)
    return tmp_path


def test_the_step_creates_channels_and_policies_once_then_updates_them(settings, state):
    argv = gcp_monitoring.converge_argv(settings, ("oncall@example.com", "sre@example.com"))
    first = _run(argv, state)
    creates = [c for c in first if c[3] == "create"]
    assert [c[2] for c in creates] == ["channels", "channels", "policies", "policies"]
    sent = [json.loads(a.split("=", 1)[1]) for c in creates for a in c if a.startswith("--policy=")]
    assert sent == gcp_monitoring.policies(settings)  # the JSON arrives intact through bash
    channels = "--notification-channels=projects/opwatch-example/channels/1,projects/opwatch-example/channels/2"
    assert all(channels in c for c in creates if c[2] == "policies")

    again = _run(argv, state)
    assert not [c for c in again if c[3] == "create"]
    updates = [c for c in again if c[3] == "update"]
    assert [c[4] for c in updates] == ["projects/opwatch-example/policies/1", "projects/opwatch-example/policies/2"]
    assert all(channels.replace("--notification", "--set-notification") in c for c in updates)


def test_without_addresses_the_policies_exist_without_channels(settings, state):
    calls = _run(gcp_monitoring.converge_argv(settings, ()), state)
    assert [c[2:4] for c in calls] == [["policies", "list"], ["policies", "create"]] * 2
    assert not [a for c in calls for a in c if "notification-channels" in a]


@pytest.mark.parametrize("address", ["x; rm -rf ~", "a@b", "$(id)@example.com", "a b@example.com", "*@example.com"])
def test_alarm_emails_are_addresses_and_nothing_a_shell_reads_twice(address):
    text = EXAMPLE.read_text().replace('alarm_emails = ["oncall@example.com"]',
                                       f"alarm_emails = [{json.dumps(address)}]")
    with pytest.raises(ConfigError, match=r"gcp\.alarm_emails"):
        parse_config(text).section("gcp")


def test_cost_is_two_conditions_whatever_the_networks(settings):
    assert gcp_monitoring.conditions(settings) == 2
