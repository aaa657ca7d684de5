"""Firestore state store (GCP): compare-and-set in a Firestore transaction.

Collections (one document per record, the record's JSON in `doc`, as in DynamoDB):

- `alert_state/<id>`: `doc`, `version` (int), `open` (bool), `key`; `expires_at` once closed.
- `alert_transition/<recorded ns>-<n>-<id>`: `doc`, `key`, `recorded` (ns), `expires_at`.
- `dead_letter/<id>`: `doc`, `recorded`, `expires_at`.

`<id>` is the key in URL-safe base64 (dedup keys contain `/`, which Firestore reads as a
path separator). `expires_at` is a timestamp; the gcloud plan puts a TTL policy on each
collection group, so history, dead letters and closed alerts age out after
`RETENTION_SECONDS` (an open alert never has one).

`commit` runs in one transaction: read the state document, compare its `version` with the
caller's, then set the state and create the transitions; Firestore applies all writes or
none. When another writer commits first, Firestore aborts our transaction and the client
retries it (`@transactional`); the retry reads the new version, finds it differs and we
return False without writing, which is what the manager expects from a lost CAS.

`transitions(key)` orders by `recorded` and filters by key while reading (like the DynamoDB
store), so no composite index is needed. google-cloud-firestore is imported lazily and the
client is injected (tests hand in one pointed at a stand-in), as in dynamodb.py.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ..model import AlertState, DeadLetter, Transition
from .base import RETENTION_SECONDS, StateStore

STATES, TRANSITIONS, DEAD_LETTERS = "alert_state", "alert_transition", "dead_letter"


def doc_id(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def _expiry(now: float) -> datetime:
    return datetime.fromtimestamp(now + RETENTION_SECONDS, UTC)


class FirestoreStore(StateStore):
    def __init__(self, database: str = "(default)", client: Any = None, project: str | None = None) -> None:
        self.database = database
        self.project = project
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            from google.cloud import firestore  # lazy: only the GCP pager pays for it

            self._client = firestore.Client(project=self.project, database=self.database)
        return self._client

    def _state_ref(self, key: str) -> Any:
        return self.client.collection(STATES).document(doc_id(key))

    def get(self, key: str) -> AlertState | None:
        snapshot = self._state_ref(key).get()
        return _state(snapshot.to_dict()) if snapshot.exists else None

    def commit(self, state: AlertState, transitions: Sequence[Transition] = ()) -> bool:
        from google.cloud import firestore

        client = self.client
        ref = self._state_ref(state.key)
        new_version = state.version + 1
        now = time.time()
        data: dict[str, Any] = {
            "key": state.key, "version": new_version, "open": state.is_open,
            "doc": json.dumps(state.to_dict() | {"version": new_version}, sort_keys=True),
        }
        if not state.is_open:
            data["expires_at"] = _expiry(now)
        stamp = time.time_ns()

        @firestore.transactional
        def attempt(transaction: Any) -> bool:
            snapshot = ref.get(transaction=transaction)
            stored = int(snapshot.get("version")) if snapshot.exists else 0
            if stored != state.version:
                return False
            transaction.set(ref, data)
            for i, t in enumerate(transitions):
                transaction.create(client.collection(TRANSITIONS).document(f"{stamp:020d}-{i:03d}-{doc_id(t.key)}"), {
                    "key": t.key, "recorded": stamp, "doc": json.dumps(t.to_dict()), "expires_at": _expiry(now)})
            return True

        if not attempt(client.transaction()):
            return False
        state.version = new_version
        return True

    def open_alerts(self) -> list[AlertState]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self.client.collection(STATES).where(filter=FieldFilter("open", "==", True))
        return sorted((_state(s.to_dict()) for s in query.stream()), key=lambda s: s.key)

    def transitions(self, key: str | None = None, limit: int = 50) -> list[Transition]:
        from google.cloud import firestore

        query = self.client.collection(TRANSITIONS).order_by("recorded", direction=firestore.Query.DESCENDING)
        if key is None:
            query = query.limit(limit)
        found: list[Transition] = []
        for snapshot in query.stream():
            data = snapshot.to_dict()
            if key is None or data.get("key") == key:
                found.append(Transition.from_dict(json.loads(data["doc"])))
                if len(found) >= limit:
                    break
        return found

    def put_dead_letter(self, letter: DeadLetter) -> bool:
        from google.cloud import firestore

        ref = self.client.collection(DEAD_LETTERS).document(doc_id(letter.id))
        now = time.time()

        @firestore.transactional
        def attempt(transaction: Any) -> bool:
            existed = bool(ref.get(transaction=transaction).exists)
            transaction.set(ref, {"doc": json.dumps(letter.to_dict()), "recorded": now, "expires_at": _expiry(now)})
            return not existed

        return bool(attempt(self.client.transaction()))

    def dead_letters(self, limit: int = 50) -> list[DeadLetter]:
        from google.cloud import firestore

        query = (self.client.collection(DEAD_LETTERS).order_by("recorded", direction=firestore.Query.DESCENDING)
                 .limit(limit))
        return [DeadLetter.from_dict(json.loads(s.to_dict()["doc"])) for s in query.stream()]


def _state(data: dict[str, Any]) -> AlertState:
    state = AlertState.from_dict(json.loads(data["doc"]))
    state.version = int(data["version"])
    return state
