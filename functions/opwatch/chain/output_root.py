"""The OP Stack output root of an L2 block, recomputed from an execution client's JSON-RPC.

Output root version 0 (OP Stack specs, "Proposals" / `L2 Output Commitment Construction`;
op-service `eth.OutputV0`):

    keccak256(bytes32(0) ‖ stateRoot ‖ messagePasserStorageRoot ‖ blockHash)

`messagePasserStorageRoot` is the storage root of the L2ToL1MessagePasser predeploy
(0x4200…0016): the `storageHash` of `eth_getProof(0x4200…0016, [], block)`. It commits to
every withdrawal sent up to that block, which is why a wrong root can prove a forged one.

Only standard JSON-RPC is needed (no op-node), so any execution client the proposer does not
run can be the judge. Every answer passes `wire`'s validators; a missing block or a
malformed proof raises a `ChainError` (the check's finding becomes `unknown`), never a
substituted value. Keccak comes from pycryptodome, as in config.py: no web3 on the cold path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import wire
from .errors import BadResponse
from .rpc import Call, RpcClient

MESSAGE_PASSER = "0x4200000000000000000000000000000000000016"
OUTPUT_VERSION_V0 = b"\0" * 32


@dataclass(frozen=True, slots=True)
class OutputRoot:
    root: str  # 0x-prefixed, lower case, 32 bytes
    state_root: str
    message_passer_storage_root: str
    block_hash: str
    block_number: int


def _keccak(data: bytes) -> bytes:
    from Crypto.Hash import keccak  # lazy: only the checks that recompute roots pay for it

    return keccak.new(digest_bits=256, data=data).digest()


def output_root_v0(state_root: str, message_passer_storage_root: str, block_hash: str) -> str:
    """The version-0 commitment of three validated 32-byte hex values."""
    parts = [bytes.fromhex(h[2:]) for h in (state_root, message_passer_storage_root, block_hash)]
    return "0x" + _keccak(OUTPUT_VERSION_V0 + b"".join(parts)).hex()


def _from_answers(number: int, raw_block: Any, raw_proof: Any, source: str) -> OutputRoot:
    if raw_block is None:
        raise BadResponse(source, f"L2 block {number} not found")
    block = wire.block(raw_block, source)
    if block.number != number:
        raise BadResponse(source, f"asked for block {number}, got {block.number}")
    if not isinstance(raw_block, dict):  # wire.block already refused it; for the type checker
        raise BadResponse(source, "block: expected an object")
    state_root = wire.hash32(raw_block.get("stateRoot"), "block.stateRoot", source)
    if not isinstance(raw_proof, dict):
        raise BadResponse(source, f"eth_getProof at block {number}: expected an object")
    proof_address = wire.address(raw_proof.get("address"), "eth_getProof.address", source)
    if proof_address != MESSAGE_PASSER:
        raise BadResponse(source, f"eth_getProof answered for {proof_address}, not the message passer")
    storage_root = wire.hash32(raw_proof.get("storageHash"), "eth_getProof.storageHash", source)
    # The account proof starts at the state trie's root node, whose hash is the state root: this
    # ties the storage root to this very block's state (a reorg between the two answers, or a
    # node answering the proof for another block, would otherwise mix two blocks into one root).
    account_proof = raw_proof.get("accountProof")
    if not isinstance(account_proof, list) or not account_proof:
        raise BadResponse(source, "eth_getProof.accountProof: expected a non-empty list")
    root_node = wire.data(account_proof[0], "eth_getProof.accountProof[0]", source)
    if "0x" + _keccak(root_node).hex() != state_root:
        raise BadResponse(source, f"eth_getProof at block {number} is not of that block's state root")
    return OutputRoot(
        root=output_root_v0(state_root, storage_root, block.hash),
        state_root=state_root,
        message_passer_storage_root=storage_root,
        block_hash=block.hash,
        block_number=number,
    )


def compute_output_roots(client: RpcClient, block_numbers: Sequence[int]) -> list[OutputRoot]:
    """The output roots of several L2 blocks, in one JSON-RPC batch (two calls per block).

    The proof is checked against the block's state root (see `_from_answers`), so a reorg
    between the two answers is a `BadResponse`, never a root made of two blocks.
    """
    calls: list[Call] = []
    for n in block_numbers:
        calls += [Call("eth_getBlockByNumber", (hex(n), False)),
                  Call("eth_getProof", (MESSAGE_PASSER, [], hex(n)))]
    raws = client.batch(calls)
    return [_from_answers(n, raws[2 * i], raws[2 * i + 1], client.name) for i, n in enumerate(block_numbers)]


def compute_output_root(client: RpcClient, block_number: int) -> OutputRoot:
    """The output root of one L2 block (see the module's docstring for the formula)."""
    return compute_output_roots(client, [block_number])[0]


def op_node_output_root(value: Any, block_number: int, source: str) -> str:
    """`outputRoot` of an op-node `optimism_outputAtBlock` answer, checked to be for that block."""
    if not isinstance(value, dict):
        raise BadResponse(source, "optimism_outputAtBlock: expected an object")
    ref = value.get("blockRef")
    if isinstance(ref, dict) and "number" in ref:
        number = ref.get("number")
        if isinstance(number, bool) or not isinstance(number, int) or number != block_number:
            raise BadResponse(source, f"optimism_outputAtBlock: asked for block {block_number}, got {number!r}")
    return wire.hash32(value.get("outputRoot"), "optimism_outputAtBlock.outputRoot", source)
