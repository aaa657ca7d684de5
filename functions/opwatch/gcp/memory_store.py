"""Firestore memory store: what checks remember between runs, in the alert database.

Documents `check_memory/{document_id(network/check/target)}` with `key`, `target`, `at`
(integer microseconds), `doc` (the observation's JSON) and
`expires_at` (a TTL field; the gcloud plan's TTL policy covers this collection group).

`put` keeps the newer observation: it reads the stored one, and writes preconditioned on the
update time it read (`exists: false` when there was none); a rival write in between makes it
re-read once. Every error is `MemoryUnavailable`, never a crash of the check.
IAM: the check functions' service account gets `roles/datastore.user` on the alert database only.
"""

from __future__ import annotations

import time
from typing import Any

from ..memory import RETENTION_SECONDS, MemoryStore, MemoryUnavailable, Observation
from .rest import DEFAULT_BASE_URL, FirestoreRest, StoreUnavailable, document_id, integer, string, timestamp, update

COLLECTION = "check_memory"
TTL_FIELD = "expires_at"


class FirestoreMemoryStore(MemoryStore):
    def __init__(self, database: str = "(default)", session: Any = None, project: str | None = None,
                 base_url: str = DEFAULT_BASE_URL) -> None:
        self.rest = FirestoreRest(database, session=session, project=project, base_url=base_url)

    def get(self, network: str, check: str, target: str) -> Observation | None:
        try:
            doc = self.rest.get(COLLECTION, document_id(f"{network}/{check}/{target}"))
            return None if doc is None else Observation.from_json(doc.string("doc"))
        except StoreUnavailable as exc:
            raise MemoryUnavailable(str(exc)) from None

    def put(self, network: str, check: str, target: str, observation: Observation) -> bool:
        doc_id = document_id(f"{network}/{check}/{target}")
        fields = {"key": string(f"{network}/{check}"), "target": string(target),
                  "at_us": integer(int(observation.at * 1e6)), "doc": string(observation.to_json()),
                  TTL_FIELD: timestamp(time.time() + RETENTION_SECONDS)}
        try:
            for _ in range(2):
                stored = self.rest.get(COLLECTION, doc_id)
                if stored is not None and stored.integer("at_us") >= int(observation.at * 1e6):
                    return False  # a newer observation is already stored
                precondition = {"exists": False} if stored is None else {"updateTime": stored.update_time}
                written = self.rest.commit(f"memory {network}/{check}/{target}",
                                           [update(self.rest.name(COLLECTION, doc_id), fields, precondition)])
                if written is not None:
                    return True
        except StoreUnavailable as exc:
            raise MemoryUnavailable(str(exc)) from None
        return False  # lost twice to rival writers: theirs is at least as new as ours
