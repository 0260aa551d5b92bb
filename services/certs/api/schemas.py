"""Request and response models of the certs API."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Status = Literal["valid", "suspended", "cancelled", "revoked", "expired", "superseded"]


class Validity(BaseModel):
    years: int = Field(ge=0, le=100)
    months: int = Field(ge=0, le=1200)


class CertificateTypeIn(BaseModel):
    """证照目录 entry as staff submit it (a new version of ``type_code``)."""

    model_config = ConfigDict(extra="forbid")

    type_code: str = Field(max_length=21, description="defining body's USCC + 3 digits")
    name: str = Field(min_length=1, max_length=200)
    holder_kind: Literal["natural", "legal"]
    face_schema: dict[str, Any] = Field(description="照面 JSON Schema (2020-12)")
    validity: Validity | None = Field(default=None, description="null = 长期")
    issuing_orgs: list[str] = Field(min_length=1, max_length=500)
    annual_inspection: bool = False
    template: str = Field(default="", max_length=100)
    result_of: list[str] = Field(default_factory=list, max_length=500)
    number_field: str = Field(max_length=100)
    holder_name_field: str = Field(max_length=100)
    holder_id_field: str = Field(max_length=100)


class CertificateTypeOut(BaseModel):
    type_code: str
    name: str
    holder_kind: Literal["natural", "legal"]
    face_schema: dict[str, Any]
    validity: Validity | None
    issuing_orgs: list[str]
    annual_inspection: bool
    template: str
    result_of: list[str]
    number_field: str
    version: int


class TypeList(BaseModel):
    items: list[CertificateTypeOut]


class IssuerKey(BaseModel):
    kid: str
    alg: str
    user_id: str
    public_key_pem: str
    valid_from: dt.datetime
    valid_until: dt.datetime
    retired_at: dt.datetime | None
    current: bool


class Seal(BaseModel):
    """电子印章 record after GB/T 38540 SES_SealInfo (name, picture, key, validity)."""

    name: str | None
    kid: str | None
    image_png_base64: str | None
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None


class IssuerKeys(BaseModel):
    uscc: str
    name: str
    keys: list[IssuerKey]
    seal: Seal


class IssueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type_code: str = Field(max_length=21)
    face: dict[str, Any] = Field(description="照面信息, validated against the type")
    case_no: str | None = Field(default=None, pattern="^[0-9A-Z]{43}$")


class FaceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    face: dict[str, Any]


class ChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    face: dict[str, Any]
    reason: str = Field(min_length=1, max_length=500, description="变更 reason")


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500)


class InspectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    passed: bool


class CertificateSummary(BaseModel):
    certificate_id: str
    type_code: str
    name: str
    number: str
    issuer_uscc: str
    issuer_name: str
    version: int
    status: Status
    holder_name_masked: str
    holder_id_masked: str
    issued_on: dt.date
    valid_from: dt.date
    valid_until: dt.date | None
    superseded_by: str | None
    verify_url: str


class StatusEntry(BaseModel):
    id: str
    type: str
    statusPurpose: str
    statusListIndex: str
    statusListCredential: str


class CertificateDetail(CertificateSummary):
    document: dict[str, Any] = Field(description="signed metadata + 照面 + signature")
    qr_text: str = Field(description="扫码亮证 payload (YWTB1:…), verifiable offline")
    credential_status: list[StatusEntry]


class HistoryEntry(BaseModel):
    transition: str
    before: str | None
    after: str
    reason: str | None
    actor: str | None
    at: dt.datetime


class StaffCertificate(CertificateDetail):
    history: list[HistoryEntry]


class CertificateList(BaseModel):
    items: list[CertificateSummary]


class PendingError(BaseModel):
    path: str
    message: str
    keyword: str | None = None


class PendingItem(BaseModel):
    id: int
    case_no: str
    type_code: str
    issuer_uscc: str | None
    reason: str
    errors: list[PendingError]
    data: Any
    created_at: dt.datetime


class PendingList(BaseModel):
    items: list[PendingItem]


class VerifyIn(BaseModel):
    """Either the QR text or the certificate JSON (``document`` of the holder view)."""

    model_config = ConfigDict(extra="forbid")

    qr: str | None = Field(default=None, max_length=2000)
    certificate: dict[str, Any] | None = None


class VerifyOut(BaseModel):
    result: Literal[
        "valid", "suspended", "cancelled", "revoked", "expired", "superseded", "invalid", "unknown"
    ]
    reasons: list[str]
    certificate_id: str | None = None
    name: str | None = None
    issuer_uscc: str | None = None
    issuer_name: str | None = None
    version: int | None = None
    holder_name_masked: str | None = None
    holder_id_masked: str | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    superseded_by: str | None = None


class StatusListCredential(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    context: list[str] = Field(alias="@context")
    id: str
    type: list[str]
    issuer: str
    validFrom: str
    credentialSubject: dict[str, Any]
    proof: dict[str, str]


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the problem+json answers a route may give."""
    return {
        s: {
            "description": "Problem details (RFC 9457)",
            "content": {"application/problem+json": {}},
        }
        for s in statuses
    }


