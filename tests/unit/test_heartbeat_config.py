"""`[heartbeat]`: peers named in the config, validated once, and the GCP plan built from them (no env var)."""

from __future__ import annotations

import pytest
from opwatch.checks import Context
from opwatch.checks.base import why_skipped
from opwatch.checks.heartbeat import CHECK
from opwatch.config import ConfigError, load_config, parse_config
from opwatch.deploy.gcp import GcpSettings
from opwatch.deploy.gcp_plan import functions, render_plan
from opwatch.runner import run_checks

NET = """
[networks.n]
l1_rpc = "http://127.0.0.1:1"
l2_rpc = "http://127.0.0.1:2"
l1_chain_id = 1
l2_chain_id = 2
block_time = "2s"
"""


@pytest.mark.parametrize("table, problem", [
    ('aws = { bucket = "b-aws" }', "heartbeat.aws.region"),
    ('gcp = { bucket = "B!" }', "heartbeat.gcp.bucket"),
    ('gcp = { bucket = "beats", read_key = "gcp-secretmanager:x" }', "heartbeat.gcp.read_key"),  # AWS reads it
    ('aws = { bucket = "beats", region = "us-east-1", endpoint = "http://evil.example" }', "heartbeat.aws.endpoint"),
    ('azure = { bucket = "beats" }', "heartbeat.azure"),
])
def test_a_wrong_peer_is_a_config_error_naming_the_key(table, problem):
    with pytest.raises(ConfigError) as err:
        parse_config(NET + "[heartbeat]\n" + table + "\n")
    assert any(p.startswith(problem) for p in err.value.problems)


def test_the_gcp_plan_takes_beats_and_peers_from_heartbeat_not_the_environment():
    config = load_config("gcp/example.toml")
    s = GcpSettings(**{**{f: getattr(config.section("gcp"), f) for f in ("project", "region", "project_number")}})
    fns = {f.entry_point: f for f in functions(config, s)}
    assert "heartbeat" in fns  # [heartbeat.aws] names a peer for GCP to read
    assert not [k for f in fns.values() for k, _ in f.env if k.startswith("OPWATCH_HEARTBEAT")]
    shell = "\n".join(" ".join(a) for step in render_plan(config, s) for a in step.argvs())
    beats = config.section("heartbeat")
    assert f"buckets create gs://{beats.own('gcp').bucket}" in shell
    secret = beats.own("aws").read_key.partition(":")[2].split("/versions/")[0]
    account = fns["heartbeat"].service_account
    assert f"secrets add-iam-policy-binding {secret} --member=serviceAccount:{account}" in shell


def _heartbeat(table: str):  # type: ignore[no-untyped-def]
    return parse_config(NET + ("[heartbeat]\n" + table + "\n" if table else ""))


AWS_PEER = 'aws = { bucket = "aws-beats", region = "us-east-1" }'
GCP_PEER = 'gcp = { bucket = "gcp-beats" }'


@pytest.mark.parametrize("table, cloud", [
    ("", None),  # the CLI on a config without [heartbeat] (the devnet): nothing to read
    ("", "aws"),
    (AWS_PEER, "aws"),  # only this cloud's own beats: no peer to read
    (GCP_PEER, "gcp"),
])
def test_the_heartbeat_is_skipped_where_there_is_no_peer_to_read(table, cloud):
    config = _heartbeat(table)
    ctx = Context(config.network("n"), config=config, cloud=cloud)
    why = why_skipped(CHECK, ctx)
    assert why and "[heartbeat]" in why
    run = run_checks(config, check_ids=["heartbeat"], cloud=cloud)
    assert run.findings == [] and [(n, c) for n, c, _ in run.skipped] == [("n", "heartbeat")]


@pytest.mark.parametrize("table, cloud", [
    (AWS_PEER, None), (GCP_PEER, None),  # the CLI reads every peer named
    (AWS_PEER + "\n" + GCP_PEER, "aws"), (AWS_PEER + "\n" + GCP_PEER, "gcp"),
    (GCP_PEER, "aws"), (AWS_PEER, "gcp"),
])
def test_the_heartbeat_runs_where_another_clouds_beats_are_named(table, cloud):
    config = _heartbeat(table)
    assert why_skipped(CHECK, Context(config.network("n"), config=config, cloud=cloud)) is None


