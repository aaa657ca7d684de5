"""Durations as operators write them: compound ("1h30m") and `block_time = 2` as rollup configs do."""

from __future__ import annotations

import pytest
from opwatch.config import ConfigError, parse_config, parse_duration

BASE = """
[networks.mainnet]
l1_rpc = "https://l1.example"
l2_rpc = "http://sequencer:8545"
l1_chain_id = 1
l2_chain_id = 10
{block_time}
"""


@pytest.mark.parametrize(("text", "seconds"), [
    ("1h30m", 5400.0), ("2h15m30s", 8130.0), ("1m500ms", 60.5), ("1d12h", 129600.0), (" 1h 30m ", 5400.0),
    ("30s", 30.0),
])
def test_compound_durations_add_up(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["30m1h", "1h1h", "1h30", "h30m", "1h-30m", "1h 30x", "10"])
def test_malformed_compound_durations_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_compound_duration_in_a_threshold() -> None:
    text = BASE.format(block_time='block_time = "2s"') + '[networks.mainnet.thresholds]\nwallet_min_runway = "2d12h"\n'
    assert parse_config(text).network("mainnet").thresholds.wallet_min_runway == 2.5 * 86400


@pytest.mark.parametrize(("line", "seconds"), [("block_time = 2", 2.0), ("block_time = 0.25", 0.25),
                                                ('block_time = "2s"', 2.0)])
def test_block_time_as_a_bare_number_is_seconds(line: str, seconds: float) -> None:
    assert parse_config(BASE.format(block_time=line)).network("mainnet").block_time == seconds


@pytest.mark.parametrize("line", ["block_time = 0", "block_time = -2", "block_time = true", 'block_time = "2"',
                                  "block_time = nan"])
def test_bad_block_time_is_named(line: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(BASE.format(block_time=line))
    assert any(p.startswith("networks.mainnet.block_time") for p in info.value.problems), info.value.problems


def test_a_bare_number_is_still_refused_for_other_durations() -> None:
    text = BASE.format(block_time="block_time = 2") + "[networks.mainnet.thresholds]\nwallet_min_runway = 72\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert any("wallet_min_runway" in p for p in info.value.problems)
