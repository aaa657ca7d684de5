"""State stores for the alert lifecycle. Import the concrete store you use from its module;
`dynamodb` imports boto3 only when its client is first needed."""

from .base import Conflict, StateStore
from .sqlite import SqliteStore

__all__ = ["Conflict", "SqliteStore", "StateStore"]
