"""The 扫码亮证 payload: a compact, signed, offline-verifiable QR text (after EU DCC).

Text: ``"YWTB1:" + Base45(zlib(COSE_Sign1))``. Everything is in the QR alphanumeric set
(Base45 of RFC 9285 was designed for it), so a reader encodes 2 characters per 11 bits.

``COSE_Sign1`` (RFC 9052 §4.2) = CBOR tag 18 of the array
``[protected: bstr, unprotected: {}, payload: bstr, signature: bstr(64)]``:

- ``protected`` = CBOR map ``{1: alg, 4: kid}``; ``alg`` = :data:`ALG_SM2_SM3` (a COSE
  private-use value: IANA has no SM2 entry), ``kid`` = the issuer key id (8 bytes, see
  :func:`services.certs.domain.signing.key_id`);
- ``payload`` = CBOR map of integer keys (:class:`Claim`): 1 证照标识, 2 证照类型代码,
  3 颁发机构代码, 4 持证主体 masked, 5 持证主体代码 masked, 6 valid from and 7 valid until
  (days since 1970-01-01; 7 is ``null`` for 长期), 8 status index (the same position in the
  issuer's revocation and suspension lists), 9 SM3 digest of the 照面 JCS form (32 bytes),
  10 issued-at of this payload (Unix seconds);
- ``signature`` = SM2-SM3 (user id ``1234567812345678``), ``r || s``, over the COSE
  ``Sig_structure`` ``["Signature1", protected, h'', payload]`` in CBOR.

All CBOR is written canonically (shortest forms, sorted keys); verifiers check the signature
over the bytes as carried, never re-encoding them. The verifier needs
only the issuer's public key: the key is chosen by (颁发机构代码, kid).
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import base45
import cbor2

from services.certs.domain.canonical import CertificateVersion, HolderIdType, face_digest
from services.certs.domain.identifiers import InvalidIdentifier, parse_certificate_id
from services.certs.domain.signing import CertificateSignature, key_id, sign_bytes, verify_bytes
from services.runtime.masking import mask_citizen_id, mask_name, mask_uscc

__all__ = [
    "ALG_SM2_SM3",
    "QR_PREFIX",
    "Claim",
    "QrClaims",
    "QrPayloadError",
    "decode_qr",
    "encode_qr",
    "mask_holder",
    "verify_qr",
]

QR_PREFIX = "YWTB1:"
ALG_SM2_SM3 = -65601  # COSE private use (< -65536): SM2 with SM3, default user id
_COSE_SIGN1_TAG = 18
_HEADER_ALG = 1
_HEADER_KID = 4
_MAX_DECOMPRESSED = 4096  # a real payload is ~250 bytes; anything bigger is an attack
_EPOCH = dt.date(1970, 1, 1)
_MAX_QR_TEXT = 2000


class Claim(IntEnum):
    """Integer keys of the payload map."""

    CERTIFICATE_ID = 1
    TYPE_CODE = 2
    ISSUER_USCC = 3
    HOLDER_NAME = 4
    HOLDER_ID = 5
    VALID_FROM = 6
    VALID_UNTIL = 7
    STATUS_INDEX = 8
    FACE_DIGEST = 9
    ISSUED_AT = 10


class QrPayloadError(ValueError):
    """The QR text is not a valid payload; ``reason``: ``prefix``, ``encoding``, ``structure``,
    ``claims``, ``unknown_key`` or ``signature``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class QrClaims:
    """What a QR payload states (after decoding; trust it only from :func:`verify_qr`)."""

    certificate_id: str
    type_code: str
    issuer_uscc: str
    holder_name_masked: str
    holder_id_masked: str
    valid_from: dt.date
    valid_until: dt.date | None
    status_index: int
    face_digest: bytes
    issued_at: int
    key_id: bytes

    def is_current(self, today: dt.date) -> bool:
        """Whether ``today`` lies within the validity period (status lists are checked apart)."""
        return self.valid_from <= today and (self.valid_until is None or today <= self.valid_until)


