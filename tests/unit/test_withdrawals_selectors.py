"""withdrawals and l1_contracts: hand-encoded selectors and event topics match the real
contracts-bedrock 0.17.3 artifacts; the config keys parse, default and refuse as documented."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from opwatch.chain import abi
from opwatch.checks import CHECKS, l1_contracts
from opwatch.config import ConfigError, parse_config

ARTIFACTS = Path(__file__).resolve().parents[2] / "node_modules/@eth-optimism/contracts-bedrock/forge-artifacts"


def _artifact(name: str) -> dict:  # type: ignore[type-arg]
    data: dict = json.loads((ARTIFACTS / f"{name}.sol/{name}.json").read_text())  # type: ignore[type-arg]
    return data


def _topic(name: str, event: str) -> str:
    from eth_utils import keccak

    entry = next(e for e in _artifact(name)["abi"] if e["type"] == "event" and e["name"] == event)
    signature = f"{event}({','.join(i['type'] for i in entry['inputs'])})"
    return "0x" + bytes(keccak(text=signature)).hex()


def test_selectors_match_the_artifacts() -> None:
    portal = _artifact("OptimismPortal2")["methodIdentifiers"]
    expected = {
        abi.PAUSED: portal["paused()"],
        abi.PROVEN_WITHDRAWALS_2: portal["provenWithdrawals(bytes32,address)"],
        abi.DISPUTE_GAME_BLACKLIST: portal["disputeGameBlacklist(address)"],
        abi.SENT_MESSAGES: _artifact("L2ToL1MessagePasser")["methodIdentifiers"]["sentMessages(bytes32)"],
        abi.BATCHER_HASH: _artifact("SystemConfig")["methodIdentifiers"]["batcherHash()"],
    }
    assert _artifact("SuperchainConfig")["methodIdentifiers"]["paused()"] == abi.PAUSED.hex()
    for selector, hexid in expected.items():
        assert selector.hex() == hexid


def test_event_topics_match_the_artifacts() -> None:
    assert abi.WITHDRAWAL_PROVEN == _topic("OptimismPortal2", "WithdrawalProven") == _topic("OptimismPortal",
                                                                                           "WithdrawalProven")
    assert abi.WITHDRAWAL_PROVEN_EXTENSION1 == _topic("OptimismPortal2", "WithdrawalProvenExtension1")
    assert abi.UPGRADED == _topic("Proxy", "Upgraded")
    assert abi.ADMIN_CHANGED == _topic("Proxy", "AdminChanged")
    assert abi.OWNERSHIP_TRANSFERRED == _topic("SystemConfig", "OwnershipTransferred")
    assert abi.CONFIG_UPDATE == _topic("SystemConfig", "ConfigUpdate")
    assert abi.PAUSED_EVENT == _topic("SuperchainConfig", "Paused")


def test_the_event_shapes_are_the_ones_the_checks_decode() -> None:
    """AdminChanged's addresses are data (not indexed); ConfigUpdate's version and type are topics."""
    def inputs(name: str, event: str) -> list[tuple[str, bool]]:
        entry = next(e for e in _artifact(name)["abi"] if e["type"] == "event" and e["name"] == event)
        return [(i["type"], i["indexed"]) for i in entry["inputs"]]

    assert inputs("Proxy", "AdminChanged") == [("address", False), ("address", False)]
    assert inputs("SystemConfig", "ConfigUpdate") == [("uint256", True), ("uint8", True), ("bytes", False)]
    assert inputs("OptimismPortal2", "WithdrawalProvenExtension1") == [("bytes32", True), ("address", True)]


BASE = """
[networks.n]
l1_rpc = ["http://127.0.0.1:1"]
l2_rpc = "http://127.0.0.1:2"
l1_chain_id = 1
l2_chain_id = 10
block_time = "2s"
optimism_portal = "0xbEb5Fc579115071764c7423A4f12eDde41f106Ed"
"""


def test_config_defaults_and_keys() -> None:
    net = parse_config(BASE).network("n")
    assert net.l1_contracts.lookback == 86400.0 and net.thresholds.withdrawals_lookback == 86400.0
    assert net.l1_contracts.watch == () and net.superchain_config is None
    assert CHECKS["withdrawals"].missing(net) is None and CHECKS["l1_contracts"].targets(net) == ["paused", "upgrades"]
    text = BASE + """superchain_config = "0x95703e0982140D16f8ebA6d158FccEde42f04a4C"
[networks.n.l1_contracts]
watch = ["0x229047fed2591dbec1eF1118d64F7aF3dB9EB290"]
allowed_implementations = ["0xe2f826324b2faf99e513d16d266c3f80ae87832b"]
lookback = "6h"
[networks.n.thresholds]
withdrawals_lookback = "2d"
"""
    net = parse_config(text).network("n")
    assert net.l1_contracts.lookback == 21600.0 and net.thresholds.withdrawals_lookback == 172800.0
    assert net.l1_contracts.allowed_implementations == ("0xe2F826324b2faf99E513D16D266c3F80aE87832B",)
    assert l1_contracts.watched(net) == ["0xbeb5fc579115071764c7423a4f12edde41f106ed",
                                         "0x95703e0982140d16f8eba6d158fccede42f04a4c",
                                         "0x229047fed2591dbec1ef1118d64f7af3db9eb290"]


@pytest.mark.parametrize("extra,problem", [
    ("[networks.n.l1_contracts]\nwatchh = []\n", "networks.n.l1_contracts.watchh: unknown key (did you mean watch?)"),
    ("[networks.n.l1_contracts]\nwatch = \"0x00\"\n", "networks.n.l1_contracts.watch: expected a list"),
    ("[networks.n.l1_contracts]\nallowed_implementations = [\"0x12\"]\n",
     "networks.n.l1_contracts.allowed_implementations: expected a 0x-prefixed"),
    ("[networks.n.l1_contracts]\nlookback = \"0s\"\n", "networks.n.l1_contracts.lookback: must be a positive"),
    ("[networks.n.thresholds]\nwithdrawal_lookback = \"1d\"\n", "did you mean withdrawals_lookback?"),
])
def test_config_refuses_bad_keys(extra: str, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(BASE + extra)
    assert any(problem in p for p in err.value.problems), err.value.problems
