"""Snapshots on AWS: a state archive in S3 (`S3ObjectStore` under `ObjectStorageSnapshots`) and
EBS snapshots of the sequencer's data volume (`EbsSnapshots`). The provider contract, the
archive format and the verification rules are the core's (`opwatch.remedies.snapshot`);
waits come from `opwatch.remedies.waits`. Every AWS error becomes `SnapshotStoreUnavailable`
through the one boundary (`client.aws_call`: short reason, URLs redacted).
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable
from typing import Any

from ..remedies.snapshot import SnapshotInvalid, SnapshotProvider, SnapshotRecord, SnapshotStoreUnavailable, StateSource
from ..remedies.waits import EBS_SNAPSHOT_POLL_S as EBS_POLL_S
from ..remedies.waits import EBS_SNAPSHOT_WAIT_S as EBS_WAIT_S
from .client import AwsError, AwsService, aws_call

__all__ = ["EBS_POLL_S", "EBS_WAIT_S", "EbsSnapshots", "S3ObjectStore"]


class S3ObjectStore(AwsService):
    """S3 (or any S3 API). Tags ride as user metadata, which `head_object` returns in one call."""

    service = "s3"

    def __init__(self, bucket: str, client: Any = None, endpoint_url: str | None = None) -> None:
        self.bucket = bucket
        self._client = client
        self._client_kwargs = {"endpoint_url": endpoint_url} if endpoint_url else {}

    def _call(self, fn: Callable[[], Any]) -> Any:
        try:
            return aws_call("S3", fn)
        except AwsError as exc:
            raise SnapshotStoreUnavailable(f"s3://{self.bucket}", str(exc)) from None

    def put(self, key: str, data: bytes, tags: dict[str, str]) -> None:
        digest = hashlib.sha256(data).hexdigest()
        self._call(lambda: self.client.put_object(Bucket=self.bucket, Key=key, Body=data, Metadata=tags | {
            "sha256": digest}, Tagging="&".join(f"{k}={v}" for k, v in tags.items())))

    def get(self, key: str) -> bytes:
        return self._call(lambda: self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())  # type: ignore[no-any-return]

    def head(self, key: str) -> tuple[int, dict[str, str]]:
        answer = self._call(lambda: self.client.head_object(Bucket=self.bucket, Key=key))
        return int(answer["ContentLength"]), dict(answer.get("Metadata", {}))

    def keys(self, prefix: str) -> list[str]:
        found: list[str] = []
        token: dict[str, Any] = {}
        while True:
            list_page = functools.partial(self.client.list_objects_v2, Bucket=self.bucket, Prefix=prefix, **token)
            page = self._call(list_page)
            found += [o["Key"] for o in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                return found
            token = {"ContinuationToken": page["NextContinuationToken"]}

    def delete(self, key: str) -> None:
        self._call(lambda: self.client.delete_object(Bucket=self.bucket, Key=key))


class EbsSnapshots(AwsService, SnapshotProvider):
    """EBS snapshots of the sequencer's data volume (`ec2:CreateSnapshot`, tags `opwatch:*`)."""

    service = "ec2"

    def __init__(self, volume_id: str, client: Any = None, wait_s: float = EBS_WAIT_S,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.volume_id = volume_id
        self._client = client
        self.wait_s = wait_s
        self._sleep = sleep



    def _call(self, fn: Callable[[], Any]) -> Any:
        try:
            return aws_call("EC2", fn)
        except AwsError as exc:
            raise SnapshotStoreUnavailable("ebs", str(exc)) from None

    def create(self, network: str, source: StateSource, now: float) -> SnapshotRecord:
        # The height is the node's head over standard JSON-RPC just before the snapshot starts (the
        # volume holds the node's datadir; the snapshot is crash-consistent, as of about that block).
        height, block_hash = source.head()
        tags = [{"Key": "opwatch:network", "Value": network}, {"Key": "opwatch:block", "Value": str(height)},
                {"Key": "opwatch:block_hash", "Value": block_hash}, {"Key": "opwatch:taken_at", "Value": str(int(now))}]
        snap = self._call(lambda: self.client.create_snapshot(
            VolumeId=self.volume_id, Description=f"opwatch {network} block {height} {block_hash}",
            TagSpecifications=[{"ResourceType": "snapshot", "Tags": tags}]))
        snap_id = str(snap.get("SnapshotId"))
        record = self._record(snap, network)
        waited, started = 0.0, time.monotonic()
        # Real EBS answers `pending`: wait within the budget (sleeps and wall time, whichever says more).
        while record is not None and record.in_progress and max(waited, time.monotonic() - started) < self.wait_s:
            step = min(EBS_POLL_S, self.wait_s - max(waited, time.monotonic() - started))
            self._sleep(step)
            waited += step
            page = self._call(lambda: self.client.describe_snapshots(SnapshotIds=[snap_id]))
            found = page.get("Snapshots", [])
            snap = found[0] if found else {"SnapshotId": snap_id, "State": "missing"}
            record = self._record(snap, network)
        if record is None or not (record.verified or record.in_progress):
            raise SnapshotInvalid(f"{snap_id}: EBS reports state {snap.get('State')}, or the snapshot is not "
                                  f"of volume {self.volume_id} with its opwatch tags")
        if (record.block, record.block_hash) != (height, block_hash):
            raise SnapshotInvalid(f"{snap_id}: its tags do not say block {height} {block_hash}")
        return record

    def _record(self, snap: dict[str, Any], network: str) -> SnapshotRecord | None:
        tags = {t["Key"]: t["Value"] for t in snap.get("Tags", [])}
        if tags.get("opwatch:network") != network:
            return None
        ours = snap.get("VolumeId") == self.volume_id
        return SnapshotRecord(snap["SnapshotId"], network, int(tags.get("opwatch:block", "0")),
                              float(tags.get("opwatch:taken_at", "0")), int(snap.get("VolumeSize", 0)),
                              verified=snap.get("State") == "completed" and ours,
                              block_hash=tags.get("opwatch:block_hash", ""),
                              in_progress=snap.get("State") == "pending" and ours)

    def list(self, network: str) -> list[SnapshotRecord]:
        page = self._call(lambda: self.client.describe_snapshots(
            OwnerIds=["self"], Filters=[{"Name": "tag:opwatch:network", "Values": [network]},
                                        {"Name": "volume-id", "Values": [self.volume_id]}]))
        records = [r for s in page.get("Snapshots", []) if (r := self._record(s, network))]
        return sorted(records, key=lambda r: (r.taken_at, r.block), reverse=True)

    def delete(self, record: SnapshotRecord) -> None:
        self._call(lambda: self.client.delete_snapshot(SnapshotId=record.id))
