"""Withdrawals proven on L1: the honest `WithdrawalProver` and the forged withdrawal of the
`forged-withdrawal` fault.

A withdrawal starts on L2 (`L2ToL1MessagePasser.initiateWithdrawal`, which stores
`sentMessages[hash] = true` and emits `MessagePassed`) and is proven on L1 with the portal's
real `proveWithdrawalTransaction(tx, proposal index, outputRootProof, withdrawalProof)`:
- the output root proof is (version 0, stateRoot, messagePasserStorageRoot, blockHash) of the
  proposal's L2 block; the portal checks it hashes to the proposal's root;
- the withdrawal proof is the storage proof (`eth_getProof` of the message passer at that
  block) of slot `keccak256(withdrawalHash ‖ uint256(0))` holding 1, checked by the portal's
  SecureMerkleTrie against messagePasserStorageRoot.

The portal trusts the proposal: a root whose message-passer storage root is made up proves any
withdrawal its maker wants. `forge` builds exactly that: a storage trie with one leaf (the forged
withdrawal's slot = 1) under the real block's stateRoot and blockHash.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from opwatch_devnet import contracts, proofs
from opwatch_devnet.actors import MESSAGE_PASSER, Actor
from opwatch_devnet.contracts import Sender, _checksum, encode_call
from opwatch_devnet.jsonrpc import RpcClient, RpcError
from opwatch_devnet.portal import L1System

log = logging.getLogger("opwatch_devnet")

OUTPUT_VERSION_0 = bytes(32)
MESSAGE_PASSED_TOPIC = "0x02a52367d10742d8032712c1bb8e0144ff1ec5ffda1ed7d70bb05a2744955054"
# MessagePassed(uint256,address,address,uint256,uint256,bytes,bytes32): checked against the ABI below.


def _keccak(data: bytes) -> bytes:
    from eth_utils import keccak

    return bytes(keccak(data))


@dataclass(frozen=True)
class Withdrawal:
    """Types.WithdrawalTransaction, plus where it was sent on L2 (None: never sent)."""

    nonce: int
    sender: str
    target: str
    value: int
    gas_limit: int
    data: bytes
    l2_block: int | None = None

    def as_tuple(self) -> tuple[Any, ...]:
        return (self.nonce, _checksum(self.sender), _checksum(self.target), self.value, self.gas_limit, self.data)

    @property
    def hash(self) -> bytes:
        """Hashing.hashWithdrawal: keccak256(abi.encode(nonce, sender, target, value, gasLimit, data))."""
        from eth_abi import encode

        return _keccak(encode(["uint256", "address", "address", "uint256", "uint256", "bytes"],
                              list(self.as_tuple())))

    @property
    def slot(self) -> bytes:
        """The sentMessages slot: the mapping is the message passer's storage slot 0."""
        return _keccak(self.hash + bytes(32))


@dataclass(frozen=True)
class ProofInputs:
    output_root: bytes
    output_root_proof: tuple[bytes, bytes, bytes, bytes]  # version, stateRoot, storage root, blockHash
    withdrawal_proof: list[bytes]


def hash_output_root_proof(proof: tuple[bytes, bytes, bytes, bytes]) -> bytes:
    return _keccak(b"".join(proof))


def prove_inputs(l2: RpcClient, l2_block: int, withdrawal: Withdrawal) -> ProofInputs:
    """The real proof of `withdrawal` at `l2_block`, from the node behind `l2`."""
    block = l2.block(l2_block)
    if block is None:
        raise RpcError(f"L2 block {l2_block} not found")
    answer = l2.call("eth_getProof", MESSAGE_PASSER, ["0x" + withdrawal.slot.hex()], hex(l2_block))
    storage = answer["storageProof"][0]
    if int(storage["value"], 16) != 1:
        raise ValueError(f"withdrawal 0x{withdrawal.hash.hex()} is not in the message passer at block {l2_block}")
    orp = (OUTPUT_VERSION_0, bytes.fromhex(block["stateRoot"][2:]), bytes.fromhex(answer["storageHash"][2:]),
           bytes.fromhex(block["hash"][2:]))
    nodes = [bytes.fromhex(n[2:]) for n in storage["proof"]]
    return ProofInputs(hash_output_root_proof(orp), orp, nodes)


