"""Top-up: pay a batcher or proposer wallet back up to its target balance from the funder.

Triggered by a firing `wallet_runway` finding (only where the policy allows unattended
top-ups) or by a person (`opwatch remediate topup`). It refuses, and says why, unless all of:

1. the trigger is a `firing` finding of this network or an approved request: an `unknown`
   finding means the watchdog could not tell, and never moves money;
2. the recipient is one of the network's configured wallets (`recipients`) and, for the
   batcher on a network with `system_config`, still the batcher SystemConfig names on L1
   (a key rotated on chain is never funded from a stale config);
3. the L1 endpoint serves the configured L1 chain id;
4. no other top-up is sending from this funder right now (lease: one nonce sequence), and
   no top-up from this funder is still in flight (below): while one is, no new payment is
   planned at all;
5. the funder has no pending transaction opwatch did not record (its `pending` nonce equals
   its `latest`): a payment made by hand, or recorded in a store that was lost, may be the
   very top-up this one would repeat;
6. re-read NOW, the recipient is still more than 10 % below the target (else: skipped,
   already funded: a top-up per round of the dust a busy batcher spends would burn fees);
7. the amount (target − balance) is within `max_per_tx_eth`;
8. base fee + tip is within `max_gas_price_gwei`, and the funder can pay amount + gas;
9. this request id was not handled before (claim: duplicate deliveries and retries pay once);
10. the rolling 24 h spend plus this amount stays within `max_per_day_eth` (compare-and-set).

In flight. A sent top-up holds its funder's nonce (`topup-inflight#<network>#<funder>` in the
claims, taken insert-if-absent before broadcast, with the signed transactions) until it is
mined, or until that nonce is used by another transaction. A later top-up of the network
first settles it: mined → recorded, and planning reads the balance that includes it; still
pending and able to pay today's base fee → rebroadcast (a pool may have dropped it), nothing
new; unable to pay → replaced AT THE SAME NONCE with both fees raised by 12.5 % (geth and
most clients want 10 %) and never above the ceiling. Two transactions at one nonce can never
both be mined, so a fee spike turns into one late payment, not one payment per finding.

The transaction is EIP-1559 (type 2), nonce from the funder's `latest` count, max fee capped
at the ceiling; its hash is stored before broadcast, so a retry after a crash finds the
transaction instead of paying again. Anything that fails between the claim and the broadcast
(a signer or KMS error, a store error, a garbled answer) releases the claim and the
reservation, so the same request may act again. `dry_run` stops after step 8 and reports
exactly the transaction it would send.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..chain.errors import BadResponse, ChainError, RpcError
from ..chain.rpc import RpcClient
from ..chain.wire import quantity
from ..config import Network, validate_address
from .audit import AuditLog
from .policy import NetworkRemedies, TopupPolicy
from .request import RemedyRequest, refuses_finding
from .signer import Signer, SignerError
from .store import RemedyStore

DAY_S = 86400.0
TRANSFER_GAS = 21_000
# A replacement must raise both fees by 10 % on geth (`PriceBump`); 12.5 % leaves room for
# clients that round differently, and is still small steps towards the ceiling.
BUMP_NUM, BUMP_DEN = 9, 8


@dataclass(frozen=True, slots=True)
class TopupPlan:
    network: str
    role: str
    recipient: str
    funder: str
    balance_wei: int
    target_wei: int
    amount_wei: int
    base_fee_wei: int
    max_fee_wei: int
    priority_fee_wei: int
    nonce: int
    gas: int = TRANSFER_GAS


@dataclass(frozen=True, slots=True)
class TopupOutcome:
    # sent | skipped | refused | dry-run | duplicate | pending | failed
    status: str
    reason: str
    plan: TopupPlan | None = None
    tx_hash: str | None = None
    block: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason, "tx_hash": self.tx_hash, "block": self.block,
                "plan": asdict(self.plan) if self.plan else None}


class Topup:
    def __init__(self, network: Network, policy: NetworkRemedies, store: RemedyStore, signer: Signer,
                 l1: Sequence[RpcClient], audit: AuditLog | None = None, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep, owner: str = "opwatch") -> None:
        self.network = network
        self.policy = policy
        self.store = store
        self.signer = signer
        self.l1 = list(l1)
        self.audit = audit or AuditLog(store, clock)
        self.clock = clock
        self.sleep = sleep
        self.owner = owner

    # -- the remedy -----------------------------------------------------------------------------

    def run(self, request: RemedyRequest) -> TopupOutcome:
        outcome = self._run(request)
        self.audit.record(request, "result", outcome.status, reason=outcome.reason, tx_hash=outcome.tx_hash,
                          amount_wei=str(outcome.plan.amount_wei) if outcome.plan else None)
        return outcome

    def _run(self, request: RemedyRequest) -> TopupOutcome:
        topup = self.policy.topup
        why = self._refusal(request, topup)
        if why:
            return TopupOutcome("refused", why)
        assert topup is not None and request.target is not None
        earlier = self.store.lookup(request.request_id)
        if earlier is not None:  # checked before any balance: a retry must not re-decide
            return self._duplicate(earlier, None)
        if request.dry_run:
            return self._dry_run(request, topup)
        lease = f"funder:{self.network.name}:{topup.funder.lower()}"
        if not self.store.acquire_lease(lease, request.request_id, topup.receipt_timeout_s + 60, self.clock()):
            return TopupOutcome("refused", "another top-up is sending from this funder now; retry later")
        try:
            try:
                settled = self._settle(request, topup)
                if settled is not None:
                    return settled
                plan_or_outcome = self._plan(request, topup)
            except ChainError as exc:
                return TopupOutcome("refused", f"cannot read L1, so cannot decide: {exc}")
            if isinstance(plan_or_outcome, TopupOutcome):
                return plan_or_outcome
            return self._execute(request, topup, plan_or_outcome)
        finally:
            self.store.release_lease(lease, request.request_id)

    def _dry_run(self, request: RemedyRequest, topup: TopupPolicy) -> TopupOutcome:
        slot = self.store.lookup(self._slot_key(topup))
        if slot is not None:
            return TopupOutcome("dry-run", f"would send nothing: {_in_flight(slot)} is in flight from the funder")
        try:
            plan = self._plan(request, topup)
        except ChainError as exc:
            return TopupOutcome("refused", f"cannot read L1, so cannot decide: {exc}")
        if isinstance(plan, TopupOutcome):
            return plan
        return TopupOutcome("dry-run", f"would send {_eth(plan.amount_wei)} ETH to {plan.role} {plan.recipient}", plan)

    def _chain_batcher(self, l1: Any) -> str:
        """SystemConfig.batcherHash(): the batcher address, left-padded to 32 bytes."""
        from ..chain.abi import BATCHER_HASH

        answer = l1.call("eth_call", {"to": self.network.system_config, "data": "0x" + BATCHER_HASH.hex()}, "latest")
        word = str(answer)[2:] if isinstance(answer, str) and answer.startswith("0x") else ""
        if len(word) != 64 or any(c not in "0123456789abcdefABCDEF" for c in word) or int(word[:24] or "0", 16):
            raise BadResponse(str(self.network.system_config), f"batcherHash() answered {str(answer)[:80]!r}, "
                                                               "not an address word (is this SystemConfig?)")
        return validate_address("0x" + word[24:].lower())

    def _refusal(self, request: RemedyRequest, topup: TopupPolicy | None) -> str | None:
        if request.network != self.network.name:
            return "the request is for another network"
        why = refuses_finding(request)
        if why:
            return why
        if topup is None:
            return f"no [remediation.networks.{self.network.name}.topup] policy"
        if not request.dry_run and not request.approved and not self.policy.may_run_unattended("topup"):
            return "unattended top-up is off for this network (approval = manual or topup.auto = false)"
        if request.target not in topup.recipients:
            return f"{request.target!r} is not a configured recipient ({', '.join(topup.recipients)})"
        return None

    def _plan(self, request: RemedyRequest, topup: TopupPolicy) -> TopupPlan | TopupOutcome:
        l1 = self._l1()
        recipient = topup.recipients[str(request.target)]
        if request.target == "batcher" and self.network.system_config:
            chain_batcher = self._chain_batcher(l1)
            self.audit.record(request, "check-batcher", "ok", system_config=self.network.system_config,
                              chain_batcher=chain_batcher, configured=recipient)
            if chain_batcher.lower() != recipient.lower():
                return TopupOutcome("refused", f"SystemConfig names {chain_batcher} as the batcher, not the configured "
                                               f"{recipient} (rotated?): refusing to fund a retired key; update "
                                               f"networks.{self.network.name}.batcher")
        # The funder's own transactions opwatch has no record of (sent by hand, or recorded in a
        # store that was lost) may be this very top-up: never add a payment behind them. Only the
        # pool of the node asked is seen here; the in-flight record is the guard for our own.
        latest_nonce = quantity(l1.call("eth_getTransactionCount", topup.funder, "latest"), "latest nonce", l1.name)
        pending_nonce = quantity(l1.call("eth_getTransactionCount", topup.funder, "pending"), "pending nonce", l1.name)
        if pending_nonce > latest_nonce:
            return TopupOutcome("refused", f"the funder has {pending_nonce - latest_nonce} pending transaction(s) "
                                           f"opwatch did not record (nonces {latest_nonce}..{pending_nonce - 1}): "
                                           "a person checks them before another top-up is sent")
        balance = quantity(l1.call("eth_getBalance", recipient, "latest"), "balance", l1.name)
        base = {"role": str(request.target), "recipient": recipient, "balance_wei": str(balance),
                "target_wei": str(topup.target_balance_wei)}
        self.audit.record(request, "read-balance", "ok", **base)
        # Within 10 % of the target is "funded": a wallet that spent a little since the last
        # top-up is not worth a transaction (and a top-up each round would burn fees on dust).
        if balance >= topup.target_balance_wei * 9 // 10:
            return TopupOutcome("skipped", f"already funded: {_eth(balance)} ETH is within 10 % of the target "
                                           f"{_eth(topup.target_balance_wei)} ETH")
        amount = topup.target_balance_wei - balance
        if amount > topup.max_per_tx_wei:
            return TopupOutcome("refused", f"needs {_eth(amount)} ETH, above the per-transaction cap "
                                           f"{_eth(topup.max_per_tx_wei)} ETH: a person must decide")
        base_fee = self._base_fee(l1)
        tip = topup.priority_fee_wei
        if base_fee + tip > topup.max_gas_price_wei:
            return TopupOutcome("refused", f"gas price {base_fee + tip} wei (base {base_fee} + tip {tip}) is above "
                                           f"the ceiling {topup.max_gas_price_wei} wei")
        # Room for the base fee to double before inclusion, never above the ceiling.
        max_fee = min(2 * base_fee + tip, topup.max_gas_price_wei)
        funder_balance = quantity(l1.call("eth_getBalance", topup.funder, "latest"), "funder balance", l1.name)
        if funder_balance < amount + TRANSFER_GAS * max_fee:
            return TopupOutcome("refused", f"the funder holds {_eth(funder_balance)} ETH, not enough for "
                                           f"{_eth(amount)} ETH plus gas")
        return TopupPlan(network=self.network.name, role=str(request.target), recipient=recipient,
                         funder=topup.funder, balance_wei=balance, target_wei=topup.target_balance_wei,
                         amount_wei=amount, base_fee_wei=base_fee, max_fee_wei=max_fee, priority_fee_wei=tip,
                         nonce=latest_nonce)

    def _execute(self, request: RemedyRequest, topup: TopupPolicy, plan: TopupPlan) -> TopupOutcome:
        rid = request.request_id
        claim = self.store.claim(rid, {"status": "claimed", "plan": _plan_doc(plan)})
        if not claim.won:
            return self._duplicate(claim.record, plan)
        budget = f"topup:{self.network.name}"
        now = self.clock()
        if not self.store.reserve(budget, rid, plan.amount_wei, topup.max_per_day_wei, DAY_S, now):
            spent = self.store.spent(budget, DAY_S, now)
            self.store.forget(rid)
            return TopupOutcome("refused", f"24 h cap: {_eth(spent)} ETH already sent, {_eth(plan.amount_wei)} more "
                                           f"would pass {_eth(topup.max_per_day_wei)} ETH", plan)
        slot_key, holds_slot = self._slot_key(topup), False
        try:
            raw = self._sign(plan, plan.max_fee_wei, plan.priority_fee_wei)
            tx_hash = _tx_hash(raw)
            # The nonce is ours until this transaction (or its replacement) is mined: a later top-up
            # finds it here and settles it instead of paying again.
            slot = {"request_id": rid, "nonce": plan.nonce, "role": plan.role, "recipient": plan.recipient,
                    "amount_wei": str(plan.amount_wei), "txs": [_tx_doc(raw, plan.max_fee_wei, plan.priority_fee_wei)]}
            taken = self.store.claim(slot_key, slot)
            if not taken.won:
                self._undo(budget, rid)
                return TopupOutcome("refused", f"{_in_flight(taken.record)} is in flight from the funder; retry later",
                                    plan)
            holds_slot = True
            # Stored before broadcast: from here on a retry looks for this transaction, never pays again.
            self.store.update(rid, {"status": "sent", "tx_hash": tx_hash, "nonce": plan.nonce,
                                    "plan": _plan_doc(plan)})
            self.audit.record(request, "broadcast", "ok", tx_hash=tx_hash, nonce=plan.nonce, to=plan.recipient,
                              value_wei=str(plan.amount_wei), max_fee_wei=str(plan.max_fee_wei))
        except Exception as exc:  # whatever it was, nothing was broadcast: free the request id and the budget
            if holds_slot:
                self.store.forget(slot_key)
            self._undo(budget, rid)
            return TopupOutcome("failed", f"not sent: {_why(exc)}; nothing was broadcast, the request may be retried",
                                plan)
        try:
            # Sent once: a resend after a lost answer would turn "accepted" into "nonce too low".
            self._l1().call_once("eth_sendRawTransaction", "0x" + raw.hex())
        except RpcError as exc:
            if not _already_known(exc):
                # The node answered that it refused it (insufficient funds, underpriced, nonce too
                # low...): it is in no pool, so holding its nonce would block every later top-up.
                self.store.forget(slot_key)
                self._undo(budget, rid)
                self.audit.record(request, "broadcast", "refused", tx_hash=tx_hash, reason=exc.message[:200])
                return TopupOutcome("failed", f"the node refused the transaction ({exc.message[:200]}); nothing "
                                              "was paid, the request may be retried", plan)
        except ChainError as exc:
            # No answer: it may have reached the pool anyway. The nonce and the reservation stay;
            # the next top-up of this network rebroadcasts or replaces it.
            return TopupOutcome("pending", f"broadcast unconfirmed ({exc}); {tx_hash} holds nonce {plan.nonce} and "
                                           "is rebroadcast or replaced by the next top-up", plan, tx_hash)
        return self._await(topup, plan, tx_hash, topup.receipt_timeout_s)

    # -- in flight ------------------------------------------------------------------------------

    def _slot_key(self, topup: TopupPolicy) -> str:
        # `#` never appears in a request id (request._ID), so no request can claim this key.
        return f"topup-inflight#{self.network.name}#{topup.funder.lower()}"

    def _settle(self, request: RemedyRequest, topup: TopupPolicy) -> TopupOutcome | None:
        """Deal with the funder's top-up in flight, if any. None: nothing is in flight (any more)
        and a new top-up may be planned; else the outcome of this request (nothing new paid)."""
        slot_key = self._slot_key(topup)
        slot = self.store.lookup(slot_key)
        if slot is None:
            return None
        l1 = self._l1()
        for tx in slot["txs"]:
            mined = _mined(l1.call("eth_getTransactionReceipt", tx["hash"]), l1.name)
            if mined is not None:
                self._close(slot_key, slot, tx["hash"], *mined)
                self.audit.record(request, "in-flight", "mined", tx_hash=tx["hash"], nonce=slot["nonce"],
                                  of_request=slot["request_id"])
                return None
        nonce = int(slot["nonce"])
        if quantity(l1.call("eth_getTransactionCount", topup.funder, "latest"), "latest nonce", l1.name) > nonce:
            # None of ours was mined, yet the nonce is used: none of ours can ever be mined now. The
            # reservation stays (the cap counts what may have been paid; a person reads the chain).
            self.store.update(slot["request_id"], {"status": "dropped", "nonce": nonce,
                                                   "tx_hash": slot["txs"][-1]["hash"],
                                                   "reason": "its nonce was used by another transaction"})
            self.store.forget(slot_key)
            self.audit.record(request, "in-flight", "dropped", nonce=nonce, of_request=slot["request_id"])
            return None
        newest = slot["txs"][-1]
        base_fee = self._base_fee(l1)
        old_fee, old_tip = int(newest["max_fee_wei"]), int(newest["priority_fee_wei"])
        what = f"{_in_flight(slot)} (max fee {old_fee} wei)"
        if old_fee >= base_fee + topup.priority_fee_wei:
            # It can pay today's price: it waits for a block. A pool may have dropped it: offer it again.
            try:
                l1.call("eth_sendRawTransaction", newest["raw"])
            except ChainError:
                pass  # "already known" on most nodes
            return TopupOutcome("pending", f"{what} can pay the base fee {base_fee} wei; rebroadcast, nothing new "
                                           "sent", tx_hash=newest["hash"])
        tip = max(_bump(old_tip), topup.priority_fee_wei)
        fee = max(_bump(old_fee), min(2 * base_fee + tip, topup.max_gas_price_wei))
        if fee > topup.max_gas_price_wei or base_fee + tip > topup.max_gas_price_wei:
            return TopupOutcome("pending", f"{what} is stuck below the base fee {base_fee} wei; a replacement would "
                                           f"pass the ceiling {topup.max_gas_price_wei} wei, so nothing new is sent "
                                           "until fees fall", tx_hash=newest["hash"])
        return self._replace(request, topup, slot_key, slot, fee, tip)

    def _replace(self, request: RemedyRequest, topup: TopupPolicy, slot_key: str, slot: dict[str, Any], fee: int,
                 tip: int) -> TopupOutcome:
        """The same payment (nonce, recipient, amount) with higher fees: only one of them can be mined."""
        l1 = self._l1()
        amount = int(slot["amount_wei"])
        funder_balance = quantity(l1.call("eth_getBalance", topup.funder, "latest"), "funder balance", l1.name)
        if funder_balance < amount + TRANSFER_GAS * fee:
            return TopupOutcome("pending", f"{_in_flight(slot)} is stuck and the funder cannot pay a replacement at "
                                           f"{fee} wei", tx_hash=slot["txs"][-1]["hash"])
        plan = TopupPlan(network=self.network.name, role=slot["role"], recipient=slot["recipient"],
                         funder=topup.funder, balance_wei=0, target_wei=topup.target_balance_wei, amount_wei=amount,
                         base_fee_wei=self._base_fee(l1), max_fee_wei=fee, priority_fee_wei=tip,
                         nonce=int(slot["nonce"]))
        try:
            raw = self._sign(plan, fee, tip)
        except Exception as exc:  # nothing broadcast: the old transaction keeps the nonce
            return TopupOutcome("pending", f"{_in_flight(slot)} is stuck; its replacement was not signed: {_why(exc)}",
                                tx_hash=slot["txs"][-1]["hash"])
        tx_hash = _tx_hash(raw)
        slot = slot | {"txs": [*slot["txs"], _tx_doc(raw, fee, tip)]}
        self.store.update(slot_key, slot)  # before broadcast, as the first: every hash that may be mined is known
        self.audit.record(request, "replace", "ok", tx_hash=tx_hash, nonce=plan.nonce, of_request=slot["request_id"],
                          max_fee_wei=str(fee), priority_fee_wei=str(tip))
        try:
            l1.call("eth_sendRawTransaction", "0x" + raw.hex())
        except ChainError as exc:
            return TopupOutcome("pending", f"replacement {tx_hash} at nonce {plan.nonce} unconfirmed ({exc})",
                                tx_hash=tx_hash)
        outcome = self._await(topup, None, tx_hash, topup.receipt_timeout_s)
        return TopupOutcome(outcome.status, f"replaced the stuck top-up of {slot['request_id']} at nonce {plan.nonce} "
                                            f"(max fee {fee} wei): {outcome.reason}", None, tx_hash, outcome.block)

    def _close(self, slot_key: str, slot: dict[str, Any], tx_hash: str, ok: bool, block: int) -> None:
        """The in-flight top-up was mined: its request is done (or reverted), the nonce is free."""
        record = self.store.lookup(slot["request_id"]) or {}
        self.store.update(slot["request_id"], record | {"status": "done" if ok else "reverted", "tx_hash": tx_hash,
                                                        "block": block})
        self.store.forget(slot_key)

    def _await(self, topup: TopupPolicy, plan: TopupPlan | None, tx_hash: str, timeout: float) -> TopupOutcome:
        deadline = time.monotonic() + timeout
        slot_key = self._slot_key(topup)
        while True:
            slot = self.store.lookup(slot_key)
            for candidate in (slot or {}).get("txs", [{"hash": tx_hash}]):
                mined = self._receipt(candidate["hash"])
                if mined is None:
                    continue
                ok, block = mined
                if slot is not None:
                    self._close(slot_key, slot, candidate["hash"], ok, block)
                if not ok:
                    return TopupOutcome("failed", "the transaction reverted", plan, candidate["hash"], block)
                paid: dict[str, Any] = _plan_doc(plan) if plan else (slot or {})
                what = f"{_eth(int(paid.get('amount_wei') or 0))} ETH to {paid.get('role')} {paid.get('recipient')}"
                return TopupOutcome("sent", f"sent {what}", plan, candidate["hash"], block)
            if time.monotonic() > deadline:
                return TopupOutcome("pending", f"no receipt within {timeout:.0f}s; {tx_hash} is still pending and "
                                               "holds the funder's nonce until it is mined or replaced", plan, tx_hash)
            self.sleep(0.25)

    def _duplicate(self, record: dict[str, Any], plan: TopupPlan | None) -> TopupOutcome:
        tx_hash = record.get("tx_hash")
        if record.get("status") == "sent" and tx_hash:
            mined = self._receipt(tx_hash)
            if mined is not None:
                return TopupOutcome("duplicate", f"already handled: {tx_hash} mined", plan, tx_hash, mined[1])
        return TopupOutcome("duplicate", f"already handled ({record.get('status')}); nothing sent again", plan,
                            tx_hash, record.get("block"))

    # -- helpers --------------------------------------------------------------------------------

    def _sign(self, plan: TopupPlan, max_fee: int, tip: int) -> bytes:
        tx = {"type": 2, "chainId": self.network.l1_chain_id, "nonce": plan.nonce, "to": plan.recipient,
              "value": plan.amount_wei, "gas": plan.gas, "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip,
              "data": b""}
        return self.signer.sign_transaction(tx)

    def _undo(self, budget: str, rid: str) -> None:
        self.store.unreserve(budget, rid)
        self.store.forget(rid)

    def _base_fee(self, l1: RpcClient) -> int:
        head = l1.call("eth_getBlockByNumber", "latest", False)
        if not isinstance(head, dict):
            raise BadResponse(l1.name, f"latest block: expected an object, got {type(head).__name__}")
        return quantity(head.get("baseFeePerGas") or "0x0", "baseFeePerGas", l1.name)

    def _receipt(self, tx_hash: str) -> tuple[bool, int] | None:
        """(succeeded, block) once mined; None while pending or unreadable (the caller waits on)."""
        try:
            l1 = self._l1()
            return _mined(l1.call("eth_getTransactionReceipt", tx_hash), l1.name)
        except ChainError:
            return None

    def _l1(self) -> RpcClient:
        """The first L1 endpoint that answers with the configured chain id."""
        errors: list[ChainError] = []
        for client in self.l1:
            try:
                chain_id = quantity(client.call("eth_chainId"), "eth_chainId", client.name)
            except ChainError as exc:
                errors.append(exc)
                continue
            if chain_id == self.network.l1_chain_id:
                return client
            from ..chain.errors import WrongChain

            errors.append(WrongChain(client.name, self.network.l1_chain_id, chain_id))
        from ..chain.errors import NoHealthyEndpoint

        raise NoHealthyEndpoint("l1", errors)


def _mined(receipt: Any, source: str) -> tuple[bool, int] | None:
    if receipt is None:
        return None
    if not isinstance(receipt, dict):
        raise BadResponse(source, f"receipt: expected an object, got {type(receipt).__name__}")
    return receipt.get("status") == "0x1", quantity(receipt.get("blockNumber"), "receipt blockNumber", source)


def _bump(wei: int) -> int:
    return -(-wei * BUMP_NUM // BUMP_DEN)


def _tx_doc(raw: bytes, max_fee: int, tip: int) -> dict[str, str]:
    # The signed transaction is public once broadcast; kept so a later top-up can offer it again.
    return {"hash": _tx_hash(raw), "raw": "0x" + raw.hex(), "max_fee_wei": str(max_fee), "priority_fee_wei": str(tip)}


def _in_flight(slot: dict[str, Any]) -> str:
    txs = slot.get("txs") or [{}]
    return (f"the top-up of {slot.get('request_id')} ({slot.get('role')}, nonce {slot.get('nonce')}, "
            f"{txs[-1].get('hash')})")


def _why(exc: Exception) -> str:
    """A reason fit for a page: our own errors say what happened (they never carry secrets);
    anything else is named by its type only (its text could carry anything)."""
    if isinstance(exc, SignerError | ChainError):
        return str(exc)
    return f"unexpected {type(exc).__name__}"


def _tx_hash(raw: bytes) -> str:
    from eth_utils import keccak

    return "0x" + keccak(raw).hex()


def _eth(wei: int) -> str:
    return f"{wei / 10**18:,.6f}".rstrip("0").rstrip(".")


def _plan_doc(plan: TopupPlan) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, int) else v) for k, v in asdict(plan).items()}


def _already_known(exc: RpcError) -> bool:
    """The node has this transaction already (geth: "already known", older: "known transaction")."""
    return "known" in exc.message.lower()
