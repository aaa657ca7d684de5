"""The place for the Firestore state store (GCP). Not implemented yet.

How it maps onto `StateStore`, for whoever writes it (google-cloud-firestore, imported
lazily like boto3 in dynamodb.py):

- `alert_state/<urlsafe(key)>` documents holding the state dict and `version`;
  `commit` runs in a transaction (`@firestore.transactional`): read the document, compare
  `version`, `transaction.set` the state and `transaction.create` one document per
  transition in `alert_transition/`; return False when the versions differ (a Firestore
  transaction also retries on contention by itself: let it, then report the outcome).
- `expires_at` as a Timestamp field with a TTL policy on `alert_transition` and
  `dead_letter` (Firestore TTL policies are per collection group).
- `open_alerts`: `where("open", "==", True)`; `transitions`: order by `recorded` desc.

No Firestore emulator installs here (PROTOCOL-NOTES), so its concurrency tests must run
against the real service or the emulator in CI.
"""

from __future__ import annotations

from .base import StateStore


class FirestoreStore(StateStore):  # pragma: no cover - placeholder
    def __init__(self, *_args: object, **_kwargs: object) -> None:
        raise NotImplementedError("the Firestore state store is not implemented yet (see this module's docstring)")
