"""Reading proposals off L1 (L2OutputOracle outputs, DisputeGameFactory games and their facts)
and the trusted L2 nodes' output roots for them: the reads `output_root` and `dispute_games` share.

Contract facts (contracts-bedrock 0.17.3 artifacts; docs/settlement.md):
  - L2OutputOracle: `latestOutputIndex()` reverts while no output exists; `getL2Output(i)`
    returns the static struct (bytes32 outputRoot, uint128 timestamp, uint128 l2BlockNumber).
  - DisputeGameFactory: `gameCount()`, `gameAtIndex(i)` → (uint32 gameType, uint64 timestamp,
    address proxy); the timestamp is the game's creation on L1.
  - FaultDisputeGame: `rootClaim()`, `l2BlockNumber()`, `gameCreator()`, `status()` (0
    IN_PROGRESS, 1 CHALLENGER_WINS, 2 DEFENDER_WINS), `createdAt()`, `resolvedAt()`,
    `maxClockDuration()`, `claimDataLen()`, `claimData(i)` (parentIndex first; the root is 0).
Every read of one run is pinned to one L1 block, so counts, indices and facts agree. Anything
malformed (a revert where a value must be, a short answer, no code) is a `BadResponse`: the
finding is `unknown`, never a guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from . import abi
from .errors import BadResponse, ChainError, NoHealthyEndpoint, RpcError
from .node import Node
from .output_root import compute_output_roots, op_node_output_root
from .rpc import Call, RpcClient

# At most this many proposals are verified per run, newest first (bounded cost per invocation).
MAX_PROPOSALS = 64
# gameAtIndex entries looked at per run: games of other types or creators (anyone may create
# games) must not make a run read without end.
MAX_GAMES_SCANNED = 256
_PER_BATCH = 16
_UINT64_MAX = 2**64 - 1

STATUS_NAMES = {0: "IN_PROGRESS", 1: "CHALLENGER_WINS", 2: "DEFENDER_WINS"}
IN_PROGRESS, CHALLENGER_WINS, DEFENDER_WINS = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Proposal:
    ref: str  # "output 12" or the game's address
    l2_block: int
    claimed_root: str
    proposed_at: int  # L1 timestamp


@dataclass(frozen=True, slots=True)
class Game:
    index: int
    game_type: int
    address: str
    created_at: int
    root_claim: str = ""
    l2_block: int = 0
    creator: str = ""
    status: int = 0
    resolved_at: int = 0
    max_clock_duration: int = 0
    claim_count: int = 0

    def proposal(self) -> Proposal:
        return Proposal(self.address, self.l2_block, self.root_claim, self.created_at)


def _word(raw: bytes | RpcError, what: str, source: str) -> int:
    if isinstance(raw, RpcError):
        raise BadResponse(source, f"{what} reverted ({raw.message})")
    if not raw:
        raise BadResponse(source, f"{what}: empty answer (no contract code at that address?)")
    return abi.words(raw, 1, what, source)[0]


def _bounded(value: int, limit: int, what: str, source: str) -> int:
    if value > limit:
        raise BadResponse(source, f"{what}: {value} is out of range for its type")
    return value


def oracle_outputs(node: Node, oracle: str, block: int, since: float) -> list[Proposal]:
    """Outputs proposed at or after `since` (L1 time), newest first, at most MAX_PROPOSALS."""
    (index_raw,) = node.eth_calls([(oracle, abi.LATEST_OUTPUT_INDEX)], block)
    if isinstance(index_raw, RpcError):
        return []  # the oracle reverts while it holds no output
    latest = _word(index_raw, "latestOutputIndex", node.name)
    found: list[Proposal] = []
    index = latest
    while index >= 0 and len(found) < MAX_PROPOSALS:
        indices = list(range(index, max(-1, index - _PER_BATCH), -1))
        answers = node.eth_calls([(oracle, abi.encode_uint(abi.GET_L2_OUTPUT, i)) for i in indices], block)
        for i, raw in zip(indices, answers, strict=True):
            if isinstance(raw, RpcError) or not raw:
                raise BadResponse(node.name, f"getL2Output({i}) failed below latestOutputIndex {latest}")
            root, timestamp, l2_block = abi.words(raw, 3, f"getL2Output({i})", node.name)
            if timestamp < since:
                return found
            found.append(Proposal(f"output {i}", l2_block, f"0x{root:064x}", timestamp))
            if len(found) == MAX_PROPOSALS:
                break
        index = indices[-1] - 1
    return found


def factory_games(node: Node, factory: str, game_types: Sequence[int] | None, block: int,
                  since: float, limit: int | None = None) -> list[Game]:
    """Games created at or after `since` of the given types (None: any), newest first; at
    most `limit` of them.

    At most MAX_GAMES_SCANNED entries of the factory are read per run."""
    (count_raw,) = node.eth_calls([(factory, abi.GAME_COUNT)], block)
    count = _word(count_raw, "gameCount", node.name)
    found: list[Game] = []
    index = count - 1
    lowest = max(0, count - MAX_GAMES_SCANNED)
    while index >= lowest:
        indices = list(range(index, max(lowest, index - _PER_BATCH + 1) - 1, -1))
        answers = node.eth_calls([(factory, abi.encode_uint(abi.GAME_AT_INDEX, i)) for i in indices], block)
        for i, raw in zip(indices, answers, strict=True):
            if isinstance(raw, RpcError) or not raw:
                raise BadResponse(node.name, f"gameAtIndex({i}) failed below gameCount {count}")
            kind, timestamp, proxy = abi.words(raw, 3, f"gameAtIndex({i})", node.name)
            if timestamp < since:
                return found
            if game_types is None or kind in game_types:
                found.append(Game(i, kind, abi.word_address(proxy), timestamp))
                if limit is not None and len(found) >= limit:
                    return found
        index = indices[-1] - 1
    return found


_GAME_FACTS = (abi.ROOT_CLAIM, abi.L2_BLOCK_NUMBER, abi.GAME_CREATOR, abi.GAME_STATUS, abi.CREATED_AT,
               abi.RESOLVED_AT, abi.MAX_CLOCK_DURATION, abi.CLAIM_DATA_LEN)


def game_facts(node: Node, games: Sequence[Game], block: int) -> list[Game]:
    """Each game with its facts read from the game contract (batched, 16 games per request)."""
    out: list[Game] = []
    for start in range(0, len(games), _PER_BATCH):
        chunk = games[start:start + _PER_BATCH]
        answers = node.eth_calls([(g.address, sel) for g in chunk for sel in _GAME_FACTS], block)
        for n, game in enumerate(chunk):
            raw = answers[n * len(_GAME_FACTS):(n + 1) * len(_GAME_FACTS)]
            where = f"game {game.address}"
            root, l2_block, creator, status, created, resolved, clock, claims = (
                _word(r, f"{where}: {name}", node.name) for r, name in zip(raw, (
                    "rootClaim()", "l2BlockNumber()", "gameCreator()", "status()", "createdAt()",
                    "resolvedAt()", "maxClockDuration()", "claimDataLen()"), strict=True))
            if status not in STATUS_NAMES:
                raise BadResponse(node.name, f"{where}: status() = {status} is no GameStatus")
            if creator >> 160:
                raise BadResponse(node.name, f"{where}: gameCreator() is not an address")
            if claims < 1:
                raise BadResponse(node.name, f"{where}: claimDataLen() = 0 (a game holds its root claim)")
            out.append(Game(
                index=game.index, game_type=game.game_type, address=game.address, created_at=game.created_at,
                root_claim=f"0x{root:064x}", l2_block=l2_block, creator=abi.word_address(creator),
                status=status, resolved_at=_bounded(resolved, _UINT64_MAX, f"{where}: resolvedAt()", node.name),
                max_clock_duration=_bounded(clock, _UINT64_MAX, f"{where}: maxClockDuration()", node.name),
                claim_count=claims,
            ))
            _bounded(created, _UINT64_MAX, f"{where}: createdAt()", node.name)
    return out


def root_countered(node: Node, game: Game, block: int, limit: int = 1024) -> bool:
    """Whether some claim of the game has the root claim (index 0) as its parent.

    Raises BadResponse when the game holds more than `limit` claims: reading them all would
    cost too much per run, and a guess either way could hide an absent challenger."""
    if game.claim_count == 1:
        return False
    if game.claim_count > limit:
        raise BadResponse(node.name, f"game {game.address} holds {game.claim_count} claims (> {limit} read per run)")
    for start in range(1, game.claim_count, 64):
        indices = range(start, min(game.claim_count, start + 64))
        answers = node.eth_calls([(game.address, abi.encode_uint(abi.CLAIM_DATA, i)) for i in indices], block)
        for i, raw in zip(indices, answers, strict=True):
            if isinstance(raw, RpcError) or not raw:
                raise BadResponse(node.name, f"game {game.address}: claimData({i}) failed below claimDataLen")
            (parent,) = abi.words(raw, 1, f"claimData({i})", node.name)
            if parent == 0:
                return True
    return False


def respected_game_type(node: Node, portal: str, block: int) -> int:
    (raw,) = node.eth_calls([(portal, abi.RESPECTED_GAME_TYPE)], block)
    return _bounded(_word(raw, "respectedGameType()", node.name), 2**32 - 1, "respectedGameType()", node.name)


# --- the trusted L2 side ------------------------------------------------------------------

@dataclass
class TrustedRoots:
    """What the trusted sources say about a set of L2 blocks.

    `roots[source][block]` for every source that answered and has the block; `heads` the
    execution clients' heads; `silent` the sources that did not answer, with why."""

    roots: dict[str, dict[int, str]] = field(default_factory=dict)
    heads: dict[str, int] = field(default_factory=dict)
    silent: dict[str, str] = field(default_factory=dict)

    def highest_head(self) -> int:
        return max(self.heads.values())

    def views(self, block: int) -> dict[str, str]:
        return {source: roots[block] for source, roots in self.roots.items() if block in roots}


