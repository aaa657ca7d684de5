"""The GCP remedy function under the real functions-framework, over HTTP.

It runs from the bundle `opwatch gcp bundle` makes, as `gcloud functions deploy --entry-point
remedy` would, configured as the plan configures the snapshot remedy. It snapshots a real
anvil into the GCS emulator (a real HTTP server) with the real google-cloud-storage client,
and keeps its claims in SQLite (Firestore's remedy store is tested against its REST stand-in
in test_remedies_firestore.py). Requests arrive the two ways the plan wires: POSTed by hand
(the same JSON as `aws lambda invoke`) and as a Pub/Sub push of a firing finding.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from opwatch.config import parse_config
from opwatch.deploy.gcp import GcpSettings
from opwatch.deploy.gcp_cli import bundle
from opwatch.findings import Finding, Measure, Severity, Status
from remedies_fixtures import config_text
from test_gcp_functions import Function
from test_remedies_gcs import gcs_client, running_emulator

pytestmark = pytest.mark.anvil

BUCKET = "opwatch-test-snapshots"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory) -> Iterator[str]:
    with running_emulator(tmp_path_factory.mktemp("gcs")) as endpoint:
        gcs_client(endpoint).create_bucket(BUCKET)
        yield endpoint


@pytest.fixture(scope="module")
def sequencer(tmp_path_factory) -> Iterator[str]:
    from opwatch.chain.rpc import RpcClient
    from opwatch.config import Endpoint
    from opwatch_devnet.anvil import AnvilProcess

    with AnvilProcess.start("seq", tmp_path_factory.mktemp("seq"), ["--chain-id", "901"]) as proc:
        for _ in range(3):
            RpcClient(Endpoint(proc.url, "seq")).call("evm_mine")  # blocks 1..3
        yield proc.url


@pytest.fixture(scope="module")
def remedy_fn(tmp_path_factory, emulator: str, sequencer: str) -> Iterator[Function]:
    work = tmp_path_factory.mktemp("remedy")
    # `other` runs its remedies on AWS: this function must refuse it (runs_on).
    other = f"""
[networks.other]
l1_rpc = ["http://127.0.0.1:1"]
l2_rpc = {{url = "{sequencer}", name = "other-seq"}}
l1_chain_id = 900
l2_chain_id = 902
block_time = "1s"
"""
    text = config_text(l2_url=sequencer, extra_network=other, remediation=f"""
