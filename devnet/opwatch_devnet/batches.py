"""The devnet's batch format and blob packing.

Stands in for op-batcher's channel frames. A real frame is `0x00 || frame data`; the devnet
keeps the version byte and replaces the compressed channel with what the op-node stand-in needs
to derive a safe head: `0x00 || uint64 newest L2 block number || bytes32 its hash`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from typing import Any

DERIVATION_VERSION_0 = 0x00
BLOB_SIZE = 131072
FIELD_ELEMENT = 32
BLOB_GAS_PER_BLOB = 131072


@dataclass(frozen=True)
class BatchRef:
    l2_number: int
    l2_hash: str


def encode_batch(ref: BatchRef) -> bytes:
    return bytes([DERIVATION_VERSION_0]) + ref.l2_number.to_bytes(8, "big") + bytes.fromhex(ref.l2_hash[2:])


def decode_batch(data: bytes) -> BatchRef | None:
    """None for anything that is not a devnet batch (e.g. somebody else's tx to the inbox)."""
    if len(data) != 41 or data[0] != DERIVATION_VERSION_0:
        return None
    return BatchRef(int.from_bytes(data[1:9], "big"), "0x" + data[9:41].hex())


def to_blob(payload: bytes) -> bytes:
    """Packs bytes into the low 31 bytes of each field element (the top byte stays 0 so every
    element is below the BLS12-381 modulus)."""
    blob = bytearray(BLOB_SIZE)
    for i in range(0, len(payload), 31):
        offset = (i // 31) * FIELD_ELEMENT + 1
        blob[offset : offset + 31] = payload[i : i + 31].ljust(31, b"\0")
    return bytes(blob)


def from_blob(blob: bytes, length: int = 41) -> bytes:
    chunks = (blob[e * FIELD_ELEMENT + 1 : (e + 1) * FIELD_ELEMENT] for e in range(-(-length // 31)))
    return b"".join(chunks)[:length]


@cache
def _trusted_setup() -> Any:
    # eth-account reloads the KZG trusted setup (about 2 s) on every blob signature; load it once.
    import ckzg
    from eth_account.typed_transactions.base import TRUSTED_SETUP

    return ckzg.load_trusted_setup(TRUSTED_SETUP, 0)


@dataclass(frozen=True)
class BlobSidecar:
    blob: bytes
    commitment: bytes
    proof: bytes

    @property
    def versioned_hash(self) -> bytes:
        return b"\x01" + hashlib.sha256(self.commitment).digest()[1:]


def blob_sidecar(payload: bytes) -> BlobSidecar:
    import ckzg

    blob = to_blob(payload)
    commitment = ckzg.blob_to_kzg_commitment(blob, _trusted_setup())
    proof = ckzg.compute_blob_kzg_proof(blob, commitment, _trusted_setup())
    return BlobSidecar(blob, bytes(commitment), bytes(proof))


def wrap_blob_tx(signed_raw: bytes, sidecar: BlobSidecar) -> bytes:
    """The EIP-4844 network form: `0x03 || rlp([tx_body, blobs, commitments, proofs])`.

    The body is signed by eth-account without blobs (only the versioned hash is signed), so the
    KZG work is done once, here, with the cached setup.
    """
    import rlp

    body = rlp.decode(signed_raw[1:])
    return b"\x03" + bytes(rlp.encode([body, [sidecar.blob], [sidecar.commitment], [sidecar.proof]]))
