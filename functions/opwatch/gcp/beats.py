"""This side's heartbeat (GCP): a small JSON object per network in Cloud Storage.

`gs://<bucket>/heartbeat/gcp/<network>.json` (the bucket: `[heartbeat.gcp] bucket`) holds a
`checks.heartbeat.Beat`, overwritten after each run of the beat-writing function
(`checks.heartbeat.WRITER`). The AWS watchdog's `heartbeat` check reads it through Cloud
Storage's S3-compatible XML API with an HMAC key of the plan's beat-reader service account
(`aws/beats.py`).

Written with the Cloud Storage JSON API's simple upload (one POST), over an injected
`requests`-like session: google-auth's AuthorizedSession in production, a plain session
pointed at a stand-in (`[heartbeat.gcp] endpoint = "http://127.0.0.1:…"`) in tests. No storage
client library: one call does not justify another dependency on the cold path.
"""

from __future__ import annotations

import os
import urllib.parse
from typing import Any

from ..checks.heartbeat import Beat, Peer

# A stand-in's address when the config names none, as for Pub/Sub and Secret Manager (tests only).
ENDPOINT_ENV = "OPWATCH_STORAGE_ENDPOINT"
DEFAULT_ENDPOINT = "https://storage.googleapis.com"
CLOUD = "gcp"


class BeatWriter:
    def __init__(self, bucket: str, session: Any = None, endpoint: str | None = None, timeout: float = 10.0) -> None:
        self.bucket = bucket
        self.endpoint = (endpoint or os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT).rstrip("/")
        self._session = session
        self.timeout = timeout

    @classmethod
    def for_peer(cls, peer: Peer, session: Any = None) -> BeatWriter:
        """The writer of this side's beats as `[heartbeat.gcp]` names them."""
        return cls(peer.bucket, session, peer.endpoint or None)

    @property
    def session(self) -> Any:
        if self._session is None:
            if self.endpoint.startswith("http://"):  # only ever a local stand-in
                import requests

                self._session = requests.Session()
            else:
                import google.auth
                from google.auth.transport.requests import AuthorizedSession

                credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/devstorage.read_write"])
                self._session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
        return self._session

    def write(self, beat: Beat) -> None:
        name = Beat.object_name(beat.cloud, beat.network)
        url = (f"{self.endpoint}/upload/storage/v1/b/{urllib.parse.quote(self.bucket, safe='')}/o"
               f"?uploadType=media&name={urllib.parse.quote(name, safe='')}")
        reply = self.session.post(url, data=beat.to_json().encode(), timeout=self.timeout,
                                  headers={"Content-Type": "application/json", "Cache-Control": "no-store"})
        if reply.status_code != 200:
            raise OSError(f"heartbeat upload to gs://{self.bucket}/{name}: HTTP {reply.status_code}")
