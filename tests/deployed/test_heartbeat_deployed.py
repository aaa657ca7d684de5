"""The dead-man switch both ways, through the functions as deployed: each cloud's beat, written
by its deployed sequencer_liveness function, is read by the other cloud's deployed heartbeat
function; once a side stops beating for longer than `[heartbeat] max_age`, the other fires.

The config is deployed.toml plus a `[heartbeat]` naming both peers (its endpoints: moto's S3
for AWS's beats, the Google APIs stand-in's Cloud Storage for GCP's). The CDK app is
synthesized and the gcloud plan rendered from it with the harness's own helpers
(aws_deployed.synthesize, gcp_deployed.render/bundle); the read keys are created by hand, as
an operator does (docs/runbooks/heartbeat.md): AWS's in GCP's Secret Manager, GCP's in AWS's
Secrets Manager. Neither moto nor the stand-in verifies SigV4: what this proves is the wiring
(who writes which object, who reads it with which key from which store), not the signature.
"""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any

import pytest

pytestmark = pytest.mark.anvil

MAX_AGE_S = 60.0  # [heartbeat] max_age's floor (beats come every minute)
READ_KEY = json.dumps({"access_key_id": "AKIDTESTREADER", "secret_access_key": "not-a-real-secret"})
GCP_READ_KEY_SECRET = "projects/opwatch-deployed/secrets/aws-beat-reader"  # GCP's Secret Manager
AWS_READ_KEY_SECRET = "opwatch/gcs-beat-reader"  # AWS's Secrets Manager


def heartbeat_section(s3: str, gcs: str) -> str:
    aws_key = f"gcp-secretmanager:{GCP_READ_KEY_SECRET}/versions/latest"
    return f"""
[heartbeat]
max_age = "1m"
aws = {{ bucket = "aws-beats", region = "us-east-1", endpoint = "{s3}", read_key = "{aws_key}" }}
gcp = {{ bucket = "gcp-beats", endpoint = "{gcs}", read_key = "aws-secretsmanager:{AWS_READ_KEY_SECRET}" }}
"""


@pytest.fixture(scope="module")
def stores():  # type: ignore[no-untyped-def]
    """AWS's S3 (moto server) and GCP's Cloud Storage (the Google APIs stand-in), started first:
    the config names their endpoints."""
    from gcp_standins import GoogleApisStandIn
    from remedies_fixtures import aws_client, start_moto

    server, s3 = start_moto()
    aws_client("s3", s3).create_bucket(Bucket="aws-beats")
    apis = GoogleApisStandIn.start()
    yield s3, apis
    apis.stop()
    server.stop()


