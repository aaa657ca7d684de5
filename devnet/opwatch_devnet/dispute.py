"""The actors of a fault-proof devnet chain: a game proposer and an honest challenger.

- `GameProposer` stands in for op-proposer on a fault-proof chain: every `submission_interval`
  L2 blocks it creates a FaultDisputeGame claiming the true output root of that block.
- `Challenger` stands in for op-challenger, reduced to what the devnet needs: it judges every
  game of its type by recomputing the root (the same computation as opwatch's checks), attacks
  a root claim that is wrong, and resolves any game whose clocks have run out (as op-challenger
  does for the games it follows). It does not bisect: an attack on the root claim is left
  uncountered, so it wins once its clock expires.

Both talk to the nodes directly, never through the fault proxies.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from opwatch_devnet import contracts, proofs
from opwatch_devnet.actors import Actor, output_root, wrong_root
from opwatch_devnet.jsonrpc import RpcClient


@dataclass
class Game:
    address: str
    index: int
    l2_block: int | None = None
    claim: str | None = None
    wrong: bool | None = None  # None: not judged yet (its block is not on L2 yet)
    attacked: bool = False
    status: int = proofs.IN_PROGRESS


class GameProposer(Actor):
    name = "proposer"

    def __init__(self, l1: contracts.Sender, l2: RpcClient, factory: str, game_type: int,
                 first_block: int, submission_interval: int, registry: str, interval: float = 1.0) -> None:
        super().__init__(interval)
        self.l1 = l1
        self.l2 = l2
        self.factory = factory
        self.game_type = game_type
        self.registry = registry
        self.next_block = first_block
        self.submission_interval = submission_interval
        self.proposed: list[tuple[int, str]] = []  # (l2 block number, game address)
        self.corrupt_next = False  # fault bad-output: the next game's root claim is wrong
        self.bad: list[tuple[int, str]] = []

    def step(self) -> None:
        # A game must claim a block above the anchor (a game that resolved DEFENDER_WINS moved it).
        anchor = int(contracts.call(self.l1.client, "AnchorStateRegistry", self.registry, "anchors",
                                    [self.game_type])[1])
        while self.next_block <= anchor:
            self.next_block += self.submission_interval
        # One block of margin: the sequencer's newest block may not be on a replica yet.
        if self.l2.block_number() < self.next_block + 1:
            return
        corrupt = self.corrupt_next
        root = output_root(self.l2, self.next_block).root
        claim = wrong_root(root) if corrupt else bytes.fromhex(root[2:])
        game = proofs.create_game(self.l1, self.factory, self.game_type, claim, self.next_block)
        self.proposed.append((self.next_block, game))
        if corrupt:
            self.corrupt_next = False
            self.bad.append((self.next_block, game))
        self.next_block += self.submission_interval


class Challenger(Actor):
    name = "challenger"

    def __init__(self, l1: contracts.Sender, l2: RpcClient, factory: str, game_type: int,
                 interval: float = 1.0) -> None:
        super().__init__(interval)
        self.l1 = l1
        self.l2 = l2
        self.factory = factory
        self.game_type = game_type
        self.games: dict[str, Game] = {}
        self._seen = 0
        self._lock = threading.Lock()

    def step(self) -> None:
        with self._lock:
            for index, game_type, _created, address in proofs.games(self.l1.client, self.factory, self._seen):
                if game_type == self.game_type:
                    self.games[address] = Game(address, index)
                self._seen = index + 1
            for game in [g for g in self.games.values() if g.status == proofs.IN_PROGRESS]:
                self._play(game)

    def _play(self, game: Game) -> None:
        client = self.l1.client
        if game.wrong is None:
            game.l2_block = int(proofs.game_read(client, game.address, "l2BlockNumber"))
            game.claim = "0x" + bytes(proofs.game_read(client, game.address, "rootClaim")).hex()
            if self.l2.block_number() >= game.l2_block:
                game.wrong = output_root(self.l2, game.l2_block).root != game.claim
        if game.wrong and not game.attacked:
            assert game.l2_block is not None and game.claim is not None
            # The counter-claim: the honest root (any claim other than the disputed one would do
            # for a depth-1 attack, which nobody on the devnet counters in turn).
            honest = bytes.fromhex(output_root(self.l2, game.l2_block).root[2:])
            game.attacked = proofs.attack_root(self.l1, game.address, honest)
            if not game.attacked and int(proofs.game_read(client, game.address, "claimDataLen")) > 1:
                game.attacked = True  # someone else countered it already
        resolved = proofs.try_resolve(self.l1, game.address)
        if resolved is not None:
            game.status = resolved

    def pause(self) -> None:
        """Stops after the step in flight, if any: a step that started before the pause must not
        counter a game created after it (stop-challenger means nobody counters)."""
        super().pause()
        with self._lock:
            pass

    def resolved(self) -> dict[str, int]:
        # list() copies under the GIL: the supervisor asks from another thread than the step.
        return {g.address: g.status for g in list(self.games.values()) if g.status != proofs.IN_PROGRESS}


def create_bad_game(sender: contracts.Sender, l2: RpcClient, factory: str, game_type: int) -> tuple[int, str]:
    """A game claiming a wrong root for a recent L2 block, from `sender`'s account."""
    block = l2.block_number() - 1
    claim = wrong_root(output_root(l2, block).root)
    return block, proofs.create_game(sender, factory, game_type, claim, block)
