"""The one way into the remedies: a `RemedyRequest` and the config in, an outcome dict out.

The CLI, the Lambda handler and the Cloud Function all call `handle(request, config, seams)`;
they only translate their event into a `RemedyRequest` and the outcome into their reply.
`Seams` carries what differs per place: the runtime's `registry` (the cloud implementations
its composition root registered: `opwatch.aws.compose`, `opwatch.gcp.compose`,
`opwatch.cli.compose`; the core's SQLite and `env:` ones by default), clients pointed at a
local server in tests, the devnet's launcher, a pager. Clients are built lazily.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..backends import core_registry
from ..chain.errors import ChainError
from ..chain.rpc import RpcClient, Transport
from ..config import Config, Endpoint, Network
from ..registry import NotAvailable, Registry
from .audit import AuditLog
from .failover import (
    AdminFence,
    AdminPairStrategy,
    ConductorStrategy,
    EndpointSwitch,
    Failover,
    FailoverStrategy,
    Observer,
    Pager,
    RestoreStrategy,
    SequencerLauncher,
)
from .policy import NetworkRemedies
from .request import RemedyRequest, refuses_finding
from .snapshot import (
    DISK_PROVIDERS,
    NodeStateSource,
    SnapshotInvalid,
    SnapshotProvider,
    StateSource,
    longest_wait_s,
    provider_for,
    take_snapshot,
)
from .store import RemedyStore, open_store


@dataclass
class Seams:
    registry: Registry = field(default_factory=core_registry)
    store: RemedyStore | None = None
    transport: Transport | None = None
    s3_client: Any = None
    ec2_client: Any = None
    gcs_client: Any = None
    gce_session: Any = None
    dns_session: Any = None
    # Google API base URLs (a local stand-in in tests; None: the public endpoints).
    compute_base_url: str | None = None
    dns_base_url: str | None = None
    route53_client: Any = None
    kms_client: Any = None
    secretsmanager_client: Any = None
    gcp_secret_client: Any = None
    dynamodb_client: Any = None
    environ: dict[str, str] | None = None
    launcher: SequencerLauncher | None = None
    endpoint: EndpointSwitch | None = None
    state_source: StateSource | None = None
    page: Pager | None = None
    listeners: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    # The cloud this function is deployed on ("aws" | "gcp"); None for a local run (the CLI).
    cloud: str | None = None


def handle(request: RemedyRequest, config: Config, seams: Seams | None = None) -> dict[str, Any]:
    seams = seams or Seams()
    if request.network not in config.networks:
        # Not an error to retry (SNS and Pub/Sub would redeliver it until the dead letter):
        # nothing this deployment runs, so an answer, never an action.
        known = ", ".join(sorted(config.networks)) or "none"
        return {"status": "refused", "reason": f"no network {request.network!r} in this deployment's config "
                                               f"(configured: {known})"}
    network = config.network(request.network)
    policy: NetworkRemedies = config.section("remediation").for_network(network.name)
    store = seams.store or open_store(config.section("remediation").store, seams.registry, seams)
    audit = AuditLog(store, seams.clock, list(seams.listeners))
    audit.record(request, "received", "ok", target=request.target)
    if seams.cloud is not None and policy.runs_on != seams.cloud:
        # A network's caps, claims and lease live in the store of the cloud it runs on: acting
        # from the other cloud would bypass all three (a second payment, a second sequencer).
        reason = (f"network {network.name} runs its remedies on {policy.runs_on} (runs_on), "
                  f"this function is on {seams.cloud}")
        audit.record(request, "result", "refused", reason=reason)
        return {"status": "refused", "reason": reason}
    try:
        return _dispatch(request, config, network, policy, store, audit, seams)
    except NotAvailable as exc:
        # The config names a provider, store or signer this runtime does not ship: an answer
        # naming what it has, never a crash redelivered until the dead letter.
        reason = f"{request.remedy} on {network.name}: {exc}"
        audit.record(request, "result", "refused", reason=reason)
        return {"status": "refused", "reason": reason}


def _dispatch(request: RemedyRequest, config: Config, network: Network, policy: NetworkRemedies,
              store: RemedyStore, audit: AuditLog, seams: Seams) -> dict[str, Any]:
    if request.remedy == "topup":
        return _topup(request, config, network, policy, store, audit, seams)
    if request.remedy == "snapshot":
        return _once(request, store, audit, lambda: _snapshot(request, network, policy, store, audit, seams),
                     retry_after_crash=True)
    return _once(request, store, audit, lambda: _failover(request, config, network, policy, store, audit, seams),
                 retry_after_crash=False)


def _once(request: RemedyRequest, store: RemedyStore, audit: AuditLog, run: Callable[[], dict[str, Any]],
          retry_after_crash: bool) -> dict[str, Any]:
    """One run per request id (a duplicate delivery, a retried push, a re-sent manual request):
    later ones answer with the first one's outcome. A refusal or a failure that changed nothing
    releases the id, so the same request may be tried again once conditions change; a failover
    that started (done, aborted) or crashed keeps it: running it again takes a new request id."""
    if request.dry_run:
        return run()
    claim = store.claim(request.request_id, {"status": "claimed", "remedy": request.remedy})
    if not claim.won:
        first = claim.record
        out = {"status": "duplicate", "reason": f"request {request.request_id} was already handled "
                                                f"({first.get('status')}); not run again", "first": first}
        audit.record(request, "result", "duplicate", first_status=first.get("status"))
        return out
    try:
        out = run()
    except Exception:
        if retry_after_crash:
            store.forget(request.request_id)
        else:
            store.update(request.request_id, {"status": "crashed", "remedy": request.remedy})
        raise
    if out.get("status") in ("refused", "failed"):
        store.forget(request.request_id)
    else:
        store.update(request.request_id, {"status": out.get("status"), "remedy": request.remedy,
                                          "reason": out.get("reason")})
    return out


def _client(config: Config, endpoint: Endpoint, seams: Seams) -> RpcClient:
    return RpcClient(endpoint, seams.transport, timeout=config.rpc.timeout, retries=config.rpc.retries)


def _topup(request: RemedyRequest, config: Config, network: Network, policy: NetworkRemedies,
           store: RemedyStore, audit: AuditLog, seams: Seams) -> dict[str, Any]:
    from .signer import build_signer
    from .topup import Topup

    if policy.topup is None:
        out = {"status": "refused", "reason": f"no [remediation.networks.{network.name}.topup] policy"}
        audit.record(request, "result", "refused", reason=out["reason"])
        return out
    signer = build_signer(policy.topup, seams.registry, seams)
    topup = Topup(network, policy, store, signer, [_client(config, e, seams) for e in network.l1_rpc], audit,
                  seams.clock, seams.sleep)
    return topup.run(request).to_dict()


def snapshot_provider(policy: NetworkRemedies, seams: Seams) -> SnapshotProvider | None:
    if policy.snapshot is None:
        return None
    return provider_for(policy.snapshot, seams.registry, seams)


def _snapshot(request: RemedyRequest, network: Network, policy: NetworkRemedies, store: RemedyStore,
              audit: AuditLog, seams: Seams) -> dict[str, Any]:
    provider = snapshot_provider(policy, seams)
    why = refuses_finding(request)  # an unknown (or ok) finding never acts, whatever delivered it
    if why is None and (provider is None or policy.snapshot is None):
        why = f"no [remediation.networks.{network.name}.snapshot] policy"
    if why is None and not request.dry_run and not request.approved and not policy.may_run_unattended("snapshot"):
        why = "a snapshot needs a person's approval on this network (approval = manual or snapshot.auto = false)"
    if why is not None or provider is None or policy.snapshot is None:
        out: dict[str, Any] = {"status": "refused", "reason": why}
        audit.record(request, "result", "refused", reason=why)
        return out
    # Disk providers ask the node only for its head (standard JSON-RPC, chain id checked); archive
    # providers also dump its state (anvil only).
    source = seams.state_source or NodeStateSource(RpcClient(network.l2_rpc, seams.transport), network.l2_chain_id)
    if request.dry_run:
        newest = provider.newest_good(network.name)
        out = {"status": "dry-run", "reason": f"would snapshot {network.name} with {policy.snapshot.provider} and keep "
                                              f"{policy.snapshot.retention}",
               "newest": newest.to_dict() if newest else None}
        audit.record(request, "result", "dry-run", reason=out["reason"])
        return out
    lease = f"snapshot:{network.name}"
    # The lease outlives the longest wait on the cloud, so a second run never starts beside a live one.
    ttl = max(600.0, 2 * longest_wait_s(policy.snapshot.provider))
    if not store.acquire_lease(lease, request.request_id, ttl, seams.clock()):
        return {"status": "refused", "reason": "another snapshot of this network is being taken"}
    try:
        record, pruned = take_snapshot(provider, network.name, source, policy.snapshot.retention, seams.clock)
    except SnapshotInvalid as exc:
        audit.record(request, "result", "failed", reason=str(exc))
        return {"status": "failed", "reason": str(exc)}
    except ChainError as exc:  # the store, or a sequencer that cannot dump its state (not anvil)
        reason = f"no snapshot taken: {exc}"
        if policy.snapshot.provider not in DISK_PROVIDERS and "anvil_dumpState" in str(exc):
            reason += (" (an archive snapshot reads the node's state over anvil_dumpState, which only the devnet "
                       "answers; snapshot a production sequencer's disk: provider = 'ebs' or 'gce-disk')")
        audit.record(request, "result", "failed", reason=reason)
        return {"status": "failed", "reason": reason}
    finally:
        store.release_lease(lease, request.request_id)
    if record.in_progress:
        # Taken, not yet verified (EBS `pending`, GCE `CREATING`/`UPLOADING` past the wait): it counts
        # for restores and snapshot_freshness once the cloud completes it; a failure there shows as
        # a stale snapshot_freshness, not here.
        reason = (f"snapshot {record.id} of block {record.block} started; {policy.snapshot.provider} is still "
                  "taking it (verified once completed)")
        out = {"status": "pending", "reason": reason, "snapshot": record.to_dict(), "pruned": [r.id for r in pruned]}
    else:
        out = {"status": "done", "reason": f"snapshot of block {record.block} written and verified",
               "snapshot": record.to_dict(), "pruned": [r.id for r in pruned]}
    audit.record(request, "result", out["status"], snapshot=record.id, block=record.block,
                 block_hash=record.block_hash, size=record.size, sha256=record.sha256, pruned=out["pruned"])
    return out


def _launcher(policy: NetworkRemedies, seams: Seams) -> SequencerLauncher | None:
    """The replacement machine a disk snapshot restores into: an EC2 instance (`i-...`, "ebs") or
    a GCE VM (`zones/Z/instances/N`, "gce"), as the runtime registered them."""
    fo, snap = policy.failover, policy.snapshot
    if fo is None or snap is None or fo.replacement_instance is None or fo.replacement_rpc is None:
        return None
    kind = "ebs" if fo.replacement_instance.startswith("i-") else "gce"
    launcher: SequencerLauncher = seams.registry.build("launcher", kind, policy, seams)
    return launcher


def _endpoint_switch(policy: NetworkRemedies, seams: Seams) -> EndpointSwitch | None:
    """The sequencer's DNS record in the cloud the network's remedies run on."""
    fo = policy.failover
    if fo is None or fo.dns_zone_id is None or fo.dns_record is None:
        return None
    switch: EndpointSwitch = seams.registry.build("endpoint_switch", policy.runs_on, policy, seams)
    return switch


def _fence(config: Config, network: Network, active_admin: Endpoint | None, seams: Seams) -> AdminFence | None:
    """How a restore confirms the old sequencer stopped before a replacement starts."""
    admin = active_admin or network.rollup_rpc
    return AdminFence(_client(config, admin, seams)) if admin is not None else None


def observers_for(config: Config, network: Network, seams: Seams) -> list[Observer]:
    """The sequencer endpoint and every RPC node: independent views of the head."""
    return [Observer(network.l2_rpc.name, _client(config, network.l2_rpc, seams), is_sequencer=True),
            *[Observer(e.name, _client(config, e, seams)) for e in network.rpc_nodes]]


def _failover(request: RemedyRequest, config: Config, network: Network, policy: NetworkRemedies,
              store: RemedyStore, audit: AuditLog, seams: Seams) -> dict[str, Any]:
    fo = policy.failover
    strategy: FailoverStrategy | None = None
    reason = ""
    if fo is None:
        reason = f"no [remediation.networks.{network.name}.failover] policy"
    elif request.remedy == "restore" or fo.strategy == "restore":
        provider = snapshot_provider(policy, seams)
        launcher = seams.launcher or _launcher(policy, seams)
        if provider is None or launcher is None:
            reason = ("restore needs a snapshot policy and a way to start the replacement: "
                      "failover.replacement_instance (EBS or persistent-disk snapshots), or the devnet's launcher")
        else:
            strategy = RestoreStrategy(provider, network.name, launcher,
                                       lambda url: RpcClient(Endpoint(url, "replacement"), seams.transport,
                                                             retries=0),
                                       endpoint=seams.endpoint or _endpoint_switch(policy, seams),
                                       wait_s=fo.replacement_wait_s, sleep=seams.sleep,
                                       fence=_fence(config, network, fo.active_admin, seams))
    elif fo.strategy == "admin":
        assert fo.standby_admin and fo.standby_rpc
        active = fo.active_admin or network.rollup_rpc
        if active is None:
            reason = "set failover.active_admin or the network's rollup_rpc"
        else:
            strategy = AdminPairStrategy(_client(config, active, seams), _client(config, fo.standby_admin, seams),
                                         _client(config, fo.standby_rpc, seams), sleep=seams.sleep)
    else:
        assert fo.conductor_rpc
        strategy = ConductorStrategy(_client(config, fo.conductor_rpc, seams), sleep=seams.sleep)
    if strategy is None:
        audit.record(request, "result", "refused", reason=reason)
        return {"status": "refused", "reason": reason}
    failover = Failover(network.name, policy, store, strategy, observers_for(config, network, seams), audit,
                        seams.page, seams.clock, seams.sleep)
    outcome = failover.run(request)
    return {"status": outcome.status, "reason": outcome.reason, **outcome.details}