[remediation.networks.other]
runs_on = "aws"
approval = "manual"
[remediation.networks.other.snapshot]
provider = "s3"
bucket = "{BUCKET}"
[remediation.networks.devnet]
runs_on = "gcp"
approval = "auto"
[remediation.networks.devnet.snapshot]
auto = true
provider = "gcs"
bucket = "{BUCKET}"
retention = 50
""")
    (work / "opwatch.toml").write_text(text)
    out = work / "bundle"
    bundle(parse_config(text, source=str(work / "opwatch.toml")), GcpSettings(project="opwatch-test"), out)
    fn = Function(out, "remedy", {
        "OPWATCH_CONFIG": "opwatch.toml", "OPWATCH_REMEDIES": "snapshot",
        "OPWATCH_REMEDY_STORE": f"sqlite:{work / 'remedies.db'}", "STORAGE_EMULATOR_HOST": emulator,
        "GOOGLE_CLOUD_PROJECT": "opwatch-test"}, work / "remedy.log", signature="http")
    fn.config_path = work / "opwatch.toml"
    yield fn
    fn.stop()


def post(fn: Function, body: object) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(fn.url, data=data, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, json.loads(reply.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def archives(emulator: str) -> list[str]:
    return sorted(b.name for b in gcs_client(emulator).list_blobs(BUCKET) if b.name.endswith(".state.gz"))


def pushed(status: Status, observed_at: str, check: str = "snapshot_freshness") -> dict:
    finding = Finding("devnet", check, "sequencer", status, Severity.WARNING, "no verified snapshot exists",
                      Measure(None, "s"), Measure(86400.0, "s"), observed_at)
    data = base64.b64encode(json.dumps(finding.to_dict()).encode()).decode()
    return {"message": {"data": data, "attributes": finding.attributes(), "messageId": observed_at},
            "subscription": "projects/opwatch-test/subscriptions/opwatch-remedy-snapshot"}


def test_a_request_by_hand_snapshots_once_per_request_id(remedy_fn, emulator):
    before = archives(emulator)
    request = {"remedy": "snapshot", "network": "devnet", "request_id": "ops-2026-0001", "approved_by": "alice"}
    code, out = post(remedy_fn, request)
    assert code == 200 and out["status"] == "done", (out, remedy_fn.log.read_text()[-2000:])
    assert out["snapshot"]["verified"] and out["snapshot"]["block"] >= 3
    assert len(archives(emulator)) == len(before) + 1
    code, again = post(remedy_fn, request)  # a re-sent request: answered, not run again
    assert code == 200 and again["status"] == "duplicate" and again["first"]["status"] == "done"
    assert len(archives(emulator)) == len(before) + 1


def mine(url: str) -> None:
    from opwatch.chain.rpc import RpcClient
    from opwatch.config import Endpoint

    RpcClient(Endpoint(url, "seq")).call("evm_mine")  # a new head: a new archive, not the last one rewritten


def test_a_pushed_firing_finding_acts_once_however_often_it_is_delivered(remedy_fn, emulator, sequencer):
    mine(sequencer)
    before = archives(emulator)
    envelope = pushed(Status.FIRING, "2026-11-28T10:00:00Z")
    codes = [post(remedy_fn, envelope) for _ in range(3)]
    assert [c for c, _ in codes] == [200, 200, 200]
    assert [o["status"] for _, o in codes] == ["done", "duplicate", "duplicate"]
    assert len(archives(emulator)) == len(before) + 1


def test_an_unknown_finding_never_acts_and_is_acknowledged(remedy_fn, emulator):
    before = archives(emulator)
    code, out = post(remedy_fn, pushed(Status.UNKNOWN, "2026-11-28T10:05:00Z"))
    assert code == 200 and out["status"] == "refused" and "the finding is unknown" in out["reason"]
    assert archives(emulator) == before


def test_requests_it_does_not_run_are_rejected_by_hand_and_acknowledged_when_pushed(remedy_fn, emulator):
    before = archives(emulator)
    code, out = post(remedy_fn, {"remedy": "topup", "network": "devnet", "request_id": "x", "target": "batcher"})
    assert code == 400 and "runs snapshot, not 'topup'" in out["reason"]
    assert post(remedy_fn, b"not json")[0] == 400
    assert post(remedy_fn, {"remedy": "snapshot"})[0] == 400  # no network, no request id
    # Pushed: acknowledged (200), since redelivering a message that cannot act never helps.
    code, out = post(remedy_fn, pushed(Status.FIRING, "2026-11-28T10:10:00Z", check="wallet_runway"))
    assert code == 200 and out["status"] == "rejected"
    garbled = pushed(Status.FIRING, "2026-11-28T10:15:00Z") | {"message": {"data": "%%%", "messageId": "m"}}
    bare = pushed(Status.FIRING, "2026-11-28T10:16:00Z")
    bare["message"].pop("attributes")  # the filter acts on attributes: a message without them never acts
    code, out = post(remedy_fn, bare)
    assert code == 200 and out["status"] == "rejected" and "are missing" in out["reason"], out
    lying = pushed(Status.FIRING, "2026-11-28T10:17:00Z")
    lying["message"]["attributes"] = lying["message"]["attributes"] | {"network": "other"}
    code, out = post(remedy_fn, lying)
    assert code == 200 and out["status"] == "rejected" and "disagree" in out["reason"], out
    assert post(remedy_fn, garbled) == (200, {"status": "rejected", "reason": "message data is not base64"})
    assert archives(emulator) == before
    logs = Path(remedy_fn.log).read_text()
    assert "refused a pushed message" in logs and "refused a request" in logs


def test_the_cli_invokes_the_deployed_function_with_the_same_request(remedy_fn, emulator, sequencer, tmp_path):
    import subprocess
    import sys

    mine(sequencer)
    before = archives(emulator)
    opwatch = Path(sys.executable).parent / "opwatch"
    argv = [str(opwatch), "remediate", "snapshot", "--config", str(remedy_fn.config_path), "--network", "devnet",
            "--request-id", "ops-cli-1", "--approved-by", "bob", "--invoke", remedy_fn.url, "--json"]
    first = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert first.returncode == 0, first.stderr
    out = json.loads(first.stdout)
    assert out["status"] == "done" and out["request_id"] == "ops-cli-1"
    assert len(archives(emulator)) == len(before) + 1  # it ran there, in the function, not here
    again = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0 and json.loads(again.stdout)["status"] == "duplicate"
    wrong = subprocess.run([*argv[:2], "topup", *argv[3:], "--target", "batcher"], capture_output=True, text=True,
                           timeout=120, check=False)
    assert wrong.returncode == 1 and "runs snapshot, not 'topup'" in wrong.stdout
    down = subprocess.run([*argv[:-2], "http://127.0.0.1:9/", "--json"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert down.returncode == 1 and "opwatch remediate: http://127.0.0.1:9/" in down.stderr


def identity_token(email: str) -> str:
    """A Google identity token's shape as Cloud Run passes it on (verified upstream, its
    signature stripped): header.payload.signature, base64url without padding."""
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    claims = {"iss": "https://accounts.google.com", "aud": "https://opwatch-remedy-snapshot.example",
              "email": email, "email_verified": True, "exp": 2000000000, "iat": 1999996400}
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.SIGNATURE_REMOVED_BY_GOOGLE"


def post_as(fn: Function, body: dict, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(fn.url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=60) as reply:
        return reply.status, json.loads(reply.read())


def audit_of(fn: Function, request_id: str) -> list[dict]:
    from opwatch.remedies.store import SqliteRemedyStore

    store = SqliteRemedyStore(fn.config_path.parent / "remedies.db")
    return [r for r in store.audit(500) if r.get("request_id") == request_id]


def test_the_audit_names_the_caller_from_the_identity_token_not_the_payload(remedy_fn, emulator, sequencer):
    mine(sequencer)
    request = {"remedy": "snapshot", "network": "devnet", "request_id": "ops-who-1", "approved_by": "mallory"}
    code, out = post_as(remedy_fn, request, identity_token("alice@example.com"))
    assert code == 200 and out["status"] == "done", out
    records = audit_of(remedy_fn, "ops-who-1")
    assert records and {r["caller"] for r in records} == {"gcp:alice@example.com"}
    assert {r["approved_by"] for r in records} == {"mallory"}  # kept, for what it is: self-asserted
    code, out = post(remedy_fn, {**request, "request_id": "ops-who-2", "caller": "gcp:alice@example.com"})
    assert code == 400 and "unknown fields: caller" in out["reason"]


def test_a_network_whose_remedies_run_on_aws_is_refused_here(remedy_fn, emulator):
    before = archives(emulator)
    request = {"remedy": "snapshot", "network": "other", "request_id": "ops-other-1", "approved_by": "alice"}
    code, out = post(remedy_fn, request)
    assert code == 200 and out["status"] == "refused" and "runs its remedies on aws" in out["reason"], out
    assert archives(emulator) == before
    assert [r["outcome"] for r in audit_of(remedy_fn, "ops-other-1") if r["step"] == "result"] == ["refused"]


@pytest.mark.parametrize("network", ["other", "nowhere"], ids=["remedies-on-aws", "not-configured"])
def test_a_pushed_firing_finding_of_a_network_not_routed_here_is_acknowledged_and_never_acts(
        remedy_fn, emulator, network):
    """Past about five networks a remedy's filter passes any network (deploy/gcp_plan.py): the
    function refuses a finding of a network whose remedy does not run on GCP, or that is unknown."""
    before = archives(emulator)
    envelope = pushed(Status.FIRING, f"2026-11-28T11:00:0{len(network)}Z")
    finding = Finding.from_dict(json.loads(base64.b64decode(envelope["message"]["data"])) | {"network": network})
    envelope["message"] |= {"data": base64.b64encode(finding.to_json().encode()).decode(),
                            "attributes": finding.attributes()}
    code, out = post(remedy_fn, envelope)
    assert code == 200 and out["status"] == "rejected", out
    assert f"network '{network}': snapshot does not run on GCP for it" in out["reason"]
    assert archives(emulator) == before
