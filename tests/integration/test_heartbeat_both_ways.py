"""The dead-man switch both ways: each cloud's beat, written by its own writer into its own
bucket, is read by the other cloud's `heartbeat` check through the registry that cloud's
runtime ships, with the key pair from its secret store; peers come from `[heartbeat]`.

AWS side: S3 on a moto server (writer: `aws.beats.S3BeatWriter`). GCP side: gcp-storage-emulator
(writer: `gcp.beats.BeatWriter`, the JSON API); the AWS reader reads it through the XML path
the emulator serves, as it reads Cloud Storage's S3-compatible XML API. The key secret is an
`env:` secret handed in through the seams (the secret stores have tests of their own).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
import requests
from opwatch.aws.beats import S3BeatWriter
from opwatch.checks import Context, evaluate
from opwatch.checks.base import Resources, why_skipped
from opwatch.checks.heartbeat import CHECK, Beat
from opwatch.config import parse_config
from opwatch.findings import Status
from opwatch.gcp.beats import BeatWriter
from remedies_fixtures import aws_client, free_port, start_moto
from test_remedies_gcs import PROJECT, running_emulator

NOW = 1_700_000_000.0
KEY = json.dumps({"access_key_id": "AKIDTESTREADER", "secret_access_key": "not-a-real-secret"})


@pytest.fixture(scope="module")
def moto():
    server, endpoint = start_moto()
    aws_client("s3", endpoint).create_bucket(Bucket="aws-beats")
    yield endpoint
    server.stop()


@pytest.fixture(scope="module")
def gcs(tmp_path_factory):
    with running_emulator(tmp_path_factory.mktemp("gcs")) as endpoint:
        requests.post(f"{endpoint}/storage/v1/b", params={"project": PROJECT}, json={"name": "gcp-beats"},
                      timeout=10).raise_for_status()
        yield endpoint


def config(s3: str, gcs: str, max_age: str = "5m"):  # type: ignore[no-untyped-def]
    return parse_config(f"""
[networks.mainnet]
l1_rpc = "http://127.0.0.1:9"
l2_rpc = "http://127.0.0.1:9"
l1_chain_id = 1
l2_chain_id = 10
block_time = "2s"

[heartbeat]
max_age = "{max_age}"
aws = {{ bucket = "aws-beats", region = "us-east-1", endpoint = "{s3}", read_key = "env:AWS_BEATS_KEY" }}
gcp = {{ bucket = "gcp-beats", endpoint = "{gcs}", read_key = "env:GCS_BEATS_KEY" }}
""")


class EmulatorSession(requests.Session):
    """The emulator parses a media upload sent as application/json into a dict and then fails to
    checksum it (an emulator bug; Cloud Storage stores the bytes): the beat goes up as text."""

    def post(self, url, data=None, json=None, **kwargs):  # type: ignore[no-untyped-def,override]
        kwargs["headers"] = {**kwargs.get("headers", {}), "Content-Type": "text/plain"}
        return super().post(url, data=data, json=json, **kwargs)


def gcp_writer(gcs: str) -> BeatWriter:
    return BeatWriter("gcp-beats", session=EmulatorSession(), endpoint=gcs)


@dataclass
class Seams:
    environ: dict[str, str] = field(default_factory=lambda: {"AWS_BEATS_KEY": KEY, "GCS_BEATS_KEY": KEY})


def heartbeat_on(cloud: str, cfg, now: float = NOW, seams: Seams | None = None):  # type: ignore[no-untyped-def]
    """The heartbeat check as `cloud`'s runtime runs it: its registry, its cloud, the config."""
    if cloud == "aws":
        from opwatch.aws.compose import registry
    else:
        from opwatch.gcp.compose import registry
    ctx = Context(cfg.network("mainnet"), clock=lambda: now, config=cfg, registry=registry(), cloud=cloud,
                  seams=seams or Seams(), resources=Resources())
    [finding] = evaluate(CHECK, ctx)
    return finding


def test_gcp_reads_the_beat_aws_wrote_to_s3(moto, gcs):
    S3BeatWriter("aws-beats", s3_client=aws_client("s3", moto)).write(Beat("aws", "mainnet", NOW - 42, findings=3))
    f = heartbeat_on("gcp", config(moto, gcs))
    assert f.status == Status.OK and f.details["peer"] == "aws" and f.observed.value == 42.0
    assert f.details["beat_findings"] == 3


def test_aws_reads_the_beat_gcp_wrote_to_gcs(moto, gcs):
    gcp_writer(gcs).write(Beat("gcp", "mainnet", NOW - 7, findings=5))
    f = heartbeat_on("aws", config(moto, gcs))
    assert f.status == Status.OK and f.details["peer"] == "gcp" and f.observed.value == 7.0


