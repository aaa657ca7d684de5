"""Firestore state store (GCP pager): compare-and-set as preconditioned commits over the
Firestore v1 REST API (`opwatch.gcp.rest`), tested against `tests/firestore_standin.py`.

Documents, under `projects/{project}/databases/{database}/documents/` (one per record, the
record's JSON in `doc`, as in DynamoDB; ids are `rest.document_id(key)`, so the `/`
in dedup keys is written `~2F`):

- `alert_state/{key}`: `doc`, `version` (integer), `open` (boolean), `key`; `expires_at` once
  the alert is closed (every commit replaces the whole document, so a reopened alert loses it).
- `alert_transition/{recorded:020d}-{random}`: `doc`, `key`, `recorded` (integer ns, strictly
  increasing within a process), `expires_at`.
- `dead_letter/{id}`: `doc`, `recorded` (integer ns), `expires_at`.
- `alert_silence/{silence id}`: `doc`, `until` (integer epoch seconds, rounded up), `created`
  (integer ns), `expires_at`: silences added with `opwatch silence add`, read by the pager on
  every evaluation (ordered by `until`, newest end first: a single-field index), written only
  with the operator's credentials. The plan's TTL policy covers it (`gcp_plan.TTL_COLLECTIONS`):
  a silence ages out `RETENTION_SECONDS` after it ended, as on DynamoDB.

TTL: `expires_at` is a timestamp `RETENTION_SECONDS` ahead; the gcloud plan puts a TTL policy
on it for these three collection groups (`gcp_plan.TTL_COLLECTIONS`), so history, dead letters
and closed alerts age out. An open alert never carries one.

`commit` is one `documents:commit` request: the state write, preconditioned on the
`updateTime` the state was read at (`exists: false` for a new key), plus one create per
transition. Firestore applies all of them or none, so a loser writes nothing and gets False,
which is what `AlertManager` expects from a lost compare-and-set: it re-reads and re-applies.
The `updateTime` comes from the last `get` (or commit) of that key at that version; without
one, `commit` reads the document first and compares versions itself.

Queries use only what Firestore's automatic single-field indexes serve (the plan creates no
composite index): `open == true` for `open_alerts`; `recorded` descending with a limit for the
newest transitions and dead letters; and `key == K` alone for one key's transitions, sorted
here (an equality filter plus an order on another field would need a composite index).

Errors: `StoreUnavailable` (from `rest`) when Firestore cannot be reached or answers
out of shape. Like a botocore error from the DynamoDB store it is not caught by `AlertManager`,
so the pager's invocation fails and Pub/Sub redelivers: never a silent success.

IAM: `roles/datastore.user` (documents get, commit, runQuery).
"""

from __future__ import annotations

import json
import math
import secrets
import threading
import time
from collections.abc import Sequence
from typing import Any

from ..alerting.model import AlertState, DeadLetter, Transition
from ..alerting.silences import SilenceStore, StoredSilence
from ..alerting.store.base import RETENTION_SECONDS, StateStore
from .rest import (
    DEFAULT_BASE_URL,
    Doc,
    FirestoreRest,
    StoreUnavailable,
    boolean,
    document_id,
    integer,
    string,
    timestamp,
    update,
)

STATES, TRANSITIONS, DEAD_LETTERS = "alert_state", "alert_transition", "dead_letter"
SILENCES = "alert_silence"
# The pager reads at most this many silences, those ending last first: every active one unless
# more than this many end later than it does (then it pages, never the other way round).
SILENCE_READ_LIMIT = 500
TTL_FIELD = "expires_at"

__all__ = ["DEAD_LETTERS", "SILENCES", "STATES", "TRANSITIONS", "TTL_FIELD", "FirestoreStore", "StoreUnavailable"]


