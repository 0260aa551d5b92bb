"""工作人员 administration: creation, role changes and the in-person identity check, under
the role allow-list of :mod:`services.identity.domain.roles` (deny by default)."""

from __future__ import annotations

from typing import Any

from services.identity import accounts
from services.identity.core import IdentityCore
from services.identity.domain.roles import decide_change
from services.identity.events import audit
from services.identity.store.tables import Account, StaffMember
from services.runtime.auth import Principal
from services.runtime.identifiers import InvalidIdentifier, validate_uscc
from services.runtime.problems import Problem

IN_PERSON_LEVEL = "L5"  # 现场核验: an administrator saw the person and their ID card


def _check_admin(admin: Principal) -> None:
    if admin.subject_type != "staff" or admin.actor is not None:
        raise Problem(403, "only staff administer staff", code="forbidden")
    if not admin.assurance_at_least("L3"):
        raise Problem(
            403,
            "administering staff needs a login at level L3 or above",
            code="insufficient-assurance",
        )


def _check_roles(
    admin: Principal, core: IdentityCore, org: str, before: list[str], after: list[str]
) -> None:
    decision = decide_change(
        actor_roles=admin.roles,
        actor_org=admin.uscc,
        target_org=org,
        before=before,
        after=after,
        grants=core.settings.role_grants,
    )
    if not decision.allowed:
        raise Problem(403, decision.reason, code=decision.code, roles=list(decision.refused))


async def create_by_admin(core: IdentityCore, admin: Principal, body: dict[str, Any]) -> Account:
    """An administrator creates a staff account (L2) with roles they may grant."""
    _check_admin(admin)
    try:
        org = validate_uscc(body["org_uscc"])
    except InvalidIdentifier as exc:
        raise Problem(422, str(exc), code="invalid-identifier", identifier=exc.kind) from exc
    roles = body.get("roles") or []
    accounts.check_roles(roles)
    _check_roles(admin, core, org, [], roles)
    async with core.db.transaction() as session:
        acc = await accounts.create_staff(session, core, **{**body, "level": "L2"})
        member = await session.get(StaffMember, acc.id)
        assert member is not None
        await audit.staff_changed(
            session,
            core,
            change="created",
            sub=acc.id,
            org_uscc=member.org_uscc,
            by=admin.subject,
            roles=list(member.roles),
            level=acc.level,
        )
    return acc


async def _member(session: Any, sub: str) -> tuple[Account, StaffMember]:
    acc = await session.get(Account, sub, with_for_update=True)
    member = await session.get(StaffMember, sub) if acc is not None else None
    if acc is None or member is None:
        raise Problem(404, "no such staff member", code="not-found")
    return acc, member


async def set_roles(
    core: IdentityCore, admin: Principal, sub: str, roles: list[str]
) -> dict[str, Any]:
    """Replace a staff member's roles; every role added or removed must be grantable."""
    _check_admin(admin)
    accounts.check_roles(roles)
    async with core.db.transaction() as session:
        acc, member = await _member(session, sub)
        # Another org's staff answer 403 like any refused change (no existence oracle
        # beyond the org boundary an admin already knows).
        before = sorted(member.roles or [])
        after = sorted(set(roles))
        _check_roles(admin, core, member.org_uscc, before, after)
        if before != after:
            member.roles = after
            await audit.staff_changed(
                session,
                core,
                change="roles-changed",
                sub=acc.id,
                org_uscc=member.org_uscc,
                by=admin.subject,
                roles=after,
                roles_before=before,
            )
        return {"sub": acc.id, "org_uscc": member.org_uscc, "roles": after, "level": acc.level}


async def record_in_person_check(core: IdentityCore, admin: Principal, sub: str) -> dict[str, Any]:
    """现场核验: an administrator of the same org records that they checked this staff
    member's ID card in person; the account reaches L5 (tokens from password logins still
    say at most L3, what a password can prove). Nobody checks themselves."""
    _check_admin(admin)
    if "identity-admin" not in admin.roles and "identity-superadmin" not in admin.roles:
        raise Problem(403, "this needs the role identity-admin", code="forbidden")
    if admin.subject == sub:
        raise Problem(403, "nobody records their own identity check", code="forbidden")
    async with core.db.transaction() as session:
        acc, member = await _member(session, sub)
        if "identity-superadmin" not in admin.roles and admin.uscc != member.org_uscc:
            raise Problem(
                403,
                "staff may only be checked by an administrator of their own org",
                code="forbidden",
            )
        acc.level = IN_PERSON_LEVEL
        await audit.staff_changed(
            session,
            core,
            change="verified",
            sub=acc.id,
            org_uscc=member.org_uscc,
            by=admin.subject,
            level=acc.level,
        )
        return {"sub": acc.id, "org_uscc": member.org_uscc, "level": acc.level}
