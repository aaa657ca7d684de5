"""A standby sequencer for the devnet: a second execution node and a second op-node stand-in.

Stands in for the passive half of an active/standby op-node pair. The standby execution
node is an anvil forked from the sequencer and kept at its head (as a real standby is kept
by unsafe-block gossip); its op-node stand-in answers `admin_sequencerActive` (false at
first), and `admin_startSequencer(hash)` starts block production on it only when its head is
that hash. Once it sequences, it stops following. `lag` (blocks) makes it fall behind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opwatch_devnet.actors import Follower
from opwatch_devnet.anvil import AnvilProcess
from opwatch_devnet.jsonrpc import RpcClient
from opwatch_devnet.rollup_node import RollupNode, SequencerControl
from opwatch_devnet.rpcserver import JsonRpcServer

if TYPE_CHECKING:
    from opwatch_devnet.topology import Devnet


class _StandbyFollower(Follower):
    def __init__(self, control: SequencerControl, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.control = control

    def step(self) -> None:
        if not self.control.active:  # a sequencing standby produces its own blocks
            super().step()


class Standby:
    def __init__(self, devnet: Devnet) -> None:
        from opwatch_devnet.topology import L1_CHAIN_ID, L2_CHAIN_ID

        seq = RpcClient(devnet.l2_url)
        self.node = AnvilProcess.start("l2-standby", devnet.workdir, [
            "--optimism", "--fork-url", devnet.l2_url, "--fork-block-number", str(seq.block_number()),
        ])
        self.control = SequencerControl(RpcClient(self.node.url), devnet.l2_block_time, active=False)
        self.rollup: JsonRpcServer = RollupNode(RpcClient(devnet.l1_url), RpcClient(self.node.url), devnet.scanner,
                                                self.control, L1_CHAIN_ID, L2_CHAIN_ID,
                                                devnet.l2_block_time).serve()
        self.follower = _StandbyFollower(self.control, "standby-follower", RpcClient(self.node.url), seq,
                                         devnet.l2_url, poll=devnet.l2_block_time / 4)
        self.follower.start()

    @property
    def rpc_url(self) -> str:
        return self.node.url

    @property
    def admin_url(self) -> str:
        return self.rollup.url

    def stop(self) -> None:
        self.follower.stop()
        self.rollup.close()
        self.node.stop()
