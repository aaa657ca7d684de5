"""Snapshots of the sequencer's state: taken, verified, listed, pruned; the input of a restore.

`SnapshotProvider` is the interface; a snapshot is a `SnapshotRecord` tagged with network,
block height and time. Providers:

- `ObjectStorageSnapshots`: a state archive (on the devnet, anvil's `anvil_dumpState`: gzip
  of JSON with `best_block_number` and the blocks) written through an `ObjectStore` (S3 here,
  a local S3 API in tests). A snapshot only counts once verified after writing: the stored
  size and SHA-256 match what was sent, and the archive reads back (gunzips, parses, and names
  the block height it was tagged with). Unverified ones are never restored from.
  The same archive goes to GCS through `gcs.GcsObjectStore`.
- `EbsSnapshots`: EBS snapshots of the sequencer's data volume (`ec2:CreateSnapshot`), tagged
  the same way; verified by state `completed` and its tags. A restore boots a stopped
  replacement instance with a volume made from one (`aws_restore.EbsVolumeLauncher`).
- `gce_disk.PersistentDiskSnapshots`: the GCP counterpart (`disks.createSnapshot`), labelled
  and verified the same way.

The source is the sequencer's RPC (`NodeStateSource`). Disk providers ask it only for its head
(`eth_getBlockByNumber("latest")`: number and hash of one block, after `eth_chainId` is checked),
which every node serves; only the archive providers call `dump()` (`anvil_dumpState`, which only
the devnet's anvil answers: op-geth says -32601).

A disk snapshot is taken by the cloud in the background: EBS answers `pending`, Compute Engine
`CREATING`/`UPLOADING`, often for minutes. Within a bounded wait (`EBS_WAIT_S`,
`gce_disk.LONGEST_WAIT_S`; `longest_wait_s(provider)` names the figure a function timeout must
exceed) it may finish; if not, `create` returns the record `in_progress` (not verified, never
restored from, never pruned), and a later `list` sees it verified once the cloud completes it.
A snapshot the cloud failed (EBS `error`, GCE `FAILED`) raises `SnapshotInvalid`.

Retention keeps the newest `retention` good snapshots per network. Storage errors are raised
as `SnapshotStoreUnavailable` (a `ChainError`), so `snapshot_freshness` reports `unknown`
through the one place that decides it.
"""

from __future__ import annotations

import builtins
import functools
import gzip
import hashlib
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..chain import wire
from ..chain.errors import ChainError, WrongChain
from ..chain.rpc import Call, RpcClient

ARCHIVE_SUFFIX = ".state.gz"

# How long one EBS snapshot run waits for `pending` to become `completed` before it reports the
# snapshot in progress (a first snapshot of a large volume takes far longer: it is verified later).
EBS_WAIT_S = 120.0
EBS_POLL_S = 15.0


class SnapshotStoreUnavailable(ChainError):
    """The snapshot store could not be listed or read: the newest snapshot's age is unknown."""


class SnapshotInvalid(Exception):
    """A snapshot failed verification (size, checksum, or it does not read back)."""


@dataclass(frozen=True, slots=True)
class SnapshotRecord:
    id: str
    network: str
    block: int
    taken_at: float
    size: int = 0
    sha256: str = ""
    verified: bool = False
    block_hash: str = ""  # disk snapshots: the head's hash when the snapshot was started
    in_progress: bool = False  # the cloud is still taking it: not verified yet, not failed either

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "network": self.network, "block": self.block, "taken_at": self.taken_at,
                "size": self.size, "sha256": self.sha256, "verified": self.verified,
                "block_hash": self.block_hash, "in_progress": self.in_progress}


class StateSource(Protocol):
    def head(self) -> tuple[int, str]:
        """(number, hash) of the node's latest block, over standard JSON-RPC."""

    def dump(self) -> tuple[bytes, int]:
        """(archive bytes, block height it holds): archive providers only."""


