"""Typed views of what comes off the wire, validated at this one boundary.

Everything a check trusts passes through these parsers; anything malformed raises
`BadResponse` (so the finding becomes `unknown`), never a KeyError deep inside a check.
Transactions are read by their common fields only, so OP Stack deposit transactions
(type 0x7E: no signature, no gas price) parse like any other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import BadResponse

_HEX = re.compile(r"^0x[0-9a-fA-F]*\Z")
_HASH = re.compile(r"^0x[0-9a-fA-F]{64}\Z")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}\Z")

DEPOSIT_TX_TYPE = 0x7E
BLOB_TX_TYPE = 0x03


def quantity(value: Any, what: str, source: str = "answer") -> int:
    """A JSON-RPC QUANTITY: 0x-prefixed hex without leading zeros (leniently: with them)."""
    if isinstance(value, str) and _HEX.match(value) and len(value) > 2 and len(value) <= 66:
        return int(value, 16)
    raise BadResponse(source, f"{what}: expected a hex quantity, got {_short(value)}")


def hash32(value: Any, what: str, source: str = "answer") -> str:
    if isinstance(value, str) and _HASH.match(value):
        return value.lower()
    raise BadResponse(source, f"{what}: expected a 32-byte hash, got {_short(value)}")


def address(value: Any, what: str, source: str = "answer") -> str:
    if isinstance(value, str) and _ADDRESS.match(value):
        return value.lower()
    raise BadResponse(source, f"{what}: expected an address, got {_short(value)}")


def data(value: Any, what: str, source: str = "answer") -> bytes:
    if isinstance(value, str) and _HEX.match(value) and len(value) % 2 == 0:
        return bytes.fromhex(value[2:])
    raise BadResponse(source, f"{what}: expected hex data, got {_short(value)}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True, slots=True)
class Tx:
    hash: str
    sender: str
    to: str | None  # None for contract creation
    type: int
    blob_count: int


@dataclass(frozen=True, slots=True)
class Block:
    number: int
    hash: str
    parent_hash: str
    timestamp: int
    base_fee: int | None
    txs: tuple[Tx, ...] = ()


def block(value: Any, source: str, full: bool = False) -> Block:
    if not isinstance(value, dict):
        if value is None:
            raise BadResponse(source, "block not found")
        raise BadResponse(source, f"block: expected an object, got {_short(value)}")
    base_fee = value.get("baseFeePerGas")
    txs: tuple[Tx, ...] = ()
    raw_txs = value.get("transactions", [])
    if not isinstance(raw_txs, list):
        raise BadResponse(source, "block.transactions: expected a list")
    if full:
        txs = tuple(transaction(t, source) for t in raw_txs)
    return Block(
        number=quantity(value.get("number"), "block.number", source),
        hash=hash32(value.get("hash"), "block.hash", source),
        parent_hash=hash32(value.get("parentHash"), "block.parentHash", source),
        timestamp=quantity(value.get("timestamp"), "block.timestamp", source),
        base_fee=None if base_fee is None else quantity(base_fee, "block.baseFeePerGas", source),
        txs=txs,
    )


def transaction(value: Any, source: str) -> Tx:
    if not isinstance(value, dict):
        raise BadResponse(source, "transaction: expected an object (ask for full transactions)")
    to = value.get("to")
    blobs = value.get("blobVersionedHashes") or []
    if not isinstance(blobs, list):
        raise BadResponse(source, "transaction.blobVersionedHashes: expected a list")
    # Legacy transactions may omit "type"; it means 0.
    tx_type = value.get("type", "0x0")
    return Tx(
        hash=hash32(value.get("hash"), "transaction.hash", source),
        sender=address(value.get("from"), "transaction.from", source),
        to=None if to is None else address(to, "transaction.to", source),
        type=quantity(tx_type, "transaction.type", source),
        blob_count=len(blobs),
    )


# --- op-node rollup RPC ------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class L2BlockRef:
    number: int
    hash: str
    timestamp: int
    l1origin_number: int


@dataclass(frozen=True, slots=True)
class SyncStatus:
    head_l1_number: int
    head_l1_timestamp: int
    unsafe_l2: L2BlockRef
    safe_l2: L2BlockRef
    finalized_l2: L2BlockRef


def _json_number(value: Any, what: str, source: str) -> int:
    # op-node encodes these refs' numbers as plain JSON numbers (Go uint64), not hex.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadResponse(source, f"{what}: expected a non-negative integer, got {_short(value)}")
    return value


def _l2_ref(value: Any, what: str, source: str) -> L2BlockRef:
    if not isinstance(value, dict):
        raise BadResponse(source, f"{what}: expected an L2 block ref object")
    origin = value.get("l1origin")
    if not isinstance(origin, dict):
        raise BadResponse(source, f"{what}.l1origin: expected an object")
    return L2BlockRef(
        number=_json_number(value.get("number"), f"{what}.number", source),
        hash=hash32(value.get("hash"), f"{what}.hash", source),
        timestamp=_json_number(value.get("timestamp"), f"{what}.timestamp", source),
        l1origin_number=_json_number(origin.get("number"), f"{what}.l1origin.number", source),
    )


def sync_status(value: Any, source: str) -> SyncStatus:
    if not isinstance(value, dict):
        raise BadResponse(source, "optimism_syncStatus: expected an object")
    head_l1 = value.get("head_l1")
    if not isinstance(head_l1, dict):
        raise BadResponse(source, "head_l1: expected an L1 block ref object")
    return SyncStatus(
        head_l1_number=_json_number(head_l1.get("number"), "head_l1.number", source),
        head_l1_timestamp=_json_number(head_l1.get("timestamp"), "head_l1.timestamp", source),
        unsafe_l2=_l2_ref(value.get("unsafe_l2"), "unsafe_l2", source),
        safe_l2=_l2_ref(value.get("safe_l2"), "safe_l2", source),
        finalized_l2=_l2_ref(value.get("finalized_l2"), "finalized_l2", source),
    )


def rollup_chain_ids(value: Any, source: str) -> tuple[int, int]:
    """(l1_chain_id, l2_chain_id) from optimism_rollupConfig."""
    if not isinstance(value, dict):
        raise BadResponse(source, "optimism_rollupConfig: expected an object")
    l1 = value.get("l1_chain_id")
    l2 = value.get("l2_chain_id")
    # op-node encodes l1_chain_id as a number and l2_chain_id as a (big) number.
    return (_json_number(l1, "l1_chain_id", source), _json_number(l2, "l2_chain_id", source))


def rollup_seq_window_size(value: Any, source: str) -> int:
    """`seq_window_size` (L1 blocks) from optimism_rollupConfig: a batch for an L2 block must land
    within this many L1 blocks of its L1 origin, else op-node makes that block deposit-only."""
    if not isinstance(value, dict):
        raise BadResponse(source, "optimism_rollupConfig: expected an object")
    size = _json_number(value.get("seq_window_size"), "seq_window_size", source)
    if size == 0:
        raise BadResponse(source, "seq_window_size: expected a positive number of L1 blocks")
    return size