def single_leaf_storage_trie(slot: bytes) -> tuple[bytes, list[bytes]]:
    """(root, proof) of a storage trie holding exactly `slot` = 1.

    A secure trie keys a slot by keccak256(slot); a trie of one key is one leaf node
    rlp([hex-prefix(path, leaf), rlp(value)]): 64 nibbles are even, so the prefix byte is 0x20,
    and rlp(1) is the byte 0x01. The node is longer than 32 bytes, so the root is its hash."""
    import rlp

    leaf = rlp.encode([b"\x20" + _keccak(slot), rlp.encode(1)])
    return _keccak(leaf), [leaf]


def forge(l2: RpcClient, l2_block: int, withdrawal: Withdrawal) -> ProofInputs:
    """A wrong output root for `l2_block` (its real stateRoot and blockHash, a made-up message
    passer storage root) and the proof of `withdrawal` against it."""
    block = l2.block(l2_block)
    if block is None:
        raise RpcError(f"L2 block {l2_block} not found")
    storage_root, nodes = single_leaf_storage_trie(withdrawal.slot)
    orp = (OUTPUT_VERSION_0, bytes.fromhex(block["stateRoot"][2:]), storage_root, bytes.fromhex(block["hash"][2:]))
    return ProofInputs(hash_output_root_proof(orp), orp, nodes)


def forged_withdrawal(attacker: str, serial: int, value: int = 1_000 * 10**18) -> Withdrawal:
    """A withdrawal of `value` to the attacker that nobody sent on L2. Its nonce carries
    version 1 (as the message passer's) and a counter far above anything the devnet's users reach."""
    return Withdrawal(nonce=(1 << 240) | (0xF0F6ED << 64) | serial, sender=attacker, target=attacker,
                      value=value, gas_limit=100_000, data=b"")


def portal_name(system: L1System) -> str:
    return system.implementation_name("optimism_portal")


def prove_call(system: L1System, withdrawal: Withdrawal, index: int, inputs: ProofInputs) -> bytes:
    return encode_call(portal_name(system), "proveWithdrawalTransaction",
                       [withdrawal.as_tuple(), index, inputs.output_root_proof, inputs.withdrawal_proof])


def send_proof(sender: Sender, system: L1System, withdrawal: Withdrawal, index: int, inputs: ProofInputs) -> str:
    """proveWithdrawalTransaction from `sender`; returns the mined L1 transaction's hash. Asks the
    node first (eth_call) so a refusal (paused, wrong root, wrong game type) is a clear error."""
    data = prove_call(system, withdrawal, index, inputs)
    if not contracts.would_succeed(sender, system.optimism_portal, data):
        raise RuntimeError(f"the portal refuses the proof of 0x{withdrawal.hash.hex()} against proposal {index}")
    receipt = sender.wait(sender.send(system.optimism_portal, data, gas=1_500_000))
    return str(receipt["transactionHash"])


def message_passed(l2: RpcClient, first: int, last: int) -> list[Withdrawal]:
    """The withdrawals sent on L2 in blocks [first, last], from the message passer's MessagePassed logs."""
    from eth_abi import decode

    logs = l2.call("eth_getLogs", {"address": MESSAGE_PASSER, "fromBlock": hex(first), "toBlock": hex(last),
                                   "topics": [MESSAGE_PASSED_TOPIC]})
    found = []
    for entry in logs:
        value, gas_limit, data, _hash = decode(["uint256", "uint256", "bytes", "bytes32"],
                                               bytes.fromhex(entry["data"][2:]))
        found.append(Withdrawal(
            nonce=int(entry["topics"][1], 16), sender=_checksum("0x" + entry["topics"][2][-40:]),
            target=_checksum("0x" + entry["topics"][3][-40:]), value=int(value), gas_limit=int(gas_limit),
            data=bytes(data), l2_block=int(entry["blockNumber"], 16)))
    return found


