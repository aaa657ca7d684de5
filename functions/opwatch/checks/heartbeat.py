"""heartbeat: the watchdog on the other cloud is alive (a dead-man switch).

Each cloud's watchdog writes a beat per network after a run has published its findings
(GCP: the `sequencer_liveness` function, to `gs://<bucket>/heartbeat/gcp/<network>.json`).
This check, on the other cloud, reads the peer's newest beat through a `HeartbeatSource`.

Invariant: the peer wrote a beat for this network within `max_age` (default 5 min: beats
come every minute; that tolerates a few skipped scheduler ticks and cold starts).
Fires: the newest beat is older than `max_age`, or the peer never wrote one (the object
does not exist): the other watchdog is blind or dead, so one cloud's outage would go unseen.
Unknown: the beat store cannot be read (unreachable, 5xx, denied, garbage).
Remedy: none automatic; see docs/runbooks/heartbeat.md (redeploy or investigate the peer).

The check is cloud-agnostic: a beat is a small JSON document (`Beat`), a source is
anything that returns the newest one. `HttpBeatSource` reads it over HTTP(S) from a URL
template (a GCS or S3 object URL, or an endpoint). Peers come from `OPWATCH_HEARTBEAT_PEERS`
(`aws=https://…/heartbeat/aws/{network}.json gcp=…`), set by the deployment on the
function that runs this check; `make_check` takes any resolver (tests inject sources).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Protocol

from ..chain.errors import ChainError
from ..config import Network
from ..findings import Measure, Status, utc_now_iso
from ..redact import redact_url
from .base import Check, Context, Verdict

ID = "heartbeat"
PEERS_ENV = "OPWATCH_HEARTBEAT_PEERS"
DEFAULT_MAX_AGE_S = 300.0


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


class HeartbeatSource(Protocol):
    name: str

    def latest(self, network: str) -> Beat | None:
        """The newest beat for `network`, None if the peer never wrote one; raises
        HeartbeatUnreadable when the store cannot be read."""
        ...


Fetch = Callable[[str, Mapping[str, str], float], tuple[int, bytes]]


def urllib_fetch(url: str, headers: Mapping[str, str], timeout: float) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.status, reply.read(65536)
    except urllib.error.HTTPError as exc:
        return exc.code, b""


class HttpBeatSource:
    """GET a beat document from `url_template.format(network=…)`.

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
        try:
            beat = Beat.from_json(body)
        except ValueError as exc:
            raise HeartbeatUnreadable(where, str(exc)) from None
        if beat.network != network:
            raise HeartbeatUnreadable(where, f"beat is for network {beat.network!r}")
        return beat


def sources_from_env(environ: Mapping[str, str] | None = None) -> dict[str, HeartbeatSource]:
    """`OPWATCH_HEARTBEAT_PEERS="aws=https://…/{network}.json"` → {"aws": HttpBeatSource}."""
    spec = (os.environ if environ is None else environ).get(PEERS_ENV, "")
    sources: dict[str, HeartbeatSource] = {}
    for item in spec.split():
        name, sep, url = item.partition("=")
        if not sep or not name or not url.startswith(("https://", "http://")):
            raise ValueError(f"{PEERS_ENV}: expected NAME=URL items, got {item!r}")
        sources[name] = HttpBeatSource(name, url)
    return sources


BAD_PEERS = "peers"  # the target of the finding when the peer list itself is malformed


def _configured(resolve: Callable[[], Mapping[str, HeartbeatSource]]) -> bool:
    try:
        return bool(resolve())
    except ValueError:
        return True  # configured, but wrongly: run, and report unknown with the reason


def make_check(resolve: Callable[[], Mapping[str, HeartbeatSource]] = sources_from_env,
               max_age_s: float = DEFAULT_MAX_AGE_S) -> Check:
    def peers(_network: Network) -> list[str]:
        try:
            return sorted(resolve())
        except ValueError:
            return [BAD_PEERS]  # measured as unknown, with the reason: never silently skipped

    def measure(ctx: Context, _shared: object, target: str) -> Verdict:
        try:
            source = resolve()[target]
        except ValueError as exc:
            raise HeartbeatUnreadable(PEERS_ENV, str(exc)) from None
        beat = source.latest(ctx.network.name)
        threshold = Measure(max_age_s, "s")
        if beat is None:
            return Verdict(Status.FIRING, f"the {target} watchdog never wrote a heartbeat for "
                           f"{ctx.network.name}: it is not watching this network",
                           Measure(None, "s"), threshold, {"peer": target})
        # Clocks of two clouds differ by well under a second (NTP); never report a negative age.
        age = max(0.0, ctx.now() - beat.at)
        observed = Measure(round(age, 1), "s")
        details = {"peer": target, "beat_at": utc_now_iso(beat.at), "beat_findings": beat.findings}
        if age > max_age_s:
            return Verdict(Status.FIRING, f"the {target} watchdog's last heartbeat is {observed.render()} old "
                           f"(limit {threshold.render()}): it has stopped", observed, threshold, details)
        return Verdict(Status.OK, f"the {target} watchdog's last heartbeat is {observed.render()} old "
                       f"(limit {threshold.render()})", observed, threshold, details)

    return Check(
        id=ID,
        title="age of the peer's newest heartbeat (s)",
        missing=lambda _net: None if _configured(resolve) else f"no heartbeat peers configured ({PEERS_ENV})",
        targets=peers,
        threshold=lambda _net: Measure(max_age_s, "s"),
        measure=measure,
    )


CHECK = make_check()