@pytest.mark.parametrize("reader", ["aws", "gcp"])
def test_a_stopped_writer_fires_on_the_other_side(moto, gcs, reader):
    writer = "gcp" if reader == "aws" else "aws"
    if writer == "aws":
        S3BeatWriter("aws-beats", s3_client=aws_client("s3", moto)).write(Beat("aws", "mainnet", NOW))
    else:
        gcp_writer(gcs).write(Beat("gcp", "mainnet", NOW))
    assert heartbeat_on(reader, config(moto, gcs)).status == Status.OK
    # Six minutes on, no new beat: the writer has stopped.
    f = heartbeat_on(reader, config(moto, gcs), now=NOW + 360)
    assert f.status == Status.FIRING and f.details["peer"] == writer and "stopped" in f.summary


@pytest.mark.parametrize("reader", ["aws", "gcp"])
def test_a_peer_that_never_wrote_fires(moto, gcs, reader):
    # Buckets that exist but hold no beat: the peer never wrote one for this network.
    aws_client("s3", moto).create_bucket(Bucket=f"empty-{reader}")
    requests.post(f"{gcs}/storage/v1/b", params={"project": PROJECT}, json={"name": f"empty-{reader}"}, timeout=10)
    text = f"""
[networks.mainnet]
l1_rpc = "http://127.0.0.1:9"
l2_rpc = "http://127.0.0.1:9"
l1_chain_id = 1
l2_chain_id = 10
block_time = "2s"

[heartbeat]
aws = {{ bucket = "empty-{reader}", region = "us-east-1", endpoint = "{moto}", read_key = "env:AWS_BEATS_KEY" }}
gcp = {{ bucket = "empty-{reader}", endpoint = "{gcs}", read_key = "env:GCS_BEATS_KEY" }}
"""
    f = heartbeat_on(reader, parse_config(text))
    assert f.status == Status.FIRING and "never wrote" in f.summary


@pytest.mark.parametrize("reader", ["aws", "gcp"])
def test_an_unreachable_peer_store_is_unknown_not_firing_or_ok(moto, gcs, reader):
    dead = f"http://127.0.0.1:{free_port()}"
    f = heartbeat_on(reader, config(dead, dead))
    assert f.status == Status.UNKNOWN and f.details["error"] == "HeartbeatUnreadable"


@pytest.mark.parametrize("reader", ["aws", "gcp"])
def test_an_unreadable_key_secret_is_unknown_and_never_quoted(moto, gcs, reader):
    f = heartbeat_on(reader, config(moto, gcs), seams=Seams({"AWS_BEATS_KEY": "garbage-SECRETVALUE",
                                                             "GCS_BEATS_KEY": "garbage-SECRETVALUE"}))
    assert f.status == Status.UNKNOWN and "SECRETVALUE" not in json.dumps(f.to_dict())
    f = heartbeat_on(reader, config(moto, gcs), seams=Seams({}))
    assert f.status == Status.UNKNOWN and "is not set" in f.summary


def test_a_runtime_without_a_peer_skips_the_check_and_a_direct_run_is_unknown(moto, gcs):
    cfg = parse_config("""
[networks.mainnet]
l1_rpc = "http://127.0.0.1:9"
l2_rpc = "http://127.0.0.1:9"
l1_chain_id = 1
l2_chain_id = 10
block_time = "2s"

[heartbeat]
aws = { bucket = "aws-beats", region = "us-east-1" }
""")
    # AWS writes beats, but no GCP peer is named for it to read: the runner skips the check...
    ctx = Context(cfg.network("mainnet"), config=cfg, cloud="aws")
    assert "[heartbeat]" in (why_skipped(CHECK, ctx) or "")
    # ...and a direct run says why it cannot tell, never a pass.
    f = heartbeat_on("aws", cfg)
    assert f.status == Status.UNKNOWN and "[heartbeat]" in f.summary



def test_opwatch_smoke_reads_the_peers_named_in_heartbeat(moto, gcs):
    """The operator's CLI reads every peer `[heartbeat]` names (no env var, no URL flag)."""
    from opwatch.cli.compose import registry
    from opwatch.smoke import FAIL, PASS, heartbeat_gate

    S3BeatWriter("aws-beats", s3_client=aws_client("s3", moto)).write(Beat("aws", "mainnet", NOW - 30))
    gcp_writer(gcs).write(Beat("gcp", "mainnet", NOW - 20))
    cfg = config(moto, gcs)
    gate = heartbeat_gate(cfg.network("mainnet"), cfg, {}, 300.0, clock=lambda: NOW, registry=registry(),
                          seams=Seams())
    assert gate.status == PASS and [f.status for f in gate.findings] == [Status.OK]
    # Six minutes on with no new beat from either, the gate fails: the peers stopped.
    late = heartbeat_gate(cfg.network("mainnet"), cfg, {}, 300.0, clock=lambda: NOW + 400, registry=registry(),
                          seams=Seams())
    assert late.status == FAIL and "stopped" in late.reason