@dataclass(frozen=True)
class ProvenWithdrawal:
    withdrawal_hash: str
    l2_block: int  # where it was sent
    proposal_index: int  # the L2OutputOracle index or the DisputeGameFactory index
    proposal_block: int
    tx_hash: str  # the L1 transaction that proved it
    submitter: str


class WithdrawalProver(Actor):
    """A user proving their withdrawals on L1: every withdrawal sent on L2 is proven, with the
    real proofs, against the first proposal that covers its block and carries the true root
    (oracle chains: an L2OutputOracle output; fault-proof chains: a game of the respected type
    that has not lost). A proof the portal refuses (paused) is retried at the next step."""

    name = "withdrawal-prover"

    def __init__(self, l1: Sender, l2: RpcClient, system: L1System, *, l2_output_oracle: str | None = None,
                 dispute_game_factory: str | None = None, game_type: int | None = None,
                 interval: float = 2.0) -> None:
        super().__init__(interval)
        self.l1 = l1
        self.l2 = l2
        self.system = system
        self.oracle = l2_output_oracle
        self.factory = dispute_game_factory
        self.game_type = game_type
        self.pending: list[Withdrawal] = []
        self.proven: list[ProvenWithdrawal] = []
        self.refused: str | None = None  # the last refusal, for a reader wondering why nothing moves
        self._scanned = -1
        self._games: list[tuple[int, int, str]] = []  # (index, l2 block, address) of the respected type
        self._games_seen = 0
        self._true: dict[int, bool] = {}  # proposal index -> its root is the true one

    def step(self) -> None:
        head = self.l2.block_number()
        if head > self._scanned:
            self.pending.extend(message_passed(self.l2, self._scanned + 1, head))
            self._scanned = head
        for withdrawal in list(self.pending):
            proposal = self._proposal_for(withdrawal)
            if proposal is None:
                continue
            index, proposal_block = proposal
            inputs = prove_inputs(self.l2, proposal_block, withdrawal)
            try:
                tx_hash = send_proof(self.l1, self.system, withdrawal, index, inputs)
            except RuntimeError as err:
                self.refused = str(err)
                return  # paused, or the proposal changed under us: try again next step
            self.refused = None
            self.pending.remove(withdrawal)
            assert withdrawal.l2_block is not None
            self.proven.append(ProvenWithdrawal("0x" + withdrawal.hash.hex(), withdrawal.l2_block, index,
                                                proposal_block, tx_hash, self.l1.role.address))

    # -- which proposal covers a block ------------------------------------------------------------

    def _is_true(self, index: int, l2_block: int, root: bytes) -> bool:
        if index not in self._true:
            block = self.l2.block(l2_block)
            if block is None:
                return False
            answer = self.l2.call("eth_getProof", MESSAGE_PASSER, [], hex(l2_block))
            orp = (OUTPUT_VERSION_0, bytes.fromhex(block["stateRoot"][2:]), bytes.fromhex(answer["storageHash"][2:]),
                   bytes.fromhex(block["hash"][2:]))
            self._true[index] = hash_output_root_proof(orp) == root
        return self._true[index]

    def _proposal_for(self, withdrawal: Withdrawal) -> tuple[int, int] | None:
        assert withdrawal.l2_block is not None
        if self.oracle is not None:
            return self._output_for(withdrawal.l2_block)
        return self._game_for(withdrawal.l2_block)

    def _output_for(self, l2_block: int) -> tuple[int, int] | None:
        assert self.oracle is not None
        client = self.l1.client
        if int(contracts.call(client, "L2OutputOracle", self.oracle, "latestBlockNumber")[0]) < l2_block:
            return None
        try:
            first = int(contracts.call(client, "L2OutputOracle", self.oracle, "getL2OutputIndexAfter", [l2_block])[0])
            last = int(contracts.call(client, "L2OutputOracle", self.oracle, "latestOutputIndex")[0])
        except RpcError:
            return None  # no outputs yet
        for index in range(first, last + 1):
            root, _timestamp, block = contracts.call(client, "L2OutputOracle", self.oracle, "getL2Output", [index])[0]
            if self._is_true(index, int(block), bytes(root)):
                return index, int(block)
        return None

    def _game_for(self, l2_block: int) -> tuple[int, int] | None:
        assert self.factory is not None
        client = self.l1.client
        for index, game_type, _created, address in proofs.games(client, self.factory, self._games_seen):
            if game_type == self.game_type:
                self._games.append((index, int(proofs.game_read(client, address, "l2BlockNumber")), address))
            self._games_seen = index + 1
        for index, block, address in self._games:
            if block < l2_block or block > self.l2.block_number():
                continue
            if proofs.status(client, address) == proofs.CHALLENGER_WINS:
                continue
            if self._is_true(index, block, bytes(proofs.game_read(client, address, "rootClaim"))):
                return index, block
        return None


