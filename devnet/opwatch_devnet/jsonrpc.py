"""A minimal JSON-RPC-over-HTTP client for the devnet's own plumbing.

Actors, the follower and the op-node stand-in make many small calls from threads; a stdlib
client keeps them independent of web3's provider state. web3 is used only where it earns its
keep (ABI encoding, signing).
"""

from __future__ import annotations

import itertools
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

_ids = itertools.count(1)


class RpcError(Exception):
    """The node answered with a JSON-RPC error (or something that is not JSON-RPC)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class RpcClient:
    url: str
    timeout: float = 5.0
    _headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})

    def call(self, method: str, *params: Any, timeout: float | None = None) -> Any:
        body = json.dumps({"jsonrpc": "2.0", "id": next(_ids), "method": method, "params": list(params)})
        request = urllib.request.Request(self.url, data=body.encode(), headers=self._headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                payload = json.loads(response.read())
        except urllib.error.HTTPError as err:
            raise RpcError(f"HTTP {err.code} from {self.url}", err.code) from err
        except json.JSONDecodeError as err:
            raise RpcError(f"malformed JSON from {self.url}") from err
        if not isinstance(payload, dict):
            raise RpcError(f"not a JSON-RPC object from {self.url}")
        if "error" in payload:
            error = payload["error"] or {}
            raise RpcError(str(error.get("message", error)), error.get("code"))
        return payload.get("result")

    def block_number(self) -> int:
        return int(self.call("eth_blockNumber"), 16)

    def block(self, tag: int | str, full: bool = False) -> dict[str, Any] | None:
        ref = hex(tag) if isinstance(tag, int) else tag
        result: dict[str, Any] | None = self.call("eth_getBlockByNumber", ref, full)
        return result
