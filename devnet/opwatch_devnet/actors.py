"""Background actors: the batcher, the proposer and the RPC-node follower.

- `Batcher` stands in for op-batcher: it posts what the sequencer has produced to the L1 batch
  inbox (calldata by default, blobs on request) from the batcher key.
- `Proposer` stands in for op-proposer: it posts real output roots to `L2OutputOracle`
  (fault-proof chains: `dispute.GameProposer`).
- `Withdrawer` is an L2 user whose withdrawals move the message passer's storage root.
- `Follower` stands in for an op-geth replica's sync: it keeps a forked anvil at the sequencer's
  head minus a chosen lag with `anvil_reset`, so the replica serves the sequencer's own blocks.

Actors talk to the nodes directly, never through the fault proxies: a proxy fault changes what
the watchdog sees, not what the chain does.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opwatch_devnet import batches, contracts
from opwatch_devnet.jsonrpc import RpcClient, RpcError

if TYPE_CHECKING:
    from opwatch.chain.output_root import OutputRoot

    from opwatch_devnet.mempool import PoolView

log = logging.getLogger("opwatch_devnet")

MESSAGE_PASSER = "0x4200000000000000000000000000000000000016"


class Actor:
    """A daemon thread running `step()` every `interval` seconds; `pause()`/`resume()` toggle it."""

    name = "actor"

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.active = True
        self.last_error: str | None = None
        self.steps = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def pause(self) -> None:
        self.active = False

    def resume(self) -> None:
        self.active = True

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if not self.active:
                continue
            try:
                self.step()
                self.last_error = None
            except (OSError, RpcError, RuntimeError, TimeoutError, ValueError) as err:
                # Actors keep going through faults, like the real daemons retry.
                self.last_error = f"{type(err).__name__}: {err}"
                log.debug("%s step failed: %s", self.name, err)
            self.steps += 1

    def step(self) -> None:
        raise NotImplementedError


@dataclass
class Submission:
    tx_hash: str
    l2_number: int
    sent_at: float
    blob: bool


class Batcher(Actor):
    name = "batcher"
    MAX_QUEUED = 3

    def __init__(self, l1: contracts.Sender, l2: RpcClient, inbox: str, interval: float = 2.0,
                 use_blobs: bool = False) -> None:
        super().__init__(interval)
        self.l1 = l1
        self.l2 = l2
        self.inbox = inbox
        self.use_blobs = use_blobs
        self.submissions: list[Submission] = []
        self.submitted_total = 0  # every send, for op-batcher's batcher_tx_total{stage="submitted"}
        self._last_nonce = -1
        self._bump = 1.0
        self._lock = threading.Lock()
        # Fault stuck-batcher-tx: the nonce of the transaction priced under the base fee, the
        # next nonce to queue behind it, and the pool view that keeps both counted as pending.
        self.stuck_nonce: int | None = None
        self._next_nonce = 0
        self._pool: PoolView | None = None

    def step(self) -> None:
        if self.stuck_nonce is not None:
            self._queue_behind()
            return
        self.submit(blob=self.use_blobs)

    # -- fault stuck-batcher-tx -------------------------------------------------------------------

    def _batch_now(self) -> bytes:
        head = self.l2.block("latest")
        if head is None:
            raise RpcError("sequencer returned no head")
        return batches.encode_batch(batches.BatchRef(int(head["number"], 16), head["hash"]))

    def stick(self, pool: PoolView) -> int:
        """Sends a batch whose max fee is below the L1 base fee at the next free nonce (geth keeps
        it pending, anvil refuses it: `pool` counts it), and from then on queues each batch behind
        it at the following nonces, at most MAX_QUEUED of them (op-batcher's limit on transactions
        in flight). Returns the stuck nonce."""
        from eth_account import Account

        with self._lock:
            nonce = self.l1.nonce("pending")  # past anything of ours anvil still holds
            block = self.l1.client.block("latest")
            assert block is not None
            base = int(block["baseFeePerGas"], 16)
            tx = {"type": 2, "chainId": self.l1.chain_id, "nonce": nonce, "to": contracts._checksum(self.inbox),
                  "value": 0, "data": self._batch_now(), "gas": 30_000, "maxFeePerGas": max(1, base // 2),
                  "maxPriorityFeePerGas": 1}
            raw = "0x" + bytes(Account.sign_transaction(tx, self.l1.role.key).raw_transaction).hex()
            try:
                self.l1.client.call("eth_sendRawTransaction", raw)
            except RpcError as err:
                if "base fee" not in str(err):  # anvil's refusal is the point; anything else is not
                    raise
            pool.keep(self.l1.role.address, nonce)
            self._pool, self.stuck_nonce, self._next_nonce = pool, nonce, nonce + 1
            return nonce

    def _queue_behind(self) -> None:
        with self._lock:
            if self.stuck_nonce is None or self._pool is None:
                return
            if self._next_nonce - self.stuck_nonce > self.MAX_QUEUED:
                return
            # Priced to land; anvil queues it behind the nonce gap, geth's pool behind the stuck one.
            self.l1.send(self.inbox, self._batch_now(), gas=30_000, nonce=self._next_nonce)
            self._pool.keep(self.l1.role.address, self._next_nonce)
            self._next_nonce += 1
            self.submitted_total += 1

    def unstick(self, timeout: float = 30.0) -> None:
        """The operator's fix: the stuck nonce replaced with fees over the base fee; the queued
        batches behind it land with it. Waits until they have (or `timeout`)."""
        with self._lock:
            nonce, pool, last = self.stuck_nonce, self._pool, self._next_nonce
            if nonce is None or pool is None:
                return
            self.l1.send(self.inbox, self._batch_now(), gas=30_000, nonce=nonce)
            self.submitted_total += 1
            deadline = time.monotonic() + timeout
            while self.l1.nonce("latest") < last and time.monotonic() < deadline:
                time.sleep(0.2)
            pool.forget(self.l1.role.address)
            self.stuck_nonce, self._pool = None, None

    def submit(self, blob: bool = False) -> Submission:
        """Posts one batch covering the current L2 head. A still-pending batch at the same nonce
        is replaced with higher fees (as op-batcher's txmgr does)."""
        with self._lock:
            head = self.l2.block("latest")
            if head is None:
                raise RpcError("sequencer returned no head")
            ref = batches.BatchRef(int(head["number"], 16), head["hash"])
            nonce = self.l1.nonce("latest")
            self._bump = self._bump * 1.3 if nonce == self._last_nonce else 1.0
            self._last_nonce = nonce
            payload = batches.encode_batch(ref)
            if blob:
                tx_hash = self._send_blob(payload, nonce)
            else:
                tx_hash = self.l1.send(self.inbox, payload, gas=30_000, nonce=nonce, bump=self._bump)
            submission = Submission(tx_hash, ref.l2_number, time.time(), blob)
            self.submissions = [*self.submissions[-49:], submission]
            self.submitted_total += 1
            return submission

    def send_blob_batch(self, timeout: float = 20.0) -> tuple[Submission, dict[str, Any]]:
        """Posts ONE blob batch now and waits for it to land; returns (submission, receipt).

        The loop is held meanwhile and nothing of ours may be pending: a blob transaction cannot
        replace a calldata one at the same nonce (nor the other way round) in the tx pool.
        """
        was_active, self.active = self.active, False
        try:
            with self._lock:
                pass  # a loop step in flight has finished
            deadline = time.monotonic() + timeout
            while self.l1.nonce("pending") != self.l1.nonce("latest"):
                if time.monotonic() > deadline:
                    raise TimeoutError("a batcher transaction stayed pending")
                time.sleep(0.1)
            # Signing a blob (KZG commitment and proof) is CPU work that takes seconds on a busy
            # machine: the timeout measures how long the transaction takes to land, not that.
            submission = self.submit(blob=True)
            return submission, self.l1.wait(submission.tx_hash, timeout=timeout)
        finally:
            self.active = was_active

    def _send_blob(self, payload: bytes, nonce: int) -> str:
        from eth_account import Account

        sidecar = batches.blob_sidecar(payload)
        max_fee, tip = self.l1.fees(self._bump)
        blob_base = int(self.l1.client.call("eth_blobBaseFee"), 16)
        tx: dict[str, Any] = {
            "type": 3, "chainId": self.l1.chain_id, "nonce": nonce, "to": contracts._checksum(self.inbox),
            "value": 0, "data": b"", "gas": 30_000, "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip,
            "maxFeePerBlobGas": int((2 * blob_base + 1) * self._bump) + 1,
            "blobVersionedHashes": [sidecar.versioned_hash],
        }
        signed = Account.sign_transaction(tx, self.l1.role.key)
        raw = batches.wrap_blob_tx(bytes(signed.raw_transaction), sidecar)
        # anvil checks the blob's KZG proof before it answers: CPU work that takes seconds on a
        # busy machine, so this one call waits for the node, not for the client's usual 5 s.
        return str(self.l1.client.call("eth_sendRawTransaction", "0x" + raw.hex(), timeout=120))


def output_root(l2: RpcClient, number: int) -> OutputRoot:
    """The true output root of L2 block `number`, from the node behind `l2`.

    The one computation opwatch's `output_root` and `dispute_games` checks use
    (`opwatch.chain.output_root.compute_output_root`), so the devnet's proposers post exactly
    what the checks recompute. Its chain errors become this package's `RpcError`, which actors
    and the op-node stand-in already treat as "the node could not answer".
    """
    from opwatch.chain.errors import ChainError
    from opwatch.chain.output_root import compute_output_root
    from opwatch.chain.rpc import RpcClient as CoreRpcClient
    from opwatch.config import Endpoint

    client = CoreRpcClient(Endpoint(url=l2.url, name="devnet-l2"), timeout=l2.timeout, retries=0)
    try:
        return compute_output_root(client, number)
    except ChainError as err:
        raise RpcError(f"output root of L2 block {number}: {err}") from err


def wrong_root(true_root: str) -> bytes:
    """A root that is certainly not `true_root` (its keccak): what the bad-output fault posts."""
    from eth_utils import keccak

    return bytes(keccak(bytes.fromhex(true_root[2:])))


def install_message_passer(l2: RpcClient, timeout: float = 30.0) -> int:
    """Puts the L2ToL1MessagePasser predeploy's runtime code (from the contracts-bedrock
    artifact; it has no immutables) at its address, as an OP Stack genesis does, and returns
    the first block mined after it. anvil_setCode changes the state under blocks already mined
    without changing their headers, so only later blocks have output roots that check out."""
    before = l2.block_number()
    l2.call("anvil_setCode", MESSAGE_PASSER, contracts.artifact_runtime("L2ToL1MessagePasser"))
    deadline = time.monotonic() + timeout
    while (head := l2.block_number()) <= before:
        if time.monotonic() > deadline:
            raise TimeoutError(f"L2 mined no block within {timeout}s of installing the message passer")
        time.sleep(0.1)
    return head


class Withdrawer(Actor):
    """An L2 user who withdraws now and then (`initiateWithdrawal` on the message passer), so
    the message passer's storage root, and with it the output root, moves as on a real chain."""

    name = "withdrawer"

    def __init__(self, l2: contracts.Sender, interval: float = 3.0) -> None:
        super().__init__(interval)
        self.l2 = l2
        self.sent = 0

    def step(self) -> None:
        data = contracts.encode_call("L2ToL1MessagePasser", "initiateWithdrawal",
                                     [self.l2.role.address, 100_000, b""])
        tx_hash = self.l2.send(MESSAGE_PASSER, data, gas=200_000, value=10**12)
        self.l2.wait(tx_hash, timeout=max(10.0, 5 * self.interval))
        self.sent += 1


class Proposer(Actor):
    name = "proposer"

    def __init__(self, l1: contracts.Sender, l2: RpcClient, oracle: str, interval: float = 1.0) -> None:
        super().__init__(interval)
        self.l1 = l1
        self.l2 = l2
        self.oracle = oracle
        self.proposed: list[tuple[int, str]] = []  # (l2 block number, tx hash)
        self.corrupt_next = False  # fault bad-output: the next output's root is wrong
        self.bad: list[tuple[int, str]] = []  # (l2 block number, tx hash) of wrong outputs posted
        self._lock = threading.Lock()  # a step and a deletion never interleave

    def _oracle(self, fn: str, *args: Any) -> Any:
        return contracts.call(self.l1.client, "L2OutputOracle", self.oracle, fn, list(args))[0]

    def step(self) -> None:
        with self._lock:
            self._propose()

    def delete_wrong_outputs(self, challenger: contracts.Sender) -> int | None:
        """What an operator does about a wrong output on an L2OutputOracle chain: the oracle's
        CHALLENGER calls `deleteL2Outputs(index)` on the first wrong one, which deletes it and
        every output after it; the proposer then proposes from that block again (the oracle's
        `nextBlockNumber` went back). A later correct output alone would not do: the wrong one
        could still prove withdrawals. Returns the index deleted from, None when no wrong output
        is in the oracle. The oracle refuses once the output is finalized (older than its
        finalization period): then it raises."""
        with self._lock:  # no proposal in flight while the outputs are rewritten
            try:
                latest = int(self._oracle("latestOutputIndex"))
            except RpcError:
                return None  # reverts while the oracle is empty
            first_wrong = None
            for block in sorted({b for b, _ in self.bad}):
                try:
                    index = int(self._oracle("getL2OutputIndexAfter", block))
                    root, _timestamp, l2_block = self._oracle("getL2Output", index)
                except RpcError:
                    continue  # beyond the latest output: deleted already, not proposed again yet
                if index <= latest and int(l2_block) == block \
                        and "0x" + bytes(root).hex() != output_root(self.l2, block).root:
                    first_wrong = index
                    break
            if first_wrong is None:
                return None
            data = contracts.encode_call("L2OutputOracle", "deleteL2Outputs", [first_wrong])
            if not contracts.would_succeed(challenger, self.oracle, data):
                raise RuntimeError(f"the oracle refuses to delete output {first_wrong} (finalized already, or "
                                   f"{challenger.role.address} is not its CHALLENGER)")
            challenger.wait(challenger.send(self.oracle, data, gas=300_000),
                            timeout=max(10.0, 5 * self.interval))
            return first_wrong

    def _propose(self) -> None:
        next_number = int(self._oracle("nextBlockNumber"))
        if self.l2.block_number() < next_number:
            return
        # The oracle refuses outputs whose computed L2 time is not strictly in the L1 past.
        l1_head = self.l1.client.block("latest")
        assert l1_head is not None
        if int(self._oracle("computeL2Timestamp", next_number)) >= int(l1_head["timestamp"], 16):
            return
        corrupt = self.corrupt_next
        root = output_root(self.l2, next_number).root
        claim = wrong_root(root) if corrupt else bytes.fromhex(root[2:])
        data = contracts.encode_call("L2OutputOracle", "proposeL2Output", [claim, next_number, b"\0" * 32, 0])
        tx_hash = self.l1.send(self.oracle, data, gas=300_000, nonce=self.l1.nonce("latest"))
        self.l1.wait(tx_hash, timeout=max(10.0, 5 * self.interval))
        self.proposed.append((next_number, tx_hash))
        if corrupt:
            self.corrupt_next = False
            self.bad.append((next_number, tx_hash))


class Follower(Actor):
    """Keeps a forked anvil (`node`) at `sequencer head - lag`."""

    def __init__(self, name: str, node: RpcClient, sequencer: RpcClient, sequencer_url: str,
                 poll: float, lag: int = 0) -> None:
        super().__init__(poll)
        self.name = name
        self.node = node
        self.sequencer = sequencer
        self.sequencer_url = sequencer_url
        self.lag = lag
        self.position = -1

    def step(self) -> None:
        target = max(0, self.sequencer.block_number() - self.lag)
        if target != self.position:
            self.node.call("anvil_reset", {"forking": {"jsonRpcUrl": self.sequencer_url, "blockNumber": target}})
            self.position = target
