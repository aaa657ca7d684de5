"""`[heartbeat]`: peers named in the config, validated once, and the GCP plan built from them (no env var)."""

from __future__ import annotations

import pytest
from opwatch.config import ConfigError, load_config, parse_config
from opwatch.deploy.gcp import GcpSettings
from opwatch.deploy.gcp_plan import functions, render_plan

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
