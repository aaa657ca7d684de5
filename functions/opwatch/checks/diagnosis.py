"""Why a firing check fires: the causes an on-call engineer tests by hand, tested for them.

A firing finding of sequencer_liveness, batcher_lag, batch_submission, wallet_runway or
proposer_freshness carries `details.diagnosis`: every cause tested, each `{cause, holds,
measured, text}` (`holds`: True, False, or None when it could not be told, `measured` saying
what was read or why not), most likely first; and its summary ends with "here's why: <the
leading cause> (<what was measured>)".

Guards:
- Diagnosis runs only on a firing verdict, and costs one extra round trip (one JSON-RPC batch)
  per source it reads (L1, op-node), never a scan.
- A diagnosis read that fails never changes the finding: the causes it would have told
  become `holds: None` with the reason. This is the one place diagnosis catches a
  `ChainError`; the check's own reads still go through `evaluate`'s `unknown`.
- Causes that need the previous run (how long a nonce has been stuck) read the check's memory;
  with none (a first run) they say so and are judged on what can be measured now.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from ..chain import abi, wire
from ..chain.errors import ChainError, RpcError
from ..chain.node import Node
from ..chain.rpc import Call
from ..config import Network, WalletProfile
from ..findings import Status
from .base import Context, Verdict
from .sequencer_ha import read_member  # the one reading of op-conductor's answers

BLOB_GAS_PER_BLOB = 131_072
_GWEI = 1e9
_ETH = 1e18
# The protocol's max sequencer drift: an L2 block's L1 origin may trail its timestamp by at most
# 1800 s (Fjord); past it the sequencer must produce deposit-only blocks. 150 L1 blocks at 12 s.
MAX_SEQUENCER_DRIFT_L1_BLOCKS = 150


@dataclass(frozen=True, slots=True)
class Cause:
    cause: str  # a stable id: wallet_cannot_pay, txs_stuck, ...
    text: str  # what it means, in the words of a page: "batcher wallet cannot pay for one batch"
    holds: bool | None
    measured: str

    def to_dict(self) -> dict[str, Any]:
        return {"cause": self.cause, "holds": self.holds, "measured": self.measured, "text": self.text}


def attach(verdict: Verdict, causes: Sequence[Cause], remember: dict[str, Any] | None = None) -> Verdict:
    """The verdict with its diagnosis: causes that hold first (in the order given: most likely
    first), then those that could not be told, then those ruled out."""
    rank = {True: 0, None: 1, False: 2}
    ordered = sorted(causes, key=lambda c: rank[c.holds])
    leading = next((c for c in ordered if c.holds), None)
    if leading is not None:
        why = f"{leading.text} ({leading.measured})"
    elif any(c.holds is None for c in ordered):
        why = "none of the causes tested holds; some could not be told: " + \
              ", ".join(c.cause for c in ordered if c.holds is None)
    else:
        why = f"none of the {len(ordered)} causes tested holds"
    details = verdict.details | {"diagnosis": [c.to_dict() for c in ordered]}
    return replace(verdict, summary=f"{verdict.summary}: here's why: {why}", details=details,
                   remember=remember if remember is not None else verdict.remember)


def _unknown(causes: Sequence[tuple[str, str]], reason: str) -> list[Cause]:
    return [Cause(cid, text, None, reason) for cid, text in causes]


# --- wallets: can it pay, are its transactions stuck, are fees above its caps -----------------

@dataclass(frozen=True, slots=True)
class WalletState:
    balance: int
    mined_nonce: int
    pending_nonce: int
    base_fee: int
    blob_base_fee: int | None  # None: not read (a wallet without blobs) or not served
    head: int
    nonce_back: int | None  # the mined nonce `back_blocks` below the head
    back_blocks: int
    batcher_hash: str | None  # SystemConfig.batcherHash() as an address, when read


def read_wallet(node: Node, address: str, head: int, *, blobs: bool, back_blocks: int = 0,
                system_config: str | None = None) -> WalletState:
    """One JSON-RPC batch to L1 at block `head` (the run's L1 head): that block (its base fee),
    balance, mined and pending nonce, blob base fee, and optionally the nonce `back_blocks`
    earlier and SystemConfig.batcherHash()."""
    node.verify_chain()
    tag = hex(head)
    calls = [Call("eth_getBlockByNumber", (tag, False)), Call("eth_getBalance", (address, tag)),
             Call("eth_getTransactionCount", (address, tag)),
             Call("eth_getTransactionCount", (address, "pending"))]
    back = back_blocks if 0 < back_blocks < head else 0
    if back:
        calls.append(Call("eth_getTransactionCount", (address, hex(head - back))))
    if blobs:
        calls.append(Call("eth_blobBaseFee"))
    if system_config:
        calls.append(Call("eth_call", ({"to": system_config, "data": "0x" + abi.BATCHER_HASH.hex()}, tag)))
    raws = node.client.batch(calls, allow_errors=True)
    for raw in raws[:5 if back else 4]:
        if isinstance(raw, RpcError):
            raise raw
    block = wire.block(raws[0], node.name)
    i = 4
    nonce_back = None
    if back:
        nonce_back = wire.quantity(raws[i], "nonce", node.name)
        i += 1
    blob_fee = None
    if blobs:
        blob_fee = None if isinstance(raws[i], RpcError) else wire.quantity(raws[i], "eth_blobBaseFee", node.name)
        i += 1
    batcher_hash = None
    if system_config and not isinstance(raws[i], RpcError):
        data = wire.data(raws[i], "batcherHash", node.name)
        if len(data) >= 32:
            batcher_hash = abi.word_address(int.from_bytes(data[:32], "big"))
    return WalletState(
        balance=wire.quantity(raws[1], "balance", node.name), mined_nonce=wire.quantity(raws[2], "nonce", node.name),
        pending_nonce=wire.quantity(raws[3], "pending nonce", node.name), base_fee=block.base_fee or 0,
        blob_base_fee=blob_fee, head=block.number, nonce_back=nonce_back, back_blocks=back,
        batcher_hash=batcher_hash)


def tx_cost(profile: WalletProfile, state: WalletState) -> int:
    return (profile.gas_per_tx * (state.base_fee + profile.priority_fee_wei)
            + profile.blobs_per_tx * BLOB_GAS_PER_BLOB * (state.blob_base_fee or 0))


def wallet_causes(role: str, profile: WalletProfile, state: WalletState, memory: Any, now: float,
                  what: str) -> tuple[list[Cause], dict[str, Any]]:
    """Can the wallet pay one transaction (`what`: "one batch"), are its transactions stuck and
    for how long (memory), are fees above its configured caps. Returns what to remember."""
    cost = tx_cost(profile, state)
    price = f"{state.base_fee / _GWEI:.3g} gwei"
    if profile.blobs_per_tx:
        price += f" + blob {(state.blob_base_fee or 0) / _GWEI:.3g} gwei"
    causes = [Cause("wallet_cannot_pay", f"{role} wallet cannot pay for {what}", state.balance < cost,
                    f"{state.balance / _ETH:.4g} ETH {'<' if state.balance < cost else '≥'} "
                    f"{cost / _ETH:.4g} ETH at {price}")]

    pending = state.pending_nonce > state.mined_nonce
    # A transaction in flight is not stuck: when the mined nonce moved over the last blocks
    # read (`nonce_back`), the wallet's transactions are being mined, one waiting or not.
    moving = state.nonce_back is not None and state.mined_nonce > state.nonce_back
    stuck = pending and not moving
    recalled = memory.get(role)
    since = now
    if recalled.observation is not None and recalled.observation.data.get("mined_nonce") == state.mined_nonce:
        since = float(recalled.observation.data.get("mined_since", recalled.observation.at))
    how_long = ("for at least " + _duration(now - since)) if recalled.observation is not None and since < now \
        else ("first seen now" if recalled.error is None else f"how long unknown: {recalled.error}")
    measured = f"pending nonce {state.pending_nonce}, mined {state.mined_nonce}"
    if moving:
        measured += f", {state.mined_nonce - (state.nonce_back or 0)} mined in the last {state.back_blocks} L1 blocks"
    elif stuck:
        measured += (f", none mined in the last {state.back_blocks} L1 blocks" if state.nonce_back is not None
                     else "") + f", {how_long}"
    causes.append(Cause("txs_stuck", f"{role} transactions stuck in the mempool", stuck, measured))

    over = []
    if profile.max_fee_wei is not None and state.base_fee + profile.priority_fee_wei > profile.max_fee_wei:
        over.append(f"base fee {state.base_fee / _GWEI:.3g} + tip {profile.priority_fee_wei / _GWEI:.3g} gwei "
                    f"> max_fee_gwei {profile.max_fee_wei / _GWEI:.3g}")
    if profile.max_blob_fee_wei is not None and state.blob_base_fee is not None \
            and state.blob_base_fee > profile.max_blob_fee_wei:
        over.append(f"blob base fee {state.blob_base_fee / _GWEI:.3g} gwei "
                    f"> max_blob_fee_gwei {profile.max_blob_fee_wei / _GWEI:.3g}")
    if profile.max_fee_wei is None and profile.max_blob_fee_wei is None:
        causes.append(Cause("fees_above_caps", f"L1 fees above the {role}'s fee caps", None,
                            f"no max_fee_gwei/max_blob_fee_gwei configured for the {role}; base fee {price}"))
    else:
        causes.append(Cause("fees_above_caps", f"L1 fees above the {role}'s fee caps", bool(over),
                            "; ".join(over) or f"{price}, within the configured caps"))
    remember = {"mined_nonce": state.mined_nonce, "pending_nonce": state.pending_nonce,
                "mined_since": since}
    return causes, remember


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def wallet(ctx: Context, verdict: Verdict, role: str) -> Verdict:
    """Diagnose a firing wallet_runway finding: drained (cannot pay one transaction), stuck
    transactions (a stuck wallet spends nothing but is not safe either), fees above its caps."""
    if verdict.status != Status.FIRING:
        return verdict
    net = ctx.network
    address = {"batcher": net.batcher, "proposer": net.proposer}.get(role)
    profile = net.wallets.get(role)
    if address is None or profile is None:
        return verdict
    try:
        l1 = ctx.l1()
        head = l1.head().number
        state = l1.read(lambda node: read_wallet(node, address, head, blobs=profile.blobs_per_tx > 0))
    except ChainError as exc:
        return attach(verdict, _unknown((("wallet_cannot_pay", f"{role} wallet cannot pay for one transaction"),
                                         ("txs_stuck", f"{role} transactions stuck in the mempool")),
                                        f"L1 did not answer: {type(exc).__name__}"))
    causes, remember = wallet_causes(role, profile, state, ctx.memory, ctx.now(), "one transaction")
    low = Cause("runway_short", f"{role} wallet funds last less than the runway at current fees", True,
                f"{state.balance / _ETH:.4g} ETH; one transaction costs {tx_cost(profile, state) / _ETH:.4g} ETH")
    return attach(verdict, [*causes, low], remember=remember)


# --- the batcher: batcher_lag and batch_submission ---------------------------------------------

_L1_CAUSES = (("wallet_cannot_pay", "batcher wallet cannot pay for one batch"),
              ("txs_stuck", "batcher transactions stuck in the mempool"),
              ("fees_above_caps", "L1 fees above the batcher's fee caps"),
              ("batcher_rotated", "batcher key rotated in SystemConfig"),
              ("derivation_stalled", "op-node's safe head is not advancing although batches land"))


def batcher(ctx: Context, verdict: Verdict, *, safe_lag_s: float | None = None,
            batches_landing: bool | None = None) -> Verdict:
    """Diagnose a firing batcher finding. `safe_lag_s`: batcher_lag's measured lag (None: read
    it from op-node if configured); `batches_landing`: batch_submission's answer (None: judge
    from the batcher's nonce over the recent L1 blocks)."""
    if verdict.status != Status.FIRING:
        return verdict
    net = ctx.network
    if not net.batcher:
        return attach(verdict, [Cause("batcher_unconfigured", "batcher address not configured", None,
                                      "set batcher (and system_config) to diagnose the batcher")])
    profile = net.wallets.get("batcher") or WalletProfile(60.0, 21_000, 1, 10**9)
    # Enough L1 blocks to cover the lag threshold at 12 s a block: did the batcher send anything?
    back = max(4, math.ceil(net.thresholds.batcher_max_safe_lag / 12))
    address = net.batcher
    causes: list[Cause] = []
    remember: dict[str, Any] = {}
    try:
        l1 = ctx.l1()
        head = l1.head().number
        state = l1.read(lambda node: read_wallet(node, address, head, blobs=profile.blobs_per_tx > 0,
                                                 back_blocks=back, system_config=net.system_config))
    except ChainError as exc:
        causes.append(Cause("l1_unreachable", "L1 unreachable", True, f"{type(exc).__name__}: {exc}"))
        causes += _unknown(_L1_CAUSES, "not read: L1 did not answer")
        return attach(verdict, causes)
    causes.append(Cause("l1_unreachable", "L1 unreachable", False, f"L1 answered at block #{state.head}"))
    wallet, remember = wallet_causes("batcher", profile, state, ctx.memory, ctx.now(), "one batch")
    causes = wallet + causes
    if net.system_config:
        configured = address.lower()
        if state.batcher_hash is None:
            causes.append(Cause("batcher_rotated", "batcher key rotated in SystemConfig", None,
                                f"SystemConfig.batcherHash() at {net.system_config} did not answer"))
        else:
            rotated = state.batcher_hash.lower() != configured
            causes.append(Cause("batcher_rotated", "batcher key rotated in SystemConfig", rotated,
                                f"batcherHash() names {state.batcher_hash}, configured {address}"))
    if batches_landing is None and state.nonce_back is not None:
        batches_landing = state.mined_nonce > state.nonce_back
    causes.append(_derivation(ctx, net, batches_landing, state, safe_lag_s))
    return attach(verdict, causes, remember=remember)


