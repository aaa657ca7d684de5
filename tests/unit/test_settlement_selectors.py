"""The settlement checks' hand-encoded selectors match the real contracts-bedrock artifacts."""

from __future__ import annotations

import json
from pathlib import Path

from opwatch.chain import abi

ARTIFACTS = Path(__file__).resolve().parents[2] / "node_modules/@eth-optimism/contracts-bedrock/forge-artifacts"


def _ids(name: str) -> dict[str, str]:
    ids: dict[str, str] = json.loads((ARTIFACTS / f"{name}.sol/{name}.json").read_text())["methodIdentifiers"]
    return ids


def test_dispute_game_and_portal_selectors_match_the_artifacts() -> None:
    game = _ids("FaultDisputeGame")
    expected = {
        abi.ROOT_CLAIM: game["rootClaim()"],
        abi.L2_BLOCK_NUMBER: game["l2BlockNumber()"],
        abi.GAME_CREATOR: game["gameCreator()"],
        abi.GAME_STATUS: game["status()"],
        abi.CREATED_AT: game["createdAt()"],
        abi.RESOLVED_AT: game["resolvedAt()"],
        abi.MAX_CLOCK_DURATION: game["maxClockDuration()"],
        abi.CLAIM_DATA_LEN: game["claimDataLen()"],
        abi.CLAIM_DATA: game["claimData(uint256)"],
        abi.RESPECTED_GAME_TYPE: _ids("OptimismPortal2")["respectedGameType()"],
    }
    for selector, hexid in expected.items():
        assert selector.hex() == hexid


def test_claim_data_layout_is_the_one_the_check_decodes() -> None:
    """dispute_games reads claimData's first word as parentIndex and the fifth as the claim."""
    abi_entries = json.loads((ARTIFACTS / "FaultDisputeGame.sol/FaultDisputeGame.json").read_text())["abi"]
    claim_data = next(e for e in abi_entries if e.get("name") == "claimData")
    names = [o["name"] for o in claim_data["outputs"]]
    assert names[:5] == ["parentIndex", "counteredBy", "claimant", "bond", "claim"]
    assert all(o["type"] != "bytes" and not o["type"].endswith("[]") for o in claim_data["outputs"])
