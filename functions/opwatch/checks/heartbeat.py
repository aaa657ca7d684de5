"""heartbeat: the watchdog on the other cloud is alive (a dead-man switch, both ways).

Each cloud's watchdog writes a beat per network after its `WRITER` check function has
published its findings ("ran and delivered"): AWS to `s3://<bucket>/heartbeat/aws/<network>.json`,
GCP to `gs://<bucket>/heartbeat/gcp/<network>.json`. This check, on the other cloud, reads the
peer's newest beat. The peers are named in the config's `[heartbeat]` section:

```toml
[heartbeat]
max_age = "5m"
aws = { bucket = "opwatch-beats-prod", region = "us-east-1",
        read_key = "gcp-secretmanager:projects/P/secrets/opwatch-aws-beat-reader/versions/latest" }
gcp = { bucket = "opwatch-heartbeats", read_key = "aws-secretsmanager:opwatch/gcs-beat-reader" }
```

`read_key` is the secret, in the *reader's* secret store, holding the key pair that may read
this cloud's beats (and nothing else): an IAM user's access key limited to
`s3:GetObject` on `heartbeat/aws/*` (read by GCP), a GCS HMAC key of a service account with
object read on the heartbeat bucket (read by AWS through GCS's S3-compatible XML API). Both
are read through the S3 protocol, so one reader serves both directions (`aws/beats.py`).
`endpoint` (optional) points a peer at a stand-in or another S3/GCS API endpoint.

Invariant: the peer wrote a beat for this network within `max_age` (default 5 min: beats
come every minute; that tolerates a few skipped scheduler ticks and cold starts).
Fires: the newest beat is older than `max_age`, or the peer never wrote one (the object
does not exist): the other watchdog is blind or dead, so one cloud's outage would go unseen.
Unknown: the beat store cannot be read (unreachable, 5xx, denied, garbage, the key secret
unreadable).
Skipped (`applies`, no finding): this runtime has no peer in `[heartbeat]` to read (the CLI
on a config without one, a cloud whose only entry is its own beats).
Remedy: none automatic; see docs/runbooks/heartbeat.md (redeploy or investigate the peer).

A deployed function reads the peer that is not its own cloud (`Context.cloud`); the CLI reads
every peer. `make_check(resolve)` builds the same check over fixed sources (`opwatch smoke`).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from ..chain.errors import ChainError
from ..config import GCP_NAMES, Config, ConfigError, Network, parse_duration
from ..findings import Measure, Status, utc_now_iso
from ..redact import redact_url
from .base import Check, Context, Verdict

ID = "heartbeat"
DEFAULT_MAX_AGE_S = 300.0
CLOUDS = ("aws", "gcp")
# The check function whose run writes the beat: every minute on every network, and the one a
# halted chain most needs delivered. Both clouds' deployments read this.
WRITER = "sequencer_liveness"
# Where a cloud's reader keeps the key to the other's beats: its own secret store (or env: locally).
READER_STORES = {"aws": ("aws-secretsmanager", "env"), "gcp": ("gcp-secretmanager", "env")}
PEER_TARGET = "peer"  # the finding's target on a deployed function (its one peer is in the details)


class HeartbeatUnreadable(ChainError):
    """The beat store could not be read: `evaluate` turns this into `unknown`, like a dead RPC."""


@dataclass(frozen=True, slots=True)
class Beat:
    """One watchdog's proof of life for one network: written by the writer, read by the peer."""

    cloud: str
    network: str
    at: float  # epoch seconds when the writer finished publishing
    findings: int = 0  # how many findings that run published

    def to_json(self) -> str:
        return json.dumps(asdict(self) | {"at_iso": utc_now_iso(self.at)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: bytes | str) -> Beat:
        try:
            data = json.loads(text)
            return cls(cloud=str(data["cloud"]), network=str(data["network"]), at=float(data["at"]),
                       findings=int(data.get("findings", 0)))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"not a heartbeat record: {exc!r}") from None

    @staticmethod
    def object_name(cloud: str, network: str) -> str:
        return f"heartbeat/{cloud}/{network}.json"


# --- [heartbeat] --------------------------------------------------------------------------

