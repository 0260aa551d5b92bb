"""Certificate signatures (证照签名): SM2 over SM3 of the canonical form.

GB/T 32918.2 SM2 with SM3 and the default user id ``1234567812345678`` in Z_A, through the
shared :mod:`services.runtime.crypto` (tongsuopy). A signature record carries the algorithm,
the signer's key id and the 64-byte ``r || s`` value (the form GB/T 38540 seals and most 国密
libraries use; the DER form is one call away).

``key_id`` = the first 8 bytes of SM3 over the DER SubjectPublicKeyInfo: short enough for a QR
code, and a verifier computes it from a published public key without being told.
"""

from __future__ import annotations

import base64
import binascii
import functools
from dataclasses import dataclass

from services.certs.domain.canonical import CertificateVersion, canonical_bytes
from services.runtime.crypto import (
    SM2_DEFAULT_USER_ID,
    sm2_sign,
    sm2_signature_from_raw,
    sm2_signature_to_raw,
    sm2_verify,
    sm3_digest,
)

__all__ = [
    "SIGNATURE_ALGORITHM",
    "SM2_USER_ID",
    "CertificateSignature",
    "key_id",
    "sign_bytes",
    "sign_version",
    "verify_bytes",
    "verify_version",
]

SIGNATURE_ALGORITHM = "SM2-SM3"
SM2_USER_ID = SM2_DEFAULT_USER_ID
_KEY_ID_BYTES = 8
_RAW_SIGNATURE_BYTES = 64


@dataclass(frozen=True, slots=True)
class CertificateSignature:
    """签名值 of one certificate version, with what a verifier needs to pick the key."""

    key_id: bytes
    value: bytes  # 64 bytes r || s
    algorithm: str = SIGNATURE_ALGORITHM

    def to_json(self) -> dict[str, str]:
        """JSON form: hex key id, base64 signature (as published next to the certificate)."""
        return {
            "alg": self.algorithm,
            "kid": self.key_id.hex(),
            "sig": base64.b64encode(self.value).decode("ascii"),
        }

    @classmethod
    def from_json(cls, data: dict[str, str]) -> CertificateSignature:
        """Inverse of :meth:`to_json`; malformed input raises ``ValueError``."""
        try:
            algorithm, kid, sig = data["alg"], data["kid"], data["sig"]
            value = base64.b64decode(sig, validate=True)
            key = bytes.fromhex(kid)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError("signature JSON needs alg, hex kid and base64 sig") from exc
        if algorithm != SIGNATURE_ALGORITHM or len(value) != _RAW_SIGNATURE_BYTES:
            raise ValueError(f"signature must be {SIGNATURE_ALGORITHM}, 64 bytes r || s")
        return cls(key_id=key, value=value, algorithm=algorithm)


def _pem_to_der(public_pem: bytes | str) -> bytes:
    text = public_pem.decode("ascii") if isinstance(public_pem, bytes) else public_pem
    lines = [line.strip() for line in text.strip().splitlines()]
    if len(lines) < 3 or lines[0] != "-----BEGIN PUBLIC KEY-----":
        raise ValueError("not a PEM public key")
    body = "".join(line for line in lines[1:] if not line.startswith("-----"))
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error as exc:
        raise ValueError("not a PEM public key") from exc


# Verifiers see a handful of issuer keys over and over; hashing the PEM each time cost ~15 %
# of a verification.
@functools.lru_cache(maxsize=256)
def key_id(public_pem: bytes | str) -> bytes:
    """Key id of an SM2 public key: SM3(DER SubjectPublicKeyInfo)[:8]."""
    return sm3_digest(_pem_to_der(public_pem))[:_KEY_ID_BYTES]


def sign_bytes(
    private_pem: bytes | str, public_pem: bytes | str, data: bytes
) -> CertificateSignature:
    """Sign arbitrary bytes (status lists, QR payloads) as a :class:`CertificateSignature`."""
    der = sm2_sign(private_pem, data)
    return CertificateSignature(key_id=key_id(public_pem), value=sm2_signature_to_raw(der))


def verify_bytes(public_pem: bytes | str, data: bytes, signature: CertificateSignature) -> bool:
    """Whether ``signature`` is a valid SM2-SM3 signature of ``data`` by ``public_pem``.

    False also when the key id or algorithm does not match the key: a signature that names
    another key is not this key's signature.
    """
    if signature.algorithm != SIGNATURE_ALGORITHM or signature.key_id != key_id(public_pem):
        return False
    if len(signature.value) != _RAW_SIGNATURE_BYTES:
        return False
    return sm2_verify(public_pem, data, sm2_signature_from_raw(signature.value))


def sign_version(
    private_pem: bytes | str, public_pem: bytes | str, version: CertificateVersion
) -> CertificateSignature:
    """Sign the canonical form of a certificate version with the issuer's key."""
    return sign_bytes(private_pem, public_pem, canonical_bytes(version))


def verify_version(
    public_pem: bytes | str, version: CertificateVersion, signature: CertificateSignature
) -> bool:
    """Verify a certificate version's signature against the issuer's public key."""
    return verify_bytes(public_pem, canonical_bytes(version), signature)
