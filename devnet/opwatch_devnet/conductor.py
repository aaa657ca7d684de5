"""A three-member op-conductor cluster stand-in, with each member's op-node admin switch.

Stands in for op-conductor (raft HA for sequencers), which cannot run here: each member serves
op-conductor's JSON-RPC API (op-conductor/rpc/api.go, namespace `conductor`) on its own loopback
port with its result types: `conductor_leader`, `conductor_paused`, `conductor_stopped`,
`conductor_active`, `conductor_sequencerHealthy` → bool; `conductor_leaderWithID` → ServerInfo
`{id, addr, suffrage}` (suffrage 0 = voter); `conductor_clusterMembership` → ClusterMembership
`{servers: [ServerInfo], version}`; `conductor_pause` / `conductor_resume` → null. Beside each,
an op-node admin endpoint answers `admin_sequencerActive` → bool (op-node/node/api.go).

There is no raft here: the cluster's state is set by the test or the devnet fault. Healthy: one
leader (members agree on it), its sequencer active and healthy, nobody paused. Faults:
`split()` (a second member also believes it leads and sequences: a split brain), `pause(name)`
(failover disabled on that member), `unreachable(name)` (its servers refuse connections); `heal()`
returns to healthy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opwatch_devnet.rpcserver import JsonRpcServer

VOTER = 0


@dataclass
class _Member:
    name: str
    raft_addr: str
    believes_leader: bool = False
    paused: bool = False
    stopped: bool = False
    healthy: bool = True
    sequencer_active: bool = False
    conductor: JsonRpcServer | None = None
    op_node: JsonRpcServer | None = None


@dataclass
class ConductorCluster:
    names: tuple[str, ...] = ("conductor-0", "conductor-1", "conductor-2")
    members: dict[str, _Member] = field(default_factory=dict)
    leader: str = ""
    version: int = 1

    def __post_init__(self) -> None:
        for i, name in enumerate(self.names):
            self.members[name] = _Member(name, f"127.0.0.1:{50050 + i}")
        self.leader = self.names[0]
        for member in self.members.values():
            self._serve(member)
        self.heal()

    # -- what the tests and faults do ----------------------------------------------------------

    def heal(self) -> None:
        for m in self.members.values():
            m.believes_leader = m.sequencer_active = m.name == self.leader
            m.paused = m.stopped = False
            m.healthy = True
            if m.conductor is None:
                self._serve(m)

    def split(self) -> str:
        """A second member believes it leads and starts sequencing; returns its name."""
        other = next(n for n in self.names if n != self.leader)
        self.members[other].believes_leader = self.members[other].sequencer_active = True
        return other

    def pause(self, name: str) -> None:
        self.members[name].paused = True

    def unreachable(self, name: str) -> None:
        m = self.members[name]
        for server in (m.conductor, m.op_node):
            if server is not None:
                server.close()
        m.conductor = m.op_node = None

    def conductor_url(self, name: str) -> str:
        server = self.members[name].conductor
        return server.url if server else "http://127.0.0.1:9"  # discard port: refused

    def op_node_url(self, name: str) -> str:
        server = self.members[name].op_node
        return server.url if server else "http://127.0.0.1:9"

    def close(self) -> None:
        for name in self.names:
            self.unreachable(name)

    # -- the wire -------------------------------------------------------------------------------

    def _info(self, name: str) -> dict[str, Any]:
        return {"id": name, "addr": self.members[name].raft_addr, "suffrage": VOTER}

    def _serve(self, m: _Member) -> None:
        cluster = self

        def leader_with_id() -> dict[str, Any]:
            # A member that believes it leads names itself; the others name the raft leader.
            return cluster._info(m.name if m.believes_leader else cluster.leader)

        def pause() -> None:
            m.paused = True

        def resume() -> None:
            m.paused = False

        m.conductor = JsonRpcServer(f"conductor-{m.name}", {
            "conductor_leader": lambda: m.believes_leader,
            "conductor_leaderWithID": leader_with_id,
            "conductor_sequencerHealthy": lambda: m.healthy,
            "conductor_paused": lambda: m.paused,
            "conductor_stopped": lambda: m.stopped,
            "conductor_active": lambda: not (m.paused or m.stopped),
            "conductor_clusterMembership": lambda: {
                "servers": [cluster._info(n) for n in cluster.names], "version": cluster.version},
            "conductor_pause": pause,
            "conductor_resume": resume,
        }).start()
        m.op_node = JsonRpcServer(f"op-node-admin-{m.name}", {
            "admin_sequencerActive": lambda: m.sequencer_active,
        }).start()
