"""What a function's cold start loads: only what its first run uses.

Each test runs a fresh interpreter (what a new container does), imports the entry point, does
the first invocation's set-up, and reads `sys.modules`. The AWS check handler once imported the
X-Ray SDK through Powertools' Tracer (0.25 s of every cold start, botocore with it); the GCP
functions published and read secrets through the gRPC client libraries (0.2-0.25 s each to
import). Publishing and the secret read here go over real HTTP to the Google APIs stand-in
(tests/gcp_standins.py), so the REST path that replaced them is exercised, not just imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
from gcp_standins import GoogleApisStandIn


def fresh(code: str, env: dict[str, str] | None = None) -> Any:
    """Run `code` in a new interpreter; it prints one JSON value."""
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, **(env or {})})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_aws_check_handler_imports_neither_xray_nor_boto3() -> None:
    loaded = set(fresh("""
        import json, sys
        import opwatch.aws.check_handler
        print(json.dumps(sorted(sys.modules)))
    """))
    assert {"opwatch.aws.check_handler", "aws_lambda_powertools.logging"} <= loaded
    # boto3 (a client, botocore's session) comes with the first publish, after the chain is read;
    # web3 and eth_account never. Powertools itself imports only botocore's package, for a version.
    assert not {"aws_xray_sdk", "aws_xray_sdk.core", "boto3", "botocore.session", "botocore.client", "web3",
                "eth_account"} & loaded


def test_the_pager_still_traces() -> None:
    loaded = set(fresh("""
        import json, sys
        import opwatch.aws.pager_handler
        print(json.dumps(sorted(sys.modules)))
    """))
    assert "aws_xray_sdk.core" in loaded


@pytest.fixture
def apis() -> Iterator[GoogleApisStandIn]:
    standin = GoogleApisStandIn.start()
    standin.topics.add("projects/p/topics/findings")
    standin.secrets["projects/p/secrets/config"] = b"value-from-secret-manager\n"
    yield standin
    standin.stop()


def test_a_gcp_check_function_publishes_and_reads_secrets_without_the_grpc_clients(apis: GoogleApisStandIn) -> None:
    result = fresh("""
        import json, sys
        import opwatch.gcp.main
        from opwatch.findings import Finding, Measure, Severity, Status
        from opwatch.gcp.publisher import FindingPublisher
        from opwatch.gcp.secret_source import SecretManagerSource

        finding = Finding(network="devnet", check="rpc_sync", target="node-1", status=Status.FIRING,
                          severity=Severity.WARNING, summary="node-1 is 9 blocks behind",
                          observed=Measure(9.0, "blocks"), threshold=Measure(5.0, "blocks"),
                          observed_at="2026-01-01T00:00:00Z")
        ids = FindingPublisher("projects/p/topics/findings").publish([finding, finding])
        value = SecretManagerSource("projects/p/secrets/config")()
        print(json.dumps({"ids": ids, "value": value, "modules": sorted(sys.modules)}))
    """, env={"OPWATCH_PUBSUB_ENDPOINT": apis.base_url, "OPWATCH_SECRETMANAGER_ENDPOINT": apis.base_url})
    assert result["ids"] == ["1", "2"] and result["value"] == "value-from-secret-manager"
    first, _ = apis.messages("projects/p/topics/findings")
    assert json.loads(first.data)["summary"] == "node-1 is 9 blocks behind"
    assert first.attributes == {"network": "devnet", "check": "rpc_sync", "status": "firing", "severity": "warning"}
    modules = set(result["modules"])
    assert not {m for m in modules if m.startswith(("grpc", "google.cloud.pubsub", "google.cloud.secretmanager",
                                                    "google.api_core.grpc_helpers"))}
