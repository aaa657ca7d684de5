"""Snapshots of the sequencer's state: taken, verified, listed, pruned; the input of a restore.

`SnapshotProvider` is the interface; a snapshot is a `SnapshotRecord` tagged with network,
block height and time. Providers:

- `ObjectStorageSnapshots`: a state archive (on the devnet, anvil's `anvil_dumpState`: gzip
  of JSON with `best_block_number` and the blocks) written through an `ObjectStore`
  (`opwatch.aws.snapshots.S3ObjectStore`, `opwatch.gcp.gcs.GcsObjectStore`). A snapshot only
  counts once verified after writing: the stored size and SHA-256 match what was sent, and the
  archive reads back (gunzips, parses, and names the block height it was tagged with).
  Unverified ones are never restored from.
- `opwatch.aws.snapshots.EbsSnapshots`: EBS snapshots of the sequencer's data volume (`ec2:CreateSnapshot`), tagged
  the same way; verified by state `completed` and its tags. A restore boots a stopped
  replacement instance with a volume made from one (`opwatch.aws.restore.EbsVolumeLauncher`).
- `opwatch.gcp.gce_disk.PersistentDiskSnapshots`: the GCP counterpart (`disks.createSnapshot`), labelled
  and verified the same way.

Which provider a policy names is built by the runtime's registry (`provider_for`).

The source is the sequencer's RPC (`NodeStateSource`). Disk providers ask it only for its head
(`eth_getBlockByNumber("latest")`: number and hash of one block, after `eth_chainId` is checked),
which every node serves; only the archive providers call `dump()` (`anvil_dumpState`, which only
the devnet's anvil answers: op-geth says -32601).

A disk snapshot is taken by the cloud in the background: EBS answers `pending`, Compute Engine
`CREATING`/`UPLOADING`, often for minutes. Within a bounded wait (`waits.py`:
`EBS_SNAPSHOT_WAIT_S`, `GCE_SNAPSHOT_LONGEST_S`; `longest_wait_s(provider)` names the figure a function timeout must
exceed) it may finish; if not, `create` returns the record `in_progress` (not verified, never
restored from, never pruned), and a later `list` sees it verified once the cloud completes it.
A snapshot the cloud failed (EBS `error`, GCE `FAILED`) raises `SnapshotInvalid`.

Retention keeps the newest `retention` good snapshots per network. Storage errors are raised
as `SnapshotStoreUnavailable` (a `ChainError`), so `snapshot_freshness` reports `unknown`
through the one place that decides it.
"""

from __future__ import annotations

import builtins
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
from ..registry import Registry
from .waits import DISK_PROVIDERS, snapshot_wait_s

__all__ = ["DISK_PROVIDERS", "ObjectStorageSnapshots", "SnapshotInvalid", "SnapshotProvider", "SnapshotRecord",
           "SnapshotStoreUnavailable", "longest_wait_s", "provider_for", "take_snapshot"]

ARCHIVE_SUFFIX = ".state.gz"



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


def longest_wait_s(provider: str) -> float:
    """The longest one snapshot run waits on the cloud for `provider` (`waits.snapshot_wait_s`)."""
    return snapshot_wait_s(provider)


def provider_for(policy: Any, registry: Registry, seams: Any = None) -> SnapshotProvider:
    """The provider a `SnapshotPolicy` names, built by the implementation the runtime registered:
    the core imports no cloud module."""
    provider: SnapshotProvider = registry.build("snapshot", policy.provider, policy, seams)
    return provider


def take_snapshot(provider: SnapshotProvider, network: str, source: StateSource, retention: int,
                  clock: Callable[[], float] = time.time) -> tuple[SnapshotRecord, list[SnapshotRecord]]:
    """Create + verify, then prune by retention. Returns (new snapshot, pruned ones)."""
    record = provider.create(network, source, clock())
    return record, provider.prune(network, retention)
