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
# OptimismPortal(2) and SuperchainConfig (the portal's paused() asks SuperchainConfig's)
PAUSED = bytes.fromhex("5c975abb")  # paused() -> bool
# OptimismPortal2: provenWithdrawals(bytes32 hash, address submitter) -> (address game, uint64 timestamp)
PROVEN_WITHDRAWALS_2 = bytes.fromhex("bb2c727e")
DISPUTE_GAME_BLACKLIST = bytes.fromhex("45884d32")  # disputeGameBlacklist(address) -> bool
# L2ToL1MessagePasser (L2 predeploy 0x4200…0016)
SENT_MESSAGES = bytes.fromhex("82e3702d")  # sentMessages(bytes32) -> bool

# Event topics (topic0 = keccak256 of the event's signature); tests compare them to the artifacts.
# OptimismPortal(2): WithdrawalProven(bytes32 indexed withdrawalHash, address indexed from, address indexed to)
WITHDRAWAL_PROVEN = "0x67a6208cfcc0801d50f6cbe764733f4fddf66ac0b04442061a8a8c0cb6b63f62"
# OptimismPortal2 only: WithdrawalProvenExtension1(bytes32 indexed withdrawalHash, address indexed proofSubmitter)
WITHDRAWAL_PROVEN_EXTENSION1 = "0x798f9f13695f8f045aa5f80ed8efebb695f3c7fe65da381969f2f28bf3c60b97"
# Proxy (ERC-1967): Upgraded(address indexed implementation); AdminChanged(address, address), not indexed
UPGRADED = "0xbc7cd75a20ee27fd9adebab32041f755214dbc6bffa90cc0225b39da2e5c2d3b"
ADMIN_CHANGED = "0x7e644d79422f17c01e4894b5f4f588d331ebfa28653d42ae832dc59e38c9798f"
# Ownable (SystemConfig, DisputeGameFactory…): OwnershipTransferred(address indexed, address indexed)
OWNERSHIP_TRANSFERRED = "0x8be0079c531659141344cd1fd0a4f28419497f9722a3daafe3b4186f6b6457e0"
# SystemConfig: ConfigUpdate(uint256 indexed version, uint8 indexed updateType, bytes data)
CONFIG_UPDATE = "0x1d2b0bda21d56b8bd12d4f94ebacffdfb35f5e226f84b461103bb8beab6353be"
# Initializable: Initialized(uint8 version), emitted by initialize() (and reinitializers)
INITIALIZED = "0x7f26b83ff96e1f2b6a682f133852f6798a09c465da95921460cefb3847402498"
# SuperchainConfig: Paused(string identifier)
PAUSED_EVENT = "0xc32e6d5d6d1de257f64eac19ddb1f700ba13527983849c9486b1ab007ea28381"
# ERC-1967 implementation slot: bytes32(uint256(keccak256("eip1967.proxy.implementation")) - 1)
IMPLEMENTATION_SLOT = "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc"


def encode_uint(selector: bytes, value: int) -> bytes:
    return selector + value.to_bytes(32, "big")


def words(data: bytes, count: int, what: str, source: str) -> list[int]:
    """The first `count` 32-byte words of a return value, as integers."""
    if len(data) < 32 * count:
        raise BadResponse(source, f"{what}: expected at least {32 * count} bytes, got {len(data)}")
    return [int.from_bytes(data[32 * i: 32 * i + 32], "big") for i in range(count)]


def word_address(word: int) -> str:
    return "0x" + (word & ((1 << 160) - 1)).to_bytes(20, "big").hex()


def encode_word(selector: bytes, word: bytes | str) -> bytes:
    """`selector` with one static 32-byte argument: a bytes32, or an address (left-padded)."""
    raw = bytes.fromhex(word[2:]) if isinstance(word, str) else word
    if len(raw) > 32:
        raise ValueError("a static argument is at most 32 bytes")
    return selector + raw.rjust(32, b"\0")


def boolean(data: bytes, what: str, source: str) -> bool:
    """An ABI bool: the word must be 0 or 1 (anything else is not the contract we think)."""
    (value,) = words(data, 1, what, source)
    if value > 1:
        raise BadResponse(source, f"{what}: {value:#x} is not a bool")
    return value == 1
