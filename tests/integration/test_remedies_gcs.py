"""Snapshots on a local GCS API (gcp-storage-emulator, a real HTTP server in a subprocess) of a
real anvil's state, through the official google-cloud-storage client: `GcsObjectStore`.

The emulator answers every listing in one page (it ignores maxResults and pageToken), so the
paging test puts `PagingSession` between client and emulator: the client's HTTP seam (`_http`),
which pages the emulator's answer the way GCS does. `CorruptingSession` flips a byte of an
upload on the way, to show the server rejects it by the CRC32C the store sends.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import requests
from opwatch.chain.errors import ChainError
from opwatch.chain.rpc import RpcClient
from opwatch.config import Endpoint
from opwatch.findings import Status
from opwatch.gcp.gcs import GcsObjectStore
from opwatch.remedies.snapshot import (
    NodeStateSource,
    ObjectStorageSnapshots,
    SnapshotInvalid,
    SnapshotStoreUnavailable,
    take_snapshot,
)
from remedies_fixtures import L1_CHAIN_ID, free_port

pytestmark = pytest.mark.anvil

PROJECT = "opwatch-test"


@contextlib.contextmanager
def running_emulator(log_dir) -> Iterator[str]:
    """The emulator on a free loopback port, in memory; yields its endpoint, stops it on exit."""
    port = free_port()
    log = (log_dir / f"gcs-emulator-{port}.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1",
                             "--port", str(port), "--in-memory", "--quiet"], stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gcs emulator exited {proc.returncode}: see {log.name}")
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"{endpoint}/storage/v1/b", params={"project": PROJECT}, timeout=1).ok:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"gcs emulator did not answer on {endpoint}: see {log.name}")
            time.sleep(0.05)
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def gcs_client(endpoint: str, session: requests.Session | None = None):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(project=PROJECT, credentials=AnonymousCredentials(),
                          client_options={"api_endpoint": endpoint}, _http=session)


class PagingSession(requests.Session):
    """Pages object listings (maxResults, pageToken = offset) over the emulator's single page."""

    def __init__(self) -> None:
        super().__init__()
        self.list_requests = 0

    def request(self, method, url, *args, **kwargs):
        parts = urlsplit(url)
        if method != "GET" or not parts.path.endswith("/o"):
            return super().request(method, url, *args, **kwargs)
        query = parse_qs(parts.query)
        size = int(query.pop("maxResults", ["0"])[0])
        start = int(query.pop("pageToken", ["0"])[0])
        response = super().request(method, urlunsplit(parts._replace(query=urlencode(query, doseq=True))),
                                   *args, **kwargs)
        self.list_requests += 1
        body = response.json()
        items = sorted(body.get("items", []), key=lambda item: item["name"])
        if size:
            body["items"] = items[start:start + size]
            if start + size < len(items):
                body["nextPageToken"] = str(start + size)
        response._content = json.dumps(body).encode()
        return response


class CorruptingSession(requests.Session):
    """Changes one byte of every upload's body after the client computed its checksum."""

    def request(self, method, url, *args, data=None, **kwargs):
        if method == "POST" and "/upload/" in url and isinstance(data, bytes):
            data = data.replace(b"intact archive", b"INTACT archive")
        return super().request(method, url, *args, data=data, **kwargs)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with running_emulator(tmp_path_factory.mktemp("gcs")) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    from opwatch_devnet.anvil import AnvilProcess

    with AnvilProcess.start("l1", tmp_path_factory.mktemp("gcs-snap"), ["--chain-id", str(L1_CHAIN_ID)]) as proc:
        client = RpcClient(Endpoint(proc.url, "anvil"))
        for _ in range(5):
            client.call("evm_mine")
        yield proc.url


@pytest.fixture
def bucket(emulator, request):
    name = "snap-" + request.node.name[-30:].replace("_", "-").lower().strip("-")
    gcs_client(emulator).create_bucket(name)
    return name


def provider(emulator: str, bucket: str) -> ObjectStorageSnapshots:
    return ObjectStorageSnapshots(GcsObjectStore(bucket, gcs_client(emulator)))


def source(url: str) -> NodeStateSource:
    return NodeStateSource(RpcClient(Endpoint(url, "seq")))


def test_snapshot_is_stored_with_metadata_verified_and_listed(emulator, bucket, chain):
    snaps = provider(emulator, bucket)
    record = snaps.create("devnet", source(chain), 1_700_000_000)
    assert record.verified and record.block >= 5 and record.size > 0
    blob = gcs_client(emulator).bucket(bucket).get_blob(record.id)
    assert blob.size == record.size
    assert blob.metadata["network"] == "devnet" and blob.metadata["block"] == str(record.block)
    assert blob.metadata["sha256"] == record.sha256
    assert snaps.newest_good("devnet").id == record.id
    assert snaps.fetch(record)[:2] == b"\x1f\x8b"  # gzip


