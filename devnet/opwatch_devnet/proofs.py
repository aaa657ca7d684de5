"""The fault-proof L1 contracts of a devnet chain (`opwatch devnet up --proofs fault`).

Deploys, from the contracts-bedrock 0.17.3 artifacts and as an OP Stack deployment does:
SuperchainConfig, DelayedWETH, DisputeGameFactory and AnchorStateRegistry behind bedrock
`Proxy`s (their implementations initialise themselves empty in their constructors), then a
PreimageOracle, the AlphabetVM (the test VM: nobody steps on the devnet, the honest challenger
only attacks root claims) and the real FaultDisputeGame, registered with
`setImplementation(type, game)` and `setInitBond(type, bond)`.

Facts used here, read from this version's sources (src/dispute/FaultDisputeGame.sol):
- `create(type, rootClaim, extraData)` wants `msg.value == initBonds(type)`; the game's
  `initialize()` wants extraData of exactly 32 bytes (the L2 block number, abi-encoded) and an
  L2 block above the anchor's; one (type, root, extraData) makes at most one game.
- The root claim sits at position 1; an attack on it (`attack(disputed, 0, claim)`) is at
  position 2 and needs `getRequiredBond(2)` exactly.
- A subgame resolves (`resolveClaim(i, 0)`, children first) once the clock of its would-be
  counter reaches `maxClockDuration`; `resolve()` then sets `status`: 1 CHALLENGER_WINS when the
  root claim was countered, else 2 DEFENDER_WINS (and a DEFENDER_WINS game above the anchor
  becomes the new anchor).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opwatch_devnet import contracts
from opwatch_devnet.contracts import Sender, _checksum, call, encode_call

ALPHABET_GAME_TYPE = 255  # GameTypes.ALPHABET in src/dispute/lib/Types.sol
# Mainnet's shape (73 deep, split at 30); nobody bisects on the devnet, only the depth-1 attack.
MAX_GAME_DEPTH = 73
SPLIT_DEPTH = 30
INIT_BOND_WEI = 8 * 10**16  # 0.08 ETH, as OP Mainnet's permissionless games
ROOT_POSITION = 1
ATTACK_POSITION = 2  # the root's left child: an attack on the root claim

IN_PROGRESS, CHALLENGER_WINS, DEFENDER_WINS = 0, 1, 2


@dataclass(frozen=True)
class ProofParams:
    l2_chain_id: int
    anchor_root: bytes  # the starting anchor: a true output root ...
    anchor_block: int  # ... of this L2 block
    max_clock_duration: int = 60
    clock_extension: int = 10
    game_type: int = ALPHABET_GAME_TYPE


@dataclass(frozen=True)
class FaultProofDeployment:
    dispute_game_factory: str  # the Proxy: what a config names
    anchor_state_registry: str
    delayed_weth: str
    superchain_config: str
    fault_dispute_game_impl: str
    game_type: int
    max_clock_duration: int


def _alphabet_prestate() -> bytes:
    """As the contracts' own AlphabetVM tests: keccak(abi.encode(0)) with the VM status byte
    (top byte) set to 3, UNFINISHED."""
    from eth_utils import keccak

    digest = bytearray(keccak(bytes(32)))
    digest[0] = 3
    return bytes(digest)


def deploy_fault_proofs(deployer: Sender, params: ProofParams) -> FaultProofDeployment:
    owner = _checksum(deployer.role.address)
    superchain, _ = contracts.deploy_behind_proxy(
        deployer, "SuperchainConfig", encode_call("SuperchainConfig", "initialize", [owner, False]))
    weth, _ = contracts.deploy_behind_proxy(
        deployer, "DelayedWETH", encode_call("DelayedWETH", "initialize", [owner, superchain]), args=[1])
    factory = contracts.deploy_dispute_game_factory(deployer)
    anchors = [(params.game_type, (params.anchor_root, params.anchor_block))]
    registry, _ = contracts.deploy_behind_proxy(
        deployer, "AnchorStateRegistry", encode_call("AnchorStateRegistry", "initialize", [anchors]),
        args=[factory])
    nonce = deployer.nonce()
    oracle = contracts.deploy(deployer, "PreimageOracle", [0, 0], nonce=nonce)
    prestate = _alphabet_prestate()
    vm = contracts.deploy(deployer, "AlphabetVM", [prestate, oracle], nonce=nonce + 1)
    game = contracts.deploy(deployer, "FaultDisputeGame", [
        params.game_type, prestate, MAX_GAME_DEPTH, SPLIT_DEPTH, params.clock_extension,
        params.max_clock_duration, vm, weth, registry, params.l2_chain_id,
    ], nonce=nonce + 2)
    set_impl = encode_call("DisputeGameFactory", "setImplementation", [params.game_type, game])
    deployer.send(factory, set_impl, gas=200_000, nonce=nonce + 3)
    set_bond = encode_call("DisputeGameFactory", "setInitBond", [params.game_type, INIT_BOND_WEI])
    deployer.wait(deployer.send(factory, set_bond, gas=200_000, nonce=nonce + 4))
    if not deployer.client.call("eth_getCode", game, "latest")[2:]:
        raise RuntimeError("FaultDisputeGame implementation did not deploy (constructor reverted?)")
    return FaultProofDeployment(
        dispute_game_factory=factory, anchor_state_registry=registry, delayed_weth=weth,
        superchain_config=superchain, fault_dispute_game_impl=game, game_type=params.game_type,
        max_clock_duration=params.max_clock_duration,
    )


# -- games ----------------------------------------------------------------------------------------

def create_game(sender: Sender, factory: str, game_type: int, root_claim: bytes, l2_block: int) -> str:
    """Creates a game claiming `root_claim` for `l2_block` with the factory's bond; returns
    the game's address (read back from the factory, which keys games by their data)."""
    extra = l2_block.to_bytes(32, "big")
    bond = int(call(sender.client, "DisputeGameFactory", factory, "initBonds", [game_type])[0])
    data = encode_call("DisputeGameFactory", "create", [game_type, root_claim, extra])
    sender.wait(sender.send(factory, data, gas=1_500_000, value=bond))
    proxy, _ = call(sender.client, "DisputeGameFactory", factory, "games", [game_type, root_claim, extra])
    return str(proxy)


