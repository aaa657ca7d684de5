"""A JSON-RPC proxy in front of anvil whose transaction pool keeps what geth's keeps.

Why it exists: anvil refuses a transaction whose max fee is below the pending block's base
fee and DROPS one already in its pool when it mines a block whose base fee passed the
transaction's max fee (tried on anvil 1.x). geth's pool keeps such a transaction as pending:
it counts in `eth_getTransactionCount(addr, "pending")` and is mined once the base fee falls
back under its max fee, and the other nodes of the network keep gossiping it. A top-up that
is stuck in a fee spike on a real L1 is exactly such a transaction, so a test of it needs a
pool that behaves like geth's. This stand-in is that pool, and nothing more:

- `eth_sendRawTransaction`: the transaction is kept (keyed by sender and nonce) and handed to
  anvil; anvil's "max fee per gas less than block base fee" is not an error here (geth
  accepts it). A second transaction at a kept sender and nonce replaces it only with both
  `maxFeePerGas` and `maxPriorityFeePerGas` at least 10 % higher (geth's `PriceBump`),
  else it is refused with geth's "replacement transaction underpriced".
- `eth_getTransactionCount(addr, "pending")`: anvil's latest nonce plus the kept
  transactions that follow it without a gap (geth's pool nonce).
- `gossip()`: the network re-offers every kept transaction to anvil (call it before mining a
  block); a kept transaction whose nonce is already used on chain is forgotten.

Everything else is forwarded untouched.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from eth_account import Account
from eth_account.typed_transactions import TypedTransaction
from hexbytes import HexBytes

PRICE_BUMP_PERCENT = 10


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        pool = self.server.pool
        answer = [pool.handle(r) for r in body] if isinstance(body, list) else pool.handle(body)
        payload = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    pool: GethPoolStandIn


class GethPoolStandIn:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        # (sender lower, nonce) -> (raw hex, max fee, tip)
        self.kept: dict[tuple[str, int], tuple[str, int, int]] = {}
        self.refused_replacements = 0
        self._lock = threading.RLock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.pool = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> GethPoolStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- the wire -----------------------------------------------------------------------

    def upstream_call(self, method: str, *params: Any) -> dict[str, Any]:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
        request = urllib.request.Request(self.upstream, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        method, params, rid = request.get("method"), request.get("params") or [], request.get("id")
        with self._lock:
            if method == "eth_sendRawTransaction":
                return {"jsonrpc": "2.0", "id": rid} | self._send(str(params[0]))
            if method == "eth_getTransactionCount" and len(params) > 1 and params[1] == "pending":
                return {"jsonrpc": "2.0", "id": rid, "result": hex(self._pending_nonce(str(params[0])))}
            answer = self.upstream_call(str(method), *params)
            answer["id"] = rid
            return answer

    def _send(self, raw: str) -> dict[str, Any]:
        tx = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
        sender = Account.recover_transaction(raw).lower()
        key = (sender, int(tx["nonce"]))
        fee, tip = int(tx["maxFeePerGas"]), int(tx["maxPriorityFeePerGas"])
        old = self.kept.get(key)
        if old is not None and old[0] != raw and not (_bumped(fee, old[1]) and _bumped(tip, old[2])):
            self.refused_replacements += 1
            return {"error": {"code": -32000, "message": "replacement transaction underpriced"}}
        answer = self.upstream_call("eth_sendRawTransaction", raw)
        error = answer.get("error")
        if error and "less than block base fee" not in str(error.get("message")):
            return {"error": error}
        self.kept[key] = (raw, fee, tip)
        from eth_utils import keccak

        return {"result": "0x" + keccak(bytes.fromhex(raw.removeprefix("0x"))).hex()}

    def _latest_nonce(self, sender: str) -> int:
        return int(self.upstream_call("eth_getTransactionCount", sender, "latest")["result"], 16)

    def _pending_nonce(self, sender: str) -> int:
        nonce = self._latest_nonce(sender)
        while (sender.lower(), nonce) in self.kept:
            nonce += 1
        return nonce

    def gossip(self) -> None:
        """The network offers every kept transaction again (anvil takes those its next block can pay)."""
        with self._lock:
            for (sender, nonce), (raw, _, _) in sorted(self.kept.items()):
                if nonce < self._latest_nonce(sender):
                    del self.kept[(sender, nonce)]
                    continue
                self.upstream_call("eth_sendRawTransaction", raw)  # refused while underpriced: kept here


def _bumped(new: int, old: int) -> bool:
    return new * 100 >= old * (100 + PRICE_BUMP_PERCENT)