def test_an_archive_without_its_marker_is_never_offered(emulator, bucket, chain):
    snaps = provider(emulator, bucket)
    good = snaps.create("devnet", source(chain), 1_700_000_000)
    # A newer archive whose verification never finished (a crash mid-write) does not count.
    half = "snapshots/devnet/000000000099-1700000500.state.gz"
    gcs_client(emulator).bucket(bucket).blob(half).upload_from_string(b"half")
    assert [r.verified for r in snaps.list("devnet")] == [False, True]
    assert snaps.newest_good("devnet").id == good.id


def test_a_tampered_archive_fails_fetch(emulator, bucket, chain):
    snaps = provider(emulator, bucket)
    good = snaps.create("devnet", source(chain), 1_700_000_000)
    gcs_client(emulator).bucket(bucket).blob(good.id).upload_from_string(b"tampered")
    with pytest.raises(SnapshotInvalid):
        snaps.fetch(good)


def test_retention_keeps_the_newest_verified_and_drops_older_unverified(emulator, bucket, chain):
    snaps = provider(emulator, bucket)
    # An old half-written archive: no `.ok` marker to delete, which GCS answers with 404.
    gcs_client(emulator).bucket(bucket).blob("snapshots/devnet/000000000001-1600000000.state.gz") \
        .upload_from_string(b"half")
    times = iter(range(1_700_000_000, 1_700_000_000 + 5 * 60, 60))
    for _ in range(4):
        take_snapshot(snaps, "devnet", source(chain), retention=2, clock=lambda: float(next(times)))
    listed = snaps.list("devnet")
    assert [int(r.taken_at) for r in listed] == [1_700_000_180, 1_700_000_120]
    assert all(r.verified for r in listed)
    assert len(snaps.store.keys("snapshots/devnet/")) == 4  # two archives, two markers


def test_prune_never_prunes_to_nothing(emulator, bucket):
    snaps = provider(emulator, bucket)
    gcs_client(emulator).bucket(bucket).blob("snapshots/devnet/000000000001-1600000000.state.gz") \
        .upload_from_string(b"half")
    assert snaps.prune("devnet", retention=1) == []
    assert len(snaps.list("devnet")) == 1


def test_keys_follows_every_page(emulator, bucket):
    session = PagingSession()
    store = GcsObjectStore(bucket, gcs_client(emulator, session), page_size=3)
    written = {f"snapshots/devnet/{i:03d}" for i in range(8)}
    for key in written:
        store.put(key, b"x", {})
    store.put("elsewhere/001", b"x", {})
    session.list_requests = 0
    assert set(store.keys("snapshots/devnet/")) == written
    assert session.list_requests == 3  # 3 + 3 + 2


def test_head_and_delete_follow_the_s3_contract(emulator, bucket):
    store = GcsObjectStore(bucket, gcs_client(emulator))
    store.put("k", b"four", {"network": "devnet"})
    size, meta = store.head("k")
    assert size == 4 and meta["network"] == "devnet" and len(meta["sha256"]) == 64
    assert store.get("k") == b"four"
    store.delete("k")
    store.delete("k")  # absent: no error, as on S3
    assert store.keys("") == []
    with pytest.raises(SnapshotStoreUnavailable):
        store.head("k")


def test_a_corrupted_upload_is_rejected_by_its_checksum(emulator, bucket):
    store = GcsObjectStore(bucket, gcs_client(emulator, CorruptingSession()), retry_deadline_s=0.5)
    with pytest.raises(SnapshotStoreUnavailable, match="CRC32C"):
        store.put("snapshots/devnet/x.state.gz", b"an intact archive", {})
    assert gcs_client(emulator).bucket(bucket).get_blob("snapshots/devnet/x.state.gz") is None


def test_lazy_client_reads_the_emulator_from_the_environment(emulator, bucket, monkeypatch):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator)
    store = GcsObjectStore(bucket, project=PROJECT)
    store.put("k", b"v", {})
    assert store.keys("") == ["k"]


def test_importing_the_store_does_not_import_the_client():
    code = "import sys, opwatch.gcp.gcs; print('google.cloud.storage' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


def test_an_unreachable_store_is_unavailable_and_the_check_unknown(tmp_path, chain):
    def freshness(p):
        return __import__("remedies_fixtures").freshness(p, 1_700_000_600)

    with running_emulator(tmp_path) as endpoint:
        gcs_client(endpoint).create_bucket("gone")
        store = GcsObjectStore("gone", gcs_client(endpoint), retry_deadline_s=0.5)
        snaps = ObjectStorageSnapshots(store)
        snaps.create("devnet", source(chain), 1_700_000_000)
        assert freshness(snaps).status is Status.OK
    # The emulator is stopped now: every operation is typed, none escapes as another type.
    for operation in (lambda: store.keys(""), lambda: store.get("k"), lambda: store.head("k"),
                      lambda: store.put("k", b"v", {}), lambda: store.delete("k")):
        with pytest.raises(SnapshotStoreUnavailable) as raised:
            operation()
        assert isinstance(raised.value, ChainError) and "gs://gone" in str(raised.value)
    assert freshness(snaps).status is Status.UNKNOWN
    wrong_port = GcsObjectStore("gone", gcs_client(f"http://127.0.0.1:{free_port()}"), retry_deadline_s=0.5)
    assert freshness(ObjectStorageSnapshots(wrong_port)).status is Status.UNKNOWN
