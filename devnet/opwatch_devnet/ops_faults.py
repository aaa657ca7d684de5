"""The faults an on-call engineer reaches for next once a page arrives (issue #18): a stuck
batcher transaction, derivation halted, the sequencer's HA cluster split or paused, a replica
op-node without peers or on its own fork. Each is reversible and idempotent.

| name               | args                          | what it does                                     |
|--------------------|-------------------------------|--------------------------------------------------|
| stuck-batcher-tx   |                               | the batcher sends a batch with a max fee below   |
|                    |                               | the L1 base fee (geth keeps it pending; the L1   |
|                    |                               | endpoints count it in the pending nonce) and     |
|                    |                               | queues its next batches behind it. Heal: the     |
|                    |                               | batcher replaces it at the same nonce with fees  |
|                    |                               | over the base fee; the queued ones land with it  |
| halt-derivation    |                               | op-node's safe head (and current_l1) stop where  |
|                    |                               | they are although batches keep landing           |
| conductor-split    |                               | a second op-conductor believes it leads and its  |
|                    |                               | sequencer is active too (split brain)            |
| conductor-pause    | member="conductor-1"          | that op-conductor is paused (failover disabled)  |
| replica-no-peers   |                               | the replica op-node reports 0 connected peers    |
| replica-diverge    | depth=2                       | the replica op-node serves its own fork from     |
|                    |                               | `depth` blocks below its head on (other hashes)  |
| blob-fee-spike     | fee_gwei=50                   | the L1 endpoints report the blob base fee of the |
|                    |                               | newest blocks at fee_gwei (anvil never raises    |
|                    |                               | its own: the proxies rewrite eth_blobBaseFee and |
|                    |                               | eth_feeHistory's baseFeePerBlobGas)              |
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opwatch_devnet.conductor import ConductorCluster
    from opwatch_devnet.rollup_node import RollupNode
    from opwatch_devnet.topology import Devnet

OPS_FAULT_NAMES = ("stuck-batcher-tx", "halt-derivation", "conductor-split", "conductor-pause",
                   "replica-no-peers", "replica-diverge", "blob-fee-spike")


class OpsFaults:
    """Mixed into FaultController: `_inject_<name>` returns the arguments its `_heal_<name>` takes."""

    devnet: Devnet

    def _cluster(self, name: str) -> ConductorCluster:
        cluster = self.devnet.conductors
        if cluster is None:
            raise ValueError(f"{name} needs the devnet's op-conductor cluster (started with the devnet)")
        return cluster

    def _replica(self, name: str) -> RollupNode:
        replica = self.devnet.replica
        if replica is None:
            raise ValueError(f"{name} needs the devnet's replica op-node (started with the devnet)")
        return replica

    # -- the batcher's transactions -----------------------------------------------------------------

    def _inject_stuck_batcher_tx(self) -> dict[str, Any]:
        return {"nonce": self.devnet.batcher.stick(self.devnet.pool)}

    def _heal_stuck_batcher_tx(self, nonce: int) -> None:
        self.devnet.batcher.unstick()

    # -- derivation ---------------------------------------------------------------------------------

    def _inject_halt_derivation(self) -> dict[str, Any]:
        node = self.devnet.rollup_node
        if node is None:
            raise ValueError("halt-derivation needs the devnet's op-node stand-in")
        node.halt_derivation()
        safe, l1 = node.derivation_halted_at or (0, 0)
        return {"safe_l2": safe, "l1": l1}

    def _heal_halt_derivation(self, safe_l2: int, l1: int) -> None:
        if self.devnet.rollup_node is not None:
            self.devnet.rollup_node.derivation_halted_at = None

    # -- the sequencer's HA cluster (op-conductor) -----------------------------------------------------

    def _inject_conductor_split(self) -> dict[str, Any]:
        return {"second_leader": self._cluster("conductor-split").split()}

    def _heal_conductor_split(self, second_leader: str) -> None:
        cluster = self._cluster("conductor-split")
        member = cluster.members[second_leader]
        member.believes_leader = member.sequencer_active = second_leader == cluster.leader

    def _inject_conductor_pause(self, member: str = "conductor-1") -> dict[str, Any]:
        cluster = self._cluster("conductor-pause")
        if member not in cluster.members:
            raise ValueError(f"conductor-pause member must be one of {', '.join(cluster.names)}, not {member!r}")
        cluster.pause(member)
        return {"member": member}

    def _heal_conductor_pause(self, member: str) -> None:
        self._cluster("conductor-pause").members[member].paused = False

    # -- the replica op-node ------------------------------------------------------------------------

    def _inject_replica_no_peers(self) -> dict[str, Any]:
        replica = self._replica("replica-no-peers")
        previous, replica.peers = replica.peers, 0
        return {"peers": previous}

    def _heal_replica_no_peers(self, peers: int) -> None:
        self._replica("replica-no-peers").peers = peers

    def _inject_replica_diverge(self, depth: int = 2) -> dict[str, Any]:
        replica = self._replica("replica-diverge")
        replica.diverged_from = max(1, replica.l2.block_number() - max(0, int(depth)))
        return {"from": replica.diverged_from}

    def _heal_replica_diverge(self, **_recorded: Any) -> None:
        self._replica("replica-diverge").diverged_from = None

    # -- L1 fees ----------------------------------------------------------------------------------

    def _inject_blob_fee_spike(self, fee_gwei: float = 50.0) -> dict[str, Any]:
        from opwatch_devnet.proxy import ProxyMode

        mode = ProxyMode("blob_spike", blob_fee_wei=int(float(fee_gwei) * 10**9))
        return {"names": self._set(self.targets("l1"), mode)}  # type: ignore[attr-defined]

    def _heal_blob_fee_spike(self, names: list[str]) -> None:
        self._reset(names)  # type: ignore[attr-defined]
