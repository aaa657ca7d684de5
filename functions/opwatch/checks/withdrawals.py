"""withdrawals: every withdrawal proven on L1 was really initiated on L2.

Invariant: for each proof the `optimism_portal` accepted within `withdrawals_lookback`
(`WithdrawalProven`, and on fault-proof portals `WithdrawalProvenExtension1` naming the proof
submitter), the trusted L2 nodes (`trusted_l2_rpc`, default `l2_rpc`) answer
`L2ToL1MessagePasser.sentMessages(withdrawalHash) == true` at their latest block. A proof of a
withdrawal never sent on L2 can only come from a wrong output root: it is the theft itself,
days before it can be finalized.
No cursor: a lookback of a day re-verifies every proof for a day after it lands, long before
any proof can be finalized (the proof maturity delay is days), so missed runs lose nothing.
Fires (critical, pages at once): a proven withdrawal no trusted node has sent, naming the
hash, the proof submitter and the L1 transaction. On fault-proof chains (`dispute_game_factory`)
a forged proof against a game since resolved CHALLENGER_WINS or blacklisted on the portal
(`disputeGameBlacklist`) cannot be finalized: it is reported in `details` ("harmless"), not fired.
Unknown: no trusted L2 node answers; the trusted nodes disagree (named); L1 cannot be read
(a log range refused even block by block, garbage from the portal or a game).
Remedy: none automatic (the guardian's pause or blacklist is a human decision); see
docs/runbooks/withdrawals.md.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from ..chain import abi, logs, settlement
from ..chain.errors import BadResponse, ChainError, NoHealthyEndpoint, RpcError
from ..chain.logs import Log
from ..chain.node import Node
from ..chain.output_root import MESSAGE_PASSER
from ..config import Network
from ..findings import Measure, Status
from .base import Check, Context, Hold, Timing, Verdict

TARGET = "portal"
UNIT = "forged withdrawals"
_PER_BATCH = 64


@dataclass(frozen=True, slots=True)
class Proof:
    withdrawal_hash: str
    submitter: str
    tx: str
    l1_block: int

    def row(self) -> dict[str, object]:
        return {"withdrawal_hash": self.withdrawal_hash, "proof_submitter": self.submitter,
                "l1_tx": self.tx, "l1_block": self.l1_block}


def proofs_from(found: Sequence[Log], senders: dict[str, str]) -> list[Proof]:
    """One proof per WithdrawalProven log; its submitter from the Extension1 log of the same
    transaction and hash (fault-proof portals) or the transaction's sender (legacy portals)."""
    extension = {(log.tx_hash, log.topics[1]): log.topic_address(2) for log in found
                 if log.topics[0] == abi.WITHDRAWAL_PROVEN_EXTENSION1 and len(log.topics) >= 3}
    out = []
    for log in found:
        if log.topics[0] != abi.WITHDRAWAL_PROVEN or len(log.topics) < 2:
            continue
        submitter = extension.get((log.tx_hash, log.topics[1])) or senders.get(log.tx_hash, "unknown")
        out.append(Proof(log.topics[1], submitter, log.tx_hash, log.block_number))
    return out


def read_proofs(node: Node, portal: str, since: float, head_number: int, fault_proofs: bool) -> list[Proof]:
    head = node.block(head_number)
    start = logs.first_block_since(node, since, head)
    topics = [abi.WITHDRAWAL_PROVEN] + ([abi.WITHDRAWAL_PROVEN_EXTENSION1] if fault_proofs else [])
    found = logs.get_logs(node, [portal], topics, start, head_number)
    legacy_txs = [] if fault_proofs else sorted({log.tx_hash for log in found})
    return proofs_from(found, logs.senders(node, legacy_txs))


@dataclass
class SentViews:
    """hash → {trusted node: sentMessages(hash)}; `silent` the nodes that did not answer."""

    views: dict[str, dict[str, bool]]
    silent: dict[str, str]


def sent_on_l2(nodes: Sequence[Node], hashes: Sequence[str]) -> SentViews:
    views: dict[str, dict[str, bool]] = {h: {} for h in hashes}
    silent: dict[str, str] = {}
    causes: list[ChainError] = []
    for node in nodes:
        try:
            answers: list[bytes | RpcError] = []
            for i in range(0, len(hashes), _PER_BATCH):
                chunk = hashes[i:i + _PER_BATCH]
                answers += node.eth_calls([(MESSAGE_PASSER, abi.encode_word(abi.SENT_MESSAGES, h)) for h in chunk])
            seen = {h: settlement_bool(raw, f"sentMessages({h})", node.name) for h, raw in zip(hashes, answers,
                                                                                                 strict=True)}
        except ChainError as exc:
            causes.append(exc)
            silent[node.name] = exc.reason
            continue
        for h, sent in seen.items():
            views[h][node.name] = sent
    if len(silent) == len(nodes):
        raise NoHealthyEndpoint("trusted_l2_rpc", causes)
    return SentViews(views, silent)


