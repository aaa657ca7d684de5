"""Configuration: the issue's example loads; every bad field is named, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opwatch.config import ConfigError, parse_config, parse_duration, validate_address

EXAMPLE = """
[networks.mainnet]
l1_rpc = ["https://l1-a.example", "https://l1-b.example"]
l2_rpc = "http://sequencer:8545"
rollup_rpc = "http://sequencer:9545"
rpc_nodes = ["http://rpc-1:8545", "http://rpc-2:8545"]
l1_chain_id = 1
l2_chain_id = 10
block_time = "2s"
batcher = "0x6887246668a3b87F54DeB3b94Ba47a6f63F32985"
batch_inbox = "0xFF00000000000000000000000000000000000010"
proposer = "0x473300df21D047806A082244b417f96b32f13A33"
l2_output_oracle = "0xdfe97868233d1aa22e815a266982f2cf17685a27"

[networks.mainnet.thresholds]
sequencer_max_head_age = "30s"
batcher_max_safe_lag = "10m"
batcher_max_submission_age = "10m"
wallet_min_runway = "72h"
proposer_max_output_age = "2h"
rpc_max_lag_blocks = 20
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    return info.value.problems


def test_the_documented_example_loads_into_typed_values() -> None:
    net = parse_config(EXAMPLE).network("mainnet")
    assert net.block_time == 2.0
    assert [e.name for e in net.l1_rpc] == ["https://l1-a.example", "https://l1-b.example"]
    assert net.thresholds.batcher_max_safe_lag == 600.0
    assert net.thresholds.wallet_min_runway == 72 * 3600.0
    assert net.thresholds.rpc_max_lag_blocks == 20
    # lower-case addresses are accepted and normalised to their EIP-55 form
    assert net.batch_inbox == "0xFF00000000000000000000000000000000000010"
    assert net.batcher == "0x6887246668a3b87F54DeB3b94Ba47a6f63F32985"


@settings(max_examples=200)
@given(st.binary(min_size=20, max_size=20))
def test_checksums_match_the_reference_implementation(raw: bytes) -> None:
    from eth_utils import to_checksum_address as reference

    lower = "0x" + raw.hex()
    assert validate_address(lower) == reference(lower)
    assert validate_address(reference(lower)) == reference(lower)


def test_thresholds_default_from_block_time() -> None:
    text = EXAMPLE.split("[networks.mainnet.thresholds]")[0].replace('block_time = "2s"', 'block_time = "250ms"')
    t = parse_config(text).network("mainnet").thresholds
    assert t.sequencer_max_head_age == 10.0  # 15 block times, but at least 10 s
    assert t.rpc_max_lag_blocks == 120  # 30 s of blocks at 250 ms
    slow = parse_config(EXAMPLE.split("[networks.mainnet.thresholds]")[0]).network("mainnet").thresholds
    assert slow.sequencer_max_head_age == 30.0


@pytest.mark.parametrize(
    ("edit", "field", "words"),
    [
        (('sequencer_max_head_age = "30s"', 'sequencer_max_head_agee = "30s"'),
         "networks.mainnet.thresholds.sequencer_max_head_agee", "did you mean sequencer_max_head_age"),
        (('batcher = "0x6887246668a3b87F54DeB3b94Ba47a6f63F32985"',
          'batcher = "0x6887246668a3b87F54DeB3b94Ba47a6f63F32986"'), "networks.mainnet.batcher", "checksum"),
        (('batcher = "0x6887246668a3b87F54DeB3b94Ba47a6f63F32985"', 'batcher = "0x1234"'),
         "networks.mainnet.batcher", "20-byte"),
        (('l2_chain_id = 10', 'l2_chain_id = "10"'), "networks.mainnet.l2_chain_id", "integer"),
        (('l2_chain_id = 10\n', ''), "networks.mainnet.l2_chain_id", "required"),
        (('block_time = "2s"', 'block_time = "2 fortnights"'), "networks.mainnet.block_time", "duration"),
        (('rpc_max_lag_blocks = 20', 'rpc_max_lag_blocks = -1'), "networks.mainnet.thresholds.rpc_max_lag_blocks",
         "between"),
        (('l2_rpc = "http://sequencer:8545"', 'l2_rpc = "sequencer:8545"'), "networks.mainnet.l2_rpc", "http"),
        (('l1_rpc = ["https://l1-a.example", "https://l1-b.example"]', 'l1_rpc = []'), "networks.mainnet.l1_rpc",
         "at least one"),
        (('l2_output_oracle = "0xdfe97868233d1aa22e815a266982f2cf17685a27"',
          'l2_output_oracle = "0xdfe97868233d1aa22e815a266982f2cf17685a27"\n'
          'dispute_game_factory = "0xe5965Ab5962eDc7477C8520243A95517CD252fA9"'), "networks.mainnet",
         "not both"),
    ],
)
def test_a_bad_field_is_named(edit: tuple[str, str], field: str, words: str) -> None:
    old, new = edit
    assert old in EXAMPLE
    found = problems(EXAMPLE.replace(old, new))
    assert any(p.startswith(field) and words in p for p in found), found


