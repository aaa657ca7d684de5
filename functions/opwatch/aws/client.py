"""The one boundary between opwatch and AWS's APIs: lazy clients, typed errors, redaction.

`AwsService` holds an injected boto3 client (tests hand in one pointed at a moto server) or
builds one on first use (importing boto3 costs every cold start otherwise). `aws_call` runs
one API call: a botocore error never leaves it raw, it becomes `AwsError` with a short reason,
URLs in it redacted (`opwatch.redact`), never a chained exception. `answered`: AWS replied
with an error, so the call took no effect (a connection error or a timeout leaves that unknown).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..redact import redact_text


class AwsError(Exception):
    def __init__(self, reason: str, answered: bool, code: str = "") -> None:
        self.answered = answered
        self.code = code
        super().__init__(reason)


def aws_call(operation: str, fn: Callable[[], Any]) -> Any:
    # botocore is imported here, not at module import: it is already loaded once a client exists.
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    try:
        return fn()
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "?"))
        raise AwsError(redact_text(f"{operation}: {code}: {error.get('Message') or ''}")[:240], True, code) from None
    except (BotoCoreError, ResponseParserError) as exc:
        # botocore quotes the endpoint URL it failed to reach: redacted like any other.
        raise AwsError(redact_text(f"{operation}: {type(exc).__name__}: {exc}")[:240], False) from None


def client(service: str, **kwargs: Any) -> Any:
    import boto3

    return boto3.client(service, **kwargs)


class AwsService:
    """An injected boto3 client, or one built on first use."""

    service = ""
    _client: Any = None
    _client_kwargs: dict[str, Any] = {}

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = client(self.service, **self._client_kwargs)
        return self._client


class DynamoTable(AwsService):
    """A DynamoDB table name and its client (injected, or built lazily with `boto_config`)."""

    service = "dynamodb"

    def __init__(self, table_name: str, client: Any = None, boto_config: Any = None) -> None:
        self.table_name = table_name
        self._client = client
        self._client_kwargs = {"config": boto_config} if boto_config is not None else {}
