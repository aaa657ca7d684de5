"""The few contract calls opwatch makes, encoded by hand.

Selectors are constants (tests check each against the `methodIdentifiers` of the real
contracts-bedrock artifacts), so a check does not import an ABI codec at cold start.
"""

from __future__ import annotations

from .errors import BadResponse

# L2OutputOracle (legacy proposals)
LATEST_OUTPUT_INDEX = bytes.fromhex("69f16eec")  # latestOutputIndex() -> uint256; reverts while empty
STARTING_TIMESTAMP = bytes.fromhex("88786272")  # startingTimestamp() -> uint256 (L2 time of the first block)
GET_L2_OUTPUT = bytes.fromhex("a25ae557")  # getL2Output(uint256) -> (bytes32, uint128 timestamp, uint128 l2Block)
# DisputeGameFactory (fault proofs)
GAME_COUNT = bytes.fromhex("4d1975b4")  # gameCount() -> uint256
GAME_AT_INDEX = bytes.fromhex("bb8aa1fc")  # gameAtIndex(uint256) -> (uint32 gameType, uint64 timestamp, address)
# FaultDisputeGame (each game, at the proxy address gameAtIndex gives)
ROOT_CLAIM = bytes.fromhex("bcef3b55")  # rootClaim() -> bytes32 (the claimed output root)
L2_BLOCK_NUMBER = bytes.fromhex("8b85902b")  # l2BlockNumber() -> uint256 (the L2 block it claims)
GAME_CREATOR = bytes.fromhex("37b1b229")  # gameCreator() -> address
GAME_STATUS = bytes.fromhex("200d2ed2")  # status() -> uint8: 0 IN_PROGRESS, 1 CHALLENGER_WINS, 2 DEFENDER_WINS
CREATED_AT = bytes.fromhex("cf09e0d0")  # createdAt() -> uint64 (L1 timestamp)
RESOLVED_AT = bytes.fromhex("19effeb4")  # resolvedAt() -> uint64 (0 while in progress)
MAX_CLOCK_DURATION = bytes.fromhex("dabd396d")  # maxClockDuration() -> uint64 seconds (each side's chess clock)
CLAIM_DATA_LEN = bytes.fromhex("8980e0cc")  # claimDataLen() -> uint256
# claimData(uint256) -> (uint32 parentIndex, address counteredBy, address claimant, uint128 bond,
#                        bytes32 claim, uint128 position, uint128 clock); the root is index 0
CLAIM_DATA = bytes.fromhex("c6f0308c")
# OptimismPortal2
RESPECTED_GAME_TYPE = bytes.fromhex("3c9f397c")  # respectedGameType() -> uint32
# SystemConfig
BATCHER_HASH = bytes.fromhex("e81b2c6d")  # batcherHash() -> bytes32 (left-padded address)
BATCH_INBOX = bytes.fromhex("dac6e63a")  # batchInbox() -> address


def encode_uint(selector: bytes, value: int) -> bytes:
    return selector + value.to_bytes(32, "big")


def words(data: bytes, count: int, what: str, source: str) -> list[int]:
    """The first `count` 32-byte words of a return value, as integers."""
    if len(data) < 32 * count:
        raise BadResponse(source, f"{what}: expected at least {32 * count} bytes, got {len(data)}")
    return [int.from_bytes(data[32 * i: 32 * i + 32], "big") for i in range(count)]


def word_address(word: int) -> str:
    return "0x" + (word & ((1 << 160) - 1)).to_bytes(20, "big").hex()
