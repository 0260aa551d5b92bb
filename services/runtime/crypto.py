"""国密 primitives, field encryption for PII at rest, and legacy request signing.

ARCHITECTURE.md §4.6: certificates and exchange-log seals are signed with SM2 over SM3
(GB/T 32918, default user id ``1234567812345678``); sensitive columns are encrypted under a
configured key and looked up through a blind index.

Backends: ``tongsuopy`` (Tongsuo, native) for SM3, SM2 and SM4-GCM; ``cryptography`` for
AES-256-GCM and strict DER parsing of signatures. tongsuopy 1.0.1 has no HMAC API and no way
to set an SM2 user id, so HMAC-SM3 is RFC 2104 written out here and SM2 always uses the
default id (which is what Tongsuo applies when none is set).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, Protocol

from cryptography.exceptions import InvalidTag as CryptographyInvalidTag
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from tongsuopy.crypto import hashes, serialization
from tongsuopy.crypto.asymciphers import ec
from tongsuopy.crypto.ciphers.aead import SM4GCM
from tongsuopy.crypto.exceptions import InternalError, InvalidSignature
from tongsuopy.crypto.exceptions import InvalidTag as TongsuoInvalidTag

__all__ = [
    "SM2_DEFAULT_USER_ID",
    "SM2_ORDER",
    "DecryptionError",
    "FieldAlgorithm",
    "FieldCipher",
    "FieldKey",
    "RequestSignatureAlgorithm",
    "canonical_request",
    "generate_sm2_keypair",
    "hmac_sm3",
    "sign_request",
    "sm2_public_key_pem",
    "sm2_sign",
    "sm2_signature_from_raw",
    "sm2_signature_to_raw",
    "sm2_verify",
    "sm3_digest",
    "sm3_hex",
    "verify_request_signature",
]

# --- SM3 / HMAC-SM3 ---

_SM3_BLOCK_SIZE = 64
_HMAC_INNER = bytes(x ^ 0x36 for x in range(256))
_HMAC_OUTER = bytes(x ^ 0x5C for x in range(256))


def sm3_digest(data: bytes) -> bytes:
    """SM3 (GB/T 32905) digest, 32 bytes."""
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def sm3_hex(data: bytes) -> str:
    """SM3 digest as lower-case hex."""
    return sm3_digest(data).hex()


def hmac_sm3(key: bytes, data: bytes) -> bytes:
    """HMAC (RFC 2104) with SM3 as the hash: H((K ^ opad) || H((K ^ ipad) || m)).

    Written out because tongsuopy has no HMAC API and ``hashlib``'s SM3 depends on how the
    system OpenSSL was built.
    """
    if len(key) > _SM3_BLOCK_SIZE:
        key = sm3_digest(key)
    key = key.ljust(_SM3_BLOCK_SIZE, b"\0")
    inner = sm3_digest(key.translate(_HMAC_INNER) + data)
    return sm3_digest(key.translate(_HMAC_OUTER) + inner)


# --- SM2 ---

SM2_DEFAULT_USER_ID = b"1234567812345678"
"""GB/T 32918 / GM/T 0009 default signer id, hashed into Z_A; Tongsuo uses it implicitly."""

SM2_ORDER = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
"""Order n of the SM2 recommended curve; r and s of a signature lie in [1, n-1]."""

_SM2_COORD_BYTES = 32


def generate_sm2_keypair() -> tuple[bytes, bytes]:
    """Return a new SM2 key pair as (PKCS#8 private PEM, SubjectPublicKeyInfo public PEM)."""
    key = ec.generate_private_key(ec.SM2())
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return private_pem, _public_pem(key.public_key())


def _public_pem(public_key: ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _as_bytes(pem: bytes | str) -> bytes:
    return pem.encode("ascii") if isinstance(pem, str) else pem


# Parsing PEM costs as much as a signature; services sign with one or two keys, so cache them.
@functools.lru_cache(maxsize=64)
def _load_private_key(pem: bytes) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except Exception as exc:  # tongsuopy raises several unrelated types for bad input
        raise ValueError("not a usable SM2 private key PEM") from exc
    _require_sm2(key)
    return key


@functools.lru_cache(maxsize=256)
def _load_public_key(pem: bytes) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except Exception as exc:  # tongsuopy raises several unrelated types for bad input
        raise ValueError("not a usable SM2 public key PEM") from exc
    _require_sm2(key)
    return key


def _require_sm2(key: object) -> None:
    curve = getattr(key, "curve", None)
    if curve is None or curve.name != "SM2":
        raise ValueError("key is not on the SM2 curve")


def sm2_public_key_pem(private_pem: bytes | str) -> bytes:
    """The public key PEM belonging to an SM2 private key PEM."""
    return _public_pem(_load_private_key(_as_bytes(private_pem)).public_key())


def sm2_sign(private_pem: bytes | str, data: bytes) -> bytes:
    """Sign ``data`` with SM2; return the DER ``SEQUENCE {r, s}`` signature.

    The signed value is e = SM3(Z_A || data) with Z_A computed from the default user id
    ``1234567812345678`` (GB/T 32918.2, GM/T 0009), i.e. standard "SM2 with SM3".
    """
    key = _load_private_key(_as_bytes(private_pem))
    return key.sign(data, ec.ECDSA(hashes.SM3()))


def sm2_verify(public_pem: bytes | str, data: bytes, signature: bytes) -> bool:
    """Verify a DER SM2-with-SM3 signature (default user id); malformed signatures are False.

    A bad *key* raises ``ValueError``: that is a configuration error, not a forgery.
    """
    key = _load_public_key(_as_bytes(public_pem))
    if not _is_strict_der_signature(signature):
        return False
    try:
        key.verify(signature, data, ec.ECDSA(hashes.SM3()))
    except (InvalidSignature, InternalError):
        return False
    return True


def _is_strict_der_signature(signature: bytes) -> bool:
    """Reject non-DER (malleable BER) encodings before Tongsuo sees them; it raises on junk."""
    try:
        r, s = decode_dss_signature(signature)
    except (ValueError, TypeError):
        return False
    return 0 < r < SM2_ORDER and 0 < s < SM2_ORDER


def sm2_signature_to_raw(der: bytes) -> bytes:
    """DER signature → 64-byte ``r || s`` (the form of GB/T 38540 seals and gmssl)."""
    r, s = decode_dss_signature(der)
    return r.to_bytes(_SM2_COORD_BYTES, "big") + s.to_bytes(_SM2_COORD_BYTES, "big")


def sm2_signature_from_raw(raw: bytes) -> bytes:
    """64-byte ``r || s`` → DER signature."""
    if len(raw) != 2 * _SM2_COORD_BYTES:
        raise ValueError("raw SM2 signature must be 64 bytes (r || s)")
    r = int.from_bytes(raw[:_SM2_COORD_BYTES], "big")
    s = int.from_bytes(raw[_SM2_COORD_BYTES:], "big")
    return encode_dss_signature(r, s)


# --- field encryption ---


class FieldAlgorithm(StrEnum):
    """AEADs for PII columns. AES-256-GCM is the default: hardware-accelerated and in every
    crypto library; SM4-GCM (GB/T 32907) is there for deployments that must use 国密."""

    AES_256_GCM = "AES-256-GCM"
    SM4_GCM = "SM4-GCM"


_KEY_LENGTHS = {FieldAlgorithm.AES_256_GCM: 32, FieldAlgorithm.SM4_GCM: 16}
_ALGORITHM_ALIASES = {
    "aes-256-gcm": FieldAlgorithm.AES_256_GCM,
    "aes": FieldAlgorithm.AES_256_GCM,
    "sm4-gcm": FieldAlgorithm.SM4_GCM,
    "sm4": FieldAlgorithm.SM4_GCM,
}
_TOKEN_VERSION = "v1"
_NONCE_BYTES = 12
_TAG_BYTES = 16
_MIN_INDEX_KEY_BYTES = 16
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
_WHITESPACE = re.compile(r"\s+")

BlindIndexAlgorithm = Literal["HMAC-SHA256", "HMAC-SM3"]


class DecryptionError(ValueError):
    """A token could not be decrypted: malformed, unknown key id, or failed authentication."""


class _Aead(Protocol):
    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...
    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...


@dataclass(frozen=True, slots=True)
class FieldKey:
    """One data-encryption key; ``key`` is kept out of ``repr`` so it cannot leak into logs."""

    key_id: str
    key: bytes = field(repr=False)
    algorithm: FieldAlgorithm = FieldAlgorithm.AES_256_GCM

    def __post_init__(self) -> None:
        if _KEY_ID.fullmatch(self.key_id) is None:
            raise ValueError("key id must be 1-32 characters from A-Za-z0-9_-")
        expected = _KEY_LENGTHS[FieldAlgorithm(self.algorithm)]
        if len(self.key) != expected:
            raise ValueError(f"key {self.key_id}: {self.algorithm} needs a {expected}-byte key")


def _make_aead(key: FieldKey) -> _Aead:
    if key.algorithm == FieldAlgorithm.SM4_GCM:
        return SM4GCM(key.key)
    return AESGCM(key.key)


def _b64decode(text: str) -> bytes:
    """Accept standard or URL-safe base64, with or without padding (config is hand-written)."""
    text = text.strip().replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


class FieldCipher:
    """Encrypts PII columns (证件号码, 手机号码 …) and computes their blind index.

    Token format: ``v1:<key_id>:<base64url(nonce(12) || ciphertext || tag(16))>`` without
    padding. The AEAD's associated data is ``v1:<key_id>:<context>``, so a token cannot be
    moved to another key id, and — when callers pass the column name as ``context`` — not
    to another column either. New tokens use the primary key; older keys only decrypt, which
    is how rotation works (re-encrypt rows whose :meth:`needs_reencryption` is true).

    The blind index is HMAC (SHA-256 by default, SM3 optional) under a separate key over a
    normalised value; it cannot be rotated without recomputing every stored index.
    """

    def __init__(
        self,
        key: bytes,
        *,
        index_key: bytes,
        key_id: str = "k1",
        old_keys: Mapping[str, bytes | FieldKey] | None = None,
        algorithm: FieldAlgorithm = FieldAlgorithm.AES_256_GCM,
        index_algorithm: BlindIndexAlgorithm = "HMAC-SHA256",
    ) -> None:
        """``old_keys`` given as bytes use ``algorithm``; pass :class:`FieldKey` to differ."""
        primary = FieldKey(key_id, key, FieldAlgorithm(algorithm))
        keys = {primary.key_id: primary}
        for old_id, old in (old_keys or {}).items():
            entry = old if isinstance(old, FieldKey) else FieldKey(old_id, old, primary.algorithm)
            if entry.key_id in keys:
                raise ValueError(f"duplicate key id {entry.key_id}")
            keys[entry.key_id] = entry
        if len(index_key) < _MIN_INDEX_KEY_BYTES:
            raise ValueError(f"index key must be at least {_MIN_INDEX_KEY_BYTES} bytes")
        if index_algorithm not in ("HMAC-SHA256", "HMAC-SM3"):
            raise ValueError(f"unsupported blind index algorithm {index_algorithm}")
        self._primary_id = primary.key_id
        self._aeads: dict[str, _Aead] = {kid: _make_aead(k) for kid, k in keys.items()}
        self._index_key = index_key
        self._index_algorithm = index_algorithm

    def __repr__(self) -> str:
        return f"FieldCipher(primary={self._primary_id!r}, keys={sorted(self._aeads)!r})"

    @property
    def primary_key_id(self) -> str:
        return self._primary_id

    @classmethod
    def from_settings(
        cls,
        encryption_keys: str,
        index_key: str,
        *,
        index_algorithm: BlindIndexAlgorithm = "HMAC-SHA256",
    ) -> FieldCipher:
        """Build from config strings.

        ``encryption_keys``: comma-separated ``<key_id>:<base64 key>`` or
        ``<key_id>:<algorithm>:<base64 key>`` (algorithm ``aes``/``AES-256-GCM`` or
        ``sm4``/``SM4-GCM``, default AES-256-GCM); the first entry is the primary key, e.g.
        ``"k2:base64key,k1:base64key"``. ``index_key``: base64 of at least 16 bytes.
        """
        entries = [_parse_key_entry(part) for part in encryption_keys.split(",") if part.strip()]
        if not entries:
            raise ValueError("encryption_keys is empty")
        primary, *older = entries
        try:
            raw_index_key = _b64decode(index_key)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("index key is not valid base64") from exc
        return cls(
            primary.key,
            key_id=primary.key_id,
            algorithm=primary.algorithm,
            old_keys={k.key_id: k for k in older},
            index_key=raw_index_key,
            index_algorithm=index_algorithm,
        )

    @staticmethod
    def generate_key(algorithm: FieldAlgorithm = FieldAlgorithm.AES_256_GCM) -> bytes:
        """Fresh random key material of the right length for ``algorithm``."""
        return os.urandom(_KEY_LENGTHS[FieldAlgorithm(algorithm)])

    def encrypt(self, plaintext: str, *, context: str = "") -> str:
        """Encrypt under the primary key with a fresh random 96-bit nonce."""
        nonce = os.urandom(_NONCE_BYTES)
        aad = self._aad(self._primary_id, context)
        sealed = self._aeads[self._primary_id].encrypt(nonce, plaintext.encode("utf-8"), aad)
        body = base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")
        return f"{_TOKEN_VERSION}:{self._primary_id}:{body}"

    def decrypt(self, token: str, *, context: str = "") -> str:
        """Decrypt a token from :meth:`encrypt` (any configured key); raises DecryptionError."""
        key_id, blob = self._split_token(token)
        aead = self._aeads.get(key_id)
        if aead is None:
            raise DecryptionError(f"unknown key id {key_id!r}")
        try:
            plain = aead.decrypt(
                blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], self._aad(key_id, context)
            )
        except (CryptographyInvalidTag, TongsuoInvalidTag) as exc:
            raise DecryptionError("authentication failed: wrong key, context or tampered") from exc
        return plain.decode("utf-8")

    def needs_reencryption(self, token: str) -> bool:
        """True when the token was made with a key other than the current primary."""
        return self._split_token(token)[0] != self._primary_id

    def blind_index(self, value: str, *, scope: str = "") -> str:
        """Deterministic keyed hash (hex) of a normalised value, for equality look-ups.

        Normalisation: NFKC, all whitespace removed, upper-cased — so ``…123x`` and
        ``…123X``, or ``138 1234 5678`` and ``13812345678``, index alike. ``scope`` (e.g. the
        column name) separates domains so equal values in different columns don't correlate.
        """
        normalised = _WHITESPACE.sub("", unicodedata.normalize("NFKC", value)).upper()
        message = scope.encode("utf-8") + b"\x1f" + normalised.encode("utf-8")
        if self._index_algorithm == "HMAC-SM3":
            return hmac_sm3(self._index_key, message).hex()
        return hmac.new(self._index_key, message, hashlib.sha256).hexdigest()

    @staticmethod
    def _aad(key_id: str, context: str) -> bytes:
        return f"{_TOKEN_VERSION}:{key_id}:{context}".encode()

    @staticmethod
    def _split_token(token: str) -> tuple[str, bytes]:
        parts = token.split(":") if isinstance(token, str) else []
        if len(parts) != 3 or parts[0] != _TOKEN_VERSION:
            raise DecryptionError("not a v1 field-encryption token")
        try:
            blob = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
        except (binascii.Error, ValueError) as exc:
            raise DecryptionError("token body is not base64url") from exc
        if len(blob) < _NONCE_BYTES + _TAG_BYTES:
            raise DecryptionError("token body is too short")
        return parts[1], blob


def _parse_key_entry(entry: str) -> FieldKey:
    parts = [p.strip() for p in entry.split(":")]
    if len(parts) == 2:
        key_id, algorithm, material = parts[0], FieldAlgorithm.AES_256_GCM, parts[1]
    elif len(parts) == 3:
        key_id, material = parts[0], parts[2]
        algorithm = _ALGORITHM_ALIASES.get(parts[1].lower())
        if algorithm is None:
            raise ValueError(f"key {key_id}: unknown algorithm {parts[1]!r}")
    else:
        raise ValueError("each encryption key must be <key_id>:[<algorithm>:]<base64 key>")
    try:
        raw = _b64decode(material)
    except (binascii.Error, ValueError) as exc:
        # Never echo the material: it is a secret even when malformed.
        raise ValueError(f"key {key_id}: key material is not valid base64") from exc
    return FieldKey(key_id, raw, algorithm)


# --- HMAC request signing for legacy systems ---

RequestSignatureAlgorithm = Literal["HMAC-SM3", "HMAC-SHA256"]


def canonical_request(
    method: str,
    path: str,
    timestamp: str | int,
    nonce: str,
    body: bytes,
    algorithm: RequestSignatureAlgorithm = "HMAC-SHA256",
) -> bytes:
    """The exact bytes that are signed (UTF-8), five lines joined by ``\\n``, no trailing one::

        METHOD          upper-cased HTTP method, e.g. POST
        path            request path as sent, including any query string, e.g. /v1/cases?x=1
        timestamp       as sent in the header (Unix seconds in our clients)
        nonce           as sent in the header
        hex(H(body))    lower-case hex of SM3(body) for HMAC-SM3, SHA-256(body) for HMAC-SHA256

    A field containing a line break would make two requests share one canonical string, so
    it is rejected with ``ValueError``.
    """
    fields = (method.upper(), path, str(timestamp), nonce)
    if any(("\n" in f or "\r" in f) for f in fields):
        raise ValueError("method, path, timestamp and nonce must not contain line breaks")
    body_hash = sm3_hex(body) if algorithm == "HMAC-SM3" else hashlib.sha256(body).hexdigest()
    return "\n".join((*fields, body_hash)).encode("utf-8")


def sign_request(
    secret: bytes,
    method: str,
    path: str,
    timestamp: str | int,
    nonce: str,
    body: bytes,
    algorithm: RequestSignatureAlgorithm = "HMAC-SHA256",
) -> str:
    """HMAC over :func:`canonical_request`, lower-case hex.

    Freshness is the caller's job: reject stale timestamps and remember nonces for the
    allowed clock skew, otherwise a captured request can be replayed.
    """
    if algorithm not in ("HMAC-SM3", "HMAC-SHA256"):
        raise ValueError(f"unsupported request signature algorithm {algorithm!r}")
    message = canonical_request(method, path, timestamp, nonce, body, algorithm)
    if algorithm == "HMAC-SM3":
        return hmac_sm3(secret, message).hex()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def verify_request_signature(
    secret: bytes,
    method: str,
    path: str,
    timestamp: str | int,
    nonce: str,
    body: bytes,
    signature: str,
    algorithm: RequestSignatureAlgorithm = "HMAC-SHA256",
) -> bool:
    """Constant-time check of a hex signature from :func:`sign_request` (hex case ignored)."""
    try:
        expected = sign_request(secret, method, path, timestamp, nonce, body, algorithm)
        presented = signature.strip().lower().encode("ascii")
    except (ValueError, AttributeError):  # bad field, bad algorithm, non-ASCII signature
        return False
    return hmac.compare_digest(expected.encode("ascii"), presented)