def _derivation(ctx: Context, net: Network, landing: bool | None, state: WalletState,
                safe_lag_s: float | None) -> Cause:
    cid, text = "derivation_stalled", "op-node's safe head is not advancing although batches land"
    if landing is None:
        return Cause(cid, text, None, "could not tell whether batches land")
    sent = (f"{state.mined_nonce - state.nonce_back} batcher txs in the last {state.back_blocks} L1 blocks"
            if state.nonce_back is not None else "batches land")
    if not landing:
        return Cause(cid, text, False, f"no batches land ({sent})")
    if safe_lag_s is None:
        if net.rollup_rpc is None:
            return Cause(cid, text, None, f"{sent}; no rollup_rpc to read the safe head")
        try:
            status = wire.sync_status(ctx.client(net.rollup_rpc).call("optimism_syncStatus"), net.rollup_rpc.name)
        except ChainError as exc:
            return Cause(cid, text, None, f"{sent}; op-node did not answer: {type(exc).__name__}")
        safe_lag_s = float(max(0, status.unsafe_l2.timestamp - status.safe_l2.timestamp))
    behind = safe_lag_s > net.thresholds.batcher_max_safe_lag
    return Cause(cid, text, behind, f"{sent}, yet the safe head trails by {safe_lag_s:.0f} s")


