"""Typed chain-access errors. Every one of them means "I could not tell".

Checks do not catch these: `opwatch.checks.base.evaluate` turns them into `unknown`
findings carrying `reason`, in one place. Messages never contain an endpoint's URL, only
its redacted name.
"""

from __future__ import annotations


class ChainError(Exception):
    """Base: the answer needed for a verdict could not be obtained or trusted."""

    def __init__(self, endpoint: str, reason: str) -> None:
        self.endpoint = endpoint
        self.reason = reason
        super().__init__(f"{endpoint}: {reason}")


class EndpointUnreachable(ChainError):
    """Connection refused or reset, DNS failure, HTTP 5xx/429 after retries, or a timeout."""


class BadResponse(ChainError):
    """The endpoint answered, but not with a well-formed JSON-RPC answer of the expected shape."""


class RpcError(ChainError):
    """A well-formed JSON-RPC error object (method not found, execution reverted, ...)."""

    def __init__(self, endpoint: str, code: int, message: str, data: object = None) -> None:
        self.code = code
        self.message = message
        self.data = data
        super().__init__(endpoint, f"JSON-RPC error {code}: {message}")

    @property
    def is_revert(self) -> bool:
        # Geth answers 3 for reverts with data, anvil and others -32000/-32003 with a message.
        return self.code == 3 or "revert" in self.message.lower()


class WrongChain(ChainError):
    """The endpoint serves another chain than the configured chain id."""

    def __init__(self, endpoint: str, expected: int, actual: int) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(endpoint, f"serves chain id {actual}, expected {expected}")


class NoHealthyEndpoint(ChainError):
    """Every endpoint of a redundant set (e.g. all L1 endpoints) failed; `causes` says why."""

    def __init__(self, role: str, causes: list[ChainError]) -> None:
        self.causes = causes
        detail = "; ".join(str(c) for c in causes) or "no endpoints configured"
        super().__init__(role, f"no healthy endpoint ({detail})")
