"""The L1 contracts that run a devnet chain's withdrawals and its configuration.

Deployed from the contracts-bedrock 0.17.3 artifacts behind bedrock `Proxy`s (admin = the
deployer), as an OP Stack deployment does:
- `SuperchainConfig` (guardian = the deployer): shared with the fault-proof contracts when
  `proofs.deploy_fault_proofs` made one; its `paused()` is what both portals' `paused()` return.
- `SystemConfig` (owner = the deployer): `batcherHash` = the devnet's batcher, and the portal's
  and (fault mode) the DisputeGameFactory's addresses in its `Addresses`.
- `OptimismPortal2` (fault mode: the DisputeGameFactory and the respected game type) or the
  legacy `OptimismPortal` (oracle mode: the L2OutputOracle).

Facts used here, read from this version's sources (src/L1/*.sol):
- `OptimismPortal2.proveWithdrawalTransaction` takes a game of the respected type whose status
  is not CHALLENGER_WINS: a game still IN_PROGRESS is fine, so an unchallenged wrong root is
  enough to prove a forged withdrawal. `blacklistDisputeGame(game)` is the guardian's.
- `OptimismPortal.proveWithdrawalTransaction` takes an L2OutputOracle index; a withdrawal proven
  against an output that was later deleted (`deleteL2Outputs`, the challenger's, only before the
  output finalises) may be proven again and can no longer be finalised.
- `pause(identifier)` / `unpause()` on SuperchainConfig are the guardian's; `Proxy.upgradeTo`
  is the admin's and emits `Upgraded(implementation)`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from opwatch_devnet import contracts
from opwatch_devnet.contracts import Sender, _checksum, encode_call
from opwatch_devnet.jsonrpc import RpcClient

# Mainnet's delays: nobody finalises a withdrawal on the devnet, and a proof must stay
# "in flight" (re-checkable, not yet final) for as long as a real one would.
PROOF_MATURITY_DELAY_S = 7 * 24 * 3600
DISPUTE_GAME_FINALITY_DELAY_S = 302_400
# ERC-1967: bytes32(uint256(keccak256("eip1967.proxy.implementation")) - 1)
IMPLEMENTATION_SLOT = "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc"
ZERO = "0x" + "00" * 20


@dataclass(frozen=True)
class L1System:
    optimism_portal: str  # the Proxy addresses: what a config names
    system_config: str
    superchain_config: str
    optimism_portal_impl: str
    system_config_impl: str
    superchain_config_impl: str | None  # None: shared with the fault-proof deployment
    portal_is_fault_proof: bool = False  # OptimismPortal2 (games), else OptimismPortal (oracle)

    @property
    def proxies(self) -> dict[str, str]:
        """The watched proxies by their config key (what `upgrade-proxy` may target)."""
        return {"optimism_portal": self.optimism_portal, "system_config": self.system_config,
                "superchain_config": self.superchain_config}

    def implementation_name(self, key: str) -> str:
        if key == "optimism_portal":
            return "OptimismPortal2" if self.portal_is_fault_proof else "OptimismPortal"
        return {"system_config": "SystemConfig", "superchain_config": "SuperchainConfig"}[key]


def deploy_l1_system(
    deployer: Sender, *, batcher: str, batch_inbox: str, l2_output_oracle: str | None = None,
    dispute_game_factory: str | None = None, game_type: int | None = None, superchain_config: str | None = None,
) -> L1System:
    """SuperchainConfig (unless shared), SystemConfig, then the portal for the chain's proof
    mode: OptimismPortal2 with `dispute_game_factory` and `game_type`, else OptimismPortal with
    `l2_output_oracle`. SystemConfig names the portal, so the portal's proxy address is computed
    from the deployer's nonce before it exists (each deploy_behind_proxy spends three nonces)."""
    fault = dispute_game_factory is not None
    if fault == (l2_output_oracle is not None):
        raise ValueError("give exactly one of l2_output_oracle (oracle mode) or dispute_game_factory (fault mode)")
    owner = _checksum(deployer.role.address)
    superchain_impl = None
    if superchain_config is None:
        superchain_config, superchain_impl = contracts.deploy_behind_proxy(
            deployer, "SuperchainConfig", encode_call("SuperchainConfig", "initialize", [owner, False]))
    portal_proxy = contracts.contract_address(deployer.role.address, deployer.nonce() + 3)
    system_config, system_config_impl = contracts.deploy_behind_proxy(
        deployer, "SystemConfig", _system_config_init(owner, batcher, batch_inbox, portal_proxy, dispute_game_factory))
    if fault:
        assert dispute_game_factory is not None and game_type is not None
        init = encode_call("OptimismPortal2", "initialize", [
            _checksum(dispute_game_factory), system_config, superchain_config, game_type])
        portal, portal_impl = contracts.deploy_behind_proxy(
            deployer, "OptimismPortal2", init, args=[PROOF_MATURITY_DELAY_S, DISPUTE_GAME_FINALITY_DELAY_S])
    else:
        assert l2_output_oracle is not None
        init = encode_call("OptimismPortal", "initialize", [_checksum(l2_output_oracle), system_config,
                                                            superchain_config])
        portal, portal_impl = contracts.deploy_behind_proxy(deployer, "OptimismPortal", init)
    if portal.lower() != portal_proxy.lower():
        raise RuntimeError(f"the portal landed at {portal}, not at {portal_proxy} as SystemConfig names it")
    return L1System(
        optimism_portal=portal, system_config=system_config, superchain_config=_checksum(superchain_config),
        optimism_portal_impl=portal_impl, system_config_impl=system_config_impl,
        superchain_config_impl=superchain_impl, portal_is_fault_proof=fault,
    )