# --- the sequencer ---------------------------------------------------------------------------

_CONDUCTOR = ("conductor_held", "sequencer HA conductor paused or leadership not on one member")


def _conductor(ctx: Context) -> list[Cause]:
    """Where `conductors` are configured: is failover disabled (a member paused or stopped), or
    is leadership elsewhere than one agreed member (none, two, or members naming different
    leaders)? Either explains why a halted sequencer was not replaced. One batch per conductor."""
    endpoints = ctx.network.conductors
    if not endpoints:
        return []
    # Concurrently: this runs before a halted sequencer's page leaves the fast lane, so dead
    # conductors may cost one RPC timeout, never one per member.
    with ThreadPoolExecutor(max_workers=len(endpoints)) as pool:
        members = list(pool.map(lambda e: read_member(ctx, e), endpoints))
    cid, text = _CONDUCTOR
    answered = [m for m in members if m.error is None]
    if len(answered) < len(members) // 2 + 1:
        return [Cause(cid, text, None, f"{len(answered)} of {len(members)} conductors answered")]
    held = [f"{m.name} {'paused' if m.paused else 'stopped'}" for m in answered if m.paused or m.stopped]
    leaders = [m.name for m in answered if m.leader]
    named = sorted({m.leader_id for m in answered if m.leader_id})
    if held:
        return [Cause(cid, text, True, ", ".join(held) + ": failover disabled")]
    if len(leaders) != 1 or len(named) > 1:
        return [Cause(cid, text, True, f"leaders {', '.join(leaders) or 'none'}; members name "
                      f"{', '.join(named) or 'no leader'}")]
    return [Cause(cid, text, False, f"{leaders[0]} leads {len(answered)}/{len(members)} answering conductors, "
                  "none paused or stopped")]


