"""dispute_games: on a fault-proof chain, wrong games are countered and games resolve rightly.

Invariant, over every game created within `output_root_lookback`, or within the life of a game
(2 x maxClockDuration + an hour, from the newest game's clock) when that is longer (at most 64,
newest first),
by anyone, of the type that counts (`game_type` when set; else the `optimism_portal`'s
`respectedGameType()`; else every type), its root judged as output_root judges it:
  - a game with a wrong root has a counter to its root claim (some claimData entry whose
    parentIndex is 0) before less than `dispute_clock_min_remaining` (default: half of the
    game's `maxClockDuration`) is left on the root's clock;
  - no game resolved DEFENDER_WINS with a wrong root, nor CHALLENGER_WINS with a correct one;
  - no game is still IN_PROGRESS an hour after it became resolvable.
Fires critical: a wrong root uncountered with the clock nearly out (the challenger is
absent: when the clock runs out the wrong root becomes true); a game resolved the wrong
way. Fires warning: a game left unresolved (bonds and the anchor state wait on it).
Unknown: no trusted node answers, the trusted sources disagree, a game's block is still
syncing on them, or a game contract answers garbage.
Ok: with counts (games seen, wrong and countered, in progress) in `details`.
Remedy: none automatic; see docs/runbooks/dispute_games.md.
"""

from __future__ import annotations

import functools

from ..chain import settlement
from ..chain.node import Node
from ..chain.settlement import CHALLENGER_WINS, DEFENDER_WINS, IN_PROGRESS, STATUS_NAMES, Game
from ..config import Network
from ..findings import Measure, Severity, Status
from .base import Check, Context, Hold, Timing, Verdict
from .output_root import CORRECT, WRONG, judge, sequencer_head, trusted_for

TARGET = "games"
# An hour past resolvable: resolving is permissionless and cheap, so a game left longer has
# no one resolving it (bonds stay locked, the anchor state does not advance).
UNRESOLVED_GRACE_S = 3600.0


def resolvable_at(game: Game) -> int:
    """When every clock of the game has run out, at the latest.

    An uncountered root resolves once its own clock (maxClockDuration from creation) has
    run out. In a countered game each side's chess clock holds at most maxClockDuration, so
    the game is resolvable at the latest 2 × maxClockDuration after creation."""
    return game.created_at + game.max_clock_duration * (1 if game.claim_count == 1 else 2)


def _countered(node: Node, game: Game, block: int) -> bool:
    return settlement.root_countered(node, game, block)