def settlement_bool(raw: bytes | RpcError, what: str, source: str) -> bool:
    if isinstance(raw, RpcError) or not raw:
        # A revert or no code: the node has no message passer (not an L2, or not synced to genesis).
        raise BadResponse(source, f"{what}: no answer from the L2ToL1MessagePasser predeploy")
    return abi.boolean(raw, what, source)


def harmless_reason(node: Node, portal: str, proof: Proof, block: int) -> str | None:
    """Fault-proof portals: why a forged proof can never be finalized, or None if it can be."""
    (raw,) = node.eth_calls([(portal, abi.PROVEN_WITHDRAWALS_2 + bytes.fromhex(proof.withdrawal_hash[2:])
                             + bytes.fromhex(proof.submitter[2:]).rjust(32, b"\0"))], block)
    if isinstance(raw, RpcError) or not raw:
        return None
    game_word, _timestamp = abi.words(raw, 2, "provenWithdrawals", node.name)
    game = abi.word_address(game_word)
    if game_word == 0:
        return None
    status_raw, blacklisted_raw = node.eth_calls([(game, abi.GAME_STATUS),
                                                  (portal, abi.encode_word(abi.DISPUTE_GAME_BLACKLIST, game))], block)
    if not isinstance(blacklisted_raw, RpcError) and blacklisted_raw and abi.boolean(
            blacklisted_raw, "disputeGameBlacklist", node.name):
        return f"its game {game} is blacklisted on the portal"
    if not isinstance(status_raw, RpcError) and status_raw and \
            abi.words(status_raw, 1, "status()", node.name)[0] == settlement.CHALLENGER_WINS:
        return f"its game {game} resolved CHALLENGER_WINS"
    return None


def measure(ctx: Context, _shared: object, target: str) -> Verdict:
    net = ctx.network
    assert net.optimism_portal
    portal = net.optimism_portal.lower()
    fault_proofs = net.dispute_game_factory is not None
    l1 = ctx.l1()
    head = l1.head()
    lookback = net.thresholds.withdrawals_lookback
    proofs = l1.read(lambda node: read_proofs(node, portal, ctx.now() - lookback, head.number, fault_proofs))
    threshold = Measure(0, UNIT)
    details: dict[str, object] = {"l1_block": head.number, "lookback_s": lookback, "proofs_checked": len(proofs)}
    if not proofs:
        return Verdict(Status.OK, "no withdrawal proven in the lookback", Measure(0, UNIT), threshold, details)
    hashes = sorted({p.withdrawal_hash for p in proofs})
    sent = sent_on_l2([ctx.rpc_node(e) for e in net.trusted_nodes()], hashes)
    details["trusted_sources"] = sorted({s for v in sent.views.values() for s in v})
    if sent.silent:
        details["silent_sources"] = sent.silent
    disputed = {h: v for h, v in sent.views.items() if len(set(v.values())) > 1}
    forged = [p for p in proofs if p.withdrawal_hash not in disputed
              and not any(sent.views[p.withdrawal_hash].values())]
    harmless: list[dict[str, object]] = []
    if fault_proofs and forged:
        reasons = {p: l1.read(functools.partial(harmless_reason, portal=portal, proof=p, block=head.number))
                   for p in forged}
        harmless = [p.row() | {"harmless": why} for p, why in reasons.items() if why]
        forged = [p for p in forged if not reasons[p]]
    if harmless:
        details["harmless"] = harmless
    observed = Measure(len(forged), UNIT)
    if forged:
        first = forged[0]
        text = (f"{len(forged)} withdrawal proof(s) on the portal were never sent on L2: {first.withdrawal_hash} "
                f"proven by {first.submitter} in L1 tx {first.tx}")
        return Verdict(Status.FIRING, text, observed, threshold, details | {"forged": [p.row() for p in forged]})
    if disputed:
        h, views = next(iter(disputed.items()))
        return Verdict(Status.UNKNOWN, f"cannot tell: the trusted L2 nodes disagree whether {h} was sent: "
                       + ", ".join(f"{s} says {v}" for s, v in sorted(views.items())),
                       Measure(None, UNIT), threshold, details | {"disputed": sorted(disputed)})
    return Verdict(Status.OK, f"all {len(proofs)} withdrawal proofs of the lookback were sent on L2",
                   observed, threshold, details)


def _missing(net: Network) -> str | None:
    return None if net.optimism_portal else "needs optimism_portal"


CHECK = Check(
    id="withdrawals",
    title="withdrawals proven on L1 but never sent on L2",
    missing=_missing,
    targets=lambda net: [TARGET],
    threshold=lambda net: Measure(0, UNIT),
    measure=measure,
    # A forged withdrawal is never noise: one firing result pages. Two ok results close it;
    # a blind spot on the bridge warns after 5 runs or 15 minutes.
    timing=Timing(Hold(1), Hold(2), Hold(5, 900.0)),
    reads_l1=True,
)
