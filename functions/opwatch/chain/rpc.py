"""JSON-RPC over HTTP: timeouts, bounded retries, batching, redaction.

The network is one seam, `Transport`: `HttpTransport` is the real one (stdlib only, so a
check's cold start does not pay for web3's ~0.6 s import); tests hand in real local nodes,
not a patched library. `RpcClient` speaks JSON-RPC 2.0 and validates the envelope (ids,
result/error, batch order); it never interprets results — that is `wire`'s job.
"""

from __future__ import annotations

import heapq
import http.client
import itertools
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from ..config import Endpoint
from ..redact import redact_text
from .errors import BadResponse, ChainError, EndpointUnreachable, RpcError

# Retry these HTTP statuses: overload and transient gateway trouble. Anything else is final.
_RETRY_STATUS = {429, 500, 502, 503, 504}
# JSON-RPC errors that say "try again" rather than "no": internal error (an overloaded or
# restarting node) and limit exceeded (a provider's rate limit answered with HTTP 200).
_TRANSIENT_RPC_CODES = {-32603, -32005}
# ... except an eth_getLogs refused for its size: -32005 "query returned more than 10000 results"
# (geth, Infura), "Log response size exceeded" (Alchemy), "block range too large". That is the
# node's answer about the range, the same on every retry: it goes straight to the caller, which
# splits the range (chain/logs.py). A rate limit on the same code ("rate", "request count") is
# still retried.
_LOG_RANGE_REFUSED = re.compile(r"more than \d+ results|too many (results|logs|blocks)|response size|"
                                r"range (is )?too (large|wide|big)|limit exceeded|exceed", re.IGNORECASE)
_RATE_LIMITED = re.compile(r"rate|per second|request count|too many requests|credits|capacity", re.IGNORECASE)
_MAX_BODY = 64 * 1024 * 1024


class TransportError(Exception):
    """The request did not produce an HTTP answer (or produced a retryable status)."""


class Transport(Protocol):
    def post(self, url: str, body: bytes, timeout: float) -> bytes: ...


