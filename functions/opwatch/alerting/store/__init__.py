"""State stores for the alert lifecycle: the contract (`base`) and SQLite. The DynamoDB and
Firestore stores live with their clouds (`opwatch.aws.alert_store`, `opwatch.gcp.alert_store`)."""

from .base import Conflict, StateStore
from .sqlite import SqliteStore

__all__ = ["Conflict", "SqliteStore", "StateStore"]