def test_every_problem_is_reported_at_once() -> None:
    text = EXAMPLE.replace("l2_chain_id = 10", 'l2_chain_id = "x"').replace('"72h"', '"forever"')
    found = problems(text + "\n[surprise]\n")
    assert len(found) == 3
    assert any(p.startswith("surprise") for p in found)


def test_not_toml_is_a_clear_error() -> None:
    assert "not valid TOML" in problems("[networks.x\n")[0]


def test_no_network_is_an_error() -> None:
    assert problems("")[0].startswith("networks:")


def test_credentials_in_urls_stay_out_of_names_and_reprs() -> None:
    text = EXAMPLE.replace('"https://l1-a.example"', '"https://user:hunter2@l1-a.example/v2/SECRETKEY?apikey=K"')
    net = parse_config(text).network("mainnet")
    shown = f"{net.l1_rpc[0].name} {net.l1_rpc!r} {net!r}"
    for secret in ("hunter2", "SECRETKEY", "apikey"):
        assert secret not in shown


def test_endpoint_may_carry_a_name() -> None:
    text = EXAMPLE.replace('rpc_nodes = ["http://rpc-1:8545", "http://rpc-2:8545"]',
                           'rpc_nodes = [{url = "http://rpc-1:8545/key", name = "eu-1"}, "http://rpc-2:8545"]')
    net = parse_config(text).network("mainnet")
    assert [e.name for e in net.rpc_nodes] == ["eu-1", "http://rpc-2:8545"]


def test_durations() -> None:
    assert parse_duration("30s") == 30
    assert parse_duration("10m") == 600
    assert parse_duration("2h") == 7200
    assert parse_duration("250ms") == 0.25
    assert parse_duration("1.5d") == 1.5 * 86400
    for bad in ("", "10", "s", "-1s", "1w"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_cli_rejects_bad_config_with_exit_2_and_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(EXAMPLE.replace("rpc_max_lag_blocks = 20", "rpc_max_lag_blocks = 20\nbogus = 1"))
    proc = subprocess.run([sys.executable, "-m", "opwatch.cli.main", "check", "--config", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "networks.mainnet.thresholds.bogus: unknown key" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_cli_missing_file_exit_2(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "opwatch.cli.main", "check", "--config", str(tmp_path / "nope")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "cannot read" in proc.stderr and "Traceback" not in proc.stderr


def test_schedules_default_per_check_and_reject_sub_minute() -> None:
    config = parse_config(EXAMPLE)
    default = config.section("schedules")
    assert default.every("sequencer_liveness") == 1 and default.every("snapshot_freshness") == 15
    assert default.rate_expression("snapshot_freshness") == "rate(15 minutes)"
    assert default.cron("batch_submission") == "*/2 * * * *"
    custom = parse_config(EXAMPLE + '\n[schedules]\ndefault = "2m"\nfast_lane = true\n').section("schedules")
    assert custom.every("rpc_sync") == 2 and custom.fast_lane
    found = problems(EXAMPLE + '\n[schedules]\nrpc_sync = "30s"\nbogus = "1m"\n')
    assert any(p.startswith("schedules.rpc_sync") and "whole minutes" in p for p in found)
    assert any(p.startswith("schedules.bogus") for p in found)