_AWS_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]")
# An API endpoint: https anywhere, plain http only to this machine (a stand-in in tests).
_ENDPOINT = re.compile(r"(https://[A-Za-z0-9.-]+|http://(127\.0\.0\.1|localhost))(:[0-9]{1,5})?/?")
_SECRET_NAME = re.compile(r"[A-Za-z0-9/_+=.@:-]{1,512}")


@dataclass(frozen=True, slots=True)
class Peer:
    """One cloud's beats: its bucket, and how the other cloud reads them."""

    cloud: str
    bucket: str
    region: str = ""  # aws: the bucket's region
    endpoint: str = ""  # the S3 / GCS API endpoint; empty: the cloud's own
    read_key: str = ""  # "<store>:<name>" in the reader's secret store: a key pair that may read these beats

    def object_name(self, network: str) -> str:
        return Beat.object_name(self.cloud, network)


@dataclass(frozen=True, slots=True)
class HeartbeatSettings:
    peers: Mapping[str, Peer] = field(default_factory=dict)
    max_age_s: float = DEFAULT_MAX_AGE_S

    def own(self, cloud: str) -> Peer | None:
        """Where `cloud` writes its beats, if the config says it does."""
        return self.peers.get(cloud)

    def peers_of(self, cloud: str | None) -> list[Peer]:
        """The peers a runtime reads: the other cloud's; every one from the CLI (cloud None)."""
        return [p for c, p in sorted(self.peers.items()) if c != cloud]


def parse_section(table: Mapping[str, Any], where: str, _config: Config) -> HeartbeatSettings:
    problems: list[str] = []
    peers: dict[str, Peer] = {}
    max_age = DEFAULT_MAX_AGE_S
    for key, value in table.items():
        at = f"{where}.{key}"
        if key == "max_age":
            try:
                max_age = parse_duration(value)
                if not 60 <= max_age <= 86400:
                    problems.append(f"{at}: between 1m and 24h (beats come every minute)")
            except ValueError as exc:
                problems.append(f"{at}: {exc}")
        elif key in CLOUDS:
            peer = _peer(key, value, at, problems)
            if peer is not None:
                peers[key] = peer
        else:
            problems.append(f"{at}: unknown key (known: max_age, {', '.join(CLOUDS)})")
    if problems:
        raise ConfigError(problems)
    return HeartbeatSettings(peers, max_age)


def _peer(cloud: str, t: Any, at: str, problems: list[str]) -> Peer | None:
    if not isinstance(t, Mapping):
        problems.append(f"{at}: expected a table like {{ bucket = \"...\" }}")
        return None
    before = len(problems)
    known = {"bucket", "endpoint", "read_key"} | ({"region"} if cloud == "aws" else set())
    problems += [f"{at}.{k}: unknown key (known: {', '.join(sorted(known))})" for k in t if k not in known]
    bucket, region, endpoint, read_key = (t.get(k, "") for k in ("bucket", "region", "endpoint", "read_key"))
    # S3 and GCS bucket names share this shape (S3's is stricter on dots; both refuse the rest).
    if not isinstance(bucket, str) or not GCP_NAMES["bucket"][0].fullmatch(bucket):
        problems.append(f"{at}.bucket: expected a bucket name (3-63 lower-case letters, digits, '.', '-', '_'), "
                        f"got {bucket!r}")
    if cloud == "aws" and not (isinstance(region, str) and _AWS_REGION.fullmatch(region)):
        problems.append(f"{at}.region: expected the bucket's AWS region like 'us-east-1', got {region!r}")
    if endpoint != "" and not (isinstance(endpoint, str) and _ENDPOINT.fullmatch(endpoint)):
        problems.append(f"{at}.endpoint: expected an https:// API endpoint (http only to 127.0.0.1/localhost)")
    reader = next(c for c in CLOUDS if c != cloud)
    if read_key != "":
        store, _, name = str(read_key).partition(":")
        if not isinstance(read_key, str) or store not in READER_STORES[reader] or not _SECRET_NAME.fullmatch(name):
            problems.append(f"{at}.read_key: expected {' or '.join(s + ':<name>' for s in READER_STORES[reader])} "
                            f"(the {reader} watchdog reads these beats with it)")
    if len(problems) > before:
        return None
    return Peer(cloud, bucket, region, str(endpoint).rstrip("/"), read_key)


