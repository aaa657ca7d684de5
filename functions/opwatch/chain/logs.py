"""Reading event logs off L1 over a time window: bounded `eth_getLogs` ranges, split when refused.

Providers cap `eth_getLogs`: geth and Infura answer "query returned more than 10000 results",
Alchemy "Log response size exceeded", others "block range too large" or "limit exceeded".
A refused range is split in half and both halves are read, down to a single block; a range
is never skipped, because a skipped range is a blind spot that reads as "nothing happened".
A single block still refused, or more than `MAX_REQUESTS` requests for one window, is a
`BadResponse`: the finding is `unknown`.

A window given in seconds becomes a first block by searching block timestamps (16 probes per
round trip, so about six round trips on a chain of tens of millions of blocks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import wire
from .errors import BadResponse, RpcError
from .node import Node
from .rpc import Call, refuses_log_range

# Blocks per eth_getLogs request before any split: a day of L1 (7200 blocks) in a few requests,
# under the 10,000-block range most providers allow.
MAX_RANGE = 2_000
# Requests one window may cost, splits included: a node refusing everything must not make a
# run read without end.
MAX_REQUESTS = 256
_PROBES = 16


@dataclass(frozen=True, slots=True)
class Log:
    address: str  # lower case
    topics: tuple[str, ...]  # lower case, topic0 first
    data: bytes
    block_number: int
    tx_hash: str
    log_index: int

    def topic_address(self, i: int) -> str:
        """An indexed address argument (topic i)."""
        return "0x" + self.topics[i][-40:]


def parse_log(value: Any, source: str) -> Log:
    if not isinstance(value, dict):
        raise BadResponse(source, "log: expected an object")
    topics = value.get("topics")
    if not isinstance(topics, list) or not topics:
        raise BadResponse(source, "log.topics: expected a non-empty list")
    if value.get("removed") is True:
        raise BadResponse(source, "log removed by a reorg inside a pinned range")
    return Log(
        address=wire.address(value.get("address"), "log.address", source),
        topics=tuple(wire.hash32(t, "log.topics", source) for t in topics),
        data=wire.data(value.get("data"), "log.data", source),
        block_number=wire.quantity(value.get("blockNumber"), "log.blockNumber", source),
        tx_hash=wire.hash32(value.get("transactionHash"), "log.transactionHash", source),
        log_index=wire.quantity(value.get("logIndex"), "log.logIndex", source),
    )


def first_block_since(node: Node, since: float, head: wire.Block) -> int:
    """The first block whose timestamp is at or after `since` (head.number + 1 if none is)."""
    if head.timestamp < since:
        return head.number + 1
    lo, hi = 0, head.number  # the answer lies in [lo, hi]; block hi is at or after `since`
    while lo < hi:
        step = max(1, (hi - lo) // _PROBES)
        probes = list(range(lo, hi, step))[:_PROBES]
        found = node.blocks(probes)
        new_lo, new_hi = lo, hi
        for block in found:
            if block.timestamp >= since:
                new_hi = block.number
                break
            new_lo = block.number + 1
        lo, hi = new_lo, new_hi
    return hi


def get_logs(node: Node, addresses: Sequence[str], topic0: Sequence[str], from_block: int,
             to_block: int) -> list[Log]:
    """Every log of `addresses` whose first topic is one of `topic0`, in [from_block, to_block],
    in chain order. Raises BadResponse when the node refuses a single block or the window
    costs more than MAX_REQUESTS requests."""
    if from_block > to_block or not addresses:
        return []
    node.verify_chain()
    pending = [(start, min(start + MAX_RANGE - 1, to_block)) for start in range(from_block, to_block + 1, MAX_RANGE)]
    pending.reverse()  # a stack: the lowest range on top
    found: list[Log] = []
    requests = 0
    while pending:
        start, end = pending.pop()
        requests += 1
        if requests > MAX_REQUESTS:
            raise BadResponse(node.name, f"eth_getLogs over blocks {from_block}-{to_block} needs more than "
                                         f"{MAX_REQUESTS} requests (the node keeps refusing ranges)")
        query = {"address": list(addresses), "topics": [list(topic0)], "fromBlock": hex(start), "toBlock": hex(end)}
        try:
            (raw,) = node.client.batch([Call("eth_getLogs", (query,))])
        except RpcError as exc:
            if not refuses_log_range(exc):  # what the providers say when a range holds too much
                raise
            if start == end:
                raise BadResponse(node.name, f"eth_getLogs refused block {start} even alone ({exc.message})") from None
            middle = (start + end) // 2
            pending += [(middle + 1, end), (start, middle)]  # read the lower half first
            continue
        if not isinstance(raw, list):
            raise BadResponse(node.name, "eth_getLogs: expected a list")
        for item in raw:
            log = parse_log(item, node.name)
            if not start <= log.block_number <= end:
                raise BadResponse(node.name, f"eth_getLogs({start}-{end}) answered a log of block {log.block_number}")
            found.append(log)
    found.sort(key=lambda log: (log.block_number, log.log_index))
    return found


def storage_at(node: Node, address: str, slot: str, block: int) -> str:
    """One storage word (0x-prefixed, 32 bytes) at `block`."""
    node.verify_chain()
    raw = node.client.call("eth_getStorageAt", address, slot, hex(block))
    return wire.hash32(raw, "eth_getStorageAt", node.name)


def senders(node: Node, tx_hashes: Sequence[str]) -> dict[str, str]:
    """tx hash → its sender (the `from` of each transaction)."""
    if not tx_hashes:
        return {}
    node.verify_chain()
    raws = node.client.batch([Call("eth_getTransactionByHash", (h,)) for h in tx_hashes])
    out = {}
    for h, raw in zip(tx_hashes, raws, strict=True):
        if not isinstance(raw, dict):
            raise BadResponse(node.name, f"transaction {h} not found")
        out[h] = wire.address(raw.get("from"), "transaction.from", node.name)
    return out