def test_each_clouds_beat_is_read_by_the_others_heartbeat_and_a_stopped_side_fires(
        stores, deployed_config, keyed_config_text, devnet, tmp_path_factory, monkeypatch):
    import boto3
    from aws_deployed import REGION, AwsDeployment, synthesize
    from gcp_deployed import GcpFunction, GcpPlan, bundle, render

    s3, apis = stores
    section = heartbeat_section(s3, apis.base_url)
    config = tmp_path_factory.mktemp("heartbeat") / "opwatch.toml"
    config.write_text(deployed_config.read_text() + section)

    # --- AWS, as `cdk deploy` ships it ---
    for name, value in {"AWS_ENDPOINT_URL": s3, "AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "POWERTOOLS_TRACE_DISABLED": "true"}.items():
        monkeypatch.setenv(name, value)
    outdir = tmp_path_factory.mktemp("cdk.out")
    [template] = synthesize(config, outdir).values()
    aws = AwsDeployment(template, outdir, lambda s: boto3.client(s, endpoint_url=s3, region_name=REGION))
    seq_url = re.search(r'^l2_rpc = "(.*)"$', devnet.config_text(), re.M).group(1)  # type: ignore[union-attr]
    aws.provision({"opwatch/rpc-endpoints-AbCdEf": json.dumps({"sequencer": seq_url})})
    # Made by hand (an HMAC key of GCP's beat reader), in AWS's own secret store.
    aws.client("secretsmanager").create_secret(Name=AWS_READ_KEY_SECRET, SecretString=READ_KEY)
    fns = aws.functions()
    [aws_writer] = [f for n, f in fns.items() if n.endswith("-devnet-sequencer-liveness")]
    [aws_reader] = [f for n, f in fns.items() if n.endswith("-devnet-heartbeat")]

    # --- GCP, as the gcloud plan deploys it ---
    plan = GcpPlan(render(config))
    source = bundle(config, tmp_path_factory.mktemp("gcp") / "bundle")
    planned = {f.entry_point: f for f in plan.functions().values()}
    for fn in planned.values():
        if "OPWATCH_FINDINGS_TOPIC" in fn.env:
            apis.topics.add(fn.env["OPWATCH_FINDINGS_TOPIC"])
        if "OPWATCH_CONFIG_SECRET" in fn.env:  # the keyed config, as the config secret holds it
            secret = fn.env["OPWATCH_CONFIG_SECRET"].split("/versions/")[0]
            apis.secrets[secret] = (keyed_config_text + section).encode()
    # Made by hand (an access key of the AWS stack's BeatReader user), in GCP's own secret store.
    apis.secrets[GCP_READ_KEY_SECRET] = READ_KEY.encode()
    where = {"OPWATCH_PUBSUB_ENDPOINT": apis.base_url, "OPWATCH_SECRETMANAGER_ENDPOINT": apis.base_url,
             "OPWATCH_STORAGE_ENDPOINT": apis.base_url}
    logs = tmp_path_factory.mktemp("gcp-logs")
    gcp_writer = GcpFunction(planned["sequencer_liveness"], source, where, logs / "writer.log")
    gcp_reader = GcpFunction(planned["heartbeat"], source, where, logs / "heartbeat.log")
    reader_topic = planned["heartbeat"].env["OPWATCH_FINDINGS_TOPIC"]

    def aws_heartbeat() -> tuple[str, dict[str, Any]]:
        reply = aws.invoke(aws_reader, {}, {})
        return reply["status"]["peer"], reply

    def gcp_heartbeat(tick: str) -> str:
        seen = len(apis.messages(reader_topic))
        assert gcp_reader.tick(plan, tick) == 200, gcp_reader.log.read_text()[-4000:]
        [finding] = [m for m in apis.messages(reader_topic)[seen:] if m.attributes["check"] == "heartbeat"]
        return str(finding.attributes["status"])

    try:
        devnet.heal()
        # Before any beat: neither side ever wrote one, and each fires on the other.
        assert aws_heartbeat()[0] == "firing"
        assert gcp_heartbeat("before") == "firing"
        # Each side's deployed writer runs once (GCP's fast lane samples for its whole window).
        status: list[int] = []
        tick = threading.Thread(target=lambda: status.append(gcp_writer.tick(plan, "beat")))
        tick.start()
        aws.invoke(aws_writer, {}, {}, remaining_s=12.0)  # a short fast-lane window: only the beat matters here
        tick.join(planned["sequencer_liveness"].timeout_s + 60)
        assert status == [200], gcp_writer.log.read_text()[-4000:]
        # The objects are where the other side reads them, written by the writers' own code.
        aws_beat = json.loads(aws.client("s3").get_object(Bucket="aws-beats", Key="heartbeat/aws/devnet.json")
                              ["Body"].read())
        gcp_beat = json.loads(apis.objects[("gcp-beats", "heartbeat/gcp/devnet.json")])
        assert (aws_beat["cloud"], gcp_beat["cloud"]) == ("aws", "gcp")
        # Each cloud's heartbeat reads the other's beat: ok.
        assert aws_heartbeat()[0] == "ok"
        assert gcp_heartbeat("fresh") == "ok"
        # Both sides stop beating; once max_age has passed since the newer beat, both fire.
        newest = max(aws_beat["at"], gcp_beat["at"])
        time.sleep(max(0.0, newest + MAX_AGE_S + 2 - time.time()))
        status_aws, reply = aws_heartbeat()
        assert status_aws == "firing", reply
        assert gcp_heartbeat("stale") == "firing"
    finally:
        gcp_writer.stop()
        gcp_reader.stop()
        aws.close()
        devnet.heal()

