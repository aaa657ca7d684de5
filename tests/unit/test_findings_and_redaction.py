"""Findings are stable, serialisable records; URLs in them and in errors are redacted."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opwatch.chain import abi
from opwatch.findings import Finding, Measure, Severity, Status, make_dedup_key
from opwatch.redact import redact_text, redact_url

ARTIFACTS = Path(__file__).resolve().parents[2] / "node_modules/@eth-optimism/contracts-bedrock/forge-artifacts"


def sample(**kw: object) -> Finding:
    base = dict(network="mainnet", check="batcher_lag", target="safe-head", status=Status.FIRING,
                severity=Severity.CRITICAL, summary="safe head trails", observed=Measure(700.0, "s"),
                threshold=Measure(600.0, "s"), observed_at="2026-11-28T12:00:00Z", details={"lag_blocks": 350})
    base.update(kw)
    return Finding(**base)  # type: ignore[arg-type]


def test_a_finding_round_trips_through_json() -> None:
    f = sample()
    again = Finding.from_dict(json.loads(f.to_json()))
    assert again == f
    assert again.dedup_key == "opwatch/mainnet/batcher_lag/safe-head"
    assert again.runbook == "docs/runbooks/batcher_lag.md"
    assert set(f.to_dict()) >= {"network", "check", "target", "status", "severity", "summary", "observed",
                                "threshold", "dedup_key", "observed_at", "runbook", "details", "urgent"}
    assert Finding.from_dict({k: v for k, v in f.to_dict().items() if k != "urgent"}).urgent is False


@pytest.mark.parametrize("bad", ["yes", 1, None, "true"])
def test_urgent_must_be_a_boolean_on_the_wire(bad: object) -> None:
    with pytest.raises(ValueError, match="malformed finding"):
        Finding.from_dict(sample().to_dict() | {"urgent": bad})


def test_dedup_key_ignores_status_and_time() -> None:
    a = sample()
    b = sample(status=Status.OK, severity=Severity.INFO, observed_at="2026-11-28T13:00:00Z")
    assert a.dedup_key == b.dedup_key


@given(st.text(min_size=1, max_size=400), st.text(min_size=1, max_size=400))
def test_dedup_keys_fit_pagerduty(network: str, target: str) -> None:
    assert len(make_dedup_key(network, "rpc_sync", target)) <= 255


def test_malformed_finding_is_a_value_error() -> None:
    bad = json.loads(sample().to_json())
    bad["status"] = "on fire"
    try:
        Finding.from_dict(bad)
    except ValueError as exc:
        assert "malformed finding" in str(exc)
    else:
        raise AssertionError("accepted a malformed finding")


def test_attributes_carry_the_filter_keys() -> None:
    assert sample().attributes() == {"network": "mainnet", "check": "batcher_lag", "status": "firing",
                                     "severity": "critical"}


def test_redaction_keeps_host_and_hides_credentials() -> None:
    assert redact_url("https://user:pw@eth.example:8443/v2/abcdef?key=1") == "https://eth.example:8443/…"
    assert redact_url("http://127.0.0.1:8545") == "http://127.0.0.1:8545"
    assert redact_url("not a url") == "<unparseable url>"
    assert "s3cret" not in redact_text("failed: POST https://x.example/s3cret timed out")


@given(st.from_regex(r"[A-Za-z0-9]{8,32}", fullmatch=True))
def test_no_secret_survives_redaction(secret: str) -> None:
    for url in (f"https://{secret}:{secret}@rpc.example", f"https://rpc.example/v3/{secret}",
                f"https://rpc.example/?apikey={secret}"):
        assert secret not in redact_url(url)


def test_selectors_match_the_real_contract_artifacts() -> None:
    def ids(name: str) -> dict[str, str]:
        return json.loads((ARTIFACTS / f"{name}.sol/{name}.json").read_text())["methodIdentifiers"]

    expected = {
        abi.LATEST_OUTPUT_INDEX: ids("L2OutputOracle")["latestOutputIndex()"],
        abi.GET_L2_OUTPUT: ids("L2OutputOracle")["getL2Output(uint256)"],
        abi.STARTING_TIMESTAMP: ids("L2OutputOracle")["startingTimestamp()"],
        abi.GAME_COUNT: ids("DisputeGameFactory")["gameCount()"],
        abi.GAME_AT_INDEX: ids("DisputeGameFactory")["gameAtIndex(uint256)"],
        abi.BATCHER_HASH: ids("SystemConfig")["batcherHash()"],
        abi.BATCH_INBOX: ids("SystemConfig")["batchInbox()"],
    }
    for selector, hexid in expected.items():
        assert selector.hex() == hexid
    assert re.fullmatch(r"[0-9a-f]{8}", abi.GET_L2_OUTPUT.hex())


@given(st.text(alphabet=st.characters(categories=("L", "N")), min_size=8, max_size=24))
def test_no_secret_survives_redaction_of_a_nested_record(secret: str) -> None:
    """Remedies' audit details and pages are nested values built from error messages."""
    from opwatch.redact import redact_value

    record = {"reason": f"failed: https://u:{secret}@h.example/x", "steps": [("after", f"wss://h:1/v2/{secret}")],
              f"at http://h/?k={secret}": 1, "n": 3}
    assert secret not in json.dumps(redact_value(record))
    assert redact_value(record)["n"] == 3


def test_a_dns_target_error_names_the_url_redacted() -> None:
    """The restore's DNS switches refuse a URL their record cannot hold, in words that reach a page."""
    import pytest
    from opwatch.aws.restore import record_target

    for record_type, url in (("A", "https://user:pw@sequencer.example/v2/APIKEY123"),
                             ("CNAME", "http://user:pw@10.0.0.1:8545/?apikey=APIKEY123")):
        with pytest.raises(ValueError) as info:
            record_target(url, record_type, "seq.l2.internal")
        assert "APIKEY123" not in str(info.value) and "pw" not in str(info.value)
