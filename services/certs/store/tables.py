"""Tables of the certs service (its own database; no other service reads them)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.runtime.db import UTCDateTime, make_base

Base = make_base()


class TypeRow(Base):
    """证照目录: one version of a certificate type (the definition as public JSON)."""

    __tablename__ = "cert_types"

    type_code: Mapped[str] = mapped_column(String(21), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IssuerRow(Base):
    """颁发机构 with its 电子印章 record (GB/T 38540 SES_SealInfo: name, image, key, validity).

    The row also serialises key generation and rotation for the org (locked FOR UPDATE)."""

    __tablename__ = "issuers"

    uscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    current_kid: Mapped[str | None] = mapped_column(String(16))
    seal_name: Mapped[str | None] = mapped_column(String(200))
    seal_image_png: Mapped[bytes | None] = mapped_column(LargeBinary)
    seal_valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    seal_valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IssuerKeyRow(Base):
    """An issuer's SM2 key; the private key encrypted with the PII cipher, never in clear."""

    __tablename__ = "issuer_keys"

    kid: Mapped[str] = mapped_column(String(16), primary_key=True)
    org_uscc: Mapped[str] = mapped_column(String(18), index=True)
    public_pem: Mapped[str] = mapped_column(Text)
    private_enc: Mapped[str] = mapped_column(Text)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CertificateRow(Base):
    """电子证照: one version. 照面 and the holder's name and ID are encrypted at rest."""

    __tablename__ = "certificates"
    __table_args__ = (
        UniqueConstraint("issuer_uscc", "status_index", name="uq_certificates_status_index"),
        Index("ix_certificates_holder", "holder_kind", "holder_ref"),
    )

    certificate_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    lineage: Mapped[str] = mapped_column(String(100), index=True)  # type.issuer.serial
    type_code: Mapped[str] = mapped_column(String(21))
    type_version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    number: Mapped[str] = mapped_column(String(100))
    issuer_uscc: Mapped[str] = mapped_column(String(18), index=True)
    issuer_name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    holder_kind: Mapped[str] = mapped_column(String(10))
    # natural: blind index of the 公民身份号码 (the token's id_ref); legal: the USCC.
    holder_ref: Mapped[str] = mapped_column(String(128))
    # The 办件's applicant when of another kind than the holder (sees it in the holder view).
    applicant_kind: Mapped[str | None] = mapped_column(String(10))
    applicant_ref: Mapped[str | None] = mapped_column(String(128), index=True)
    holder_name_enc: Mapped[str] = mapped_column(Text)
    holder_id_enc: Mapped[str] = mapped_column(Text)
    holder_name_masked: Mapped[str] = mapped_column(String(200))
    holder_id_masked: Mapped[str] = mapped_column(String(40))
    face_enc: Mapped[str] = mapped_column(Text)
    signature: Mapped[dict[str, str]] = mapped_column(JSON)
    qr_text: Mapped[str] = mapped_column(Text)
    status_index: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    suspension_reason: Mapped[str | None] = mapped_column(String(500))
    inspection_failed: Mapped[bool] = mapped_column(Boolean, default=False)
    inspection_due: Mapped[date | None] = mapped_column(Date)
    annual_inspection: Mapped[bool] = mapped_column(Boolean, default=False)
    issued_on: Mapped[date] = mapped_column(Date)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    # The 办件 it is the result of: unique, so one 办件 never yields two certificates.
    case_no: Mapped[str | None] = mapped_column(String(43), unique=True)
    superseded_by: Mapped[str | None] = mapped_column(String(120))
    issued_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ChangeRow(Base):
    """证照变更记录: who changed what, when and why (append only)."""

    __tablename__ = "cert_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    certificate_id: Mapped[str] = mapped_column(String(120), index=True)
    transition: Mapped[str] = mapped_column(String(20))
    before: Mapped[str | None] = mapped_column(String(16))
    after: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(500))
    actor: Mapped[str | None] = mapped_column(String(200))
    actor_org: Mapped[str | None] = mapped_column(String(18))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class StatusListRow(Base):
    """The bitstring of one issuer's status list for one purpose (revocation, suspension)."""

    __tablename__ = "status_lists"

    issuer_uscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    # Indices taken (kept on the revocation row; one index serves both lists): counting the
    # issuer's certificates instead cost a scan of all of them on every issuance.
    used: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    bits: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PendingRow(Base):
    """待颁发: a concluded 办件 whose data did not validate; kept until staff complete it."""

    __tablename__ = "pending_issuance"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_no: Mapped[str] = mapped_column(String(43), unique=True)
    type_code: Mapped[str] = mapped_column(String(100))
    issuer_uscc: Mapped[str | None] = mapped_column(String(18), index=True)
    applicant: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    data_enc: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(40))
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # pending | issued
    certificate_id: Mapped[str | None] = mapped_column(String(120))
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuthorizationRow(Base):
    """授权用证: a holder's consent for one org, purpose and period (revocable, kept)."""

    __tablename__ = "cert_authorizations"
    __table_args__ = (Index("ix_cert_authorizations_holder", "holder_kind", "holder_ref"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder_kind: Mapped[str] = mapped_column(String(10))
    holder_ref: Mapped[str] = mapped_column(String(128))
    org_uscc: Mapped[str] = mapped_column(String(18))
    use_cause: Mapped[str] = mapped_column(String(500))
    lineage: Mapped[str | None] = mapped_column(String(100))
    type_code: Mapped[str | None] = mapped_column(String(21))
    case_no: Mapped[str | None] = mapped_column(String(43))
    matter_code: Mapped[str | None] = mapped_column(String(64))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(200))


class UseRow(Base):
    """用证记录: every attempt by an org's system to use a certificate, allowed or refused
    (append only; the holder reads it)."""

    __tablename__ = "cert_uses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lineage: Mapped[str] = mapped_column(String(100), index=True)
    certificate_id: Mapped[str] = mapped_column(String(120))
    version: Mapped[int] = mapped_column(Integer)
    org_uscc: Mapped[str | None] = mapped_column(String(18))
    client_id: Mapped[str | None] = mapped_column(String(64))
    use_cause: Mapped[str] = mapped_column(String(500))
    case_no: Mapped[str | None] = mapped_column(String(43))
    outcome: Mapped[str] = mapped_column(String(10))  # allowed | refused
    reason: Mapped[str] = mapped_column(String(40))
    authorization_id: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class FileLinkRow(Base):
    """加注件 link: a single-use, expiring download of a certificate PDF watermarked with the
    用证事由, made for an allowed use. Only the SHA-256 of the link token is stored."""

    __tablename__ = "cert_file_links"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    certificate_id: Mapped[str] = mapped_column(String(120))
    org_uscc: Mapped[str] = mapped_column(String(18))
    use_cause: Mapped[str] = mapped_column(String(500))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