def measure(ctx: Context, _shared: object, target: str) -> Verdict:
    net = ctx.network
    assert net.dispute_game_factory
    factory = net.dispute_game_factory
    l1 = ctx.l1()
    l1_head = l1.head()
    since = ctx.now() - net.thresholds.output_root_lookback
    portal = net.optimism_portal

    def read(node: Node) -> tuple[list[int] | None, list[Game]]:
        if net.game_type is not None:
            types: list[int] | None = [net.game_type]
        elif portal:
            types = [settlement.respected_game_type(node, portal, l1_head.number)]
        else:
            types = None
        # A game matters for its whole life, which may outlast the lookback: a wrong root
        # becomes critical only once half its clock is gone (OP Mainnet: 1.75 of 3.5 days, past
        # the default 1 d lookback), and a game may resolve or be left unresolved later still.
        # So the window reaches back over the newest game's life (2 x maxClockDuration, plus
        # the unresolved grace) when that is longer than the lookback.
        window = since
        newest = settlement.factory_games(node, factory, types, l1_head.number, float("-inf"), limit=1)
        if newest:
            (probe,) = settlement.game_facts(node, newest, l1_head.number)
            window = min(since, l1_head.timestamp - 2 * probe.max_clock_duration - UNRESOLVED_GRACE_S)
        listed = settlement.factory_games(node, factory, types, l1_head.number, window)[:settlement.MAX_PROPOSALS]
        return types, settlement.game_facts(node, listed, l1_head.number)

    types, games = l1.read(read)
    threshold = Measure(0, "games gone wrong")
    details: dict[str, object] = {"l1_block": l1_head.number, "game_types": types if types is not None else "any",
                                  "games_seen": len(games)}
    if not games:
        return Verdict(Status.OK, "no dispute game in the lookback", Measure(0, "games gone wrong"), threshold,
                       details | {"wrong_and_countered": 0, "in_progress": 0})
    trusted = trusted_for(ctx, [g.l2_block for g in games])
    judged = dict(zip((g.address for g in games), judge([g.proposal() for g in games], trusted,
                                                         sequencer_head(ctx), net.thresholds.rpc_max_lag_blocks),
                      strict=True))
    now = l1_head.timestamp  # the games' clocks run on L1 time
    critical: list[dict[str, object]] = []
    warning: list[dict[str, object]] = []
    undecided: list[dict[str, object]] = []
    awaiting: list[dict[str, object]] = []
    countered = 0
    for game in games:
        j = judged[game.address]
        row = j.row() | {"game": game.address, "status": STATUS_NAMES[game.status], "game_type": game.game_type}
        if game.status == IN_PROGRESS and now > resolvable_at(game) + UNRESOLVED_GRACE_S:
            warning.append(row | {"problem": f"still IN_PROGRESS {now - resolvable_at(game)} s after resolvable"})
        if j.outcome not in (CORRECT, WRONG):
            undecided.append(row)
        elif game.status == DEFENDER_WINS and j.outcome == WRONG:
            critical.append(row | {"problem": "resolved DEFENDER_WINS with a wrong root"})
        elif game.status == CHALLENGER_WINS and j.outcome == CORRECT:
            critical.append(row | {"problem": "resolved CHALLENGER_WINS with a correct root"})
        elif game.status == IN_PROGRESS and j.outcome == WRONG:
            if l1.read(functools.partial(_countered, game=game, block=l1_head.number)):
                countered += 1
                continue
            left = game.created_at + game.max_clock_duration - now
            floor = net.thresholds.dispute_clock_min_remaining
            floor = game.max_clock_duration / 2 if floor is None else floor
            if left < floor:
                critical.append(row | {"problem": f"wrong root uncountered with {max(0, left)} s left on its clock "
                                                  f"(limit {floor:g} s): the challenger is absent",
                                       "clock_left_s": left})
            else:
                awaiting.append(row | {"clock_left_s": left})
    in_progress = sum(1 for g in games if g.status == IN_PROGRESS)
    details |= {"wrong_and_countered": countered, "in_progress": in_progress,
                "trusted_sources": sorted(trusted.roots)}
    if trusted.silent:
        details["silent_sources"] = trusted.silent
    observed = Measure(len(critical) + len(warning), "games gone wrong")
    if critical or warning:
        rows = critical or warning
        text = f"{len(rows)} dispute game(s) gone wrong: {rows[0]['game']} {rows[0]['problem']}"
        return Verdict(Status.FIRING, text, observed, threshold, details | {"critical": critical, "warning": warning},
                       severity=None if critical else Severity.WARNING)
    # A wrong root not countered yet, with time on its clock, is the challenger's job in
    # progress: ok, and counted. A root the trusted sources cannot judge is not.
    if undecided:
        r = undecided[0]
        return Verdict(Status.UNKNOWN, f"cannot tell whether game {r['game']} (L2 #{r['l2_block']}) is right: "
                       f"{r.get('note', '')}", Measure(None, "games gone wrong"), threshold,
                       details | {"undecided": undecided})
    return Verdict(Status.OK, f"{len(games)} games seen, {countered} wrong and countered, {in_progress} in progress",
                   observed, threshold, details | {"awaiting_counter": awaiting})


def _missing(net: Network) -> str | None:
    return None if net.dispute_game_factory else "needs dispute_game_factory (fault-proof chains only)"


CHECK = Check(
    id="dispute_games",
    title="dispute games gone wrong",
    missing=_missing,
    targets=lambda net: [TARGET],
    threshold=lambda net: Measure(0, "games gone wrong"),
    measure=measure,
    # A game resolved wrongly, or a wrong root about to win, pages at once.
    timing=Timing(Hold(1), Hold(2), Hold(5, 900.0)),
    reads_l1=True,
)
