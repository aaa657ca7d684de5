"""Top-up: pay a batcher or proposer wallet back up to its target balance from the funder.

Triggered by a firing `wallet_runway` finding (only where the policy allows unattended
top-ups) or by a person (`opwatch remediate topup`). It refuses, and says why, unless all of:

1. the trigger is a `firing` finding of this network or an approved request: an `unknown`
   finding means the watchdog could not tell, and never moves money;
2. the recipient is one of the network's configured wallets (`recipients`) and, for the
   batcher on a network with `system_config`, still the batcher SystemConfig names on L1
   (a key rotated on chain is never funded from a stale config);
3. the L1 endpoint serves the configured L1 chain id;
4. re-read NOW, the recipient is still more than 10 % below the target (else: skipped,
   already funded: a top-up per round of the dust a busy batcher spends would burn fees);
5. the amount (target − balance) is within `max_per_tx_eth`;
6. base fee + tip is within `max_gas_price_gwei`, and the funder can pay amount + gas;
7. this request id was not handled before (claim: duplicate deliveries and retries pay once);
8. the rolling 24 h spend plus this amount stays within `max_per_day_eth` (compare-and-set);
9. no other top-up is sending from this funder right now (lease: one nonce sequence).

The transaction is EIP-1559 (type 2), nonce from the funder's pending count, max fee capped
at the ceiling; its hash is stored before broadcast, so a retry after a crash finds the
transaction instead of paying again. `dry_run` stops after step 6 and reports exactly the
transaction it would send.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..chain.errors import BadResponse, ChainError
from ..chain.rpc import RpcClient
from ..config import Network, validate_address
from .audit import AuditLog
from .policy import NetworkRemedies, TopupPolicy
from .request import RemedyRequest, refuses_finding
from .signer import Signer, SignerError
from .store import RemedyStore

DAY_S = 86400.0
TRANSFER_GAS = 21_000


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
        try:
            plan_or_outcome = self._plan(request, topup)
        except ChainError as exc:
            return TopupOutcome("refused", f"cannot read L1, so cannot decide: {exc}")
        if isinstance(plan_or_outcome, TopupOutcome):
            return plan_or_outcome
        plan = plan_or_outcome
        if request.dry_run:
            return TopupOutcome("dry-run", f"would send {_eth(plan.amount_wei)} ETH to {plan.role} {plan.recipient}",
                                plan)
        return self._execute(request, topup, plan)

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
        balance = int(l1.call("eth_getBalance", recipient, "latest"), 16)
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
        head = l1.call("eth_getBlockByNumber", "latest", False)
        base_fee = int(head.get("baseFeePerGas") or "0x0", 16)
        tip = topup.priority_fee_wei
        if base_fee + tip > topup.max_gas_price_wei:
            return TopupOutcome("refused", f"gas price {base_fee + tip} wei (base {base_fee} + tip {tip}) is above "
                                           f"the ceiling {topup.max_gas_price_wei} wei")
        # Room for the base fee to double before inclusion, never above the ceiling.
        max_fee = min(2 * base_fee + tip, topup.max_gas_price_wei)
        funder_balance = int(l1.call("eth_getBalance", topup.funder, "latest"), 16)
        if funder_balance < amount + TRANSFER_GAS * max_fee:
            return TopupOutcome("refused", f"the funder holds {_eth(funder_balance)} ETH, not enough for "
                                           f"{_eth(amount)} ETH plus gas")
        return TopupPlan(network=self.network.name, role=str(request.target), recipient=recipient,
                         funder=topup.funder, balance_wei=balance, target_wei=topup.target_balance_wei,
                         amount_wei=amount, base_fee_wei=base_fee, max_fee_wei=max_fee, priority_fee_wei=tip)

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
        lease = f"funder:{self.network.name}:{topup.funder.lower()}"
        if not self.store.acquire_lease(lease, rid, topup.receipt_timeout_s + 60, now):
            self._undo(budget, rid)
            return TopupOutcome("refused", "another top-up is sending from this funder now; retry later", plan)
        try:
            return self._send(request, topup, plan, budget)
        finally:
            self.store.release_lease(lease, rid)

    def _send(self, request: RemedyRequest, topup: TopupPolicy, plan: TopupPlan, budget: str) -> TopupOutcome:
        rid = request.request_id
        l1 = self._l1()
        try:
            nonce = int(l1.call("eth_getTransactionCount", plan.funder, "pending"), 16)
            tx = {"type": 2, "chainId": self.network.l1_chain_id, "nonce": nonce, "to": plan.recipient,
                  "value": plan.amount_wei, "gas": plan.gas, "maxFeePerGas": plan.max_fee_wei,
                  "maxPriorityFeePerGas": plan.priority_fee_wei, "data": b""}
            raw = self.signer.sign_transaction(tx)
        except (ChainError, SignerError) as exc:
            self._undo(budget, rid)  # nothing was broadcast: the budget and the request id are free again
            return TopupOutcome("failed", f"not sent: {exc}", plan)
        tx_hash = _tx_hash(raw)
        # Stored before broadcast: from here on a retry looks for this transaction, never pays again.
        self.store.update(rid, {"status": "sent", "tx_hash": tx_hash, "nonce": nonce, "plan": _plan_doc(plan)})
        self.audit.record(request, "broadcast", "ok", tx_hash=tx_hash, nonce=nonce, to=plan.recipient,
                          value_wei=str(plan.amount_wei), max_fee_wei=str(plan.max_fee_wei))
        try:
            l1.call("eth_sendRawTransaction", "0x" + raw.hex())
        except ChainError as exc:
            # It may have reached the pool anyway: keep the reservation, a person checks the hash.
            return TopupOutcome("pending", f"broadcast unconfirmed ({exc}); check {tx_hash} before retrying",
                                plan, tx_hash)
        return self._await(rid, plan, tx_hash, topup.receipt_timeout_s)

    def _await(self, rid: str, plan: TopupPlan, tx_hash: str, timeout: float) -> TopupOutcome:
        deadline = time.monotonic() + timeout
        while True:
            receipt = self._receipt(tx_hash)
            if receipt is not None:
                ok = receipt.get("status") == "0x1"
                block = int(receipt["blockNumber"], 16)
                self.store.update(rid, {"status": "done" if ok else "reverted", "tx_hash": tx_hash, "block": block,
                                        "plan": _plan_doc(plan)})
                if not ok:
                    return TopupOutcome("failed", "the transaction reverted", plan, tx_hash, block)
                return TopupOutcome("sent", f"sent {_eth(plan.amount_wei)} ETH to {plan.role} {plan.recipient}",
                                    plan, tx_hash, block)
            if time.monotonic() > deadline:
                return TopupOutcome("pending", f"no receipt within {timeout:.0f}s; {tx_hash} is still pending",
                                    plan, tx_hash)
            self.sleep(0.25)

    def _duplicate(self, record: dict[str, Any], plan: TopupPlan | None) -> TopupOutcome:
        tx_hash = record.get("tx_hash")
        if record.get("status") == "sent" and tx_hash:
            receipt = self._receipt(tx_hash)
            if receipt is not None:
                return TopupOutcome("duplicate", f"already handled: {tx_hash} mined", plan, tx_hash,
                                    int(receipt["blockNumber"], 16))
        return TopupOutcome("duplicate", f"already handled ({record.get('status')}); nothing sent again", plan,
                            tx_hash, record.get("block"))

    # -- helpers --------------------------------------------------------------------------------

    def _undo(self, budget: str, rid: str) -> None:
        self.store.unreserve(budget, rid)
        self.store.forget(rid)

    def _receipt(self, tx_hash: str) -> dict[str, Any] | None:
        try:
            return self._l1().call("eth_getTransactionReceipt", tx_hash)  # type: ignore[no-any-return]
        except ChainError:
            return None

    def _l1(self) -> RpcClient:
        """The first L1 endpoint that answers with the configured chain id."""
        errors: list[ChainError] = []
        for client in self.l1:
            try:
                chain_id = int(client.call("eth_chainId"), 16)
            except ChainError as exc:
                errors.append(exc)
                continue
            if chain_id == self.network.l1_chain_id:
                return client
            from ..chain.errors import WrongChain

            errors.append(WrongChain(client.name, self.network.l1_chain_id, chain_id))
        from ..chain.errors import NoHealthyEndpoint

        raise NoHealthyEndpoint("l1", errors)


def _tx_hash(raw: bytes) -> str:
    from eth_utils import keccak

    return "0x" + keccak(raw).hex()


def _eth(wei: int) -> str:
    return f"{wei / 10**18:,.6f}".rstrip("0").rstrip(".")


def _plan_doc(plan: TopupPlan) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, int) else v) for k, v in asdict(plan).items()}
