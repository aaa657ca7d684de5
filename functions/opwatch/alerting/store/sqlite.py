"""SQLite state store: one file, safe for several threads and processes at once.

Compare-and-set is an `UPDATE … WHERE version = ?` (or an `INSERT` that the primary key
refuses) inside one `BEGIN IMMEDIATE` transaction with the history rows, so a losing writer
changes nothing. WAL mode lets readers (the `opwatch alerts` view) run beside writers.

Silences (`opwatch silence add --store sqlite:PATH`) are rows of `alert_silence` in the same
file; a removed one is marked, never deleted, and pruned `RETENTION_SECONDS` after it ended.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

from ...persistence import SqliteFile
from ..model import AlertState, DeadLetter, Transition
from ..silences import SilenceStore, StoredSilence
from .base import RETENTION_SECONDS, StateStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_state (key TEXT PRIMARY KEY, version INTEGER NOT NULL,
                                        open INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alert_transition (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL,
                                             at TEXT NOT NULL, recorded REAL NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS alert_transition_key ON alert_transition (key, id);
CREATE TABLE IF NOT EXISTS dead_letter (id TEXT PRIMARY KEY, recorded REAL NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alert_silence (id TEXT PRIMARY KEY, created REAL NOT NULL, ended REAL NOT NULL,
                                          doc TEXT NOT NULL);
"""


class SqliteStore(SqliteFile, StateStore, SilenceStore):
    def __init__(self, path: str | Path, timeout: float = 30.0) -> None:
        SqliteFile.__init__(self, path, _SCHEMA, timeout)

    def get(self, key: str) -> AlertState | None:
        row = self._conn().execute("SELECT version, doc FROM alert_state WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        state = AlertState.from_dict(json.loads(row[1]))
        state.version = row[0]
        return state

    def commit(self, state: AlertState, transitions: Sequence[Transition] = ()) -> bool:
        conn = self._conn()
        new_version = state.version + 1
        doc = json.dumps(state.to_dict() | {"version": new_version}, sort_keys=True)
        conn.execute("BEGIN IMMEDIATE")
        try:
            if state.version == 0:
                cur = conn.execute("INSERT OR IGNORE INTO alert_state (key, version, open, doc) VALUES (?, ?, ?, ?)",
                                   (state.key, new_version, int(state.is_open), doc))
            else:
                cur = conn.execute("UPDATE alert_state SET version = ?, open = ?, doc = ? "
                                   "WHERE key = ? AND version = ?",
                                   (new_version, int(state.is_open), doc, state.key, state.version))
            if cur.rowcount != 1:
                conn.execute("ROLLBACK")
                return False
            now = time.time()
            conn.executemany("INSERT INTO alert_transition (key, at, recorded, doc) VALUES (?, ?, ?, ?)",
                             [(t.key, t.at, now, json.dumps(t.to_dict())) for t in transitions])
            conn.execute("DELETE FROM alert_transition WHERE recorded < ?", (now - RETENTION_SECONDS,))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        state.version = new_version
        return True

    def open_alerts(self) -> list[AlertState]:
        rows = self._conn().execute("SELECT version, doc FROM alert_state WHERE open = 1 ORDER BY key").fetchall()
        states = []
        for version, doc in rows:
            state = AlertState.from_dict(json.loads(doc))
            state.version = version
            states.append(state)
        return states

    def transitions(self, key: str | None = None, limit: int = 50) -> list[Transition]:
        if key is None:
            rows = self._conn().execute("SELECT doc FROM alert_transition ORDER BY id DESC LIMIT ?", (limit,))
        else:
            rows = self._conn().execute("SELECT doc FROM alert_transition WHERE key = ? ORDER BY id DESC LIMIT ?",
                                        (key, limit))
        return [Transition.from_dict(json.loads(doc)) for (doc,) in rows.fetchall()]

    def put_dead_letter(self, letter: DeadLetter) -> bool:
        conn = self._conn()
        now = time.time()
        conn.execute("BEGIN IMMEDIATE")
        try:
            existed = conn.execute("SELECT 1 FROM dead_letter WHERE id = ?", (letter.id,)).fetchone() is not None
            conn.execute("INSERT OR REPLACE INTO dead_letter (id, recorded, doc) VALUES (?, ?, ?)",
                         (letter.id, now, json.dumps(letter.to_dict())))
            conn.execute("DELETE FROM dead_letter WHERE recorded < ?", (now - RETENTION_SECONDS,))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return not existed

    def dead_letters(self, limit: int = 50) -> list[DeadLetter]:
        rows = self._conn().execute("SELECT doc FROM dead_letter ORDER BY recorded DESC LIMIT ?", (limit,))
        return [DeadLetter.from_dict(json.loads(doc)) for (doc,) in rows.fetchall()]


    # --- silences (alerting/silences.py) ------------------------------------------------

    def add_silence(self, silence: StoredSilence) -> None:
        conn = self._conn()
        cur = conn.execute("INSERT OR IGNORE INTO alert_silence (id, created, ended, doc) VALUES (?, ?, ?, ?)",
                           (silence.id, silence.created_at, silence.ended_at(), json.dumps(silence.to_dict())))
        if cur.rowcount != 1:
            raise ValueError(f"silence {silence.id} exists")
        conn.execute("DELETE FROM alert_silence WHERE ended < ?", (time.time() - RETENTION_SECONDS,))

    def stored_silences(self) -> list[StoredSilence]:
        rows = self._conn().execute("SELECT doc FROM alert_silence ORDER BY created DESC, id").fetchall()
        return [StoredSilence.from_dict(json.loads(doc)) for (doc,) in rows]

    def remove_silence(self, silence_id: str, by: str, at: float) -> StoredSilence | None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT doc FROM alert_silence WHERE id = ?", (silence_id,)).fetchone()
            if row is None:
                conn.execute("ROLLBACK")
                return None
            silence = StoredSilence.from_dict(json.loads(row[0]))
            if not silence.removed_at:
                silence = silence.removed(by, at)
                conn.execute("UPDATE alert_silence SET ended = ?, doc = ? WHERE id = ?",
                             (silence.ended_at(), json.dumps(silence.to_dict()), silence_id))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return silence
