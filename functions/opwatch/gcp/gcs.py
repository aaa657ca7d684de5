"""Google Cloud Storage as the `ObjectStore` of sequencer state snapshots (the GCP replica's S3).

`GcsObjectStore` keeps the contract of `S3ObjectStore`, so `ObjectStorageSnapshots` writes,
verifies, lists and prunes archives on either without knowing which:

- tags ride as the object's custom metadata, plus `sha256` of the data; `head` returns
  (size, metadata) from one metadata read;
- `keys(prefix)` follows every page of the listing (`page_size` names per request);
- `delete` of an absent object succeeds, as on S3: pruning deletes the `.ok` marker of
  snapshots that never got one;
- every error of the client, its auth or its transport is raised as
  `SnapshotStoreUnavailable("gs://<bucket>", ...)`, a `ChainError`, so `snapshot_freshness`
  reports `unknown`.

Uploads carry the data's CRC32C: GCS recomputes it and rejects a body that changed on the
way (the archive fits one request, so the server does the checking). Downloads are checked
against the stored CRC32C by the client.

The client is built on first use: importing google.cloud.storage costs every cold start,
and only snapshot runs need it. Calls carry a per-request timeout and a bounded retry
deadline, because the library's default retries transient errors for two minutes, longer
than a check run can wait.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any

from ..remedies.snapshot import SnapshotStoreUnavailable


@functools.cache
def _store_errors() -> tuple[type[BaseException], ...]:
    """What the client, its auth and its transport raise (imported only once one is raised)."""
    from google.api_core.exceptions import GoogleAPIError
    from google.auth.exceptions import GoogleAuthError
    from google.cloud.storage.exceptions import DataCorruption, InvalidResponse

    # requests' errors (connection refused, reset, read timeout) are OSErrors.
    return GoogleAPIError, GoogleAuthError, InvalidResponse, DataCorruption, OSError


class GcsObjectStore:
    """A GCS bucket. Tags ride as custom metadata, which one `objects.get` returns with the size."""

    def __init__(self, bucket: str, client: Any = None, project: str | None = None, *,
                 page_size: int = 1000, timeout_s: float = 10.0, retry_deadline_s: float = 30.0) -> None:
        self.bucket = bucket
        self.page_size = page_size
        self.timeout_s = timeout_s
        self.retry_deadline_s = retry_deadline_s
        self._client = client
        self._project = project

    @property
    def client(self) -> Any:
        if self._client is None:
            from google.cloud.storage import Client

            self._client = Client(project=self._project)
        return self._client

    @functools.cached_property
    def _retry(self) -> Any:
        from google.cloud.storage.retry import DEFAULT_RETRY

        return DEFAULT_RETRY.with_timeout(self.retry_deadline_s)

    def _call(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception as exc:
            if not isinstance(exc, _store_errors()):
                raise
            raise SnapshotStoreUnavailable(f"gs://{self.bucket}", f"{type(exc).__name__}: {exc}"[:300]) from None

    def _blob(self, key: str) -> Any:
        return self.client.bucket(self.bucket).blob(key)

    def put(self, key: str, data: bytes, tags: dict[str, str]) -> None:
        digest = hashlib.sha256(data).hexdigest()

        def upload() -> None:
            blob = self._blob(key)
            blob.metadata = tags | {"sha256": digest}
            # Overwriting a key with the same bytes is harmless, so the upload may be retried.
            blob.upload_from_string(data, content_type="application/octet-stream", checksum="crc32c",
                                    timeout=self.timeout_s, retry=self._retry)

        self._call(upload)

    def get(self, key: str) -> bytes:
        return bytes(self._call(lambda: self._blob(key).download_as_bytes(
            checksum="crc32c", timeout=self.timeout_s, retry=self._retry)))

    def head(self, key: str) -> tuple[int, dict[str, str]]:
        def reload() -> Any:
            blob = self._blob(key)
            blob.reload(timeout=self.timeout_s, retry=self._retry)  # NotFound for an absent key, as on S3
            return blob

        blob = self._call(reload)
        return int(blob.size or 0), {str(k): str(v) for k, v in (blob.metadata or {}).items()}

    def keys(self, prefix: str) -> list[str]:
        # Iterating the listing requests the next page (pageToken) until there is none.
        return self._call(lambda: [blob.name for blob in self.client.list_blobs(  # type: ignore[no-any-return]
            self.bucket, prefix=prefix, page_size=self.page_size, timeout=self.timeout_s, retry=self._retry)])

    def delete(self, key: str) -> None:
        def remove() -> None:
            from google.api_core.exceptions import NotFound

            try:
                self._blob(key).delete(timeout=self.timeout_s, retry=self._retry)
            except NotFound:
                pass  # already gone (or never written): S3 semantics, which the snapshot provider relies on

        self._call(remove)