class NodeStateSource:
    """The sequencer's RPC. `head()` works on any node; `dump()` is anvil's `anvil_dumpState`
    (hex of a gzip'd JSON state), which a production node (op-geth) does not have."""

    def __init__(self, client: RpcClient, chain_id: int | None = None) -> None:
        self.client = client
        self.chain_id = chain_id

    def head(self) -> tuple[int, str]:
        # One batch: the chain id and the block it goes with (a snapshot of another chain's disk
        # would later be restored as this network's sequencer).
        chain_id, raw = self.client.batch([Call("eth_chainId"), Call("eth_getBlockByNumber", ("latest", False))])
        actual = wire.quantity(chain_id, "eth_chainId", self.client.name)
        if self.chain_id is not None and actual != self.chain_id:
            raise WrongChain(self.client.name, self.chain_id, actual)
        block = wire.block(raw, self.client.name)
        return block.number, block.hash

    def dump(self) -> tuple[bytes, int]:
        archive = bytes.fromhex(str(self.client.call("anvil_dumpState"))[2:])
        return archive, archive_block(archive)



def archive_block(archive: bytes) -> int:
    """The block height an anvil state archive holds; raises SnapshotInvalid if unreadable."""
    try:
        state = json.loads(gzip.decompress(archive))
        return int(state["best_block_number"], 16) if isinstance(state["best_block_number"], str) \
            else int(state["best_block_number"])
    except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
        raise SnapshotInvalid(f"archive does not read back: {type(exc).__name__}") from None


class SnapshotProvider(ABC):
    @abstractmethod
    def create(self, network: str, source: StateSource, now: float) -> SnapshotRecord:
        """Take, write and verify one snapshot; raises SnapshotInvalid if it does not verify."""

    @abstractmethod
    def list(self, network: str) -> list[SnapshotRecord]:
        """The network's snapshots, newest first (raises SnapshotStoreUnavailable)."""

    @abstractmethod
    def delete(self, record: SnapshotRecord) -> None: ...

    def newest_good(self, network: str) -> SnapshotRecord | None:
        return next((r for r in self.list(network) if r.verified), None)

    def prune(self, network: str, retention: int) -> builtins.list[SnapshotRecord]:
        """Delete all but the newest `retention` verified snapshots (and unverified older ones).
        One still in progress is left alone: it may complete, and then it counts."""
        records = self.list(network)
        good = [r for r in records if r.verified]
        if not good:
            return []  # never prune down to nothing
        keep = {r.id for r in good[:retention]}
        oldest_kept = min(r.taken_at for r in good[:retention])
        doomed = [r for r in records if r.id not in keep and not r.in_progress
                  and (r.verified or r.taken_at < oldest_kept)]
        for record in doomed:
            self.delete(record)
        return doomed


class ObjectStore(Protocol):
    def put(self, key: str, data: bytes, tags: dict[str, str]) -> None: ...
    def get(self, key: str) -> bytes: ...
    def head(self, key: str) -> tuple[int, dict[str, str]]: ...
    def keys(self, prefix: str) -> list[str]: ...
    def delete(self, key: str) -> None: ...