def wait_until(predicate: Any, timeout: float, what: str, poll: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout}s")
        time.sleep(poll)


# -- the forged-withdrawal attack -----------------------------------------------------------------

@dataclass(frozen=True)
class Forgery:
    withdrawal: Withdrawal
    proposal_index: int  # L2OutputOracle index, or DisputeGameFactory index
    l2_block: int
    inputs: ProofInputs
    game: str | None  # fault-proof chains: the unchallenged game carrying the forged root


def propose_forged_output(proposer: Sender, l2: RpcClient, oracle: str, withdrawal: Withdrawal,
                          timeout: float = 60.0) -> Forgery:
    """Oracle chains: the proposer's key posts, at the oracle's next block, an output whose
    message-passer storage root holds `withdrawal`. Retries while the honest proposer's last
    transaction races it (the caller pauses that actor) or the block is not due yet."""
    client = proposer.client

    def oracle_call(fn: str, *args: Any) -> Any:
        return contracts.call(client, "L2OutputOracle", oracle, fn, list(args))[0]

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        next_block = int(oracle_call("nextBlockNumber"))
        l1_head = client.block("latest")
        assert l1_head is not None
        if l2.block_number() < next_block or \
                int(oracle_call("computeL2Timestamp", next_block)) >= int(l1_head["timestamp"], 16):
            time.sleep(0.3)
            continue
        inputs = forge(l2, next_block, withdrawal)
        data = encode_call("L2OutputOracle", "proposeL2Output", [inputs.output_root, next_block, bytes(32), 0])
        if not contracts.would_succeed(proposer, oracle, data):
            time.sleep(0.3)
            continue
        try:
            proposer.wait(proposer.send(oracle, data, gas=300_000))
        except (RpcError, RuntimeError, TimeoutError) as err:
            log.debug("forged output at %s not posted: %s", next_block, err)
            continue
        index = int(oracle_call("getL2OutputIndexAfter", next_block))
        root = bytes(oracle_call("getL2Output", index)[0])
        if root == inputs.output_root:
            return Forgery(withdrawal, index, next_block, inputs, None)
    raise TimeoutError(f"the forged output was not posted within {timeout}s (is the proposer's key funded?)")


def create_forged_game(attacker: Sender, l2: RpcClient, factory: str, game_type: int,
                       withdrawal: Withdrawal) -> Forgery:
    """Fault-proof chains: anyone may create a game; this one claims, for a recent L2 block, a
    root whose message-passer storage root holds `withdrawal`. The caller keeps the challenger
    away from it (an attacked game that resolves CHALLENGER_WINS refuses proofs)."""
    block = l2.block_number() - 1
    inputs = forge(l2, block, withdrawal)
    game = proofs.create_game(attacker, factory, game_type, inputs.output_root, block)
    count = int(contracts.call(attacker.client, "DisputeGameFactory", factory, "gameCount")[0])
    for index, _type, _created, address in reversed(proofs.games(attacker.client, factory, max(0, count - 20))):
        if address.lower() == game.lower():
            return Forgery(withdrawal, index, block, inputs, _checksum(game))
    raise RuntimeError(f"game {game} not found among the factory's last games")