class FirestoreStore(StateStore, SilenceStore):
    def __init__(self, database: str = "(default)", session: Any = None, project: str | None = None,
                 base_url: str = DEFAULT_BASE_URL) -> None:
        self.database = database
        self.rest = FirestoreRest(database, session=session, project=project, base_url=base_url)
        self._lock = threading.Lock()
        self._read_at: dict[str, tuple[int, str]] = {}  # key -> (version, updateTime) last seen
        self._last_ns = 0

    # --- alert state -------------------------------------------------------------------

    def get(self, key: str) -> AlertState | None:
        doc = self.rest.get(STATES, document_id(key))
        self._remember(key, None if doc is None else (doc.integer("version"), doc.update_time))
        return None if doc is None else _state(doc)

    def commit(self, state: AlertState, transitions: Sequence[Transition] = ()) -> bool:
        precondition = self._precondition(state)
        if precondition is None:
            return False
        new_version = state.version + 1
        now = time.time()
        fields = {"key": string(state.key), "version": integer(new_version), "open": boolean(state.is_open),
                  "doc": string(json.dumps(state.to_dict() | {"version": new_version}, sort_keys=True))}
        if not state.is_open:
            fields[TTL_FIELD] = timestamp(now + RETENTION_SECONDS)
        writes = [update(self.rest.name(STATES, document_id(state.key)), fields, precondition)]
        # Stamped after the read: a commit that follows another on this key (it had to read the
        # winner's write) records its transitions later.
        for t in transitions:
            recorded = self._stamp()
            writes.append(update(self.rest.name(TRANSITIONS, f"{recorded:020d}-{secrets.token_hex(4)}"), {
                "key": string(t.key), "recorded": integer(recorded), "doc": string(json.dumps(t.to_dict())),
                TTL_FIELD: timestamp(now + RETENTION_SECONDS)}, {"exists": False}))
        times = self.rest.commit(f"alert state {state.key}", writes)
        if times is None:
            self._remember(state.key, None)
            return False
        self._remember(state.key, (new_version, times[0]))
        state.version = new_version
        return True

    def _precondition(self, state: AlertState) -> dict[str, Any] | None:
        """`currentDocument` for writing over `state.version`, or None if that version is gone."""
        if state.version == 0:
            return {"exists": False}
        with self._lock:
            seen = self._read_at.get(state.key)
        if seen is None or seen[0] != state.version:
            doc = self.rest.get(STATES, document_id(state.key))
            if doc is None or doc.integer("version") != state.version:
                return None
            seen = (state.version, doc.update_time)
        return {"updateTime": seen[1]}

    def _remember(self, key: str, seen: tuple[int, str] | None) -> None:
        with self._lock:
            if seen is None:
                self._read_at.pop(key, None)
            else:
                self._read_at[key] = seen

    def _stamp(self) -> int:
        # Strictly increasing within the process, so transitions of one commit keep their order.
        with self._lock:
            self._last_ns = max(time.time_ns(), self._last_ns + 1)
            return self._last_ns

    def open_alerts(self) -> list[AlertState]:
        docs = self.rest.query("open alerts", {
            "from": [{"collectionId": STATES}],
            "where": {"fieldFilter": {"field": {"fieldPath": "open"}, "op": "EQUAL", "value": boolean(True)}}})
        return sorted((_state(d) for d in docs), key=lambda s: s.key)

    # --- history -----------------------------------------------------------------------

    def transitions(self, key: str | None = None, limit: int = 50) -> list[Transition]:
        if key is None:
            docs = self.rest.query("transitions", _newest(TRANSITIONS, limit))
        else:
            docs = self.rest.query("transitions of a key", {
                "from": [{"collectionId": TRANSITIONS}],
                "where": {"fieldFilter": {"field": {"fieldPath": "key"}, "op": "EQUAL", "value": string(key)}}})
            docs = sorted(docs, key=lambda d: d.integer("recorded"), reverse=True)[:limit]
        return [Transition.from_dict(d.json_object("doc")) for d in docs]

    def put_dead_letter(self, letter: DeadLetter) -> bool:
        recorded = self._stamp()
        fields = {"doc": string(json.dumps(letter.to_dict())), "recorded": integer(recorded),
                  TTL_FIELD: timestamp(recorded / 1e9 + RETENTION_SECONDS)}
        name = self.rest.name(DEAD_LETTERS, document_id(letter.id))
        if self.rest.commit("dead letter", [update(name, fields, {"exists": False})]) is not None:
            return True
        # It exists: refresh it (newest again, its TTL restarted), as the other stores do.
        self.rest.commit("dead letter", [update(name, fields)])
        return False

    def dead_letters(self, limit: int = 50) -> list[DeadLetter]:
        docs = self.rest.query("dead letters", _newest(DEAD_LETTERS, limit))
        return [DeadLetter.from_dict(d.json_object("doc")) for d in docs]


    # --- silences (alerting/silences.py) ----------------------------------------------

    def add_silence(self, silence: StoredSilence) -> None:
        name = self.rest.name(SILENCES, document_id(silence.id))
        if self.rest.commit("silence", [update(name, _silence_fields(silence), {"exists": False})]) is None:
            raise ValueError(f"silence {silence.id} exists")

    def stored_silences(self) -> list[StoredSilence]:
        docs = self.rest.query("silences", {
            "from": [{"collectionId": SILENCES}],
            "orderBy": [{"field": {"fieldPath": "until"}, "direction": "DESCENDING"}],
            "limit": SILENCE_READ_LIMIT})
        found = [_silence(d) for d in docs]
        return sorted(found, key=lambda s: (-s.created_at, s.id))

    def remove_silence(self, silence_id: str, by: str, at: float) -> StoredSilence | None:
        for _ in range(5):
            doc = self.rest.get(SILENCES, document_id(silence_id))
            if doc is None:
                return None
            silence = _silence(doc)
            if silence.removed_at:
                return silence
            removed = silence.removed(by, at)
            write = update(doc.name, _silence_fields(removed), {"updateTime": doc.update_time})
            if self.rest.commit("silence", [write]) is not None:
                return removed
        raise ValueError(f"silence {silence_id}: changed under every attempt to remove it")


def _silence_fields(silence: StoredSilence) -> dict[str, Any]:
    return {"doc": string(json.dumps(silence.to_dict(), sort_keys=True)),
            "until": integer(math.ceil(silence.until)), "created": integer(int(silence.created_at * 1e9)),
            TTL_FIELD: timestamp(silence.ended_at() + RETENTION_SECONDS)}


def _silence(doc: Doc) -> StoredSilence:
    try:
        return StoredSilence.from_dict(doc.json_object("doc"))
    except ValueError as exc:
        raise StoreUnavailable(f"Firestore silence: {exc}") from None


def _newest(collection: str, limit: int) -> dict[str, Any]:
    return {"from": [{"collectionId": collection}],
            "orderBy": [{"field": {"fieldPath": "recorded"}, "direction": "DESCENDING"}], "limit": limit}


def _state(doc: Doc) -> AlertState:
    state = AlertState.from_dict(doc.json_object("doc"))
    state.version = doc.integer("version")
    return state