# --- 授权用证 ---------------------------------------------------------------------


def _use_cause() -> Any:
    # No control characters: PostgreSQL text refuses NUL, and a log line must stay one line.
    return Field(
        min_length=1, max_length=500, pattern=r"^[^\x00-\x1f\x7f]+$", description="用证事由"
    )


def _case_no() -> Any:
    return Field(default=None, pattern="^[0-9A-Z]{43}$", description="办件编号")


def _matter_code() -> Any:
    return Field(default=None, min_length=1, max_length=64, pattern="^[0-9A-Za-z.-]+$")


class AuthorizationIn(BaseModel):
    """授权: one org, one purpose; one certificate (every version) or every one of a type."""

    model_config = ConfigDict(extra="forbid")

    org_uscc: str = Field(max_length=18, description="the org authorised (统一社会信用代码)")
    use_cause: str = _use_cause()
    certificate_id: str | None = Field(default=None, max_length=120, description="证照标识")
    type_code: str | None = Field(default=None, pattern="^[0-9A-Z]{18}[0-9]{3}$")
    case_no: str | None = _case_no()
    matter_code: str | None = _matter_code()
    valid_from: AwareDatetime | None = Field(default=None, description="default now")
    valid_until: AwareDatetime | None = Field(default=None, description="default 30 days on")


class AuthorizationOut(BaseModel):
    id: str
    org_uscc: str
    use_cause: str
    lineage: str | None
    type_code: str | None
    case_no: str | None
    matter_code: str | None
    valid_from: dt.datetime
    valid_until: dt.datetime
    state: Literal["active", "scheduled", "expired", "revoked"]
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class AuthorizationList(BaseModel):
    items: list[AuthorizationOut]


class LookupIn(BaseModel):
    """By holder + type; the holder's ID travels in the body, never in a URL."""

    model_config = ConfigDict(extra="forbid")

    holder_id_type: Literal["citizen_id", "uscc"]
    holder_id: str = Field(min_length=1, max_length=18)
    type_code: str = Field(pattern="^[0-9A-Z]{18}[0-9]{3}$")
    use_cause: str = _use_cause()
    case_no: str | None = _case_no()
    matter_code: str | None = _matter_code()
    org_uscc: str | None = Field(default=None, pattern="^[0-9A-Z]{18}$")


class CertificateDetailList(BaseModel):
    items: list[CertificateDetail]


class UseEntry(BaseModel):
    certificate_id: str
    version: int
    org_uscc: str | None
    system: str | None
    use_cause: str
    case_no: str | None
    outcome: Literal["allowed", "refused"]
    reason: str
    authorization_id: str | None
    at: dt.datetime


class UseList(BaseModel):
    items: list[UseEntry]


class UseIn(BaseModel):
    """A use asking for the 加注件 file instead of the JSON."""

    model_config = ConfigDict(extra="forbid")

    use_cause: str = _use_cause()
    case_no: str | None = _case_no()
    matter_code: str | None = _matter_code()
    org_uscc: str | None = Field(default=None, pattern="^[0-9A-Z]{18}$")


class FileLink(BaseModel):
    url: str = Field(description="single use; no token needed: the link is the capability")
    expires_at: dt.datetime
