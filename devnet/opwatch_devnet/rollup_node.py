"""op-node stand-in: the rollup RPC (`optimism_*`) and the sequencer admin switch (`admin_*`).

Stands in for op-node. The safe head is derived the way op-node derives it, minus the channel
decoding: an L2 block is safe once a batch covering it has landed on L1 in a transaction from the
batcher to the batch inbox (calldata, or a blob fetched back from L1 by versioned hash), and it
is finalized once that L1 block is at or below L1 `finalized`. L1 origins are approximated as
the newest scanned L1 block not newer than the L2 block's timestamp.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field
from typing import Any

from opwatch_devnet import batches
from opwatch_devnet.actors import Actor, output_root
from opwatch_devnet.jsonrpc import RpcClient
from opwatch_devnet.rpcserver import JsonRpcServer, MethodError

VERSION = "v0.0.0-opwatch-devnet"
_ZERO_ADDRESS = "0x" + "0" * 40
_ZERO_HASH = "0x" + "00" * 32


@dataclass
class SequencerControl:
    """Starts and halts block production on the sequencer anvil (shared by the admin RPC and the
    `halt-sequencer` fault)."""

    l2: RpcClient
    block_time: int
    active: bool = True

    def halt(self) -> str:
        # op-node stops sequencing on its own state, even when its execution client is gone: the
        # stand-in does too (a dead node's error still leaves admin_sequencerActive false).
        self.active = False
        self.l2.call("evm_setAutomine", False)
        self.l2.call("evm_setIntervalMining", 0)
        head = self.l2.block("latest")
        assert head is not None
        return str(head["hash"])

    def resume(self) -> None:
        self.l2.call("evm_setIntervalMining", self.block_time)
        self.active = True


@dataclass
class _L1Ref:
    number: int
    hash: str
    parent_hash: str
    timestamp: int

    def json(self) -> dict[str, Any]:
        return {"hash": self.hash, "number": self.number, "parentHash": self.parent_hash,
                "timestamp": self.timestamp}


@dataclass
class _Landed:
    l1_number: int
    l2_number: int


@dataclass(eq=False)
class BatchScanner(Actor):
    """Scans every new L1 block once for batches (incremental, like op-node's L1 traversal)."""

    l1: RpcClient
    inbox: str
    batcher: str
    poll: float = 0.5
    next_l1: int = 0
    l1_blocks: list[_L1Ref] = field(default_factory=list)
    landed: list[_Landed] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Finality controls (faults halt-finality, rewind-finalized): the L1 block op-node last saw
    # finalized when L1 finality stalled (None: follows L1), and how many L2 blocks its finalized
    # head is served below the truth (an op-node restarted on a rolled-back database).
    l1_finality_halted_at: int | None = None
    finalized_rewind: int = 0

    def __post_init__(self) -> None:
        Actor.__init__(self, self.poll)
        self.name = "batch-scanner"

    def step(self) -> None:
        head = self.l1.block_number()
        while self.next_l1 <= head:
            block = self.l1.block(self.next_l1, full=True)
            if block is None:
                return
            found = [n for tx in block["transactions"] if (n := self._batch_in(tx)) is not None]
            ref = _L1Ref(int(block["number"], 16), block["hash"], block["parentHash"], int(block["timestamp"], 16))
            with self.lock:
                self.l1_blocks = [*self.l1_blocks[-1023:], ref]
                self.landed.extend(_Landed(ref.number, n) for n in found)
                self.next_l1 += 1

    def _batch_in(self, tx: dict[str, Any]) -> int | None:
        if (tx.get("to") or "").lower() != self.inbox.lower() or tx["from"].lower() != self.batcher.lower():
            return None
        if tx.get("blobVersionedHashes"):
            blob = self.l1.call("anvil_getBlobByHash", tx["blobVersionedHashes"][0])
            data = batches.from_blob(bytes.fromhex(blob[2:])) if blob else b""
        else:
            data = bytes.fromhex(tx["input"][2:])
        ref = batches.decode_batch(data)
        return ref.l2_number if ref else None

    def safe_number(self, l1_at_or_below: int | None = None) -> int:
        with self.lock:
            numbers = [b.l2_number for b in self.landed if l1_at_or_below is None or b.l1_number <= l1_at_or_below]
        return max(numbers, default=0)

    def origin_for(self, timestamp: int) -> _L1Ref | None:
        with self.lock:
            blocks = list(self.l1_blocks)
        index = bisect.bisect_right([b.timestamp for b in blocks], timestamp) - 1
        return blocks[index] if index >= 0 else (blocks[0] if blocks else None)


class RollupNode:
    """The op-node stand-in's JSON-RPC surface; run it with `serve()`.

    Replica mode (`sequencer=None`): a non-sequencing op-node over its own execution client
    (`l2`) and its own L1 traversal (`scanner`; a scanner nobody steps is derivation halted at
    its `next_l1`). It serves no `admin_*` methods. `peers` is what `opp2p_peerStats` reports
    as connected gossip peers (op-node's p2p.PeerStats; the stand-in has no libp2p host).
    """

    def __init__(self, l1: RpcClient, l2: RpcClient, scanner: BatchScanner, sequencer: SequencerControl | None,
                 l1_chain_id: int, l2_chain_id: int, block_time: int, peers: int = 5,
                 system_config: str | None = None, optimism_portal: str | None = None,
                 batcher: str | None = None) -> None:
        self.l1 = l1
        # What op-node's rollup config names on L1 (`opwatch init` reads them from it).
        self.system_config = system_config
        self.optimism_portal = optimism_portal
        self.genesis_batcher = batcher
        self.l2 = l2
        self.scanner = scanner
        self.sequencer = sequencer
        self.l1_chain_id = l1_chain_id
        self.l2_chain_id = l2_chain_id
        self.block_time = block_time
        self.peers = peers
        # Fault halt-derivation: (safe L2 number, L1 block) where this node's derivation stopped
        # (its safe head and current_l1 stay there although batches keep landing); None: derives.
        self.derivation_halted_at: tuple[int, int] | None = None
        # Fault replica-diverge: from this L2 height on, the node serves blocks of its own fork
        # (hashes that are not the sequencer's); None: it follows the sequencer's chain.
        self.diverged_from: int | None = None
        self._admin_lock = threading.Lock()

    def serve(self, port: int | None = None) -> JsonRpcServer:
        methods = {
            "optimism_syncStatus": self.sync_status,
            "optimism_rollupConfig": self.rollup_config,
            "optimism_version": lambda: VERSION,
            "optimism_outputAtBlock": self.output_at_block,
            "opp2p_peerStats": self.peer_stats,
        }
        sequencer = self.sequencer
        if sequencer is not None:
            methods |= {
                "admin_sequencerActive": lambda: sequencer.active,
                "admin_stopSequencer": self.stop_sequencer,
                "admin_startSequencer": self.start_sequencer,
            }
        return JsonRpcServer("op-node-standin", methods, port).start()

    def halt_derivation(self) -> None:
        """Stops deriving where it is now (fault halt-derivation): batches keep landing on L1."""
        unsafe = self.l2.block_number()
        self.derivation_halted_at = (min(self.scanner.safe_number(), unsafe), self.scanner.next_l1 - 1)

    def peer_stats(self) -> dict[str, int]:
        # op-node's p2p.PeerStats (op-node/p2p/rpc_server.go): JSON numbers.
        return {"connected": self.peers, "table": self.peers, "blocksTopic": self.peers,
                "blocksTopicV2": self.peers, "blocksTopicV3": self.peers, "banned": 0, "known": self.peers}

    # -- optimism_* -----------------------------------------------------------------------------

    def _l1_ref(self, tag: str | int) -> dict[str, Any]:
        block = self.l1.block(tag)
        if block is None:
            return {"hash": _ZERO_HASH, "number": 0, "parentHash": _ZERO_HASH, "timestamp": 0}
        return _L1Ref(int(block["number"], 16), block["hash"], block["parentHash"],
                      int(block["timestamp"], 16)).json()

    def _l2_ref(self, tag: str | int) -> dict[str, Any]:
        block = self.l2.block(tag)
        if block is None:
            raise MethodError(f"L2 block {tag} not found")
        timestamp = int(block["timestamp"], 16)
        origin = self.scanner.origin_for(timestamp)
        number, block_hash, parent = int(block["number"], 16), str(block["hash"]), str(block["parentHash"])
        fork = self.diverged_from
        if fork is not None and number >= fork:
            block_hash = _forked(block_hash)
            parent = _forked(parent) if number > fork else parent
        return {
            "hash": block_hash, "number": number, "parentHash": parent,
            "timestamp": timestamp,
            "l1origin": {"hash": origin.hash if origin else _ZERO_HASH, "number": origin.number if origin else 0},
            "sequenceNumber": max(0, (timestamp - origin.timestamp) // self.block_time) if origin else 0,
        }

    def sync_status(self) -> dict[str, Any]:
        head_l1 = self._l1_ref("latest")
        finalized_l1 = self._l1_ref("finalized")
        halted = self.scanner.l1_finality_halted_at
        if halted is not None and halted < finalized_l1["number"]:
            finalized_l1 = self._l1_ref(halted)
        unsafe = self._l2_ref("latest")
        safe_number = min(self.scanner.safe_number(), unsafe["number"])
        finalized_number = min(self.scanner.safe_number(finalized_l1["number"]), unsafe["number"])
        scanned = self.scanner.next_l1 - 1
        halted = self.derivation_halted_at
        if halted is not None:  # nothing derived past the halt: safe, finalized and current_l1 stay
            safe_number, finalized_number = min(safe_number, halted[0]), min(finalized_number, halted[0])
            scanned = min(scanned, halted[1])
        safe = self._l2_ref(safe_number)
        finalized = self._l2_ref(max(0, finalized_number - self.scanner.finalized_rewind))
        return {
            "current_l1": self._l1_ref(scanned) if scanned >= 0 else head_l1,
            "current_l1_finalized": finalized_l1,
            "head_l1": head_l1,
            "safe_l1": self._l1_ref("safe"),
            "finalized_l1": finalized_l1,
            "unsafe_l2": unsafe,
            "safe_l2": safe,
            "finalized_l2": finalized,
            "pending_safe_l2": safe,
            "cross_unsafe_l2": unsafe,
            "local_safe_l2": safe,
        }

    def rollup_config(self) -> dict[str, Any]:
        genesis_l1 = self._l1_ref(0)
        genesis_l2 = self.l2.block(0)
        assert genesis_l2 is not None
        return {
            "genesis": {
                "l1": {"hash": genesis_l1["hash"], "number": 0},
                "l2": {"hash": genesis_l2["hash"], "number": 0},
                "l2_time": int(genesis_l2["timestamp"], 16),
                # op-node's genesis SystemConfig values (rollup.Genesis.SystemConfig).
                "system_config": {"batcherAddr": self.genesis_batcher or _ZERO_ADDRESS,
                                  "overhead": _ZERO_HASH, "scalar": _ZERO_HASH, "gasLimit": 30_000_000},
            },
            "block_time": self.block_time,
            "max_sequencer_drift": 600,
            "seq_window_size": 3600,
            "channel_timeout": 300,
            "l1_chain_id": self.l1_chain_id,
            "l2_chain_id": self.l2_chain_id,
            "batch_inbox_address": self.scanner.inbox,
            "deposit_contract_address": self.optimism_portal or _ZERO_ADDRESS,
            "l1_system_config_address": self.system_config or _ZERO_ADDRESS,
        }

    def output_at_block(self, number: str | int) -> dict[str, Any]:
        n = int(number, 16) if isinstance(number, str) else int(number)
        output = output_root(self.l2, n)
        return {"version": _ZERO_HASH, "outputRoot": output.root, "blockRef": self._l2_ref(n),
                "withdrawalStorageRoot": output.message_passer_storage_root, "stateRoot": output.state_root,
                "syncStatus": self.sync_status()}

    # -- admin_* (op-node's sequencer switch) ---------------------------------------------------

    def stop_sequencer(self) -> str:
        assert self.sequencer is not None
        with self._admin_lock:
            if not self.sequencer.active:
                raise MethodError("sequencer not running")
            return self.sequencer.halt()

    def start_sequencer(self, unsafe_head: str) -> None:
        assert self.sequencer is not None
        with self._admin_lock:
            if self.sequencer.active:
                raise MethodError("sequencer already running")
            head = self.l2.block("latest")
            assert head is not None
            if str(head["hash"]).lower() != str(unsafe_head).lower():
                raise MethodError(f"block hash does not match: head {head['hash']} != start {unsafe_head}")
            self.sequencer.resume()


def _forked(block_hash: str) -> str:
    """A hash of the node's own fork standing in for the sequencer's block `block_hash`."""
    from eth_utils import keccak

    return "0x" + keccak(b"opwatch-devnet replica fork" + bytes.fromhex(block_hash[2:])).hex()
