"""Subjects: 自然人, 法人 and 工作人员 accounts — creation, look-up, the token view."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.core import IdentityCore
from services.identity.domain.levels import is_level
from services.identity.domain.subjects import Subject
from services.identity.secrets import new_id
from services.identity.store import repo
from services.identity.store.tables import Account, LegalPerson, NaturalPerson, StaffMember
from services.runtime.identifiers import (
    InvalidIdentifier,
    validate_citizen_id,
    validate_division_code,
    validate_uscc,
)
from services.runtime.masking import mask_citizen_id, mask_phone, mask_uscc
from services.runtime.pii import citizen_id_ref
from services.runtime.problems import Problem

_PHONE = re.compile(r"^1[3-9]\d{9}$")
# Account names start with a letter, so they never shadow an ID number, phone or USCC
# (the login form tries those first).
_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9._@-]{2,63}$")
_ROLE = re.compile(r"^[A-Za-z][A-Za-z0-9._:-]{0,63}$")
_ID_CONTEXT = "natural_persons.id_no"
_PHONE_CONTEXT = "natural_persons.phone"


def _invalid(exc: InvalidIdentifier) -> Problem:
    return Problem(422, str(exc), code="invalid-identifier", identifier=exc.kind, reason=exc.reason)


def normalise_phone(phone: str) -> str:
    digits = re.sub(r"[\s-]", "", phone)
    if digits.startswith("+86"):
        digits = digits[3:]
    if not _PHONE.match(digits):
        raise Problem(
            422, "the mobile number is not a mainland mobile number", code="invalid-phone"
        )
    return digits


def phone_index(core: IdentityCore, phone: str) -> str:
    return core.cipher.blind_index(phone, scope="phone")


def masked_username(username: str) -> str:
    """How a login name appears in audit records and logs."""
    value = username.strip()
    if len(value) == 18 and value[:17].isdigit():
        return mask_citizen_id(value)
    if _PHONE.match(value):
        return mask_phone(value)
    if len(value) == 18:
        return mask_uscc(value)
    return value[:64]


def _check_password(password: str) -> None:
    if len(password) < 8:
        raise Problem(422, "the password needs at least 8 characters", code="weak-password")


def _check_username(username: str) -> None:
    if not _USERNAME.match(username):
        raise Problem(
            422,
            "an account name has 3-64 characters: a letter, then letters, digits or . _ @ -",
            code="invalid-username",
        )


def _check_name(name: str, limit: int) -> None:
    if not name.strip() or len(name.strip()) > limit:
        raise Problem(422, f"the name needs 1 to {limit} characters", code="invalid-name")


def _check_level(level: str) -> None:
    if not is_level(level):
        raise Problem(422, "level must be one of L2, L3, L4, L5", code="invalid-level")


async def _add_account(
    session: AsyncSession,
    core: IdentityCore,
    id_prefix: str,
    kind: str,
    username: str | None,
    password: str | None,
    level: str,
) -> Account:
    """The login account every subject (自然人, 法人, 工作人员) has; flushed so its id exists."""
    account = Account(
        id=new_id(id_prefix),
        kind=kind,
        username=username,
        password_hash=core.hasher.hash(password) if password else None,
        level=level,
        failed_logins=0,
        disabled=False,
    )
    session.add(account)
    await session.flush()
    return account


async def create_natural(
    session: AsyncSession,
    core: IdentityCore,
    *,
    id_number: str,
    name: str,
    password: str | None,
    phone: str | None = None,
    level: str = "L2",
    username: str | None = None,
    verified_at: datetime | None = None,
) -> Account:
    try:
        id_no = validate_citizen_id(id_number)
    except InvalidIdentifier as exc:
        raise _invalid(exc) from exc
    _check_level(level)
    _check_name(name, 100)
    if username is not None:
        _check_username(username)
    if password is not None:
        _check_password(password)
    index = citizen_id_ref(core.cipher, id_no)
    if await repo.natural_by_index(session, index) is not None:
        raise Problem(409, "a natural person with this ID number is registered", code="exists")
    phone_no = normalise_phone(phone) if phone else None
    if phone_no and await repo.natural_by_phone(session, phone_index(core, phone_no)):
        raise Problem(409, "this mobile number belongs to another account", code="exists")
    if username and await repo.account_by_username(session, username):
        raise Problem(409, "this account name is taken", code="exists")
    acc = await _add_account(session, core, "np", "natural", username, password, level)
    session.add(
        NaturalPerson(
            account_id=acc.id,
            name=name.strip(),
            id_no=core.cipher.encrypt(id_no, context=_ID_CONTEXT),
            id_no_index=index,
            phone=core.cipher.encrypt(phone_no, context=_PHONE_CONTEXT) if phone_no else None,
            phone_index=phone_index(core, phone_no) if phone_no else None,
            realname_verified_at=verified_at,
        )
    )
    await session.flush()
    return acc


async def create_legal(
    session: AsyncSession,
    core: IdentityCore,
    *,
    uscc: str,
    name: str,
    password: str | None,
    admin_account_id: str | None = None,
    level: str = "L2",
) -> Account:
    try:
        code = validate_uscc(uscc)
    except InvalidIdentifier as exc:
        raise _invalid(exc) from exc
    _check_level(level)
    _check_name(name, 200)
    if password is not None:
        _check_password(password)
    if await repo.legal_by_uscc(session, code) is not None:
        raise Problem(409, "a legal person with this USCC is registered", code="exists")
    if admin_account_id is not None:
        admin = await repo.account(session, admin_account_id)
        if admin is None or admin.kind != "natural":
            raise Problem(422, "the administrator must be a registered natural person")
    acc = await _add_account(session, core, "lp", "legal", None, password, level)
    session.add(
        LegalPerson(
            account_id=acc.id, uscc=code, name=name.strip(), admin_account_id=admin_account_id
        )
    )
    await session.flush()
    return acc


async def create_staff(
    session: AsyncSession,
    core: IdentityCore,
    *,
    username: str,
    name: str,
    password: str,
    org_uscc: str,
    department: str | None,
    division: str | None,
    roles: list[str],
    level: str = "L3",
) -> Account:
    try:
        org = validate_uscc(org_uscc)
        div = validate_division_code(division) if division else None
    except InvalidIdentifier as exc:
        raise _invalid(exc) from exc
    _check_level(level)
    _check_username(username)
    _check_name(name, 100)
    _check_password(password)
    if department is not None and not 1 <= len(department.strip()) <= 200:
        raise Problem(422, "the department needs 1 to 200 characters", code="invalid-department")
    bad_roles = [r for r in roles if not _ROLE.match(r)]
    if bad_roles or len(roles) > 50:
        raise Problem(
            422, "roles: up to 50 names of letters, digits and . _ : -", code="invalid-role"
        )
    if await repo.account_by_username(session, username):
        raise Problem(409, "this account name is taken", code="exists")
    acc = await _add_account(session, core, "st", "staff", username, password, level)
    session.add(
        StaffMember(
            account_id=acc.id,
            name=name.strip(),
            org_uscc=org,
            department=department,
            division=div,
            roles=sorted(set(roles)),
        )
    )
    await session.flush()
    return acc


async def find_by_username(
    session: AsyncSession, core: IdentityCore, username: str
) -> Account | None:
    """Login name → account: 公民身份号码, mobile number, USCC or account name."""
    value = username.strip()
    if not value:
        return None
    try:
        id_no = validate_citizen_id(value)
    except InvalidIdentifier:
        id_no = None
    if id_no:
        person = await repo.natural_by_index(session, citizen_id_ref(core.cipher, id_no))
        return await repo.account(session, person.account_id) if person else None
    if _PHONE.match(value):
        person = await repo.natural_by_phone(session, phone_index(core, value))
        return await repo.account(session, person.account_id) if person else None
    try:
        uscc = validate_uscc(value)
    except InvalidIdentifier:
        uscc = None
    if uscc:
        legal = await repo.legal_by_uscc(session, uscc)
        return await repo.account(session, legal.account_id) if legal else None
    return await repo.account_by_username(session, value)


async def subject_of(session: AsyncSession, core: IdentityCore, acc: Account) -> Subject:
    prof = await repo.profile(session, acc)
    if isinstance(prof, NaturalPerson):
        id_no = core.cipher.decrypt(prof.id_no, context=_ID_CONTEXT)
        phone = core.cipher.decrypt(prof.phone, context=_PHONE_CONTEXT) if prof.phone else None
        return Subject(
            account_id=acc.id,
            kind="natural",
            name=prof.name,
            level=acc.level,
            id_ref=prof.id_no_index,
            id_no_masked=mask_citizen_id(id_no),
            phone_masked=mask_phone(phone) if phone else None,
        )
    if isinstance(prof, LegalPerson):
        return Subject(
            account_id=acc.id, kind="legal", name=prof.name, level=acc.level, uscc=prof.uscc
        )
    if isinstance(prof, StaffMember):
        return Subject(
            account_id=acc.id,
            kind="staff",
            name=prof.name,
            level=acc.level,
            uscc=prof.org_uscc,
            roles=tuple(prof.roles or ()),
            division=prof.division,
            department=prof.department,
        )
    raise Problem(500, "account without profile")


async def natural_secrets(
    session: AsyncSession, core: IdentityCore, account_id: str
) -> tuple[str, str, str | None]:
    """(name, full 公民身份号码, full phone) — for the subject themself and 实名核验 only."""
    prof = await session.get(NaturalPerson, account_id)
    if prof is None:
        raise Problem(404, "no such natural person")
    return (
        prof.name,
        core.cipher.decrypt(prof.id_no, context=_ID_CONTEXT),
        core.cipher.decrypt(prof.phone, context=_PHONE_CONTEXT) if prof.phone else None,
    )