def _system_config_init(owner: str, batcher: str, batch_inbox: str, portal: str, factory: str | None) -> bytes:
    """SystemConfig.initialize as contracts.deploy_system_config's (owner and unsafe block signer
    the deployer, batcherHash the left-padded batcher, a resource config inside its own checks),
    plus the chain's portal and (fault mode) DisputeGameFactory in its Addresses."""
    resource = (20_000_000, 10, 8, 10**9, 1_000_000, 2**128 - 1)
    batcher_hash = bytes(12) + bytes.fromhex(batcher[2:])
    # Addresses: l1CrossDomainMessenger, l1ERC721Bridge, l1StandardBridge, disputeGameFactory,
    # optimismPortal, optimismMintableERC20Factory, gasPayingToken (zero: ether).
    addresses = (ZERO, ZERO, ZERO, _checksum(factory or ZERO), _checksum(portal), ZERO, ZERO)
    return encode_call("SystemConfig", "initialize", [
        owner, 0, 0, batcher_hash, 30_000_000, owner, resource, _checksum(batch_inbox), addresses])


# -- what the faults do (each the act of the account that may do it on a real chain) -------------

def paused(client: RpcClient, system: L1System) -> bool:
    return bool(contracts.call(client, system.implementation_name("optimism_portal"), system.optimism_portal,
                               "paused")[0])


def pause(guardian: Sender, system: L1System, identifier: str = "opwatch devnet fault: pause") -> str:
    """The guardian pauses the Superchain: both portals' `paused()` turn true, proofs revert."""
    data = encode_call("SuperchainConfig", "pause", [identifier])
    return str(guardian.wait(guardian.send(system.superchain_config, data, gas=200_000))["transactionHash"])


def unpause(guardian: Sender, system: L1System) -> None:
    data = encode_call("SuperchainConfig", "unpause", [])
    guardian.wait(guardian.send(system.superchain_config, data, gas=200_000))


def batcher_of(client: RpcClient, system: L1System) -> str:
    """SystemConfig's batcherHash as an address (the hash is the left-padded address)."""
    batcher_hash = bytes(contracts.call(client, "SystemConfig", system.system_config, "batcherHash")[0])
    return _checksum("0x" + batcher_hash[12:].hex())


def implementation_of(client: RpcClient, proxy: str) -> str:
    """The proxy's implementation from its ERC-1967 slot (Proxy.implementation() is admin-only)."""
    word = str(client.call("eth_getStorageAt", proxy, IMPLEMENTATION_SLOT, "latest"))
    return _checksum("0x" + word[-40:])


def deploy_implementation(deployer: Sender, system: L1System, key: str) -> str:
    """A fresh copy of `key`'s implementation code at a new address: what an upgrade points to
    (a test lists it in allowed_implementations before `upgrade-proxy` uses it)."""
    name = system.implementation_name(key)
    args = [PROOF_MATURITY_DELAY_S, DISPUTE_GAME_FINALITY_DELAY_S] if name == "OptimismPortal2" else None
    nonce = deployer.nonce()
    address = contracts.deploy(deployer, name, args, nonce=nonce)
    deadline = time.monotonic() + 30
    while not deployer.client.call("eth_getCode", address, "latest")[2:]:
        if deployer.nonce("latest") > nonce and not deployer.client.call("eth_getCode", address, "latest")[2:]:
            raise RuntimeError(f"{name} implementation did not deploy at {address} (constructor reverted?)")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} implementation not mined within 30s")
        time.sleep(0.1)
    return address


def upgrade(admin: Sender, proxy: str, implementation: str) -> str:
    """`Proxy.upgradeTo(implementation)` by the proxy's admin; returns the L1 transaction hash."""
    data = encode_call("Proxy", "upgradeTo", [_checksum(implementation)])
    return str(admin.wait(admin.send(proxy, data, gas=200_000))["transactionHash"])
