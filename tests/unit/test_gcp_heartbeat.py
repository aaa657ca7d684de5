"""The heartbeat check (dead-man switch): fresh, stale, never written, unreadable."""

from __future__ import annotations

import pytest
from gcp_standins import GoogleApisStandIn
from opwatch.checks import heartbeat
from opwatch.checks.base import Context, evaluate
from opwatch.checks.heartbeat import Beat, HttpBeatSource, make_check, sources_from_urls
from opwatch.config import parse_config
from opwatch.findings import Status
from opwatch.gcp.beats import BeatWriter

CONFIG = """
[networks.mainnet]
l1_rpc = "http://127.0.0.1:9"
l2_rpc = "http://127.0.0.1:9"
l1_chain_id = 1
l2_chain_id = 10
block_time = "2s"
"""
NOW = 1_700_000_000.0


@pytest.fixture(scope="module")
def apis():
    standin = GoogleApisStandIn.start()
    yield standin
    standin.stop()


def run(source, now: float = NOW):  # type: ignore[no-untyped-def]
    network = parse_config(CONFIG).network("mainnet")
    check = make_check(lambda: {source.name: source}, max_age_s=300)
    return evaluate(check, Context(network, clock=lambda: now))


def test_beat_written_by_gcp_is_read_by_the_peer_check_over_http(apis):
    BeatWriter("beats", endpoint=apis.base_url).write(Beat("gcp", "mainnet", NOW - 42, findings=6))
    source = HttpBeatSource("gcp", f"{apis.base_url}/beats/heartbeat/gcp/{{network}}.json")
    [f] = run(source)
    assert f.status == Status.OK and f.target == "gcp" and f.observed.value == 42.0
    assert f.dedup_key == "opwatch/mainnet/heartbeat/gcp" and f.details["beat_findings"] == 6


def test_a_stale_beat_fires(apis):
    BeatWriter("beats", endpoint=apis.base_url).write(Beat("aws", "mainnet", NOW - 301))
    [f] = run(HttpBeatSource("aws", f"{apis.base_url}/beats/heartbeat/aws/{{network}}.json"))
    assert f.status == Status.FIRING and "stopped" in f.summary and f.severity == "critical"


def test_a_peer_that_never_beat_fires(apis):
    [f] = run(HttpBeatSource("aws", f"{apis.base_url}/beats/heartbeat/aws/nothing-{{network}}.json"))
    assert f.status == Status.FIRING and "never wrote" in f.summary


@pytest.mark.parametrize("status, body", [(500, b""), (403, b""), (200, b"not json"),
                                          (200, Beat("aws", "other", NOW).to_json().encode())])
def test_an_unreadable_beat_store_is_unknown_not_ok(status, body):
    source = HttpBeatSource("aws", "https://beats.example/key=SECRET/{network}.json",
                            fetch=lambda url, headers, timeout: (status, body))
    [f] = run(source)
    assert f.status == Status.UNKNOWN
    assert "SECRET" not in f.summary and "beats.example" in f.summary  # the URL is redacted


def test_an_unreachable_beat_store_is_unknown():
    def refuse(url, headers, timeout):  # type: ignore[no-untyped-def]
        raise ConnectionRefusedError()

    [f] = run(HttpBeatSource("aws", "http://127.0.0.1:9/{network}.json", fetch=refuse))
    assert f.status == Status.UNKNOWN and f.details["error"] == "HeartbeatUnreadable"


def test_a_future_beat_is_age_zero_not_negative(apis):
    [f] = run(HttpBeatSource("x", "https://e/{network}", fetch=lambda *a: (200, Beat("x", "mainnet", NOW + 3)
                                                                           .to_json().encode())))
    assert f.status == Status.OK and f.observed.value == 0.0


def test_peers_come_from_the_smoke_flags_and_none_means_skipped():
    sources = sources_from_urls(["aws=https://a/{network}.json", "gcp=https://g/{network}.json"])
    assert sorted(sources) == ["aws", "gcp"]
    network = parse_config(CONFIG).network("mainnet")
    assert "--heartbeat" in make_check(lambda: {}).missing(network)
    with pytest.raises(ValueError):
        sources_from_urls(["aws"])


def test_a_malformed_peer_list_is_unknown_with_the_reason_not_a_crash_or_a_skip():
    from opwatch.checks.base import Context, evaluate
    from opwatch.config import parse_config
    from opwatch.findings import Status

    def broken():
        return heartbeat.sources_from_urls(["aws-without-url"])

    check = heartbeat.make_check(broken)
    config = parse_config('[networks.n]\nl1_rpc = "http://127.0.0.1:1"\nl2_rpc = "http://127.0.0.1:2"\n'
                          'l1_chain_id = 1\nl2_chain_id = 2\nblock_time = "2s"\n')
    net = config.network("n")
    assert check.missing(net) is None
    (finding,) = evaluate(check, Context(net))
    assert finding.status == Status.UNKNOWN and "NAME=URL" in finding.summary
