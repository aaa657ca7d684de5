"""sequencer_ha: the sequencer's HA cluster has exactly one leader and exactly one active sequencer.

Invariant (target `cluster`), over the op-conductor RPCs in `conductors` (op-conductor's
`conductor_*` API, docs/sequencer-ha.md):
- exactly one member says it is the leader (`conductor_leader`); two is a split brain;
- every member names the same leader (`conductor_leaderWithID`);
- the leader's sequencer is healthy (`conductor_sequencerHealthy`);
- no member has been paused (failover disabled, `conductor_paused`) or stopped
  (`conductor_stopped`) for longer than `conductor_max_paused` (default 15 min);
- the cluster's membership (`conductor_clusterMembership`, as the leader sees it) is the
  configured members: server ids are the `name`s in `conductors`;
and over the op-node RPCs in `sequencer_nodes`, exactly one answers `admin_sequencerActive`
true.
Fires: critical for two leaders or two active sequencers (a split brain reorgs user
transactions), for no leader among conductors that all answered, and for no active sequencer
among nodes that all answered; a
warning for the rest (the conductor repairs a disagreement itself, or sequencer_liveness pages
the outage it causes).
Unknown: fewer than a majority of the conductors answer (or of the sequencer nodes, when no
two of those that answered are active); no answering conductor leads while one did not answer
(it may be the leader); a member paused with no readable memory of since when
(a first run knows it is paused, not for how long: it never fires on that alone).
Remedy: none automatic. A split brain is an operator's call: stop one sequencer
(docs/runbooks/sequencer_ha.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..chain.errors import BadResponse, ChainError, NoHealthyEndpoint, RpcError
from ..chain.rpc import Call
from ..config import Endpoint, Network
from ..findings import Measure, Severity, Status
from .base import Check, Context, Verdict

TARGET = "cluster"

# One batch per conductor: op-conductor's RPC answers each of these without side effects.
_CONDUCTOR_CALLS = ("conductor_leader", "conductor_leaderWithID", "conductor_sequencerHealthy",
                    "conductor_paused", "conductor_stopped", "conductor_clusterMembership")


@dataclass(frozen=True, slots=True)
class Member:
    """One conductor as it answered this run (`error`: why it did not)."""

    name: str
    error: str | None = None
    leader: bool = False
    leader_id: str | None = None
    healthy: bool | None = None
    paused: bool = False
    stopped: bool | None = None  # None: this op-conductor release has no conductor_stopped
    membership: tuple[str, ...] | None = None


@dataclass
class _Problems:
    items: list[tuple[Severity, str]] = field(default_factory=list)
    blind: list[str] = field(default_factory=list)  # parts that could not be told

    def add(self, severity: Severity, text: str) -> None:
        self.items.append((severity, text))


def _bool(value: Any, what: str, source: str) -> bool:
    if isinstance(value, bool):
        return value
    raise BadResponse(source, f"{what}: expected a bool")


def _optional(value: Any) -> Any:
    # An older op-conductor answers "method not found" for methods added later: not reported.
    return None if isinstance(value, RpcError) else value


def _server_id(value: Any, what: str, source: str) -> str:
    # consensus.ServerInfo {id, addr, suffrage}
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])
    raise BadResponse(source, f"{what}: expected a ServerInfo object with an id")


def _membership(value: Any, source: str) -> tuple[str, ...]:
    # Older releases answer []ServerInfo, newer ones ClusterMembership {servers, version}.
    servers = value.get("servers") if isinstance(value, dict) else value
    if not isinstance(servers, list):
        raise BadResponse(source, "conductor_clusterMembership: expected a list of servers")
    return tuple(sorted(_server_id(s, "conductor_clusterMembership", source) for s in servers))


def read_member(ctx: Context, endpoint: Endpoint) -> Member:
    source = endpoint.name
    try:
        leader, leader_id, healthy, paused, stopped, membership = ctx.client(endpoint).batch(
            [Call(m) for m in _CONDUCTOR_CALLS], allow_errors=True)
        if isinstance(leader, RpcError) or isinstance(paused, RpcError):
            raise leader if isinstance(leader, RpcError) else paused
        leader_id, healthy, stopped, membership = map(_optional, (leader_id, healthy, stopped, membership))
        return Member(
            name=endpoint.name, leader=_bool(leader, "conductor_leader", source),
            leader_id=None if leader_id is None else _server_id(leader_id, "conductor_leaderWithID", source),
            healthy=None if healthy is None else _bool(healthy, "conductor_sequencerHealthy", source),
            paused=_bool(paused, "conductor_paused", source),
            stopped=None if stopped is None else _bool(stopped, "conductor_stopped", source),
            membership=None if membership is None else _membership(membership, source))
    except ChainError as exc:
        # One member of several: its silence is counted against the majority, not a blind spot
        # by itself (a dead member is what HA is for).
        return Member(endpoint.name, error=exc.reason)


def _active(ctx: Context, endpoint: Endpoint) -> bool | str:
    """admin_sequencerActive of one op-node, or why it did not answer."""
    try:
        return _bool(ctx.client(endpoint).call("admin_sequencerActive"), "admin_sequencerActive", endpoint.name)
    except ChainError as exc:
        return exc.reason


def _majority(total: int) -> int:
    return total // 2 + 1


def _held(ctx: Context, members: list[Member], problems: _Problems) -> dict[str, dict[str, float]]:
    """Paused/stopped since when, per member (memory); adds the ones held too long. Returns what
    to remember."""
    net = ctx.network
    limit = net.thresholds.conductor_max_paused
    now = ctx.now()
    recalled = ctx.memory.get(TARGET)
    before = recalled.observation.data if recalled.observation else {}
    remember: dict[str, dict[str, float]] = {"paused_since": {}, "stopped_since": {}}
    for state in ("paused", "stopped"):
        stored = before.get(f"{state}_since")
        known: dict[str, Any] = stored if isinstance(stored, dict) else {}
        for m in members:
            held = m.paused if state == "paused" else bool(m.stopped)
            if m.error is not None and m.name in known:  # silent this run: keep what we knew
                remember[f"{state}_since"][m.name] = float(known[m.name])
            if m.error is not None or not held:
                continue
            # First seen held now, unless the previous run already saw it held: a first run (no
            # memory) measures zero, so it never fires on memory alone.
            since = float(known[m.name]) if isinstance(known.get(m.name), (int, float)) else now
            remember[f"{state}_since"][m.name] = since
            if recalled.error is not None:
                problems.blind.append(f"{m.name} is {state}, for how long is unknown ({recalled.error})")
            elif now - since > limit:
                problems.add(Severity.WARNING, f"{m.name} has been {state} for {now - since:.0f} s "
                             f"(limit {limit:g} s): failover is disabled")
    return remember


def measure(ctx: Context, _shared: object, target: str) -> Verdict:
    net = ctx.network
    problems = _Problems()
    members = [read_member(ctx, e) for e in net.conductors]
    answered = [m for m in members if m.error is None]
    leaders = [m.name for m in answered if m.leader]
    actives = {e.name: _active(ctx, e) for e in net.sequencer_nodes}
    active = [name for name, a in actives.items() if a is True]
    silent_nodes = [name for name, a in actives.items() if not isinstance(a, bool)]
    details: dict[str, Any] = {
        "members": {m.name: {"error": m.error} if m.error else {
            "leader": m.leader, "leader_id": m.leader_id, "healthy": m.healthy, "paused": m.paused,
            "stopped": m.stopped, "membership": list(m.membership or ())} for m in members},
        "leaders": leaders, "sequencers_active": active,
        "sequencer_nodes": {n: (a if isinstance(a, bool) else {"error": a}) for n, a in actives.items()},
    }
    threshold = Measure(1.0, "leaders")
    # A split brain is firing whatever the rest says: two members claiming it is proof enough.
    if len(leaders) > 1:
        problems.add(Severity.CRITICAL, f"split brain: {len(leaders)} conductors claim leadership "
                     f"({', '.join(leaders)})")
    if len(active) > 1:
        problems.add(Severity.CRITICAL, f"split brain: {len(active)} sequencers are active ({', '.join(active)})")
    if not problems.items:
        if net.conductors and len(answered) < _majority(len(members)):
            raise NoHealthyEndpoint("conductors", [ChainError(m.name, m.error or "") for m in members if m.error])
        if net.sequencer_nodes and len(actives) - len(silent_nodes) < _majority(len(actives)):
            raise NoHealthyEndpoint("sequencer_nodes", [ChainError(n, str(actives[n])) for n in silent_nodes])
    remember = _held(ctx, members, problems)
    silent = [m.name for m in members if m.error is not None]
    if net.conductors and answered and not leaders and not silent:
        problems.add(Severity.CRITICAL, "no conductor is the leader: nothing will be sequenced")
    elif net.conductors and answered and not leaders:
        # The leader may be the member that did not answer us (a slow or unreachable endpoint
        # is not a cluster without a leader): cannot tell, as for the sequencer nodes below.
        named = sorted({m.leader_id for m in answered if m.leader_id})
        problems.blind.append(f"no answering conductor is the leader; {', '.join(silent)} did not answer"
                              + (f" (the others name {', '.join(named)})" if named else ""))
    ids = sorted({m.leader_id for m in answered if m.leader_id})
    if len(ids) > 1:
        problems.add(Severity.WARNING, f"members disagree on the leader: {', '.join(ids)}")
    lead = next((m for m in answered if m.leader), None)
    if lead is not None and lead.healthy is False:
        problems.add(Severity.WARNING, f"the leader {lead.name} reports its sequencer unhealthy")
    view = lead if lead is not None and lead.membership is not None else \
        next((m for m in answered if m.membership is not None), None)
    configured = tuple(sorted(e.name for e in net.conductors))
    if view is not None and view.membership != configured:
        problems.add(Severity.WARNING, f"cluster membership is {', '.join(view.membership or ()) or 'empty'} "
                     f"(per {view.name}), configured {', '.join(configured)}")
    if net.sequencer_nodes and not active:
        if silent_nodes:
            problems.blind.append(f"no answering sequencer node is active; {', '.join(silent_nodes)} did not answer")
        else:
            problems.add(Severity.CRITICAL, "no sequencer node is active (admin_sequencerActive false on all)")
    observed = Measure(float(len(leaders)) if net.conductors else float(len(active)), "leaders")
    if problems.blind:
        details["cannot_tell"] = problems.blind
    if problems.items:
        problems.items.sort(key=lambda p: p[0] != Severity.CRITICAL)  # the critical cause first
        severity = problems.items[0][0]
        # Two active sequencers is never a transient (a handover stops one before starting the
        # other) and reorgs user transactions: page now. Two conductors claiming leadership may
        # be an election settling (a deposed leader learns of the new term late): held.
        return Verdict(Status.FIRING, "; ".join(text for _, text in problems.items), observed, threshold,
                       details, severity=severity, remember=remember, urgent=len(active) > 1)
    if problems.blind:
        return Verdict(Status.UNKNOWN, f"cannot tell: {'; '.join(problems.blind)}", observed, threshold,
                       details, remember=remember)
    who = f"{lead.name} leads {len(answered)}/{len(members)} answering conductors" if lead else "no conductors"
    seq = f"; {active[0]} is the one active sequencer" if active else ""
    return Verdict(Status.OK, who + seq, observed, threshold, details, remember=remember)


def _missing(net: Network) -> str | None:
    return None if net.conductors or net.sequencer_nodes else "needs conductors or sequencer_nodes"


CHECK = Check(
    id="sequencer_ha",
    title="sequencer HA leaders",
    missing=_missing,
    targets=lambda net: [TARGET],
    threshold=lambda net: Measure(1.0, "leaders"),
    measure=measure,
    # Most of what it finds (a disagreement, an unhealthy leader, a long pause) is a warning;
    # a split brain or no leader raises the verdict to critical itself. Default timing: two
    # runs in a row, so a leadership transfer caught mid-election does not page.
    firing_severity=Severity.WARNING,
)
