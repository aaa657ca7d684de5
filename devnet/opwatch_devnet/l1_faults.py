"""The faults of the L1 contracts a chain's assets depend on (issue #17), each the act of the
account that may do it on a real chain, each with a heal that undoes it on chain.

| name               | args                          | what it does                                     |
|--------------------|-------------------------------|--------------------------------------------------|
| forged-withdrawal  |                               | a proposal with a wrong root whose message-      |
|                    |                               | passer storage root holds a withdrawal never     |
|                    |                               | sent on L2 (oracle: from the proposer's key;     |
|                    |                               | fault proofs: a game nobody challenges), then    |
|                    |                               | that withdrawal proven against it from anvil's   |
|                    |                               | account 5. Heal: the oracle's CHALLENGER deletes |
|                    |                               | the output / the guardian blacklists the game    |
|                    |                               | and the challenger comes back                    |
| pause              | identifier=...                | the guardian pauses SuperchainConfig: both       |
|                    |                               | portals' paused() is true. Heal: unpause         |
| rotate-batcher     | to=anvil's account 5          | SystemConfig's owner sets batcherHash to `to`.   |
|                    |                               | Heal: the previous batcher again                 |
| upgrade-proxy      | target="system_config",       | the proxy named by its config key is upgraded    |
|                    | implementation=None           | (Proxy.upgradeTo) to `implementation`, or to a   |
|                    |                               | fresh copy of its code. Heal: upgraded back      |
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from opwatch_devnet import contracts, portal, withdrawals
from opwatch_devnet.jsonrpc import RpcClient
from opwatch_devnet.keys import DEPLOYER, GRIEFER, PROPOSER

if TYPE_CHECKING:
    from opwatch_devnet.topology import Devnet

L1_FAULT_NAMES = ("forged-withdrawal", "pause", "rotate-batcher", "upgrade-proxy")


class L1ContractFaults:
    """Mixed into FaultController: `_inject_<name>` returns the arguments its `_heal_<name>` takes."""

    devnet: Devnet
    active: dict[str, dict[str, Any]]

    def _l1_sender(self, role: Any) -> contracts.Sender:
        from opwatch_devnet.topology import L1_CHAIN_ID

        return contracts.Sender(RpcClient(self.devnet.l1_url), role, L1_CHAIN_ID)

    # -- forged-withdrawal ------------------------------------------------------------------------

    def _inject_forged_withdrawal(self) -> dict[str, Any]:
        from opwatch_devnet.proofs import FaultProofDeployment

        devnet = self.devnet
        # A new withdrawal each time (its nonce from the clock): a portal proves a hash only once.
        withdrawal = withdrawals.forged_withdrawal(GRIEFER.address, time.time_ns() // 1000)
        l2 = RpcClient(devnet.l2_url)
        attacker = self._l1_sender(GRIEFER)
        deployment = devnet.deployment
        if isinstance(deployment, FaultProofDeployment):
            if devnet.challenger is not None:
                devnet.challenger.pause()  # nobody counters the forged game
            forgery = withdrawals.create_forged_game(attacker, l2, deployment.dispute_game_factory,
                                                     deployment.game_type, withdrawal)
        else:
            was_active = devnet.proposer.active
            devnet.proposer.pause()  # the proposer's key is the forger's: one sender at a time
            try:
                forgery = withdrawals.propose_forged_output(self._l1_sender(PROPOSER), l2,
                                                            deployment.l2_output_oracle, withdrawal)
            finally:
                if was_active:
                    devnet.proposer.resume()
        prove_tx = withdrawals.send_proof(attacker, devnet.l1_system, withdrawal, forgery.proposal_index,
                                          forgery.inputs)
        return {"withdrawal_hash": "0x" + withdrawal.hash.hex(), "submitter": GRIEFER.address,
                "proposal_index": forgery.proposal_index, "l2_block": forgery.l2_block, "game": forgery.game,
                "output_root": "0x" + forgery.inputs.output_root.hex(), "prove_tx": prove_tx}

    def _heal_forged_withdrawal(self, proposal_index: int, output_root: str, game: str | None,
                                **_recorded: Any) -> None:
        devnet = self.devnet
        if game is not None:
            # OptimismPortal2: a blacklisted game's proofs can never finalise. The challenger
            # comes back (and counters the game if its clock has time left).
            data = contracts.encode_call("OptimismPortal2", "blacklistDisputeGame", [game])
            guardian = self._l1_sender(DEPLOYER)
            guardian.wait(guardian.send(devnet.l1_system.optimism_portal, data, gas=200_000))
            held = "stop-challenger" in self.active or self.active.get("bad-game", {}).get("challenger") is False
            if devnet.challenger is not None and not held:
                devnet.challenger.resume()
            return
        # OptimismPortal: a proof against a deleted output can never finalise. The oracle's
        # CHALLENGER deletes the forged output (and those after it); the proposer proposes again.
        from opwatch_devnet.contracts import L1Deployment

        deployment = devnet.deployment
        assert isinstance(deployment, L1Deployment)
        client = RpcClient(devnet.l1_url)
        oracle = deployment.l2_output_oracle
        latest = int(contracts.call(client, "L2OutputOracle", oracle, "latestOutputIndex")[0])
        if proposal_index > latest:
            return  # deleted already (a bad-output heal deletes every output after a wrong one)
        root = bytes(contracts.call(client, "L2OutputOracle", oracle, "getL2Output", [proposal_index])[0][0])
        if "0x" + root.hex() != output_root:
            return  # deleted and proposed again, honestly
        challenger = self._l1_sender(DEPLOYER)
        data = contracts.encode_call("L2OutputOracle", "deleteL2Outputs", [proposal_index])
        if not contracts.would_succeed(challenger, oracle, data):
            raise RuntimeError(f"the oracle refuses to delete output {proposal_index} (finalized already?)")
        challenger.wait(challenger.send(oracle, data, gas=300_000))

    # -- pause --------------------------------------------------------------------------------------

    def _inject_pause(self, identifier: str = "opwatch devnet fault: pause") -> dict[str, Any]:
        return {"tx": portal.pause(self._l1_sender(DEPLOYER), self.devnet.l1_system, str(identifier))}

    def _heal_pause(self, tx: str) -> None:
        portal.unpause(self._l1_sender(DEPLOYER), self.devnet.l1_system)

    # -- rotate-batcher -------------------------------------------------------------------------------

    def _inject_rotate_batcher(self, to: str | None = None) -> dict[str, Any]:
        system = self.devnet.l1_system
        previous = portal.batcher_of(RpcClient(self.devnet.l1_url), system)
        new = contracts._checksum(to or GRIEFER.address)
        contracts.set_batcher(self._l1_sender(DEPLOYER), system.system_config, new)
        return {"previous": previous, "to": new}

    def _heal_rotate_batcher(self, previous: str, to: str) -> None:
        contracts.set_batcher(self._l1_sender(DEPLOYER), self.devnet.l1_system.system_config, previous)

    # -- upgrade-proxy --------------------------------------------------------------------------------

    def _inject_upgrade_proxy(self, target: str = "system_config", implementation: str | None = None) -> dict[str, Any]:
        system = self.devnet.l1_system
        if target not in system.proxies:
            raise ValueError(f"upgrade-proxy target must be one of {', '.join(system.proxies)}, not {target!r}")
        proxy = system.proxies[target]
        admin = self._l1_sender(DEPLOYER)
        previous = portal.implementation_of(admin.client, proxy)
        new = contracts._checksum(implementation) if implementation else portal.deploy_implementation(
            admin, system, target)
        tx = portal.upgrade(admin, proxy, new)
        return {"target": target, "proxy": proxy, "previous": previous, "implementation": new, "tx": tx}

    def _heal_upgrade_proxy(self, proxy: str, previous: str, **_recorded: Any) -> None:
        portal.upgrade(self._l1_sender(DEPLOYER), proxy, previous)