def mask_holder(name: str, holder_id: str, id_type: HolderIdType) -> tuple[str, str]:
    """持证主体 as shown to whoever scans: a person's name and ID masked (``张**``,
    ``4401**********1234``); a legal person's registered name is public (企业信息公示) and is
    kept, its USCC masked like any code."""
    if id_type is HolderIdType.CITIZEN_ID:
        return mask_name(name), mask_citizen_id(holder_id)
    return name, mask_uscc(holder_id)


def _days(day: dt.date) -> int:
    return (day - _EPOCH).days


def _sig_structure(protected: bytes, payload: bytes) -> bytes:
    return cbor2.dumps(["Signature1", protected, b"", payload], canonical=True)


def encode_qr(
    version: CertificateVersion,
    status_index: int,
    private_pem: bytes | str,
    public_pem: bytes | str,
    issued_at: int,
) -> str:
    """The QR text of a certificate version, signed with the issuer's key."""
    holder_name, holder_id = mask_holder(
        version.holder_name, version.holder_id, version.holder_id_type
    )
    claims: dict[int, Any] = {
        Claim.CERTIFICATE_ID: version.certificate_id,
        Claim.TYPE_CODE: version.type_code,
        Claim.ISSUER_USCC: version.issuer_uscc,
        Claim.HOLDER_NAME: holder_name,
        Claim.HOLDER_ID: holder_id,
        Claim.VALID_FROM: _days(version.valid_from),
        Claim.VALID_UNTIL: None if version.valid_until is None else _days(version.valid_until),
        Claim.STATUS_INDEX: status_index,
        Claim.FACE_DIGEST: face_digest(version.face),
        Claim.ISSUED_AT: issued_at,
    }
    payload = cbor2.dumps({int(k): v for k, v in claims.items()}, canonical=True)
    protected = cbor2.dumps(
        {_HEADER_ALG: ALG_SM2_SM3, _HEADER_KID: key_id(public_pem)}, canonical=True
    )
    signature = sign_bytes(private_pem, public_pem, _sig_structure(protected, payload))
    cose = cbor2.CBORTag(_COSE_SIGN1_TAG, [protected, {}, payload, signature.value])
    packed = zlib.compress(cbor2.dumps(cose, canonical=True), 9)
    return QR_PREFIX + base45.b45encode(packed).decode("ascii")


@dataclass(frozen=True, slots=True)
class _Decoded:
    claims: QrClaims
    signed: bytes
    signature: bytes


def decode_qr(text: str) -> QrClaims:
    """Decode a QR text WITHOUT verifying it (for display of what it claims)."""
    return _decode(text).claims


def _decode(text: str) -> _Decoded:
    if not isinstance(text, str) or not text.startswith(QR_PREFIX):
        raise QrPayloadError("prefix", f"QR text must start with {QR_PREFIX}")
    if len(text) > _MAX_QR_TEXT:
        raise QrPayloadError("encoding", "QR text is too long")
    try:
        packed = base45.b45decode(text[len(QR_PREFIX) :])
        inflater = zlib.decompressobj()
        raw = inflater.decompress(packed, _MAX_DECOMPRESSED + 1)
    except (ValueError, zlib.error) as exc:
        raise QrPayloadError("encoding", "QR text is not Base45 of zlib data") from exc
    if len(raw) > _MAX_DECOMPRESSED or not inflater.eof:
        raise QrPayloadError("encoding", "QR payload is truncated or too large")
    protected, payload, signature = _cose_parts(raw)
    header = _cbor_map(protected, "protected header")
    if header.get(_HEADER_ALG) != ALG_SM2_SM3 or not isinstance(header.get(_HEADER_KID), bytes):
        raise QrPayloadError("structure", "protected header must hold alg SM2-SM3 and a kid")
    claims = _claims(_cbor_map(payload, "payload"), header[_HEADER_KID])
    return _Decoded(claims, _sig_structure(protected, payload), signature)


