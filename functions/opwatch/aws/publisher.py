"""Publish findings to the SNS findings topic, with the attributes subscribers filter on.

Every message carries `network`, `check`, `status` and `severity` (`Finding.attributes()`)
as String attributes, so the pager, remedies, e-mail and HTTPS subscribers each take only
what their filter policy names. `PublishBatch` sends up to 10 messages (256 KB in total)
per call; a batch entry SNS refuses raises, so the invocation fails and is retried.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ..findings import Finding

BATCH_ENTRIES = 10
BATCH_BYTES = 256 * 1024 - 4096  # headroom for attributes and ids


class PublishError(RuntimeError):
    pass


class SnsPublisher:
    def __init__(self, topic_arn: str, client: Any = None, boto_config: Any = None) -> None:
        self.topic_arn = topic_arn
        self._client = client
        self._boto_config = boto_config

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # type: ignore[import-untyped]  # lazy: only the AWS adapter pays for it

            self._client = boto3.client("sns", config=self._boto_config)
        return self._client

    def publish(self, findings: Iterable[Finding]) -> int:
        """Publish every finding; return how many were published."""
        count = 0
        for batch in _batches(list(findings)):
            entries = [{
                "Id": str(i),
                "Message": body,
                "MessageAttributes": {k: {"DataType": "String", "StringValue": v} for k, v in f.attributes().items()},
            } for i, (f, body) in enumerate(batch)]
            reply = self.client.publish_batch(TopicArn=self.topic_arn, PublishBatchRequestEntries=entries)
            failed = reply.get("Failed") or []
            if failed:
                codes = ", ".join(f"{e.get('Code')}: {e.get('Message', '')}" for e in failed)
                raise PublishError(f"SNS refused {len(failed)} of {len(entries)} findings ({codes})")
            count += len(entries)
        return count


def _batches(findings: list[Finding]) -> Iterator[list[tuple[Finding, str]]]:
    batch: list[tuple[Finding, str]] = []
    size = 0
    for finding in findings:
        body = finding.to_json()
        if len(body.encode()) > BATCH_BYTES:
            raise PublishError(f"finding {finding.dedup_key} is over SNS's message size")
        if batch and (len(batch) == BATCH_ENTRIES or size + len(body.encode()) > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append((finding, body))
        size += len(body.encode())
    if batch:
        yield batch