# --- reading beats ------------------------------------------------------------------------

class HeartbeatSource(Protocol):
    name: str

    def latest(self, network: str) -> Beat | None:
        """The newest beat for `network`, None if the peer never wrote one; raises
        HeartbeatUnreadable when the store cannot be read."""
        ...


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """What a runtime's `beat_source` factory gets: the peer, and its key pair read at call time
    (JSON `{"access_key_id": ..., "secret_access_key": ...}`) from the reader's secret store."""

    peer: Peer
    read_key: Callable[[], str] | None


def source_for(ctx: Context, peer: Peer) -> HeartbeatSource:
    """The reader of `peer`'s beats, built by the runtime's registry once per container."""
    def build() -> HeartbeatSource:
        key: Callable[[], str] | None = None
        if peer.read_key:
            store, _, name = peer.read_key.partition(":")
            secrets = ctx.registry.build("secret", store, None, ctx.seams)
            key = lambda: str(secrets.get(name))  # noqa: E731 - read at call time, never cached here
        source: HeartbeatSource = ctx.registry.build("beat_source", peer.cloud, SourceSpec(peer, key), ctx.seams)
        return source

    where = f"{peer.cloud} heartbeat source"
    try:
        return ctx.resources.get(("beat_source", peer), build)  # type: ignore[no-any-return]
    except LookupError as exc:  # registry.NotAvailable: this runtime cannot read that cloud
        raise HeartbeatUnreadable(where, str(exc)) from None


Fetch = Callable[[str, Mapping[str, str], float], tuple[int, bytes]]


def urllib_fetch(url: str, headers: Mapping[str, str], timeout: float) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.status, reply.read(65536)
    except urllib.error.HTTPError as exc:
        return exc.code, b""


class HttpBeatSource:
    """GET a beat document from `url_template.format(network=…)` (`opwatch smoke --heartbeat`).

    `headers` (called per read) may add e.g. an `Authorization` bearer token for a private
    object; the URL is only ever shown redacted (it may carry a signature)."""

    def __init__(self, name: str, url_template: str, fetch: Fetch = urllib_fetch,
                 headers: Callable[[], Mapping[str, str]] = dict, timeout: float = 5.0) -> None:
        self.name = name
        self.url_template = url_template
        self.fetch = fetch
        self.headers = headers
        self.timeout = timeout

    def latest(self, network: str) -> Beat | None:
        url = self.url_template.format(network=network)
        where = f"{self.name} heartbeat ({redact_url(url)})"
        try:
            status, body = self.fetch(url, self.headers(), self.timeout)
        except OSError as exc:
            raise HeartbeatUnreadable(where, f"no answer ({type(exc).__name__})") from None
        if status == 404:
            return None
        if status != 200:
            raise HeartbeatUnreadable(where, f"HTTP {status}")
        return parse_beat(body, network, where)


def parse_beat(body: bytes | str, network: str, where: str) -> Beat:
    """A beat off the wire, or HeartbeatUnreadable: garbage or another network's beat is no proof."""
    try:
        beat = Beat.from_json(body)
    except ValueError as exc:
        raise HeartbeatUnreadable(where, str(exc)) from None
    if beat.network != network:
        raise HeartbeatUnreadable(where, f"beat is for network {beat.network!r}")
    return beat


def sources_from_urls(items: Sequence[str]) -> dict[str, HeartbeatSource]:
    """`opwatch smoke --heartbeat NAME=URL`: `aws=https://…/{network}.json` → {"aws": HttpBeatSource}.
    Without the flag, smoke reads the peers `[heartbeat]` names, as the deployed check does."""
    sources: dict[str, HeartbeatSource] = {}
    for item in items:
        name, sep, url = item.partition("=")
        if not sep or not name or not url.startswith(("https://", "http://")):
            raise ValueError(f"--heartbeat: expected NAME=URL items, got {item!r}")
        sources[name] = HttpBeatSource(name, url)
    return sources


# --- the check ----------------------------------------------------------------------------

