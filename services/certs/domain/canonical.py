"""The canonical form of a certificate version (证照版本的规范化表示), the bytes that are signed.

``canonical_bytes(v)`` is the RFC 8785 JSON Canonicalization Scheme (JCS) serialisation, UTF-8,
of ``{"format": "ywtb-cert/1", "metadata": {…}, "face": {…}}`` where ``metadata`` holds the
GB/T 36903-style metadata of DOMAIN.md §6 (证照标识, 证照名称, 证照编号, 类型代码, 颁发机构
and code, 颁证日期, 有效期起止, 持证主体 + code type + code, version) with dates as
``YYYY-MM-DD`` strings and a missing end date as ``null``, and ``face`` is the 照面 JSON as
issued. JCS sorts keys by UTF-16 code units and fixes number and string escaping, so any
verifier, in any language, rebuilds the same bytes from the certificate JSON.

Status (valid, suspended …) is deliberately NOT part of the signed form: it changes without a
new version and is published through status lists.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import rfc8785

from services.runtime.crypto import sm3_digest

__all__ = [
    "CANONICAL_FORMAT",
    "CertificateVersion",
    "HolderIdType",
    "canonical_bytes",
    "canonical_json",
    "face_digest",
]

CANONICAL_FORMAT = "ywtb-cert/1"


class HolderIdType(StrEnum):
    """持证主体代码类型: the kind of the holder's identifier."""

    CITIZEN_ID = "citizen_id"  # 公民身份号码
    USCC = "uscc"  # 统一社会信用代码


@dataclass(frozen=True, slots=True)
class CertificateVersion:
    """One signed version of a certificate (证照): metadata + 照面."""

    certificate_id: str  # 证照标识
    type_code: str  # 证照类型代码
    name: str  # 证照名称
    number: str  # 证照编号
    issuer_uscc: str  # 颁发机构代码
    issuer_name: str  # 颁发机构
    issued_on: dt.date  # 颁证日期
    valid_from: dt.date  # 有效期起始
    valid_until: dt.date | None  # 有效期截止 (None = 长期)
    holder_name: str  # 持证主体
    holder_id_type: HolderIdType  # 持证主体代码类型
    holder_id: str  # 持证主体代码
    version: int  # 版本号
    face: Mapping[str, Any]  # 照面信息

    def metadata(self) -> dict[str, Any]:
        """The metadata object of the canonical form (JSON types only)."""
        return {
            "certificate_id": self.certificate_id,
            "type_code": self.type_code,
            "name": self.name,
            "number": self.number,
            "issuer_uscc": self.issuer_uscc,
            "issuer_name": self.issuer_name,
            "issued_on": self.issued_on.isoformat(),
            "valid_from": self.valid_from.isoformat(),
            "valid_until": None if self.valid_until is None else self.valid_until.isoformat(),
            "holder_name": self.holder_name,
            "holder_id_type": str(self.holder_id_type),
            "holder_id": self.holder_id,
            "version": self.version,
        }

    def to_document(self) -> dict[str, Any]:
        """The JSON document that is canonicalised (and that a verifier receives)."""
        return {"format": CANONICAL_FORMAT, "metadata": self.metadata(), "face": dict(self.face)}


def canonical_json(document: Mapping[str, Any]) -> bytes:
    """RFC 8785 (JCS) UTF-8 bytes of a JSON value; floats that JCS cannot hold raise ValueError."""
    try:
        return rfc8785.dumps(document)
    except (rfc8785.CanonicalizationError, TypeError) as exc:
        raise ValueError(f"not canonicalisable JSON: {exc}") from exc


def canonical_bytes(version: CertificateVersion) -> bytes:
    """The bytes an issuer signs for ``version``."""
    return canonical_json(version.to_document())


def face_digest(face: Mapping[str, Any]) -> bytes:
    """SM3 of the JCS form of the 照面 alone (32 bytes), the QR code's link to the full data."""
    return sm3_digest(canonical_json(dict(face)))
