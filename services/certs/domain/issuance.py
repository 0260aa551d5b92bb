"""Issuance rules (证照颁发): from a type, an issuer and 照面 data to a version ready to sign.

The one place that decides whether a certificate may be issued at all: the 证照标识 must be of
this type and issuer, the issuer must be allowed for the type (deny by default), and the 照面
must validate. Holder, number and validity come from the type's rules, never from free input,
so the signed metadata cannot contradict the 照面.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from services.certs.domain.canonical import CertificateVersion, HolderIdType
from services.certs.domain.identifiers import InvalidIdentifier, parse_certificate_id
from services.certs.domain.types import CertificateType, FaceError, HolderKind

__all__ = ["IssuanceError", "prepare_version"]

_HOLDER_ID_TYPES = {
    HolderKind.NATURAL: HolderIdType.CITIZEN_ID,
    HolderKind.LEGAL: HolderIdType.USCC,
}


class IssuanceError(ValueError):
    """A certificate cannot be issued; ``reason``: ``certificate_id``, ``type_mismatch``,
    ``issuer_not_allowed``, ``face_invalid``; ``errors`` lists the 照面 errors."""

    def __init__(self, reason: str, message: str, errors: tuple[FaceError, ...] = ()) -> None:
        super().__init__(message)
        self.reason = reason
        self.errors = errors


def prepare_version(
    cert_type: CertificateType,
    *,
    certificate_id: str,
    issuer_name: str,
    issued_on: dt.date,
    face: Mapping[str, Any],
) -> CertificateVersion:
    """Check everything and build the :class:`CertificateVersion` to sign.

    The validity starts on the issue date and ends per the type's rule; the 证照编号, holder
    name and holder code are read from the 照面 fields the type names.
    """
    try:
        parsed = parse_certificate_id(certificate_id)
    except InvalidIdentifier as exc:
        raise IssuanceError("certificate_id", str(exc)) from exc
    if parsed.type_code != cert_type.type_code:
        raise IssuanceError("type_mismatch", "the 证照标识 names another certificate type")
    if not cert_type.may_issue(parsed.issuer_uscc):
        raise IssuanceError("issuer_not_allowed", f"this org may not issue {cert_type.name}")
    errors = cert_type.validate_face(face)
    if errors:
        raise IssuanceError("face_invalid", f"照面 has {len(errors)} error(s)", tuple(errors))
    return CertificateVersion(
        certificate_id=parsed.identifier,
        type_code=cert_type.type_code,
        name=cert_type.name,
        number=str(face[cert_type.number_field]),
        issuer_uscc=parsed.issuer_uscc,
        issuer_name=issuer_name,
        issued_on=issued_on,
        valid_from=issued_on,
        valid_until=cert_type.valid_until(issued_on),
        holder_name=str(face[cert_type.holder_name_field]),
        holder_id_type=_HOLDER_ID_TYPES[cert_type.holder_kind],
        holder_id=str(face[cert_type.holder_id_field]),
        version=parsed.version,
        face=dict(face),
    )