class S3ObjectStore:
    """S3 (or any S3 API). Tags ride as user metadata, which `head_object` returns in one call."""

    def __init__(self, bucket: str, client: Any = None, endpoint_url: str | None = None) -> None:
        self.bucket = bucket
        self._client = client
        self._endpoint_url = endpoint_url

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("s3", endpoint_url=self._endpoint_url)
        return self._client

    def _call(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception as exc:  # botocore errors, connection errors: typed at this one boundary
            raise SnapshotStoreUnavailable(f"s3://{self.bucket}", f"{type(exc).__name__}: {exc}"[:300]) from None

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


class ObjectStorageSnapshots(SnapshotProvider):
    """Key: `<prefix>/<network>/<block:012d>-<unix time>.state.gz`; a `.ok` marker once verified."""

    def __init__(self, store: ObjectStore, prefix: str = "snapshots") -> None:
        self.store = store
        self.prefix = prefix.strip("/")

    def create(self, network: str, source: StateSource, now: float) -> SnapshotRecord:
        archive, block = source.dump()
        key = f"{self.prefix}/{network}/{block:012d}-{int(now)}{ARCHIVE_SUFFIX}"
        tags = {"network": network, "block": str(block), "taken_at": str(int(now))}
        self.store.put(key, archive, tags)
        record = SnapshotRecord(key, network, block, float(int(now)), len(archive),
                                hashlib.sha256(archive).hexdigest())
        self.verify(record)
        # The marker is written only after verification: listing never offers an unverified archive.
        self.store.put(key + ".ok", b"", tags | {"sha256-archive": record.sha256})
        return SnapshotRecord(**(record.to_dict() | {"verified": True}))

    def verify(self, record: SnapshotRecord) -> None:
        size, meta = self.store.head(record.id)
        if size != record.size:
            raise SnapshotInvalid(f"{record.id}: stored size {size} != written {record.size}")
        if meta.get("sha256") != record.sha256:
            raise SnapshotInvalid(f"{record.id}: stored checksum does not match")
        data = self.store.get(record.id)
        if hashlib.sha256(data).hexdigest() != record.sha256:
            raise SnapshotInvalid(f"{record.id}: read-back checksum does not match")
        if archive_block(data) != record.block:
            raise SnapshotInvalid(f"{record.id}: archive holds another block than tagged")

    def list(self, network: str) -> list[SnapshotRecord]:
        keys = set(self.store.keys(f"{self.prefix}/{network}/"))
        records = []
        for key in keys:
            if not key.endswith(ARCHIVE_SUFFIX):
                continue
            name = key.rsplit("/", 1)[-1][: -len(ARCHIVE_SUFFIX)]
            try:
                block_text, taken_text = name.split("-", 1)
                block, taken = int(block_text), float(taken_text)
            except ValueError:
                continue  # not ours
            records.append(SnapshotRecord(key, network, block, taken, verified=key + ".ok" in keys))
        return sorted(records, key=lambda r: (r.taken_at, r.block), reverse=True)

    def fetch(self, record: SnapshotRecord) -> bytes:
        """The archive, re-verified against the checksum recorded at write time."""
        data = self.store.get(record.id)
        _, meta = self.store.head(record.id + ".ok")
        if hashlib.sha256(data).hexdigest() != meta.get("sha256-archive"):
            raise SnapshotInvalid(f"{record.id}: archive changed since it was verified")
        return data

    def delete(self, record: SnapshotRecord) -> None:
        self.store.delete(record.id + ".ok")  # unmark first: a half-deleted snapshot is never "good"
        self.store.delete(record.id)


class EbsSnapshots(SnapshotProvider):
    """EBS snapshots of the sequencer's data volume (`ec2:CreateSnapshot`, tags `opwatch:*`)."""

    def __init__(self, volume_id: str, client: Any = None, wait_s: float = EBS_WAIT_S,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.volume_id = volume_id
        self._client = client
        self.wait_s = wait_s
        self._sleep = sleep

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("ec2")
        return self._client

    def _call(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception as exc:
            raise SnapshotStoreUnavailable("ebs", f"{type(exc).__name__}: {exc}"[:300]) from None

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


def longest_wait_s(provider: str) -> float:
    """The longest one snapshot run waits on the cloud for `provider` (beyond single API calls,
    which carry their own timeouts): a function that runs it needs a timeout above this."""
    if provider == "ebs":
        return EBS_WAIT_S
    if provider == "gce-disk":
        from .gce_disk import LONGEST_WAIT_S

        return LONGEST_WAIT_S
    return 0.0  # s3, gcs: one upload and read-back, no polling


DISK_PROVIDERS = ("ebs", "gce-disk")


def provider_for(policy: Any, s3_client: Any = None, ec2_client: Any = None, gcs_client: Any = None,
                 gce_session: Any = None, compute_base_url: str | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> SnapshotProvider:
    """The provider a `SnapshotPolicy` names (cloud modules imported only when chosen)."""
    if policy.provider == "ebs":
        return EbsSnapshots(policy.volume_id, ec2_client, sleep=sleep)
    if policy.provider == "gce-disk":
        from .gce_disk import DEFAULT_BASE_URL, PersistentDiskSnapshots

        return PersistentDiskSnapshots(policy.project, policy.zone, policy.disk, gce_session,
                                       base_url=compute_base_url or DEFAULT_BASE_URL, sleep=sleep)
    if policy.provider == "gcs":
        from .gcs import GcsObjectStore

        return ObjectStorageSnapshots(GcsObjectStore(policy.bucket, gcs_client, policy.project), policy.prefix)
    return ObjectStorageSnapshots(S3ObjectStore(policy.bucket, s3_client, policy.endpoint_url), policy.prefix)


def take_snapshot(provider: SnapshotProvider, network: str, source: StateSource, retention: int,
                  clock: Callable[[], float] = time.time) -> tuple[SnapshotRecord, list[SnapshotRecord]]:
    """Create + verify, then prune by retention. Returns (new snapshot, pruned ones)."""
    record = provider.create(network, source, clock())
    return record, provider.prune(network, retention)
