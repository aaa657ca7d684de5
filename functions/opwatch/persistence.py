"""Plumbing shared by the local state stores (alert state, remedy records): one SQLite file
used from many threads. (The DynamoDB table's client lives with AWS: `opwatch.aws.client`.)

The stores' logic (compare-and-set, claims, budgets) lives with their features; this module
only holds what would otherwise be written twice.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any


class SqliteFile:
    """A SQLite file with one connection per thread (sqlite3 objects are not shared).

    isolation_level=None: the stores issue BEGIN IMMEDIATE themselves, so the write lock is
    taken before a version is compared, not on the first write. WAL lets readers proceed
    while one writer holds the lock.
    """

    def __init__(self, path: str | Path, schema: str, timeout: float = 30.0, durable: bool = False) -> None:
        self.path = str(path)
        # durable: fsync every commit (synchronous=FULL). Records that guard money (a top-up's
        # claim) must survive a power loss; alert state may lose its last write to one.
        self._synchronous = "FULL" if durable else "NORMAL"
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.timeout = timeout
        self._local = threading.local()
        conn = self._conn()
        self._settle(lambda: conn.executescript(schema))

    def _settle(self, step: Any) -> Any:
        """Run a set-up statement, waiting out a lock SQLite reports without its busy handler
        (switching a fresh file to WAL while other connections open it can answer "locked" at
        once); bounded by the store's timeout."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                return step()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            opened = conn
            if self._settle(lambda: opened.execute("PRAGMA journal_mode").fetchone()[0]) != "wal":
                self._settle(lambda: opened.execute("PRAGMA journal_mode=WAL").fetchone())
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
