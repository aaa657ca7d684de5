"""Heartbeats through the S3 protocol: AWS's own beats written, either cloud's beats read.

Written: `s3://<bucket>/heartbeat/aws/<network>.json` (a `checks.heartbeat.Beat`), overwritten
by the `WRITER` check function after it published, with the function's own role
(`s3:PutObject` on `heartbeat/aws/*` of that bucket, nothing else: infra/heartbeat.py).

Read: the peer's beat with a key pair from the reader's secret store, signed SigV4, through
the S3 protocol that both clouds speak: S3 itself (an IAM user's access key allowed only
`s3:GetObject` on `heartbeat/aws/*`: GCP reads AWS), and Cloud Storage's S3-compatible XML
API at storage.googleapis.com (an HMAC key of a service account with read on the heartbeat
bucket: AWS reads GCP). One reader, one error boundary (`client.aws_call`), both ways.
A missing object is "never wrote" (None); anything else that fails is `HeartbeatUnreadable`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..checks.heartbeat import Beat, HeartbeatUnreadable, Peer, SourceSpec, parse_beat
from .client import AwsError, aws_call, client

CLOUD = "aws"
GCS_XML_ENDPOINT = "https://storage.googleapis.com"
_MISSING = ("NoSuchKey", "404", "NotFound")


class S3BeatWriter:
    """Overwrites this side's beat object, with the function's own credentials."""

    def __init__(self, bucket: str, region: str = "", endpoint: str = "", s3_client: Any = None) -> None:
        self.bucket = bucket
        self._kwargs = {k: v for k, v in (("region_name", region), ("endpoint_url", endpoint)) if v}
        self._client = s3_client

    def client(self) -> Any:
        if self._client is None:
            self._client = client("s3", **self._kwargs)
        return self._client

    def write(self, beat: Beat) -> None:
        s3 = self.client()
        key = Beat.object_name(beat.cloud, beat.network)
        aws_call("s3:PutObject", lambda: s3.put_object(
            Bucket=self.bucket, Key=key, Body=beat.to_json().encode(), ContentType="application/json",
            CacheControl="no-store"))


class S3ProtocolBeatSource:
    """A peer's newest beat, read with the key pair `read_key()` returns (at first use)."""

    def __init__(self, peer: Peer, read_key: Callable[[], str] | None, s3_client: Any = None) -> None:
        self.name = peer.cloud
        self.peer = peer
        self._read_key = read_key
        self._client = s3_client

    def _where(self) -> str:
        scheme = "s3" if self.peer.cloud == "aws" else "gs"
        return f"{self.peer.cloud} heartbeat ({scheme}://{self.peer.bucket}/heartbeat/{self.peer.cloud}/)"

    def _build(self) -> Any:
        from botocore.config import Config

        kwargs: dict[str, Any] = {}
        if self._read_key is not None:
            try:
                pair = json.loads(self._read_key())
                kwargs = {"aws_access_key_id": str(pair["access_key_id"]),
                          "aws_secret_access_key": str(pair["secret_access_key"])}
            except (ValueError, KeyError, TypeError):  # never quote the value: it is a credential
                raise HeartbeatUnreadable(self._where(), f"{self.peer.read_key}: expected JSON "
                                          '{"access_key_id": ..., "secret_access_key": ...}') from None
            except Exception as exc:  # the secret store's own error (SignerError), already redacted
                raise HeartbeatUnreadable(self._where(), f"cannot read {self.peer.read_key}: {exc}") from None
        if self.peer.cloud == "aws":
            kwargs |= {"region_name": self.peer.region, "endpoint_url": self.peer.endpoint or None}
            config = Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=10)
        else:
            # Cloud Storage's XML API takes SigV4 with HMAC keys, path-style, region "auto". Checksum
            # headers newer botocore adds by default are S3's, not part of that interoperability.
            kwargs |= {"region_name": "auto", "endpoint_url": self.peer.endpoint or GCS_XML_ENDPOINT}
            config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}, connect_timeout=5,
                            read_timeout=10, request_checksum_calculation="when_required",
                            response_checksum_validation="when_required")
        return client("s3", config=config, **kwargs)

    def latest(self, network: str) -> Beat | None:
        if self._client is None:
            self._client = self._build()
        key = self.peer.object_name(network)
        try:
            reply = aws_call("s3:GetObject", lambda: self._client.get_object(Bucket=self.peer.bucket, Key=key))
            body = aws_call("s3:GetObject", lambda: reply["Body"].read(65536))
        except AwsError as exc:
            if exc.code in _MISSING:
                return None
            raise HeartbeatUnreadable(self._where(), str(exc)) from None
        return parse_beat(body, network, self._where())


def source(spec: SourceSpec, seams: Any) -> S3ProtocolBeatSource:
    """The registry's `beat_source` factory for either cloud's beats (`aws/backends`, `gcp/backends`)."""
    return S3ProtocolBeatSource(spec.peer, spec.read_key, getattr(seams, "beat_s3_client", None))
