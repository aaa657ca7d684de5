"""Chain access: one node checked for its chain id, and a quorum of redundant L1 nodes.

`Node` wraps an `RpcClient` with the chain id it must serve; its first answer of a run is
checked (`eth_chainId` rides in the same batch as the head, so the check costs no extra
round trip). `L1Quorum` asks every L1 endpoint at once, drops the dead and the wrong ones,
reads from the one with the highest head and fails over to the others, so one dead
endpoint never changes a verdict.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Any, TypeVar

from . import wire
from .errors import BadResponse, ChainError, EndpointUnreachable, NoHealthyEndpoint, RpcError, WrongChain
from .rpc import Call, RpcClient

T = TypeVar("T")


def block_tag(number: int | None) -> str:
    return "latest" if number is None else hex(number)


class Node:
    def __init__(self, client: RpcClient, chain_id: int) -> None:
        self.client = client
        self.chain_id = chain_id
        self.name = client.name
        self._verified = False

    def head(self) -> wire.Block:
        """The latest block; verifies the chain id in the same round trip."""
        chain_id, raw = self.client.batch([Call("eth_chainId"), Call("eth_getBlockByNumber", ("latest", False))])
        self._check_chain(chain_id)
        return wire.block(raw, self.name)

    def head_and_block(self, number: int) -> tuple[wire.Block, wire.Block | None]:
        """The latest block and block `number`, with the chain id, in one round trip: what a
        comparison with a reference at `number` needs whether this node is behind it or past it.
        The second is None when the node has no block `number` yet (it answers null)."""
        chain_id, raw_head, raw_at = self.client.batch([
            Call("eth_chainId"), Call("eth_getBlockByNumber", ("latest", False)),
            Call("eth_getBlockByNumber", (hex(number), False))])
        self._check_chain(chain_id)
        head = wire.block(raw_head, self.name)
        if raw_at is None:
            return head, None
        at = wire.block(raw_at, self.name)
        if at.number != number:
            raise BadResponse(self.name, f"asked for block {number}, got {at.number}")
        return head, at

    def verify_chain(self) -> None:
        if not self._verified:
            self._check_chain(self.client.call("eth_chainId"))

    def _check_chain(self, raw: Any) -> None:
        actual = wire.quantity(raw, "eth_chainId", self.name)
        if actual != self.chain_id:
            raise WrongChain(self.name, self.chain_id, actual)
        self._verified = True

    def blocks(self, numbers: Sequence[int], full: bool = False) -> list[wire.Block]:
        self.verify_chain()
        raws = self.client.batch([Call("eth_getBlockByNumber", (hex(n), full)) for n in numbers])
        found = [wire.block(raw, self.name, full=full) for raw in raws]
        for n, b in zip(numbers, found, strict=True):
            if b.number != n:
                raise BadResponse(self.name, f"asked for block {n}, got {b.number}")
        return found

    def block(self, number: int, full: bool = False) -> wire.Block:
        return self.blocks([number], full)[0]

    def balances_and_nonces(self, addresses: Sequence[str], block: int) -> list[tuple[int, int]]:
        self.verify_chain()
        calls = []
        for addr in addresses:
            calls += [Call("eth_getBalance", (addr, hex(block))), Call("eth_getTransactionCount", (addr, hex(block)))]
        raws = self.client.batch(calls)
        return [(wire.quantity(raws[2 * i], "balance", self.name), wire.quantity(raws[2 * i + 1], "nonce", self.name))
                for i in range(len(addresses))]

    def nonces(self, addresses: Sequence[str], block: int) -> list[int]:
        self.verify_chain()
        raws = self.client.batch([Call("eth_getTransactionCount", (a, hex(block))) for a in addresses])
        return [wire.quantity(r, "nonce", self.name) for r in raws]

    def eth_calls(self, calls: Sequence[tuple[str, bytes]], block: int | None = None) -> list[bytes | RpcError]:
        """Batch of eth_call; a revert comes back as an RpcError in its slot (it can mean 'empty')."""
        self.verify_chain()
        tag = block_tag(block)
        raws = self.client.batch([Call("eth_call", ({"to": to, "data": "0x" + data.hex()}, tag)) for to, data in calls],
                                 allow_errors=True)
        out: list[bytes | RpcError] = []
        for raw in raws:
            if isinstance(raw, RpcError):
                if not raw.is_revert:
                    raise raw
                out.append(raw)
            else:
                out.append(wire.data(raw, "eth_call", self.name))
        return out

    def blob_base_fee(self) -> int:
        return wire.quantity(self.client.call("eth_blobBaseFee"), "eth_blobBaseFee", self.name)


# Failover is for endpoints that could not answer; a well-formed JSON-RPC error (a revert)
# is an answer, and another endpoint would give the same one.
_FAILOVER = (EndpointUnreachable, BadResponse, WrongChain)


class L1Quorum:
    """Redundant L1 endpoints, read as one."""

    def __init__(self, nodes: Sequence[Node], grace: float = 1.0) -> None:
        self._nodes = list(nodes)
        self._grace = grace
        self._healthy: list[Node] = []
        self.head_block: wire.Block | None = None

    def head(self) -> wire.Block:
        """Ask every endpoint concurrently; keep those on the right chain; pin the highest head.

        Once one endpoint has answered, the others get `grace` seconds more: a hung endpoint
        is dropped rather than waited for, because every second spent waiting would be added
        to the ages the checks measure against the head.
        """
        if self.head_block is not None:
            return self.head_block
        causes: list[ChainError] = []
        answers: list[tuple[Node, wire.Block]] = []
        pool = ThreadPoolExecutor(max_workers=max(1, len(self._nodes)))
        try:
            pending = {pool.submit(node.head): node for node in self._nodes}
            deadline: float | None = None
            while pending:
                timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
                done, _ = wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)
                if not done:
                    break  # grace over: the rest are too slow to wait for
                for future in done:
                    node = pending.pop(future)
                    try:
                        answers.append((node, future.result()))
                    except ChainError as exc:
                        causes.append(exc)
                if answers and deadline is None:
                    deadline = time.monotonic() + self._grace
            for node in pending.values():
                causes.append(EndpointUnreachable(node.name, f"no answer within {self._grace:g} s of the others"))
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        if not answers:
            raise NoHealthyEndpoint("l1", causes)
        # The highest head: a lagging endpoint must not make a fresh submission look old.
        answers.sort(key=lambda pair: pair[1].number, reverse=True)
        self._healthy = [node for node, _ in answers]
        self.head_block = answers[0][1]
        return self.head_block

    @property
    def healthy_count(self) -> int:
        return len(self._healthy)

    def read(self, fn: Callable[[Node], T]) -> T:
        """Run `fn` on the best endpoint, failing over to the next healthy one."""
        self.head()
        causes: list[ChainError] = []
        for node in self._healthy:
            try:
                return fn(node)
            except _FAILOVER as exc:
                causes.append(exc)
        if len(causes) == 1:
            raise causes[0]
        raise NoHealthyEndpoint("l1", causes)
