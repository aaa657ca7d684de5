"""anvil process management for the devnet.

Stands in for the real node processes of an OP Stack chain (an L1 execution client, op-geth
sequencer and replica nodes). Every process started here is registered so that it is stopped
at interpreter exit even when a caller forgets the context manager.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from opwatch_devnet.jsonrpc import RpcClient, RpcError

_REPO_ROOT = Path(__file__).resolve().parents[2]
_DEFAULT_ANVIL = _REPO_ROOT / "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
LOOPBACK = "127.0.0.1"


def anvil_binary() -> Path:
    """The anvil binary: `$OPWATCH_ANVIL` if set, else the pinned npm package in the repo."""
    override = os.environ.get("OPWATCH_ANVIL")
    path = Path(override) if override else _DEFAULT_ANVIL
    if not path.is_file():
        raise FileNotFoundError(f"anvil not found at {path} (set OPWATCH_ANVIL or run `make setup`)")
    return path


def free_port() -> int:
    """A loopback port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


_live: set[AnvilProcess] = set()
_live_lock = threading.Lock()


def _stop_all_at_exit() -> None:
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        proc.stop()


atexit.register(_stop_all_at_exit)


@dataclass(eq=False)
class AnvilProcess:
    """One anvil node on a loopback port; logs go to `<workdir>/<name>.log`."""

    name: str
    port: int
    args: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    @classmethod
    def start(
        cls, name: str, workdir: Path, args: list[str], port: int | None = None, timeout: float = 15.0
    ) -> AnvilProcess:
        proc = cls(name=name, port=port or free_port(), args=list(args), log_path=workdir / f"{name}.log")
        proc.launch(timeout)
        return proc

    def launch(self, timeout: float = 15.0) -> None:
        """(Re)start the process with the same port and arguments, and wait until it answers."""
        cmd = [str(anvil_binary()), "--host", LOOPBACK, "--port", str(self.port), *self.args]
        log = open(self.log_path, "ab")
        try:
            # A new session: a Ctrl-C in the caller's terminal does not kill the nodes mid-teardown.
            self.popen = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        finally:
            log.close()
        with _live_lock:
            _live.add(self)
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, timeout: float) -> None:
        client = RpcClient(self.url, timeout=1.0)
        deadline = time.monotonic() + timeout
        while True:
            if self.popen is not None and self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}; see {self.log_path}")
            try:
                client.call("eth_chainId")
                return
            except (OSError, RpcError):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.name} did not answer on {self.url} within {timeout}s") from None
                time.sleep(0.05)

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, grace: float = 3.0) -> None:
        """Terminate, then kill after `grace` seconds. Idempotent."""
        popen = self.popen
        if popen is not None and popen.poll() is None:
            popen.terminate()
            try:
                popen.wait(grace)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait(grace)
        with _live_lock:
            _live.discard(self)

    def __enter__(self) -> AnvilProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