class _Deadlines:
    """One thread that enforces every request's deadline in the process.

    A `threading.Timer` per request is a thread started per request, and `Thread.start` waits
    until the new thread runs: with a hundred nodes read at once, each start queues behind the
    others for the interpreter lock, and the reads began up to ~0.1 s apart. Here a request
    registers its deadline (a heap push under a lock) and the one watchdog sleeps until the
    earliest live one. Started on first use, not at import; restarted if it is gone (a fork).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[list[Any]] = []  # [deadline, seq, action or None once cancelled]
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def schedule(self, deadline: float, action: Callable[[], None]) -> list[Any]:
        entry = [deadline, next(self._seq), action]
        with self._cond:
            heapq.heappush(self._heap, entry)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._watch, name="opwatch-rpc-deadlines", daemon=True)
                self._thread.start()
            elif self._heap[0] is entry:  # earlier than what the watchdog sleeps for
                self._cond.notify()
        return entry

    @staticmethod
    def cancel(entry: list[Any]) -> None:
        entry[2] = None  # dropped when it reaches the top of the heap

    def _watch(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][2] is None:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                action = heapq.heappop(self._heap)[2]
            action()  # outside the lock: it only sets a flag and shuts a socket down


_DEADLINES = _Deadlines()


class HttpTransport:
    """POSTs JSON over HTTP(S), one fresh connection per request (no cross-thread sharing).

    `timeout` is one deadline for the whole request: connect, send and every read. A socket
    timeout alone bounds each read, so an endpoint that dribbles a byte every 0.1 s would hold
    the call for as long as it likes; at the deadline the socket is shut down instead (by the
    process's one deadline watchdog, `_Deadlines`), which wakes any read blocked on it.
    """

    def post(self, url: str, body: bytes, timeout: float) -> bytes:
        parts = urlsplit(url)
        conn_cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = conn_cls(parts.hostname or "", parts.port, timeout=timeout)
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            sock = conn.sock
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if parts.username:
            import base64

            creds = f"{parts.username}:{parts.password or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(creds).decode()
        watch = _DEADLINES.schedule(time.monotonic() + timeout, expire)
        try:
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read(_MAX_BODY + 1)
        except (OSError, http.client.HTTPException) as exc:
            raise TransportError("timed out" if expired.is_set() else _describe(exc)) from None
        finally:
            _DEADLINES.cancel(watch)
            conn.close()
        if expired.is_set():  # the shutdown may read as a short, complete-looking answer
            raise TransportError("timed out")
        if resp.status in _RETRY_STATUS:
            raise TransportError(f"HTTP {resp.status}")
        if resp.status != 200:
            raise TransportError(f"HTTP {resp.status} (final)")
        if len(data) > _MAX_BODY:
            raise TransportError("answer larger than 64 MiB")
        return data


def _describe(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return redact_text(f"{type(exc).__name__}: {exc}")


def refuses_log_range(exc: RpcError) -> bool:
    """The node refused an eth_getLogs range for its size (not a revert, not a rate limit)."""
    return (not exc.is_revert and bool(_LOG_RANGE_REFUSED.search(exc.message))
            and not _RATE_LIMITED.search(exc.message))


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    params: Sequence[Any] = ()


_ids = itertools.count(1)
_ids_lock = threading.Lock()


def _next_id() -> int:
    with _ids_lock:
        return next(_ids)


class RpcClient:
    """One endpoint. Thread-safe; counts the requests it makes (for benchmarks)."""

    def __init__(self, endpoint: Endpoint, transport: Transport | None = None,
                 timeout: float = 5.0, retries: int = 2, backoff: float = 0.2) -> None:
        self.endpoint = endpoint
        self.name = endpoint.name
        self._transport = transport or HttpTransport()
        self._timeout = timeout
        self._retries = retries
        self._backoff = backoff
        self.requests = 0

    def call(self, method: str, *params: Any) -> Any:
        return self.batch([Call(method, params)])[0]

    def call_once(self, method: str, *params: Any) -> Any:
        """A state-changing call (`admin_stopSequencer`, `conductor_transferLeader`...): sent once,
        never retried. A timeout or a lost answer leaves unknown whether it took effect; sending it
        again would turn "done, answer lost" into an error or a second action. The caller reads
        the state back (`admin_sequencerActive`, `conductor_leader`) and decides from that."""
        return self._send([Call(method, params)], False, retries=0)[0]

    def batch(self, calls: Sequence[Call], allow_errors: bool = False) -> list[Any]:
        """Send calls as one JSON-RPC batch; results in call order.

        With allow_errors, an item that came back as a JSON-RPC error is returned as an
        `RpcError` instance in its slot instead of raising (e.g. a revert that means
        "empty" for one call of the batch).
        """
        return self._send(calls, allow_errors, self._retries)

    def _send(self, calls: Sequence[Call], allow_errors: bool, retries: int) -> list[Any]:
        if not calls:
            return []
        ids = [_next_id() for _ in calls]
        payload = [{"jsonrpc": "2.0", "id": i, "method": c.method, "params": list(c.params)}
                   for i, c in zip(ids, calls, strict=True)]
        # A single call goes unbatched: some providers handle batches worse than calls.
        body = json.dumps(payload[0] if len(payload) == 1 else payload).encode()
        # One budget for the call, retries and backoff included: a check must end (with
        # `unknown` at worst) before its function's own limit, however the endpoint misbehaves.
        deadline = time.monotonic() + self._timeout
        last: ChainError = EndpointUnreachable(self.name, "no attempt")
        for attempt in range(retries + 1):
            if attempt:
                pause = self._backoff * 2 ** (attempt - 1)
                if time.monotonic() + pause >= deadline:
                    break
                time.sleep(pause)
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.requests += 1
            try:
                raw = self._transport.post(self.endpoint.url, body, left)
            except TransportError as exc:
                last = EndpointUnreachable(self.name, str(exc))
                if "(final)" in str(exc):
                    break
                continue
            try:
                return self._parse(raw, ids, calls, allow_errors)
            except RpcError as exc:
                if exc.code not in _TRANSIENT_RPC_CODES:
                    raise
                if any(c.method == "eth_getLogs" for c in calls) and refuses_log_range(exc):
                    raise
                last = exc
        raise last

    def _parse(self, raw: bytes, ids: list[int], calls: Sequence[Call], allow_errors: bool) -> list[Any]:
        try:
            decoded = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise BadResponse(self.name, "answer is not JSON") from None
        items = [decoded] if len(calls) == 1 and isinstance(decoded, dict) else decoded
        if not isinstance(items, list):
            raise BadResponse(self.name, f"expected a JSON-RPC {'batch' if len(calls) > 1 else 'object'}")
        by_id: dict[int, Any] = {}
        for item in items:
            if not isinstance(item, dict):
                raise BadResponse(self.name, "JSON-RPC answer item is not an object")
            item_id = item.get("id")
            if isinstance(item_id, bool) or not isinstance(item_id, int) or item_id not in ids:
                if "error" in item and item_id is None:  # the whole request was refused
                    raise self._error(item["error"])
                raise BadResponse(self.name, f"answer has an unknown id {item_id!r}")
            by_id[item_id] = item
        results: list[Any] = []
        for call_id, call in zip(ids, calls, strict=True):
            item = by_id.get(call_id)
            if item is None:
                raise BadResponse(self.name, f"no answer for {call.method}")
            if "error" in item and item["error"] is not None:
                err = self._error(item["error"])
                if not allow_errors or err.code in _TRANSIENT_RPC_CODES:
                    raise err
                results.append(err)
            elif "result" in item:
                results.append(item["result"])
            else:
                raise BadResponse(self.name, f"answer for {call.method} has neither result nor error")
        return results

    def _error(self, error: Any) -> RpcError:
        if not isinstance(error, dict) or not isinstance(error.get("code"), int):
            return RpcError(self.name, -1, "malformed error object")
        message = redact_text(str(error.get("message", "")))[:300]
        return RpcError(self.name, error["code"], message, error.get("data"))
