"""snapshot_freshness: a recent, verified snapshot of the sequencer's state exists.

Invariant: the newest verified snapshot of the network (written by the snapshot remedy,
listed through its `SnapshotProvider`: S3 objects with a verification marker, or tagged EBS
snapshots) is younger than the network's `[remediation.networks.N.snapshot] max_age`.
Without one, a restore-from-snapshot failover would lose more blocks than planned, or have
nothing to restore from.
Fires: the newest verified snapshot is older than `max_age`, or none exists (unverified or
half-written archives do not count). Reported in seconds of age, with its block height.
Unknown: the snapshot store cannot be listed or read (`SnapshotStoreUnavailable`).
Remedy: `opwatch remediate snapshot --network N` (see docs/runbooks/snapshot_freshness.md).

The check needs the providers the `[remediation]` section describes: whoever runs checks or
decides what to deploy calls `configure(config)` first (the runner, the CDK app and the GCP
plan do; tests may `use_catalog`), and the check is skipped on networks without a
`snapshot` policy. The catalog is process-wide: the last configured config wins.
"""

from __future__ import annotations

import threading
from typing import Any

from ..config import Config, Network
from ..findings import Measure, Severity, Status
from .base import Check, Context, Verdict

_catalogs: dict[str, tuple[Any, float]] = {}
_lock = threading.Lock()


def use_catalog(network: str, provider: Any, max_age_s: float) -> None:
    """Register the snapshot provider (a `SnapshotProvider`) and the age limit of a network."""
    with _lock:
        _catalogs[network] = (provider, max_age_s)


class _Unavailable:
    """A network whose provider this runtime cannot build: `unknown` with the reason, never a pass."""

    def __init__(self, provider: str, reason: str) -> None:
        self.provider = provider
        self.reason = reason

    def newest_good(self, network: str) -> Any:
        from ..remedies.snapshot import SnapshotStoreUnavailable

        raise SnapshotStoreUnavailable(self.provider, self.reason)


def configure(config: Config, registry: Any = None, seams: Any = None, cloud: str | None = None) -> None:
    """Providers for every network of `config` with a snapshot policy, and nothing else: the
    catalog is replaced, so a network configured earlier in the process (another config, a
    test) never leaks into this one. Clients are built lazily on use. With `cloud` ("aws",
    "gcp": a deployed function), only the networks whose remedies run there (`runs_on`):
    their snapshots live in that cloud, with that cloud's credentials. Providers are built by
    the runtime's `registry` (its composition root's); one it cannot build, or no registry (the
    CDK app and the plan renderer only ask which networks the check runs on), is `unknown`."""
    from ..registry import NotAvailable
    from ..remedies.snapshot import provider_for

    policy = config.section("remediation")
    fresh: dict[str, tuple[Any, float]] = {}
    for name in config.networks:
        remedies = policy.for_network(name)
        snap = remedies.snapshot
        if snap is not None and (cloud is None or remedies.runs_on == cloud):
            try:
                provider = provider_for(snap, registry, seams) if registry is not None else \
                    _Unavailable(snap.provider, "no snapshot provider is registered in this runtime")
            except NotAvailable as exc:
                provider = _Unavailable(snap.provider, str(exc))
            fresh[name] = (provider, snap.max_age_s)
    with _lock:
        _catalogs.clear()
        _catalogs.update(fresh)


def _missing(net: Network) -> str | None:
    return None if net.name in _catalogs else "no [remediation.networks.N.snapshot] policy"


def _threshold(net: Network) -> Measure:
    entry = _catalogs.get(net.name)
    return Measure(entry[1] if entry else None, "s")


def measure(ctx: Context, _shared: Any, target: str) -> Verdict:
    provider, max_age = _catalogs[ctx.network.name]
    threshold = Measure(max_age, "s")
    newest = provider.newest_good(ctx.network.name)  # SnapshotStoreUnavailable -> unknown, in base
    if newest is None:
        return Verdict(Status.FIRING, "no verified snapshot exists", Measure(None, "s"), threshold)
    age = max(0.0, ctx.now() - newest.taken_at)
    details = {"snapshot": newest.id, "block": newest.block, "taken_at": newest.taken_at}
    status = Status.FIRING if age > max_age else Status.OK
    verb = "older than" if status is Status.FIRING else "within"
    return Verdict(status, f"newest verified snapshot (block {newest.block}) is {Measure(age, 's').render()} old, "
                           f"{verb} {threshold.render()}", Measure(age, "s"), threshold, details)


CHECK = Check(
    id="snapshot_freshness",
    title="age of the newest verified snapshot (s)",
    missing=_missing,
    targets=lambda net: ["sequencer"],
    threshold=_threshold,
    measure=measure,
    # A stale snapshot weakens the recovery plan; it is not an outage: warning, not critical.
    firing_severity=Severity.WARNING,
    remedy="snapshot",
    # Snapshots are taken hours apart; listing them is an API call per store.
    every_minutes=15,
)