def _sync_status(ctx: Context, net: Network) -> tuple[Any, ChainError | None]:
    if net.rollup_rpc is None:
        return None, None
    try:
        return wire.sync_status(ctx.client(net.rollup_rpc).call("optimism_syncStatus"), net.rollup_rpc.name), None
    except ChainError as exc:
        return None, exc


def sequencer(ctx: Context, verdict: Verdict, exec_head: int) -> Verdict:
    """Diagnose a firing sequencer_liveness finding: is op-node up, is it ahead of the execution
    client (engine stuck) or stopped with it, is its L1 origin far behind L1 (drift), and where
    conductors are configured, is the HA cluster paused or its leadership elsewhere."""
    if verdict.status != Status.FIRING:
        return verdict
    net = ctx.network
    with ThreadPoolExecutor(max_workers=1) as pool:  # the conductors while op-node is read
        pending = pool.submit(_conductor, ctx)
        status, failure = _sync_status(ctx, net)
        conductor = pending.result()
    if net.rollup_rpc is None:
        return attach(verdict, [Cause("opnode_down", "op-node down", None, "no rollup_rpc configured"),
                                *conductor])
    if failure is not None:
        return attach(verdict, [
            Cause("opnode_down", "op-node down", True,
                  f"op-node did not answer: {type(failure).__name__}: {failure}"),
            Cause("engine_stuck", "execution client not following op-node (engine stuck)", None,
                  "op-node did not answer"),
            Cause("sequencer_drift", "sequencer's L1 origin far behind L1 (drift)", None, "op-node did not answer"),
            *conductor])
    unsafe = status.unsafe_l2
    causes = [Cause("opnode_down", "op-node down", False, f"op-node answers, unsafe head #{unsafe.number}")]
    engine_stuck = unsafe.number > exec_head + 1
    causes.append(Cause("engine_stuck", "execution client not following op-node (engine stuck)", engine_stuck,
                        f"op-node unsafe #{unsafe.number}, execution head #{exec_head}"))
    causes.append(Cause("sequencing_stopped", "op-node is not sequencing (its unsafe head stopped too)",
                        not engine_stuck, f"op-node unsafe #{unsafe.number}, execution head #{exec_head}"))
    drift = status.head_l1_number - unsafe.l1origin_number
    causes.append(Cause("sequencer_drift", "sequencer's L1 origin far behind L1 (drift)",
                        drift > MAX_SEQUENCER_DRIFT_L1_BLOCKS,
                        f"L1 origin #{unsafe.l1origin_number}, L1 head #{status.head_l1_number}: {drift} blocks "
                        f"(limit {MAX_SEQUENCER_DRIFT_L1_BLOCKS})"))
    # Ordered most likely first: drift forces deposit-only blocks (rare), an engine stuck
    # behind a live op-node, a conductor that holds failover back (why the stop lasts), else
    # op-node itself stopped.
    causes = [causes[0], causes[3], causes[1], *conductor, causes[2]]
    return attach(verdict, causes)


