"""What geth's transaction pool holds that anvil's does not, as the devnet's L1 endpoints answer it.

Stands in for geth's txpool as a watchdog sees it through `eth_getTransactionCount(addr,
"pending")`. anvil refuses a transaction whose max fee is below the base fee and never counts
transactions queued behind a nonce gap in its pending nonce; geth keeps the underpriced one
pending (the miner skips it until the base fee falls under its max fee) and counts it, and every
later transaction of the sender after it, in the pending nonce. A batcher stuck that way is what
the `stuck-batcher-tx` fault shows, so the devnet's L1 proxies answer pending nonces the way geth
would: anvil's answer, raised past every transaction the pool view keeps at the next nonces
without a gap.

Only what the devnet tells it to keep is kept (`keep`); everything else passes untouched.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from opwatch_devnet.proxy import FaultProxy


class PoolView:
    """(sender, nonce) pairs that geth's pool would hold pending and anvil does not count."""

    def __init__(self) -> None:
        self._kept: set[tuple[str, int]] = set()
        self._lock = threading.Lock()

    def keep(self, sender: str, nonce: int) -> None:
        with self._lock:
            self._kept.add((sender.lower(), int(nonce)))

    def forget(self, sender: str) -> None:
        with self._lock:
            self._kept = {k for k in self._kept if k[0] != sender.lower()}

    def __bool__(self) -> bool:
        return bool(self._kept)

    def pending_nonce(self, sender: str, counted: int) -> int:
        """geth's pool nonce: `counted` (anvil's pending nonce), then every kept nonce that
        follows it without a gap."""
        nonce = counted
        with self._lock:
            while (sender.lower(), nonce) in self._kept:
                nonce += 1
        return nonce


class PoolProxy(FaultProxy):
    """A devnet fault proxy in front of L1 whose pending nonces count the pool view's transactions."""

    def __init__(self, name: str, upstream: str, pool: PoolView, **kwargs: Any) -> None:
        super().__init__(name, upstream, **kwargs)
        self.pool = pool

    def _forward(self, body: bytes) -> tuple[int, bytes]:
        status, answer = super()._forward(body)
        if not self.pool or b'"pending"' not in body:
            return status, answer  # the common case: nothing kept, or no pending nonce asked
        return status, _count_kept(body, answer, self.pool)


def _count_kept(body: bytes, answer: bytes, pool: PoolView) -> bytes:
    try:
        asked, decoded = json.loads(body), json.loads(answer)
    except ValueError:
        return answer
    requests = asked if isinstance(asked, list) else [asked]
    senders = {r.get("id"): str(r["params"][0]) for r in requests
               if isinstance(r, dict) and r.get("method") == "eth_getTransactionCount"
               and isinstance(r.get("params"), list) and len(r["params"]) > 1 and r["params"][1] == "pending"}
    for item in decoded if isinstance(decoded, list) else [decoded]:
        if isinstance(item, dict) and item.get("id") in senders and isinstance(item.get("result"), str):
            counted = int(item["result"], 16)
            item["result"] = hex(pool.pending_nonce(senders[item["id"]], counted))
    return json.dumps(decoded).encode()
