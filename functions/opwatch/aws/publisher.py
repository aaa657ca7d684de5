"""Publish findings to the SNS findings topic, with the attributes subscribers filter on.

Every message carries `network`, `check`, `status` and `severity` (`Finding.attributes()`)
as String attributes, so the pager, remedies, e-mail and HTTPS subscribers each take only
what their filter policy names. `PublishBatch` sends up to 10 messages (256 KB in total)
per call; a function over many networks publishes its batches side by side (100 networks'
findings are ten calls: in turn, they put the last network's finding on the topic ~0.4 s after
the first). Every batch is attempted; then a batch entry SNS refused, or a failed call, raises,
so the invocation fails (its Errors alarm).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..findings import Finding

BATCH_ENTRIES = 10
BATCH_BYTES = 256 * 1024 - 4096  # headroom for attributes and ids
PARALLEL_BATCHES = 8


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
        batches = list(_batches(list(findings)))
        if len(batches) <= 1:
            return sum(self._send(batch) for batch in batches)
        self.client  # noqa: B018  built before the threads: boto3's clients are thread-safe, their creation is not
        with ThreadPoolExecutor(max_workers=min(PARALLEL_BATCHES, len(batches))) as pool:
            futures = [pool.submit(self._send, batch) for batch in batches]
        errors = [e for e in (f.exception() for f in futures) if e is not None]
        if errors:
            sent = sum(f.result() for f in futures if f.exception() is None)
            raise PublishError(f"{len(errors)} of {len(batches)} batches not published ({sent} findings were): "
                               f"{errors[0]}") from errors[0]
        return sum(f.result() for f in futures)

    def _send(self, batch: list[tuple[Finding, str]]) -> int:
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
        return len(entries)


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
