"""Secret sources and transaction signers for the funder wallet.

The funder key is never held by opwatch longer than one signature: `LocalKeySigner` asks its
`SecretSource` at call time and drops the key after signing, and nothing here logs or
reprs it. `KmsSigner` never sees the key at all: AWS KMS signs the transaction hash with an
`ECC_SECG_P256K1` key (`kms:Sign` with `MessageType=DIGEST`, `ECDSA_SHA_256`).

KMS returns a DER signature (r, s) with no recovery id. Ethereum needs low-s (EIP-2) and the
y-parity, so the signer normalises s and finds the parity by recovering the public key for
each candidate and comparing with the key's address. If neither candidate recovers the
key's address the signature is not over our digest, and signing FAILS rather than
broadcasting a transaction from some other address.

moto's KMS ignores `MessageType=DIGEST`: it hashes the 32 bytes again and signs
sha256(digest). Against moto the recovery check therefore fails (as it must: that
signature is not over the transaction hash); tests prove the DER/low-s/parity plumbing on
moto's signature over sha256(digest), and a full signed transaction with a documented
KMS stand-in (`tests/kms_standin.py`) that honours DIGEST as AWS does.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Protocol

# secp256k1 group order; s above n/2 is rejected by Ethereum (EIP-2), so it is flipped.
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class SignerError(Exception):
    """The signer could not produce a valid signature for the funder (never partially signs)."""


class SecretSource(Protocol):
    def get(self, name: str) -> str: ...


class EnvSecretSource:
    """`env:NAME`: the secret is an environment variable (a local run, the devnet)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ if environ is not None else os.environ

    def get(self, name: str) -> str:
        value = self._environ.get(name)
        if not value:
            raise SignerError(f"secret env:{name} is not set")
        return value


class Signer(Protocol):
    @property
    def address(self) -> str: ...

    def sign_transaction(self, tx: dict[str, Any]) -> bytes:
        """The signed raw transaction (EIP-2718 envelope)."""


class LocalKeySigner:
    """Signs with a key fetched from a secret source at call time; checks it is the funder's."""

    def __init__(self, source: SecretSource, secret_name: str, expected_address: str) -> None:
        self._source = source
        self._secret_name = secret_name
        self._address = expected_address

    @property
    def address(self) -> str:
        return self._address

    def __repr__(self) -> str:
        return f"LocalKeySigner({self._address})"

    def sign_transaction(self, tx: dict[str, Any]) -> bytes:
        from eth_account import Account

        key = self._source.get(self._secret_name)
        try:
            account = Account.from_key(key)
        except Exception:
            raise SignerError("the funder secret is not a valid private key") from None
        finally:
            del key
        if account.address.lower() != self._address.lower():
            raise SignerError(f"the funder secret belongs to {account.address}, not the configured funder "
                              f"{self._address}")
        return bytes(account.sign_transaction(tx).raw_transaction)


def address_from_spki(der: bytes) -> str:
    """The Ethereum address of a DER SubjectPublicKeyInfo secp256k1 public key."""
    from cryptography.hazmat.primitives import serialization
    from eth_utils import keccak, to_checksum_address

    key = serialization.load_der_public_key(der)
    raw = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)  # type: ignore[attr-defined]
    return str(to_checksum_address(keccak(raw[1:])[-20:]))


def decode_der_signature(der: bytes) -> tuple[int, int]:
    """(r, s) from an ASN.1 DER ECDSA signature, s normalised to the lower half (EIP-2)."""
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    try:
        r, s = decode_dss_signature(bytes(der))
    except (TypeError, ValueError):
        raise SignerError("KMS answered a signature that is not DER-encoded (r, s)") from None
    if not (0 < r < SECP256K1_N and 0 < s < SECP256K1_N):
        raise SignerError("KMS answered a DER signature whose r or s is out of range")
    if s > SECP256K1_N // 2:
        s = SECP256K1_N - s
    return r, s


def recover_parity(digest: bytes, r: int, s: int, address: str) -> tuple[int, int, int]:
    from eth_keys import KeyAPI

    for v in (0, 1):
        try:
            public = KeyAPI.Signature(vrs=(v, r, s)).recover_public_key_from_msg_hash(digest)
        except Exception:
            continue
        if public.to_checksum_address().lower() == address.lower():
            return v, r, s
    raise SignerError("the KMS signature does not recover the key's address for this digest "
                      "(was MessageType=DIGEST ignored?)")


def build_signer(policy: Any, registry: Any, seams: Any = None) -> Signer:
    """The signer a `TopupPolicy` names: a cloud signer the runtime registered (`aws-kms`), or a
    local key read from the secret source its `secret` reference names (`env:`,
    `aws-secretsmanager:`, `gcp-secretmanager:`, as registered)."""
    if policy.signer != "local":
        signer: Signer = registry.build("signer", policy.signer, policy, seams)
        return signer
    scheme, _, name = str(policy.secret).partition(":")
    try:
        source: SecretSource = registry.build("secret", scheme, name, seams)
    except LookupError as exc:
        raise SignerError(f"secret reference {scheme}:...: {exc}") from None
    return LocalKeySigner(source, name, policy.funder)
