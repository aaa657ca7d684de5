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

Its providers come from the run's `Context`: the config's `[remediation]` names them, the
runtime's registry (`ctx.registry`, from its composition root) builds them, and they are kept
for the container's life in `ctx.resources`. A deployed function (`ctx.cloud`) reads only the
networks whose remedies run in its cloud (`runs_on`): their snapshots live there, with that
cloud's credentials. The check does not apply to networks without such a policy.
"""

from __future__ import annotations

from typing import Any

from ..config import Config, Network
from ..findings import Measure, Severity, Status
from .base import Check, Context, Verdict


class _Unavailable:
    """A network whose provider this runtime cannot build: `unknown` with the reason, never a pass."""

    def __init__(self, provider: str, reason: str) -> None:
        self.provider = provider
        self.reason = reason

    def newest_good(self, network: str) -> Any:
        from ..remedies.snapshot import SnapshotStoreUnavailable

        raise SnapshotStoreUnavailable(self.provider, self.reason)


def policy(config: Config | None, network: str, cloud: str | None = None) -> Any:
    """The network's `SnapshotPolicy` when its snapshots are kept where this runs, else None."""
    if config is None:
        return None
    remedies = config.section("remediation").for_network(network)
    if remedies.snapshot is None or (cloud is not None and remedies.runs_on != cloud):
        return None
    return remedies.snapshot


def _applies(ctx: Context) -> str | None:
    if policy(ctx.config, ctx.network.name, ctx.cloud) is not None:
        return None
    where = f" whose remedies run on {ctx.cloud}" if ctx.cloud else ""
    return f"no [remediation.networks.N.snapshot] policy{where}"


def _provider(ctx: Context, snap: Any) -> Any:
    """Built once per container (`ctx.resources`); clients stay lazy until the first listing."""
    def build() -> Any:
        from ..registry import NotAvailable
        from ..remedies.snapshot import provider_for

        try:
            return provider_for(snap, ctx.registry, ctx.seams)
        except NotAvailable as exc:
            return _Unavailable(snap.provider, str(exc))

    return ctx.resources.get(("snapshot", ctx.network.name, snap), build)


def _threshold(_net: Network) -> Measure:
    return Measure(None, "s")  # per network in [remediation]: the findings carry it (an unknown has none)


def measure(ctx: Context, _shared: Any, target: str) -> Verdict:
    snap = policy(ctx.config, ctx.network.name, ctx.cloud)
    if snap is None:  # the runner skips such networks (`applies`); a direct call gets a clear error
        raise ValueError(f"snapshot_freshness: {_applies(ctx)} for {ctx.network.name}")
    max_age = snap.max_age_s
    threshold = Measure(max_age, "s")
    newest = _provider(ctx, snap).newest_good(ctx.network.name)  # SnapshotStoreUnavailable -> unknown, in base
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
    missing=lambda net: None,
    applies=_applies,
    targets=lambda net: ["sequencer"],
    threshold=_threshold,
    measure=measure,
    # A stale snapshot weakens the recovery plan; it is not an outage: warning, not critical.
    firing_severity=Severity.WARNING,
    remedy="snapshot",
    # Snapshots are taken hours apart; listing them is an API call per store.
    every_minutes=15,
)
