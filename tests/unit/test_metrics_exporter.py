"""The service's Prometheus exporter (opwatch.cli.metrics) without a network: what each run sets,
what it removes, how RPC traffic is labelled, and that nothing else loads prometheus_client."""

from __future__ import annotations

import subprocess
import sys

import pytest
from opwatch.chain.rpc import TransportError
from opwatch.cli.metrics import Exporter, parse_listen, unit_label
from opwatch.findings import Finding, Measure, Severity, Status
from opwatch.runner import RunResult
from prometheus_client import generate_latest


class _Config:
    networks: dict[str, object] = {}


def finding(target: str, status: Status, value: float | None, unit: str = "s") -> Finding:
    return Finding("devnet", "rpc_sync", target, status, Severity.WARNING, "summary", Measure(value, unit),
                   Measure(5, unit), "2026-01-01T00:00:00Z")


def sample(exporter: Exporter, name: str, **labels: str) -> float | None:
    return exporter.registry.get_sample_value(name, labels)


def test_status_values_and_units_in_base_units() -> None:
    exporter = Exporter(_Config())  # type: ignore[arg-type]
    exporter.record(RunResult([finding("a", Status.FIRING, 9, "blocks"), finding("b", Status.OK, 1.5)],
                              durations={("devnet", "rpc_sync"): 0.25}), now=1000.0)
    assert sample(exporter, "opwatch_finding_status", network="devnet", check="rpc_sync", target="a") == 1
    assert sample(exporter, "opwatch_finding_status", network="devnet", check="rpc_sync", target="b") == 0
    assert sample(exporter, "opwatch_observed", network="devnet", check="rpc_sync", target="a", unit="blocks") == 9
    assert sample(exporter, "opwatch_threshold", network="devnet", check="rpc_sync", target="b",
                  unit="seconds") == 5
    assert sample(exporter, "opwatch_check_duration_seconds", network="devnet", check="rpc_sync") == 0.25
    assert sample(exporter, "opwatch_last_run_timestamp_seconds", network="devnet", check="rpc_sync") == 1000.0
    assert unit_label("h") == "hours" and unit_label("wrong roots") == "wrong_roots"


def test_unknown_leaves_a_gap_and_vanished_targets_are_removed() -> None:
    exporter = Exporter(_Config())  # type: ignore[arg-type]
    exporter.record(RunResult([finding("a", Status.OK, 1), finding("b", Status.OK, 2)],
                              durations={("devnet", "rpc_sync"): 0.1}), now=1.0)
    exporter.record(RunResult([finding("a", Status.UNKNOWN, None)], durations={("devnet", "rpc_sync"): 0.1}),
                    now=2.0)
    assert sample(exporter, "opwatch_finding_status", network="devnet", check="rpc_sync", target="a") == 2
    assert sample(exporter, "opwatch_observed", network="devnet", check="rpc_sync", target="a",
                  unit="seconds") is None
    assert sample(exporter, "opwatch_finding_status", network="devnet", check="rpc_sync", target="b") is None


class _Answers:
    def __init__(self, answer: bytes | None) -> None:
        self.answer = answer

    def post(self, url: str, body: bytes, timeout: float) -> bytes:
        if self.answer is None:
            raise TransportError("connection refused")
        return self.answer


def test_rpc_counters_never_carry_a_credential_url() -> None:
    exporter = Exporter(_Config())  # type: ignore[arg-type]
    url = "https://user:pw@rpc.example/v2/SECRETKEY"
    exporter.transport(_Answers(b'{"jsonrpc":"2.0","id":1,"error":{"code":3,"message":"revert"}}')).post(url, b"", 1)
    with pytest.raises(TransportError):
        exporter.transport(_Answers(None)).post(url, b"", 1)
    exporter.transport(_Answers(b'{"jsonrpc":"2.0","id":1,"result":"0x1"}')).post(url, b"", 1)
    text = generate_latest(exporter.registry).decode()
    assert "SECRETKEY" not in text and "pw@" not in text
    assert sample(exporter, "opwatch_rpc_requests_total", endpoint="https://rpc.example/…") == 3
    assert sample(exporter, "opwatch_rpc_errors_total", endpoint="https://rpc.example/…", kind="rpc") == 1
    assert sample(exporter, "opwatch_rpc_errors_total", endpoint="https://rpc.example/…", kind="transport") == 1


def test_listen_address_parsing() -> None:
    assert parse_listen("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert parse_listen("[::1]:9464") == ("::1", 9464)
    for bad in ("9464", "host:", "host:99999", "host:abc"):
        with pytest.raises(ValueError):
            parse_listen(bad)


def test_the_cloud_functions_and_check_do_not_load_prometheus_client() -> None:
    code = ("import sys, opwatch.cli.main as m, opwatch.runner, opwatch.aws.telemetry; "
            "m.build_parser().parse_args(['check', '--config', 'x']); "
            "print('prometheus_client' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr
