"""A stand-in for AWS KMS `Sign` with `MessageType=DIGEST` on an `ECC_SECG_P256K1` key.

Why it exists: moto's KMS ignores `MessageType=DIGEST` and signs sha256(message) instead, so
a signature from moto is not over the transaction hash and (correctly) fails the signer's
recovery check. This stand-in signs the 32 bytes as given (`Prehashed`), as AWS KMS does,
and answers `GetPublicKey` with a DER SubjectPublicKeyInfo, so the whole KmsSigner path can
produce a real transaction. It holds anvil's published test key 0 (never use elsewhere).
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed


class KmsDigestStandin:
    def __init__(self, private_key_hex: str) -> None:
        self._key = ec.derive_private_key(int(private_key_hex, 16), ec.SECP256K1())
        self.calls: list[dict[str, Any]] = []

    def get_public_key(self, KeyId: str) -> dict[str, Any]:
        der = self._key.public_key().public_bytes(serialization.Encoding.DER,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)
        return {"KeyId": KeyId, "PublicKey": der, "KeySpec": "ECC_SECG_P256K1"}

    def sign(self, KeyId: str, Message: bytes, MessageType: str, SigningAlgorithm: str) -> dict[str, Any]:
        assert MessageType == "DIGEST" and SigningAlgorithm == "ECDSA_SHA_256" and len(Message) == 32
        self.calls.append({"KeyId": KeyId, "MessageType": MessageType})
        return {"KeyId": KeyId, "Signature": self._key.sign(Message, ec.ECDSA(Prehashed(hashes.SHA256())))}
