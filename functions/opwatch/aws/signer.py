"""The AWS KMS signer of the funder wallet (see `opwatch.remedies.signer` for why KMS signatures
need their parity recovered, and what moto's KMS does differently).

KMS errors never leave raw: a throttle, a missing key or permission, the network or an answer
of the wrong shape is a `SignerError` naming the operation and the error code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..remedies.signer import SignerError, address_from_spki, decode_der_signature, recover_parity
from .client import AwsService


class KmsSigner(AwsService):
    """AWS KMS `ECC_SECG_P256K1` key; `kms:GetPublicKey` once, `kms:Sign` per transaction."""

    service = "kms"

    def __init__(self, key_id: str, client: Any = None, expected_address: str | None = None) -> None:
        self.key_id = key_id
        self._client = client
        self._address: str | None = None
        self._expected = expected_address

    @property
    def address(self) -> str:
        if self._address is None:
            with _kms_errors("GetPublicKey", self.key_id):
                self._address = address_from_spki(self.client.get_public_key(KeyId=self.key_id)["PublicKey"])
            if self._expected and self._address.lower() != self._expected.lower():
                raise SignerError(f"KMS key {self.key_id} is {self._address}, not the funder {self._expected}")
        return self._address

    def sign_digest(self, digest: bytes) -> tuple[int, int, int]:
        """(v, r, s) over a 32-byte digest, verified to recover this key's address."""
        with _kms_errors("Sign", self.key_id):
            answer = self.client.sign(KeyId=self.key_id, Message=digest, MessageType="DIGEST",
                                      SigningAlgorithm="ECDSA_SHA_256")
            signature = answer["Signature"]
        r, s = decode_der_signature(signature)
        return recover_parity(digest, r, s, self.address)

    def sign_transaction(self, tx: dict[str, Any]) -> bytes:
        from eth_account._utils.legacy_transactions import (
            encode_transaction,
            serializable_unsigned_transaction_from_dict,
        )

        unsigned = serializable_unsigned_transaction_from_dict(dict(tx))
        v, r, s = self.sign_digest(bytes(unsigned.hash()))
        return bytes(encode_transaction(unsigned, (v, r, s)))


@contextmanager
def _kms_errors(operation: str, key_id: str) -> Iterator[None]:
    """Any failure of a KMS call (a throttle, a missing key or permission, the network, an answer
    of the wrong shape) is a SignerError naming the operation and the error code, never the boto
    exception: the top-up frees its claim on a SignerError, and a boto message is no page text."""
    try:
        yield
    except SignerError:
        raise
    except Exception as exc:
        response = getattr(exc, "response", None)
        code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
        raise SignerError(f"KMS {operation} on {key_id} failed: {code or type(exc).__name__}") from None
