"""proposer_freshness: state roots keep landing on L1.

Invariant: the newest output proposal is younger than `proposer_max_output_age`.
  - Legacy chains (`l2_output_oracle`): `latestOutputIndex()` (reverts while no output
    exists), then `getL2Output(i)` whose `timestamp` is the L1 time it was proposed. With no
    output yet, the age counts from the oracle's `startingTimestamp()`.
  - Fault-proof chains (`dispute_game_factory`): `gameCount()`, then `gameAtIndex(i)` from
    the newest back, keeping games of `game_type` when configured (anyone may create games
    of other types, so they would flatter the proposer).
All reads are pinned to one L1 block, so the index and the output agree.
Fires: the newest output/game is too old, or none exists.
Unknown: every L1 endpoint is down, on another chain, or the contract answers garbage.
Diagnosis (firing): wallet, stuck transactions, the next block not safe yet (checks/diagnosis.py).
Remedy: none automatic; see docs/runbooks/proposer_freshness.md.
"""

from __future__ import annotations

from ..chain import abi
from ..chain.errors import BadResponse, RpcError
from ..chain.node import Node
from ..config import Network
from ..findings import Measure, Status
from . import diagnosis
from .base import Check, Context, Hold, Timing, Verdict

TARGET = "proposer"
_GAMES_PER_READ = 16
_MAX_GAMES_SCANNED = 256


def _newest_output(node: Node, oracle: str, block: int) -> tuple[int, dict[str, object]] | None:
    (index_raw,) = node.eth_calls([(oracle, abi.LATEST_OUTPUT_INDEX)], block)
    if not index_raw:
        raise BadResponse(node.name, f"no contract code at {oracle} (is l2_output_oracle right?)")
    if isinstance(index_raw, RpcError):
        # The oracle reverts while it holds no output. A chain that started less than the
        # threshold ago has had no chance to propose yet: age it from its starting time.
        (start_raw,) = node.eth_calls([(oracle, abi.STARTING_TIMESTAMP)], block)
        if isinstance(start_raw, RpcError) or not start_raw:
            return None
        (start,) = abi.words(start_raw, 1, "startingTimestamp", node.name)
        return start, {"output_index": None, "note": "no output yet; aged from startingTimestamp"}
    (index,) = abi.words(index_raw, 1, "latestOutputIndex", node.name)
    (out,) = node.eth_calls([(oracle, abi.encode_uint(abi.GET_L2_OUTPUT, index))], block)
    if isinstance(out, RpcError):
        raise BadResponse(node.name, f"getL2Output({index}) reverted right after latestOutputIndex")
    root, timestamp, l2_block = abi.words(out, 3, "getL2Output", node.name)
    return timestamp, {"output_index": index, "l2_block": l2_block, "output_root": f"0x{root:064x}"}


def _newest_game(node: Node, factory: str, game_type: int | None,
                 block: int) -> tuple[int, dict[str, object]] | None:
    (count_raw,) = node.eth_calls([(factory, abi.GAME_COUNT)], block)
    if isinstance(count_raw, RpcError):
        raise BadResponse(node.name, "gameCount() reverted: is dispute_game_factory right?")
    if not count_raw:
        raise BadResponse(node.name, f"no contract code at {factory} (is dispute_game_factory right?)")
    (count,) = abi.words(count_raw, 1, "gameCount", node.name)
    index = count - 1
    lowest = max(0, count - _MAX_GAMES_SCANNED)
    while index >= lowest:
        indices = list(range(index, max(lowest, index - _GAMES_PER_READ + 1) - 1, -1))
        answers = node.eth_calls([(factory, abi.encode_uint(abi.GAME_AT_INDEX, i)) for i in indices], block)
        for i, raw in zip(indices, answers, strict=True):
            if isinstance(raw, RpcError):
                raise BadResponse(node.name, f"gameAtIndex({i}) reverted below gameCount {count}")
            kind, timestamp, proxy = abi.words(raw, 3, "gameAtIndex", node.name)
            if game_type is None or kind == game_type:
                return timestamp, {"game_index": i, "game_type": kind, "game": abi.word_address(proxy),
                                   "game_count": count}
        index = indices[-1] - 1
    return None


def measure(ctx: Context, _shared: object, target: str) -> Verdict:
    net = ctx.network
    l1 = ctx.l1()
    head = l1.head()
    if net.l2_output_oracle:
        oracle = net.l2_output_oracle
        newest = l1.read(lambda node: _newest_output(node, oracle, head.number))
        source = "L2OutputOracle"
    else:
        assert net.dispute_game_factory
        factory, game_type = net.dispute_game_factory, net.game_type
        newest = l1.read(lambda node: _newest_game(node, factory, game_type, head.number))
        source = "DisputeGameFactory"
    limit = net.thresholds.proposer_max_output_age
    threshold = Measure(limit, "s")
    if newest is None:
        what = "output" if net.l2_output_oracle else (
            "dispute game" + (f" of type {net.game_type}" if net.game_type is not None else ""))
        return diagnosis.proposer(ctx, Verdict(
            Status.FIRING, f"no {what} found in the {source} at L1 block #{head.number}",
            Measure(None, "s"), threshold, {"l1_block": head.number, "source": source}), None)
    timestamp, details = newest
    age = max(0.0, ctx.now() - timestamp)
    observed = Measure(round(age, 1), "s")
    details |= {"l1_block": head.number, "proposed_at": timestamp, "source": source}
    text = f"newest proposal ({source}) is {observed.render()} old (limit {threshold.render()})"
    if age > limit:
        proposed = details.get("l2_block")
        return diagnosis.proposer(ctx, Verdict(Status.FIRING, text, observed, threshold, details),
                                  proposed if isinstance(proposed, int) else None)
    return Verdict(Status.OK, text, observed, threshold, details)


def _missing(net: Network) -> str | None:
    return None if net.l2_output_oracle or net.dispute_game_factory else \
        "needs l2_output_oracle or dispute_game_factory"


CHECK = Check(
    id="proposer_freshness",
    title="age of the newest output (s)",
    missing=_missing,
    targets=lambda net: [TARGET],
    threshold=lambda net: Measure(net.thresholds.proposer_max_output_age, "s"),
    measure=measure,
    timing=Timing(Hold(2), Hold(2), Hold(5, 900.0)),
    reads_l1=True,
    # Proposals land about once an hour: every five minutes is plenty.
    every_minutes=5,
)
