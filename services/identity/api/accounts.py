"""Account APIs: self-registration, the subject's own record, 授权代办, admin (clients,
staff, key rotation) for staff with role ``identity-admin``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from services.identity import accounts, clients, delegations, login, staff
from services.identity.api.deps import CoreDep
from services.identity.clients import ClientSpec
from services.identity.tokens import check_active
from services.runtime.auth import CurrentPrincipal, InvalidToken, Principal, require_roles
from services.runtime.problems import Problem

router = APIRouter(tags=["accounts"])
Admin = Annotated[Principal, Depends(require_roles("identity-admin"))]


class NaturalRegistration(BaseModel):
    id_number: str = Field(description="公民身份号码")
    name: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=8, max_length=128)
    username: str | None = Field(
        default=None, description="optional account name (opens exactly this account)"
    )


class LegalRegistration(BaseModel):
    uscc: str = Field(description="统一社会信用代码")
    name: str = Field(min_length=1, max_length=200, description="法人名称, as registered")
    password: str | None = Field(default=None, min_length=8, max_length=128)


class Registered(BaseModel):
    sub: str
    sub_type: str
    level: str


class RegistrationAccepted(BaseModel):
    status: str = "accepted"
    level: str = "L2"
    next: str = (
        "log in with the ID number and password, then complete 实名核验 (L3) to see personal data"
    )


@router.post(
    "/v1/register/natural",
    status_code=202,
    response_model=RegistrationAccepted,
    summary="Self-registration of a natural person (level L2; same answer for every ID)",
)
async def register_natural(body: NaturalRegistration, core: CoreDep) -> RegistrationAccepted:
    # No sub and no 409: the answer must not tell whether the ID number is known.
    await accounts.register_natural(
        core,
        id_number=body.id_number,
        name=body.name,
        password=body.password,
        username=body.username,
    )
    return RegistrationAccepted()


@router.post(
    "/v1/register/legal",
    status_code=201,
    response_model=Registered,
    summary="Registration of a legal person by its verified 法定代表人 (level L3)",
)
async def register_legal(
    body: LegalRegistration, core: CoreDep, principal: CurrentPrincipal
) -> Registered:
    await _active(core, principal)
    acc = await accounts.register_legal(
        core, principal, uscc=body.uscc, name=body.name, password=body.password
    )
    return Registered(sub=acc.id, sub_type="legal", level=acc.level)


async def _active(core: Any, principal: Principal) -> None:
    try:
        await check_active(core, principal)
    except InvalidToken as exc:
        raise Problem(401, str(exc), code="unauthorized") from exc


async def _active_admin(core: Any, admin: Principal) -> None:
    """Administration needs a live token and a verified administrator (L3+): an
    unverified staff account administers nothing."""
    await _active(core, admin)
    if not admin.assurance_at_least("L3"):
        raise Problem(
            403,
            "administration needs a login at level L3 or above",
            code="insufficient-assurance",
        )


@router.get("/v1/me", summary="The subject's own record (full identifiers: only to themself)")
async def me(core: CoreDep, principal: CurrentPrincipal) -> dict[str, Any]:
    await _active(core, principal)
    if principal.subject_type == "client":
        raise Problem(403, "a client has no account")
    body: dict[str, Any] = {"sub": principal.subject, "sub_type": principal.subject_type}
    async with core.db.sessionmaker() as session:
        acc = await session.get(accounts.Account, principal.subject)
        if acc is None:
            raise Problem(404, "no such account")
        body["level"] = acc.level
        if principal.actor is None and acc.kind == "natural":
            name, id_no, phone = await accounts.natural_secrets(session, core, acc.id)
            body.update(name=name, id_number=id_no, phone=phone)
        else:
            subject = await accounts.subject_of(session, core, acc)
            body.update(name=subject.name, uscc=subject.uscc)
    if principal.actor is not None:
        body["act"] = dict(principal.actor)
    return body


@router.post("/v1/me/totp", summary="Enrol a TOTP authenticator (second factor)")
async def enrol_totp(core: CoreDep, principal: CurrentPrincipal) -> dict[str, str]:
    await _active(core, principal)
    if principal.subject_type == "client" or principal.actor is not None:
        raise Problem(403, "only the account holder may enrol a second factor")
    return {"otpauth_uri": await login.enrol_totp(core, principal.subject)}


class PhoneRequest(BaseModel):
    phone: str = Field(min_length=11, max_length=20, description="手机号码")


class PhoneConfirmation(PhoneRequest):
    code: str = Field(min_length=4, max_length=8)


def _holder(principal: Principal) -> str:
    if principal.subject_type != "natural" or principal.actor is not None:
        raise Problem(403, "only the account holder may change the mobile number", code="forbidden")
    return principal.subject


@router.post(
    "/v1/me/phone",
    status_code=202,
    summary="Attach a mobile number, step 1: an SMS code is sent (limits per number)",
)
async def send_phone_code(
    body: PhoneRequest, core: CoreDep, principal: CurrentPrincipal
) -> dict[str, str]:
    await _active(core, principal)
    await accounts.send_phone_code(core, _holder(principal), body.phone)
    return {"status": "accepted"}


@router.post(
    "/v1/me/phone/confirm", summary="Attach a mobile number, step 2: the code proves possession"
)
async def confirm_phone(
    body: PhoneConfirmation, core: CoreDep, principal: CurrentPrincipal
) -> dict[str, str]:
    await _active(core, principal)
    masked = await accounts.confirm_phone(core, _holder(principal), body.phone, body.code)
    return {"phone_masked": masked}


class DelegationRequest(BaseModel):
    agent_id_number: str = Field(description="公民身份号码 of the natural person who will act")
    scopes: list[str] = Field(default_factory=list)
    ends_at: datetime


@router.post("/v1/legal-persons/{uscc}/delegations", status_code=201, summary="Grant 授权代办")
async def grant_delegation(
    uscc: str, body: DelegationRequest, core: CoreDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    await _active(core, principal)
    return await delegations.grant(
        core,
        principal,
        uscc,
        agent_id_number=body.agent_id_number,
        scopes=body.scopes,
        ends_at=body.ends_at,
    )


@router.get("/v1/legal-persons/{uscc}/delegations", summary="List 授权代办")
async def list_delegations(
    uscc: str, core: CoreDep, principal: CurrentPrincipal
) -> list[dict[str, Any]]:
    await _active(core, principal)
    return await delegations.list_for(core, principal, uscc)


@router.delete("/v1/legal-persons/{uscc}/delegations/{delegation_id}", summary="Revoke 授权代办")
async def revoke_delegation(
    uscc: str, delegation_id: str, core: CoreDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    await _active(core, principal)
    return await delegations.revoke(core, principal, uscc, delegation_id)


class ClientRequest(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    grant_types: list[str]
    scopes: list[str] = Field(default_factory=list)
    public: bool = False
    redirect_uris: list[str] = Field(default_factory=list)
    post_logout_redirect_uris: list[str] = Field(default_factory=list)
    access_token_lifetime: int | None = None
    refresh_token_lifetime: int | None = None
    can_introspect: bool = False


@router.post(
    "/v1/admin/clients", status_code=201, summary="Register an OAuth client (identity-admin)"
)
async def create_client(body: ClientRequest, core: CoreDep, admin: Admin) -> dict[str, Any]:
    await _active_admin(core, admin)
    async with core.db.transaction() as session:
        row, secret = await clients.create_client(session, ClientSpec(**body.model_dump()))
        out = clients.describe(row)
    out["client_secret"] = secret
    return out


class StaffRequest(BaseModel):
    username: str = Field(min_length=3, max_length=64)
    name: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=8, max_length=128)
    org_uscc: str
    department: str | None = None
    division: str | None = None
    roles: list[str] = Field(default_factory=list)


@router.post("/v1/admin/staff", status_code=201, summary="Create a staff account (identity-admin)")
async def create_staff(body: StaffRequest, core: CoreDep, admin: Admin) -> Registered:
    await _active_admin(core, admin)
    acc = await staff.create_by_admin(core, admin, body.model_dump())
    return Registered(sub=acc.id, sub_type="staff", level=acc.level)


class RolesRequest(BaseModel):
    roles: list[str]


@router.put(
    "/v1/admin/staff/{sub}/roles",
    summary="Replace a staff member's roles (identity-admin; only roles the admin may grant)",
)
async def set_staff_roles(
    sub: str, body: RolesRequest, core: CoreDep, admin: Admin
) -> dict[str, Any]:
    await _active_admin(core, admin)
    return await staff.set_roles(core, admin, sub, body.roles)


@router.post(
    "/v1/admin/staff/{sub}/in-person-check",
    summary="Record an in-person identity check of a staff member (现场核验, L5)",
)
async def staff_in_person_check(sub: str, core: CoreDep, admin: Admin) -> dict[str, Any]:
    await _active_admin(core, admin)
    return await staff.record_in_person_check(core, admin, sub)


@router.post("/v1/admin/keys/rotate", summary="Rotate the signing key (identity-admin)")
async def rotate_keys(core: CoreDep, admin: Admin) -> dict[str, Any]:
    await _active_admin(core, admin)
    kid = await core.keys.rotate()
    return {"kid": kid, "jwks": core.keys.jwks}