# What the GCP bundle's requirements install, and nothing else of this venv, must import the
# S3-protocol reader GCP's heartbeat function reads AWS's beats with (aws/beats.py).
_ONLY_THE_BUNDLE = r"""
import importlib.abc, importlib.metadata as md, re, sys
allowed = set(sys.argv[1:])
def closure(names):
    seen, todo = set(), list(names)
    while todo:
        name = re.split(r"[\s\[<>=!~;(]", todo.pop(), maxsplit=1)[0].lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        todo += [r for r in dist.requires or [] if "extra ==" not in r]
    return seen
dists = closure(allowed)
tops = {top for top, owners in md.packages_distributions().items()
        if any(o.lower().replace("_", "-") in dists for o in owners)}
class OnlyTheBundle(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in sys.stdlib_module_names or top in tops or top in ("opwatch", "_distutils_hack"):
            return None
        raise ModuleNotFoundError(f"{top} is not in the GCP bundle's requirements", name=name)
sys.meta_path.insert(0, OnlyTheBundle())
from opwatch.checks.heartbeat import Peer
from opwatch.aws.beats import S3ProtocolBeatSource
peer = Peer("aws", "beats", "us-east-1", "http://127.0.0.1:9")
S3ProtocolBeatSource(peer, lambda: '{"access_key_id": "AKIDTEST", "secret_access_key": "x"}')._build()
print("imported")
"""


def test_the_gcp_bundle_requirements_import_the_beat_reader():
    import subprocess
    import sys

    from opwatch.deploy.gcp_cli import BUNDLE_REQUIREMENTS

    result = subprocess.run([sys.executable, "-c", _ONLY_THE_BUNDLE, *BUNDLE_REQUIREMENTS], capture_output=True,
                            text=True, timeout=300)
    assert result.stdout.strip() == "imported", result.stderr[-2000:]


@pytest.mark.parametrize("line", ['heartbeat_bucket = "opwatch-heartbeats"',
                                  'heartbeat_peers = { aws = "https://beats.example/heartbeat/aws/{network}.json" }'])
def test_the_old_gcp_heartbeat_keys_are_errors_pointing_to_the_heartbeat_section(line):
    with pytest.raises(ConfigError) as err:
        parse_config(NET + '[gcp]\nproject = "opwatch-test"\n' + line + "\n")
    key = line.split(" =")[0]
    [problem] = [p for p in err.value.problems if p.startswith(f"gcp.{key}")]
    assert "[heartbeat]" in problem


def test_smoke_reads_the_watchdogs_peers_from_heartbeat_not_the_environment(monkeypatch):
    from opwatch.cli.compose import registry
    from opwatch.smoke import FAIL, SKIPPED, heartbeat_gate
    from opwatch.smoke_cli import heartbeat_sources

    # The old variable names a peer; it is no longer read: flags or [heartbeat] only.
    monkeypatch.setenv("OPWATCH_HEARTBEAT_PEERS", "gcp=https://g.example/{network}.json")
    assert heartbeat_sources(None) == {}
    bare = _heartbeat("")
    gate = heartbeat_gate(bare.network("n"), bare, {}, 300.0, registry=registry())
    assert gate.status == SKIPPED and "[heartbeat]" in gate.reason
    # A peer named in [heartbeat] is read (here: nothing answers, so the gate cannot pass).
    named = _heartbeat('aws = { bucket = "aws-beats", region = "us-east-1", endpoint = "http://127.0.0.1:9" }')
    gate = heartbeat_gate(named.network("n"), named, {}, 300.0, registry=registry())
    assert gate.status == FAIL and [(f.check, f.target, str(f.status)) for f in gate.findings] == \
        [("heartbeat", "peer", "unknown")]