# --- the proposer ----------------------------------------------------------------------------

def proposer(ctx: Context, verdict: Verdict, proposed_l2_block: int | None) -> Verdict:
    """Diagnose a firing proposer_freshness finding: wallet, stuck transactions, and whether the
    L2 block it should propose next is safe yet (then it waits on the batcher)."""
    if verdict.status != Status.FIRING:
        return verdict
    net = ctx.network
    causes: list[Cause] = []
    remember = None
    if net.proposer:
        profile = net.wallets.get("proposer") or WalletProfile(1.0, 500_000, 0, 10**9)
        address = net.proposer
        try:
            l1 = ctx.l1()
            head = l1.head().number
            state = l1.read(lambda node: read_wallet(node, address, head, blobs=False))
            wallet, remember = wallet_causes("proposer", profile, state, ctx.memory, ctx.now(), "one proposal")
            causes += wallet
        except ChainError as exc:
            causes += _unknown((("wallet_cannot_pay", "proposer wallet cannot pay for one proposal"),
                                ("txs_stuck", "proposer transactions stuck in the mempool")),
                               f"L1 did not answer: {type(exc).__name__}")
    else:
        causes.append(Cause("wallet_cannot_pay", "proposer wallet cannot pay for one proposal", None,
                            "no proposer address configured"))
    causes.append(_not_safe_yet(ctx, net, proposed_l2_block))
    return attach(verdict, causes, remember=remember)


def _not_safe_yet(ctx: Context, net: Network, proposed: int | None) -> Cause:
    cid, text = "next_block_not_safe", "the L2 block to propose is not safe yet (waiting on the batcher)"
    if net.rollup_rpc is None:
        return Cause(cid, text, None, "no rollup_rpc to read the safe head")
    try:
        next_block = None
        if net.l2_output_oracle:
            oracle = net.l2_output_oracle
            (raw,) = ctx.l1().read(lambda node: node.eth_calls([(oracle, NEXT_BLOCK_NUMBER)]))
            if not isinstance(raw, RpcError) and raw:
                (next_block,) = abi.words(raw, 1, "nextBlockNumber", oracle)
        status = wire.sync_status(ctx.client(net.rollup_rpc).call("optimism_syncStatus"), net.rollup_rpc.name)
    except ChainError as exc:
        return Cause(cid, text, None, f"not read: {type(exc).__name__}")
    safe = status.safe_l2.number
    if next_block is None:
        if proposed is None:
            return Cause(cid, text, None, f"safe head #{safe}; the last proposed L2 block is unknown")
        return Cause(cid, text, safe <= proposed,
                     f"safe head #{safe}, last proposed L2 block #{proposed}")
    return Cause(cid, text, next_block > safe, f"next output is for L2 block #{next_block}, safe head #{safe}")


NEXT_BLOCK_NUMBER = bytes.fromhex("dcec3348")  # L2OutputOracle.nextBlockNumber() -> uint256
