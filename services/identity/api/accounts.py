"""Account APIs: self-registration, the subject's own record, 授权代办, admin (clients,
staff, key rotation) for staff with role ``identity-admin``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from services.identity import accounts, clients, delegations, login
from services.identity.api.deps import CoreDep
from services.identity.clients import ClientSpec
from services.identity.tokens import check_active
from services.runtime.auth import CurrentPrincipal, InvalidToken, Principal, require_roles
from services.runtime.identifiers import InvalidIdentifier, validate_uscc
from services.runtime.problems import Problem

router = APIRouter(tags=["accounts"])
Admin = Annotated[Principal, Depends(require_roles("identity-admin"))]


class NaturalRegistration(BaseModel):
    id_number: str = Field(description="公民身份号码")
    name: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=8, max_length=128)
    phone: str | None = None


class LegalRegistration(BaseModel):
    uscc: str = Field(description="统一社会信用代码")
    name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=8, max_length=128)


class Registered(BaseModel):
    sub: str
    sub_type: str
    level: str


@router.post(
    "/v1/register/natural",
    status_code=201,
    response_model=Registered,
    summary="Self-registration of a natural person (level L2)",
)
async def register_natural(body: NaturalRegistration, core: CoreDep) -> Registered:
    async with core.db.transaction() as session:
        acc = await accounts.create_natural(
            session,
            core,
            id_number=body.id_number,
            name=body.name,
            password=body.password,
            phone=body.phone,
        )
    return Registered(sub=acc.id, sub_type="natural", level=acc.level)


@router.post(
    "/v1/register/legal",
    status_code=201,
    response_model=Registered,
    summary="Registration of a legal person by its administrator",
)
async def register_legal(
    body: LegalRegistration, core: CoreDep, principal: CurrentPrincipal
) -> Registered:
    if principal.subject_type != "natural" or principal.actor is not None:
        raise Problem(
            403, "a natural person registers a legal person (and becomes its administrator)"
        )
    async with core.db.transaction() as session:
        acc = await accounts.create_legal(
            session,
            core,
            uscc=body.uscc,
            name=body.name,
            password=body.password,
            admin_account_id=principal.subject,
        )
    return Registered(sub=acc.id, sub_type="legal", level=acc.level)


async def _active(core: Any, principal: Principal) -> None:
    try:
        await check_active(core, principal)
    except InvalidToken as exc:
        raise Problem(401, str(exc), code="unauthorized") from exc


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
    await _active(core, admin)
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
    await _active(core, admin)
    try:
        org = validate_uscc(body.org_uscc)
    except InvalidIdentifier as exc:
        raise Problem(422, str(exc), code="invalid-identifier", identifier=exc.kind) from exc
    if admin.uscc and admin.uscc != org and "identity-superadmin" not in admin.roles:
        raise Problem(
            403, "staff may only be created in the administrator's own org", code="forbidden"
        )
    async with core.db.transaction() as session:
        acc = await accounts.create_staff(session, core, **body.model_dump())
    return Registered(sub=acc.id, sub_type="staff", level=acc.level)


@router.post("/v1/admin/keys/rotate", summary="Rotate the signing key (identity-admin)")
async def rotate_keys(core: CoreDep, admin: Admin) -> dict[str, Any]:
    await _active(core, admin)
    kid = await core.keys.rotate()
    return {"kid": kid, "jwks": core.keys.jwks}
