"""Prometheus metrics for `opwatch watch --listen ADDR:PORT` (docs/metrics.md lists them).

Only the long-running service loads this module (and prometheus_client): the cloud functions
never import it, so their cold path does not pay for it. The names and labels below are a
stable interface: dashboards (docs/grafana/) and the example rules (docs/prometheus/) read them.

Labels never carry a URL: RPC counters are labelled with the endpoint's configured name
(the one findings and logs use), and an endpoint the config does not name is counted under
its redacted URL, which keeps no credentials and no path.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from ..chain.rpc import HttpTransport, Transport, TransportError
from ..config import Config, Endpoint
from ..findings import Finding, Status
from ..redact import redact_url
from ..runner import RunResult

# One gauge for the status, not one per state: a single series per finding is what a
# "worst status" panel, a rule (`== 1`) and a state-timeline all read directly.
STATUS_VALUE = {Status.OK: 0, Status.FIRING: 1, Status.UNKNOWN: 2}

# Finding units as they appear in the `unit` label: base units, spelt out.
_UNITS = {"s": "seconds", "h": "hours", "blocks": "blocks", "wei": "wei"}

FINDING_LABELS = ("network", "check", "target")
MEASURE_LABELS = ("network", "check", "target", "unit")
CHECK_LABELS = ("network", "check")


def unit_label(unit: str) -> str:
    """`s` -> `seconds`, `h` -> `hours`; a count unit ("wrong roots") -> `wrong_roots`."""
    return _UNITS.get(unit) or re.sub(r"[^a-z0-9]+", "_", unit.lower()).strip("_") or "none"


class Exporter:
    """The service's metrics: `record` each run's result, `transport` counts RPC traffic."""

    def __init__(self, config: Config, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.status = Gauge("opwatch_finding_status", "Finding status: 0 ok, 1 firing, 2 unknown.",
                            FINDING_LABELS, registry=r)
        self.observed = Gauge("opwatch_observed", "The value a check measured, in the base unit named "
                              "by `unit` (absent while unknown).", MEASURE_LABELS, registry=r)
        self.threshold = Gauge("opwatch_threshold", "The limit the observed value is compared with, "
                               "in the same unit.", MEASURE_LABELS, registry=r)
        self.duration = Gauge("opwatch_check_duration_seconds", "Wall time of the check's last evaluation.",
                              CHECK_LABELS, registry=r)
        self.last_run = Gauge("opwatch_last_run_timestamp_seconds", "Unix time the check last ran.",
                              CHECK_LABELS, registry=r)
        self.balance = Gauge("opwatch_wallet_balance_wei", "Wallet balance read by wallet_runway.",
                             ("network", "target"), registry=r)
        self.base_fee = Gauge("opwatch_l1_base_fee_wei", "L1 base fee wallet_runway priced with.",
                              ("network",), registry=r)
        self.blob_fee = Gauge("opwatch_l1_blob_base_fee_wei", "L1 blob base fee wallet_runway priced with.",
                              ("network",), registry=r)
        self.requests = Counter("opwatch_rpc_requests", "HTTP requests sent to an RPC endpoint (retries "
                                "included).", ("endpoint",), registry=r)
        self.errors = Counter("opwatch_rpc_errors", "RPC requests that failed: kind=transport (no HTTP "
                              "answer, timeout, HTTP error) or kind=rpc (a JSON-RPC error object, reverts "
                              "included).", ("endpoint", "kind"), registry=r)
        self._names = {e.url: e.name for e in _endpoints(config)}
        self._series: dict[tuple[str, str], set[tuple[str, ...]]] = {}
        self._lock = threading.Lock()

    # -- RPC traffic ------------------------------------------------------------------------

    def transport(self, inner: Transport | None = None) -> Transport:
        return _CountingTransport(inner or HttpTransport(), self)

    def endpoint_name(self, url: str) -> str:
        return self._names.get(url) or redact_url(url)

    # -- findings ---------------------------------------------------------------------------

    def record(self, result: RunResult, now: float) -> None:
        """Set every series from one run; series of targets or units that went away are removed."""
        with self._lock:
            by_check: dict[tuple[str, str], list[Finding]] = {key: [] for key in result.durations}
            for f in result.findings:
                by_check.setdefault((f.network, f.check), []).append(f)
            for (network, check), findings in by_check.items():
                if (network, check) in result.durations:
                    self.duration.labels(network, check).set(result.durations[(network, check)])
                self.last_run.labels(network, check).set(now)
                self._replace(network, check, list(self._series_of(findings)))
                for f in findings:
                    self._wallet(f)

    def _series_of(self, findings: Iterable[Finding]) -> Iterator[tuple[str, ...]]:
        for f in findings:
            self.status.labels(f.network, f.check, f.target).set(STATUS_VALUE[f.status])
            yield ("status", f.network, f.check, f.target)
            for kind, gauge, measure in (("observed", self.observed, f.observed),
                                         ("threshold", self.threshold, f.threshold)):
                if measure.value is None:
                    continue  # unknown: a gap, as on CloudWatch, never a made-up zero
                labels = (f.network, f.check, f.target, unit_label(measure.unit))
                gauge.labels(*labels).set(float(measure.value))
                yield (kind, *labels)

    def _replace(self, network: str, check: str, current: list[tuple[str, ...]]) -> None:
        gauges = {"status": self.status, "observed": self.observed, "threshold": self.threshold}
        for gone in self._series.get((network, check), set()) - set(current):
            try:
                gauges[gone[0]].remove(*gone[1:])
            except KeyError:
                pass
        self._series[(network, check)] = set(current)

    def _wallet(self, f: Finding) -> None:
        if f.check != "wallet_runway" or f.status == Status.UNKNOWN:
            return
        details = f.details
        try:
            if "balance_wei" in details:
                self.balance.labels(f.network, f.target).set(float(int(details["balance_wei"])))
            if "base_fee_gwei" in details:
                self.base_fee.labels(f.network).set(float(details["base_fee_gwei"]) * 1e9)
            if "blob_base_fee_gwei" in details:
                self.blob_fee.labels(f.network).set(float(details["blob_base_fee_gwei"]) * 1e9)
        except (TypeError, ValueError):
            pass  # a detail we cannot read is no reason to stop exporting the rest

    # -- serving ----------------------------------------------------------------------------

    def serve(self, address: tuple[str, int]) -> Any:
        """Start the HTTP endpoint (`/metrics`) on a daemon thread; returns the server."""
        server, _thread = start_http_server(address[1], addr=address[0], registry=self.registry)
        return server


class _CountingTransport:
    """The RPC transport seam, counting requests and failures per endpoint name."""

    def __init__(self, inner: Transport, exporter: Exporter) -> None:
        self._inner = inner
        self._exporter = exporter

    def post(self, url: str, body: bytes, timeout: float) -> bytes:
        name = self._exporter.endpoint_name(url)
        self._exporter.requests.labels(name).inc()
        try:
            raw = self._inner.post(url, body, timeout)
        except TransportError:
            self._exporter.errors.labels(name, "transport").inc()
            raise
        if b'"error"' in raw and _has_rpc_error(raw):
            self._exporter.errors.labels(name, "rpc").inc()
        return raw


def _has_rpc_error(raw: bytes) -> bool:
    try:
        decoded = json.loads(raw)
    except ValueError:
        return True  # not JSON: the client will call it a bad response
    items = decoded if isinstance(decoded, list) else [decoded]
    return any(isinstance(item, dict) and item.get("error") is not None for item in items)


def parse_listen(text: str) -> tuple[str, int]:
    """`ADDR:PORT` (`127.0.0.1:9464`, `[::1]:9464`, `:9464` for every interface)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--listen wants ADDR:PORT (e.g. 127.0.0.1:9464), got {text!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def _endpoints(config: Config) -> Iterator[Endpoint]:
    """Every Endpoint the config names, wherever a network keeps it."""
    seen: set[int] = set()

    def walk(value: Any) -> Iterator[Endpoint]:
        if id(value) in seen:
            return
        seen.add(id(value))
        if isinstance(value, Endpoint):
            yield value
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            for field in dataclasses.fields(value):
                yield from walk(getattr(value, field.name))
        elif isinstance(value, dict):
            for item in value.values():
                yield from walk(item)
        elif isinstance(value, list | tuple | set | frozenset):
            for item in value:
                yield from walk(item)

    for network in config.networks.values():
        yield from walk(network)