def _cose_parts(raw: bytes) -> tuple[bytes, bytes, bytes]:
    try:
        obj = cbor2.loads(raw, allow_duplicate_keys=False, max_depth=8)
    except Exception as exc:  # cbor2 raises several decoder error types on junk
        raise QrPayloadError("structure", "QR payload is not CBOR") from exc
    ok = (
        isinstance(obj, cbor2.CBORTag)
        and obj.tag == _COSE_SIGN1_TAG
        and isinstance(obj.value, (list, tuple))  # cbor2 6 decodes tagged arrays as tuples
        and len(obj.value) == 4
    )
    if not ok:
        raise QrPayloadError("structure", "QR payload is not a COSE_Sign1 (tag 18, 4 items)")
    protected, _unprotected, payload, signature = obj.value
    if not all(isinstance(x, bytes) for x in (protected, payload, signature)):
        raise QrPayloadError("structure", "COSE_Sign1 protected, payload, signature are bstr")
    return protected, payload, signature


def _cbor_map(data: bytes, what: str) -> dict[Any, Any]:
    try:
        obj = cbor2.loads(data, allow_duplicate_keys=False, max_depth=4)
    except Exception as exc:  # see above
        raise QrPayloadError("structure", f"{what} is not CBOR") from exc
    if not isinstance(obj, Mapping):
        raise QrPayloadError("structure", f"{what} must be a CBOR map")
    return dict(obj)


def _claims(m: dict[Any, Any], kid: bytes) -> QrClaims:
    def get(key: Claim, kind: type | tuple[type, ...]) -> Any:
        value = m.get(int(key))
        if not isinstance(value, kind) or isinstance(value, bool):
            raise QrPayloadError("claims", f"claim {int(key)} ({key.name.lower()}) is missing")
        return value

    try:
        until = m.get(int(Claim.VALID_UNTIL))
        claims = QrClaims(
            certificate_id=get(Claim.CERTIFICATE_ID, str),
            type_code=get(Claim.TYPE_CODE, str),
            issuer_uscc=get(Claim.ISSUER_USCC, str),
            holder_name_masked=get(Claim.HOLDER_NAME, str),
            holder_id_masked=get(Claim.HOLDER_ID, str),
            valid_from=_EPOCH + dt.timedelta(days=get(Claim.VALID_FROM, int)),
            valid_until=None if until is None else _EPOCH + dt.timedelta(days=until),
            status_index=get(Claim.STATUS_INDEX, int),
            face_digest=get(Claim.FACE_DIGEST, bytes),
            issued_at=get(Claim.ISSUED_AT, int),
            key_id=kid,
        )
        parsed = parse_certificate_id(claims.certificate_id)
    except (TypeError, OverflowError) as exc:
        raise QrPayloadError("claims", "a date claim is not a day count") from exc
    except InvalidIdentifier as exc:
        raise QrPayloadError("claims", f"claim 1 is not a valid 证照标识: {exc}") from exc
    if claims.status_index < 0 or claims.issued_at < 0:
        raise QrPayloadError("claims", "status index and issued-at are unsigned")
    # The type and issuer are inside the 证照标识 as well; a payload whose parts disagree lies.
    if (parsed.type_code, parsed.issuer_uscc) != (claims.type_code, claims.issuer_uscc):
        raise QrPayloadError("claims", "type code or issuer differ from the 证照标识")
    return claims


KeyLookup = Callable[[str, bytes], bytes | str | None]
"""(颁发机构代码, kid) → the issuer's public key PEM, or None when unknown."""


def verify_qr(text: str, key_lookup: KeyLookup) -> QrClaims:
    """Decode and verify a QR text offline; returns its claims or raises QrPayloadError.

    Validity dates and status lists are the caller's next checks (:meth:`QrClaims.is_current`,
    the cached status lists at ``status_index``).
    """
    decoded = _decode(text)
    claims = decoded.claims
    public_pem = key_lookup(claims.issuer_uscc, claims.key_id)
    if public_pem is None:
        raise QrPayloadError("unknown_key", "no public key of this issuer has that key id")
    signature = CertificateSignature(key_id=claims.key_id, value=decoded.signature)
    if not verify_bytes(public_pem, decoded.signed, signature):
        raise QrPayloadError("signature", "signature does not verify")
    return claims