def games(client: Any, factory: str, start: int = 0) -> list[tuple[int, int, int, str]]:
    """(index, type, created timestamp, address) of the factory's games from `start` on."""
    count = int(call(client, "DisputeGameFactory", factory, "gameCount")[0])
    found = []
    for i in range(start, count):
        game_type, timestamp, proxy = call(client, "DisputeGameFactory", factory, "gameAtIndex", [i])
        found.append((i, int(game_type), int(timestamp), _checksum(proxy)))
    return found


def game_read(client: Any, game: str, fn: str, *args: Any) -> Any:
    return call(client, "FaultDisputeGame", game, fn, list(args))[0]


def status(client: Any, game: str) -> int:
    return int(game_read(client, game, "status"))


def attack_root(sender: Sender, game: str, claim: bytes) -> bool:
    """Attacks the root claim with `claim` and the bond its position needs; False when the
    game no longer takes the move (resolved, clock out, already made)."""
    disputed = bytes(game_read(sender.client, game, "rootClaim"))
    bond = int(game_read(sender.client, game, "getRequiredBond", ATTACK_POSITION))
    data = encode_call("FaultDisputeGame", "attack", [disputed, 0, claim])
    if not contracts.would_succeed(sender, game, data, value=bond):
        return False
    sender.wait(sender.send(game, data, gas=500_000, value=bond))
    return True


def try_resolve(sender: Sender, game: str) -> int | None:
    """Resolves every subgame whose clock ran out (children first), then the game; returns the
    final status, or None while some clock still runs. Anyone may resolve a game."""
    claims = int(game_read(sender.client, game, "claimDataLen"))
    for index in reversed(range(claims)):
        if game_read(sender.client, game, "resolvedSubgames", index):
            continue
        data = encode_call("FaultDisputeGame", "resolveClaim", [index, 0])
        if not contracts.would_succeed(sender, game, data):
            return None
        sender.wait(sender.send(game, data, gas=500_000))
    data = encode_call("FaultDisputeGame", "resolve", [])
    if not contracts.would_succeed(sender, game, data):
        return None
    sender.wait(sender.send(game, data, gas=500_000))
    return status(sender.client, game)
