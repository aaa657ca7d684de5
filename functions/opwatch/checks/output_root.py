"""output_root: the proposer's state roots are true, not only fresh.

Invariant: every proposal of the configured `proposer` made within `output_root_lookback`
(at most 64, newest first) claims the output root the trusted L2 nodes compute for its L2
block (chain/output_root.py: keccak256(0 ‖ stateRoot ‖ message-passer storage root ‖
blockHash), from `trusted_l2_rpc`, default `l2_rpc`; with `rollup_rpc`, op-node's
`optimism_outputAtBlock` must agree too).
  - Legacy chains (`l2_output_oracle`): the oracle's outputs (only its proposer can post).
  - Fault-proof chains (`dispute_game_factory`): the games `proposer` created, of
    `game_type` when set, not yet refuted (CHALLENGER_WINS). Games by others are
    dispute_games' business: anyone may create one.
A wrong output stays firing while it stays in the lookback: on an L2OutputOracle chain it can
prove withdrawals until it is deleted (`deleteL2Outputs`, the oracle's challenger) or ages
out; a newer correct output does not make it harmless.
Fires (critical, pages at once: a wrong root can prove a forged withdrawal): any proposal's
root differs from the computed one, or it claims an L2 block more than `rpc_max_lag_blocks`
beyond the sequencer's unsafe head (a root of a block that does not exist is wrong).
Unknown: no trusted node answers; the trusted sources disagree with each other (the finding
names them); a proposal's block is not on the trusted nodes yet but within the lag (syncing);
op-node is configured but cannot confirm; the L1 contracts answer garbage.
Remedy: none automatic; see docs/runbooks/output_root.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..chain import settlement
from ..chain.node import Node
from ..chain.settlement import Proposal, TrustedRoots
from ..config import Network
from ..findings import Measure, Status
from .base import Check, Context, Hold, Timing, Verdict

TARGET = "proposals"
CORRECT, WRONG, SYNCING, DISPUTED, UNCONFIRMED = "correct", "wrong", "syncing", "disputed", "unconfirmed"


@dataclass(frozen=True, slots=True)
class Judgement:
    proposal: Proposal
    outcome: str  # CORRECT, WRONG, SYNCING, DISPUTED or UNCONFIRMED
    computed: str | None = None
    note: str = ""

    def row(self) -> dict[str, object]:
        row: dict[str, object] = {"proposal": self.proposal.ref, "l2_block": self.proposal.l2_block,
                                  "claimed_root": self.proposal.claimed_root, "computed_root": self.computed}
        return row | ({"note": self.note} if self.note else {})


def judge(proposals: Sequence[Proposal], trusted: TrustedRoots, sequencer_head: Callable[[], int],
          max_lag_blocks: int) -> list[Judgement]:
    """Each proposal against what the trusted sources compute for its block."""
    out = []
    for p in proposals:
        views = trusted.views(p.l2_block)
        if not views:  # beyond every trusted node's head
            head = sequencer_head()
            if p.l2_block > head + max_lag_blocks:
                out.append(Judgement(p, WRONG, None, f"L2 block {p.l2_block} does not exist: the sequencer's "
                                                     f"unsafe head is {head} (> {max_lag_blocks} blocks beyond)"))
            else:
                out.append(Judgement(p, SYNCING, None, f"trusted nodes are at {trusted.heads}, sequencer at {head}"))
            continue
        if len(set(views.values())) > 1:
            out.append(Judgement(p, DISPUTED, None, "trusted sources disagree: " +
                                 ", ".join(f"{s} computes {r}" for s, r in sorted(views.items()))))
            continue
        computed = next(iter(views.values()))
        if computed != p.claimed_root:
            out.append(Judgement(p, WRONG, computed, "confirmed by " + ", ".join(sorted(views))))
        elif trusted.silent and any("(op-node)" in s for s in trusted.silent):
            out.append(Judgement(p, UNCONFIRMED, computed, "op-node could not confirm: " + "; ".join(
                f"{s}: {r}" for s, r in trusted.silent.items() if "(op-node)" in s)))
        else:
            out.append(Judgement(p, CORRECT, computed))
    return out


def trusted_for(ctx: Context, blocks: Sequence[int]) -> TrustedRoots:
    net = ctx.network
    nodes = [ctx.rpc_node(e) for e in net.trusted_nodes()]
    op_node = ctx.client(net.rollup_rpc) if net.rollup_rpc else None
    return settlement.trusted_roots(nodes, sorted(set(blocks)), op_node)


def sequencer_head(ctx: Context) -> Callable[[], int]:
    seen: list[int] = []

    def head() -> int:
        if not seen:
            seen.append(ctx.l2().head().number)
        return seen[0]
    return head


def measure(ctx: Context, _shared: object, target: str) -> Verdict:
    net = ctx.network
    l1 = ctx.l1()
    l1_head = l1.head()
    since = ctx.now() - net.thresholds.output_root_lookback
    if net.l2_output_oracle:
        oracle = net.l2_output_oracle
        proposals = l1.read(lambda node: settlement.oracle_outputs(node, oracle, l1_head.number, since))
    else:
        assert net.dispute_game_factory and net.proposer
        factory, proposer = net.dispute_game_factory, net.proposer.lower()
        types = None if net.game_type is None else [net.game_type]

        def games(node: Node) -> list[Proposal]:
            listed = settlement.factory_games(node, factory, types, l1_head.number, since)
            facts = settlement.game_facts(node, listed, l1_head.number)
            # A game resolved CHALLENGER_WINS was refuted: no withdrawal can be proven against it.
            return [g.proposal() for g in facts if g.creator == proposer
                    and g.status != settlement.CHALLENGER_WINS][:settlement.MAX_PROPOSALS]
        proposals = l1.read(games)
    threshold = Measure(0, "wrong roots")
    base: dict[str, object] = {"l1_block": l1_head.number, "proposals_checked": len(proposals),
            "lookback_s": net.thresholds.output_root_lookback}
    if not proposals:
        return Verdict(Status.OK, "no proposal in the lookback to verify (proposer_freshness watches their absence)",
                       Measure(0, "wrong roots"), threshold, base)
    trusted = trusted_for(ctx, [p.l2_block for p in proposals])
    judged = judge(proposals, trusted, sequencer_head(ctx), net.thresholds.rpc_max_lag_blocks)
    base |= {"trusted_sources": sorted(trusted.roots), "trusted_heads": trusted.heads}
    if trusted.silent:
        base["silent_sources"] = trusted.silent
    by = {k: [j for j in judged if j.outcome == k] for k in (WRONG, DISPUTED, SYNCING, UNCONFIRMED)}
    observed = Measure(len(by[WRONG]), "wrong roots")
    if by[WRONG]:
        first = by[WRONG][0]
        text = (f"{len(by[WRONG])} of {len(judged)} proposals carry a wrong output root: {first.proposal.ref} "
                f"(L2 #{first.proposal.l2_block}) claims {first.proposal.claimed_root}, "
                f"trusted nodes compute {first.computed or 'no such block'}")
        return Verdict(Status.FIRING, text, observed, threshold, base | {"wrong": [j.row() for j in by[WRONG]]})
    for outcome, words in ((DISPUTED, "the trusted sources disagree"), (SYNCING, "the trusted nodes lack the block"),
                           (UNCONFIRMED, "op-node cannot confirm")):
        if by[outcome]:
            j = by[outcome][0]
            text = f"cannot tell: {words} for {j.proposal.ref} (L2 #{j.proposal.l2_block}): {j.note}"
            return Verdict(Status.UNKNOWN, text, Measure(None, "wrong roots"), threshold,
                           base | {outcome: [x.row() for x in by[outcome]]})
    return Verdict(Status.OK, f"all {len(judged)} proposals of the lookback match the trusted nodes' roots",
                   observed, threshold, base | {"newest": judged[0].row()})


def _missing(net: Network) -> str | None:
    if net.l2_output_oracle:
        return None
    if net.dispute_game_factory:
        return None if net.proposer else "needs proposer (whose games it verifies)"
    return "needs l2_output_oracle or dispute_game_factory"


CHECK = Check(
    id="output_root",
    title="proposals with a wrong output root",
    missing=_missing,
    targets=lambda net: [TARGET],
    threshold=lambda net: Measure(0, "wrong roots"),
    measure=measure,
    # A wrong root is never noise: one firing result opens the incident. Two ok results close
    # it (a correct proposal after it heals); a blind spot on settlement warns after 5 runs.
    timing=Timing(Hold(1), Hold(2), Hold(5, 900.0)),
    reads_l1=True,
)