def judge(ctx: Context, name: str, beat: Beat | None, max_age_s: float) -> Verdict:
    threshold = Measure(max_age_s, "s")
    if beat is None:
        return Verdict(Status.FIRING, f"the {name} watchdog never wrote a heartbeat for "
                       f"{ctx.network.name}: it is not watching this network",
                       Measure(None, "s"), threshold, {"peer": name})
    # Clocks of two clouds differ by well under a second (NTP); never report a negative age.
    age = max(0.0, ctx.now() - beat.at)
    observed = Measure(round(age, 1), "s")
    details = {"peer": name, "beat_at": utc_now_iso(beat.at), "beat_findings": beat.findings}
    if age > max_age_s:
        return Verdict(Status.FIRING, f"the {name} watchdog's last heartbeat is {observed.render()} old "
                       f"(limit {threshold.render()}): it has stopped", observed, threshold, details)
    return Verdict(Status.OK, f"the {name} watchdog's last heartbeat is {observed.render()} old "
                   f"(limit {threshold.render()})", observed, threshold, details)


def _settings(ctx: Context) -> HeartbeatSettings:
    if ctx.config is None:
        return HeartbeatSettings()
    settings: HeartbeatSettings = ctx.config.section(ID)
    return settings


def _applies(ctx: Context) -> str | None:
    """Skipped, not `unknown`, where there is nothing to read: a page saying "cannot see the
    peer" on a deployment that has none would be noise an SRE learns to ignore."""
    if _settings(ctx).peers_of(ctx.cloud):
        return None
    if ctx.cloud is None:
        return "no peer's beats named in [heartbeat]"
    return f"no peer for {ctx.cloud} to read in [heartbeat] (only its own beats, or none)"


def measure_peers(ctx: Context, _shared: object, _target: str) -> Verdict:
    """Every peer this runtime reads (one on a deployed function): the worst verdict; a firing
    peer is reported even when another one cannot be read."""
    settings = _settings(ctx)
    peers = settings.peers_of(ctx.cloud)
    if not peers:
        raise HeartbeatUnreadable("[heartbeat]", f"no peer to read from {ctx.cloud or 'here'}: name the other "
                                                 "cloud's beats in [heartbeat]")
    verdicts: list[Verdict] = []
    unreadable: HeartbeatUnreadable | None = None
    for peer in peers:
        try:
            source = source_for(ctx, peer)
            verdicts.append(judge(ctx, peer.cloud, source.latest(ctx.network.name), settings.max_age_s))
        except HeartbeatUnreadable as exc:
            unreadable = exc
    firing = [v for v in verdicts if v.status is Status.FIRING]
    if firing:
        return firing[0]
    if unreadable is not None:
        raise unreadable
    return max(verdicts, key=lambda v: v.observed.value or 0.0)


def _threshold(_net: Network) -> Measure:
    return Measure(DEFAULT_MAX_AGE_S, "s")


def make_check(resolve: Callable[[], Mapping[str, HeartbeatSource]], max_age_s: float = DEFAULT_MAX_AGE_S) -> Check:
    """The check over fixed sources, one finding per source (`opwatch smoke`, tests)."""
    def peers(_network: Network) -> list[str]:
        try:
            return sorted(resolve())
        except ValueError:
            return ["peers"]  # measured as unknown, with the reason: never silently skipped

    def configured(_net: Network) -> str | None:
        try:
            return None if resolve() else "no heartbeat peers given (--heartbeat)"
        except ValueError:
            return None  # configured, but wrongly: run, and report unknown with the reason

    def measure(ctx: Context, _shared: object, target: str) -> Verdict:
        try:
            source = resolve()[target]
        except ValueError as exc:
            raise HeartbeatUnreadable("--heartbeat", str(exc)) from None
        return judge(ctx, target, source.latest(ctx.network.name), max_age_s)

    return Check(id=ID, title=CHECK.title, missing=configured, targets=peers,
                 threshold=lambda _net: Measure(max_age_s, "s"), measure=measure)


CHECK = Check(
    id=ID,
    title="age of the peer's newest heartbeat (s)",
    # Whether a runtime has a peer depends on the config and the cloud, which `missing` cannot
    # see: `applies` decides, for the runner, the CDK app and the GCP plan alike.
    missing=lambda _net: None,
    applies=_applies,
    targets=lambda _net: [PEER_TARGET],
    threshold=_threshold,
    measure=measure_peers,
)
