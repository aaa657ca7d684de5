"""Many RPC nodes "across a network" for bench/scale.py: one event loop, in its own process.

    python -m bench.nodefarm --count 100 --latency 0.05 [--slow-first 0.5 | --hang-first] UPSTREAM [UPSTREAM ...]

Stands in for `count` L2 RPC nodes in other regions: each listens on its own loopback port,
holds every JSON-RPC request for `latency` seconds (the network round trip), then answers
with what a real node (one of the devnet's anvil followers, round-robin) answered. Prints one
JSON line with the URLs, then serves until stdin closes or SIGTERM. `--slow-first` makes node 0
answer after that many seconds instead; `--hang-first` makes it read requests and never answer.
`--upstream-connections K` keeps at most K connections open to each upstream: the devnet's
op-node, conductor and replica stand-ins are single-process Python servers (a listen backlog of
5), which a hundred simultaneous connections overflow; real nodes are a hundred machines.

Why not the devnet's `proxyfarm`: it serves each request on a thread of a threaded Python HTTP
server and forwards it with urllib, about a millisecond of its one process's CPU per request.
A hundred requests at once then queue behind each other in the farm, and a run over 100 nodes
measured the farm (a minimal one-thread client alone took 2.4 × its single-node time on it),
not the watchdog. Real nodes are a hundred machines. Here one event loop parses, waits and
forwards over kept-alive upstream connections, so the farm's own cost per request is a small
fraction of the round trip it simulates; bench/scale.py still measures that floor and reports
it beside opwatch's figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit

_MAX_BODY = 8 * 1024 * 1024


class Upstream:
    """Kept-alive HTTP/1.1 connections to one real node, reused request after request; at most
    `connections` open at once when given (requests beyond wait their turn in the farm)."""

    def __init__(self, url: str, connections: int = 0) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._slots = asyncio.Semaphore(connections) if connections > 0 else None

    async def post(self, body: bytes) -> tuple[int, bytes]:
        if self._slots is None:
            return await self._post(body)
        async with self._slots:
            return await self._post(body)

    async def _post(self, body: bytes) -> tuple[int, bytes]:
        # A kept-alive connection the upstream closed meanwhile fails at once: then one more try
        # on a fresh connection, as HTTP clients do (the request never reached the node).
        for reused in ((True, False) if self._idle else (False,)):
            try:
                reader, writer = self._idle.pop() if reused else await asyncio.open_connection(self.host, self.port)
            except OSError:
                break
            try:
                writer.write(b"POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n" % (self.host.encode(), len(body)) + body)
                status, headers, answer = await _read_message(reader, response=True)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                writer.close()
                continue
            # HTTP/1.0 servers (Python's http.server by default: the devnet's stand-ins) close
            # after each answer whether or not they say so.
            if headers.get(b"connection", b"").lower() == b"close" or headers.get(b":version") == b"HTTP/1.0":
                writer.close()
            else:
                self._idle.append((reader, writer))
            return status, answer
        return 502, b'{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"nodefarm: upstream failed"}}'


async def _read_message(reader: asyncio.StreamReader, response: bool) -> tuple[int, dict[bytes, bytes], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1]) if response else 0
    headers = {b":version": lines[0].split()[0]} if response else {}
    for line in lines[1:]:
        if b":" in line:
            key, value = line.split(b":", 1)
            headers[key.strip().lower()] = value.strip()
    length = int(headers.get(b"content-length", b"0"))
    if length > _MAX_BODY:
        raise ValueError("body too large")
    return status, headers, await reader.readexactly(length)


def _serve(upstream: Upstream, latency: float | None):  # type: ignore[no-untyped-def]
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if latency is None:  # hung: holds the connection open, answers nothing
                await reader.read()
                return
            while True:  # keep-alive: as many requests as the client sends on this connection
                try:
                    _, headers, body = await _read_message(reader, response=False)
                except (asyncio.IncompleteReadError, ConnectionError, ValueError):
                    return
                await asyncio.sleep(latency)
                status, answer = await upstream.post(body)
                close = headers.get(b"connection", b"").lower() == b"close"
                writer.write(b"HTTP/1.1 %d OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n"
                             % (status, len(answer), b"Connection: close\r\n" if close else b"") + answer)
                await writer.drain()
                if close:
                    return
        finally:
            writer.close()
    return handle


async def _main(args: argparse.Namespace) -> None:
    upstreams = [Upstream(u, args.upstream_connections) for u in args.upstreams]
    servers = []
    for i in range(args.count):
        latency = None if i == 0 and args.hang_first else args.slow_first if i == 0 and args.slow_first \
            else args.latency
        servers.append(await asyncio.start_server(_serve(upstreams[i % len(upstreams)], latency), "127.0.0.1", 0,
                                                  backlog=256))
    urls = [f"http://127.0.0.1:{s.sockets[0].getsockname()[1]}" for s in servers]
    print(json.dumps({"urls": urls}), flush=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not sys.stdin.buffer.read1(4096) else None)
    await stop.wait()
    for server in servers:
        server.close()


def floor(urls: Sequence[str], body: bytes, deadline_s: float = 60.0) -> tuple[float, int]:
    """The farm's own floor, for a bench to report beside opwatch's figure: one thread,
    non-blocking sockets, the same JSON-RPC body to every node at once, until all have answered
    or `deadline_s` has passed. Returns the time and how many never answered."""
    request = (b"POST / HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\nConnection: close\r\n"
               b"Content-Length: %d\r\n\r\n" % len(body)) + body
    started = time.perf_counter()
    socks: list[socket.socket] = []
    with selectors.DefaultSelector() as sel:
        for url in urls:
            parts = urlsplit(url)
            sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=10)
            sock.sendall(request)
            sel.register(sock, selectors.EVENT_READ)
            socks.append(sock)
        pending = len(urls)
        while pending and time.perf_counter() - started < deadline_s:
            for key, _ in sel.select(timeout=1):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if not sock.recv(65536):
                    sel.unregister(sock)
                    pending -= 1
    for sock in socks:
        sock.close()
    return time.perf_counter() - started, pending


@contextlib.contextmanager
def running(upstreams: Sequence[str], *, count: int, latency: float, upstream_connections: int = 0,
            extra: Sequence[str] = ()) -> Iterator[list[str]]:
    """This farm in a process of its own, for a bench: yields its `count` node URLs, stops it after."""
    args = ["--count", str(count), "--latency", str(latency), *extra]
    if upstream_connections:
        args += ["--upstream-connections", str(upstream_connections)]
    farm = subprocess.Popen([sys.executable, "-m", "bench.nodefarm", *args, *upstreams],
                            cwd=str(Path(__file__).resolve().parents[1]),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert farm.stdout is not None
        yield json.loads(farm.stdout.readline())["urls"]
    finally:
        farm.terminate()
        farm.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.nodefarm", description=__doc__.split("\n\n")[0])
    parser.add_argument("upstreams", nargs="+", help="real JSON-RPC nodes to answer from (round-robin)")
    parser.add_argument("--count", type=int, required=True, help="how many nodes to stand in for")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--slow-first", type=float, default=0.0, help="latency of node 0 instead")
    parser.add_argument("--hang-first", action="store_true", help="node 0 never answers")
    parser.add_argument("--upstream-connections", type=int, default=0,
                        help="at most this many connections open to each upstream (default: no limit); for "
                             "upstreams that are one-process stand-ins with a small listen backlog")
    asyncio.run(_main(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