def trusted_roots(nodes: Sequence[Node], blocks: Sequence[int], op_node: RpcClient | None = None) -> TrustedRoots:
    """Every trusted execution client's output roots for the blocks it has, and op-node's.

    A node that does not answer (down, wrong chain, garbage) is left out and named in
    `silent`, as the L1 quorum drops a dead endpoint; when none answers, NoHealthyEndpoint.
    op-node (`rollup_rpc`) is asked for the blocks the execution clients have; where it is
    configured but cannot answer, it is named in `silent` and the caller cannot call the
    roots confirmed."""
    result = TrustedRoots()
    causes: list[ChainError] = []
    for node in nodes:
        try:
            head = node.head().number
            roots = compute_output_roots(node.client, [b for b in blocks if b <= head])
        except ChainError as exc:
            causes.append(exc)
            result.silent[node.name] = exc.reason
            continue
        result.heads[node.name] = head
        result.roots[node.name] = {r.block_number: r.root for r in roots}
    if not result.heads:
        raise NoHealthyEndpoint("trusted_l2_rpc", causes)
    if op_node is not None:
        wanted = [b for b in blocks if b <= result.highest_head()]
        try:
            answers = op_node.batch([Call("optimism_outputAtBlock", (hex(b),)) for b in wanted])
            result.roots[f"{op_node.name} (op-node)"] = {
                b: op_node_output_root(a, b, op_node.name) for b, a in zip(wanted, answers, strict=True)}
        except ChainError as exc:
            result.silent[f"{op_node.name} (op-node)"] = exc.reason
    return result
