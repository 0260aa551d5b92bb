"""Subjects: 自然人, 法人 and 工作人员 accounts — creation, look-up, the token view."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.identity import sms
from services.identity.core import IdentityCore
from services.identity.domain.levels import is_level, rank
from services.identity.domain.subjects import Subject
from services.identity.realname import RealNameUnavailable
from services.identity.secrets import new_id
from services.identity.store import repo
from services.identity.store.tables import Account, LegalPerson, NaturalPerson, StaffMember
from services.runtime.auth import Principal
from services.runtime.db import utcnow
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


def check_roles(roles: list[str]) -> None:
    bad_roles = [r for r in roles if not _ROLE.match(r)]
    if bad_roles or len(roles) > 50:
        raise Problem(
            422, "roles: up to 50 names of letters, digits and . _ : -", code="invalid-role"
        )


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
    """A natural-person account. Several unverified (L2) accounts may claim one ID number;
    a verified one (L3+, operator-vouched or 实名核验) is unique per number (409).

    Operators (CLI, seed) call this directly; self-registration goes through
    :func:`register_natural`, which never answers differently for known numbers."""
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
    if rank(level) >= rank("L3") and verified_at is None:
        verified_at = utcnow()  # the operator vouches for the identity
    index = citizen_id_ref(core.cipher, id_no)
    if verified_at is not None and await repo.verified_natural(session, index) is not None:
        raise Problem(409, "a verified natural person with this ID number exists", code="exists")
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


async def register_natural(
    core: IdentityCore, *, id_number: str, name: str, password: str, username: str | None = None
) -> Account | None:
    """Self-registration (L2). The answer is the same whether or not the ID number is
    known: an ID number already verified by another account gets no new account (None;
    the caller is not told), any other gets a fresh unverified account. An optional
    account name logs in to exactly this account, however many claims the number has."""
    try:
        id_no = validate_citizen_id(id_number)
    except InvalidIdentifier as exc:
        raise _invalid(exc) from exc
    _check_name(name, 100)
    _check_password(password)
    if username is not None:
        _check_username(username)
    # argon2 for every well-formed request, so timing does not tell known numbers apart.
    password_hash = await asyncio.to_thread(core.hasher.hash, password)
    async with core.db.transaction() as session:
        if await repo.verified_natural(session, citizen_id_ref(core.cipher, id_no)):
            return None
        acc = await create_natural(
            session, core, id_number=id_no, name=name, password=None, username=username
        )
        acc.password_hash = password_hash
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


async def register_legal(
    core: IdentityCore, principal: Principal, *, uscc: str, name: str, password: str | None
) -> Account:
    """法人注册 by its 法定代表人: a natural person at L3+ (token ``acr`` and a verified
    account) whom the provincial legal-person base confirms as the representative of this
    USCC under this name. The legal person is L3 and the representative its administrator
    (the only one who may grant 授权代办)."""
    if principal.subject_type != "natural" or principal.actor is not None:
        raise Problem(
            403,
            "a natural person registers a legal person (and becomes its administrator)",
            code="forbidden",
        )
    if not principal.assurance_at_least("L3"):
        raise Problem(
            403,
            "registering a legal person needs a login at level L3 (实名核验) or above",
            code="insufficient-assurance",
        )
    try:
        code = validate_uscc(uscc)
    except InvalidIdentifier as exc:
        raise _invalid(exc) from exc
    _check_name(name, 200)
    if password is not None:
        _check_password(password)
    async with core.db.sessionmaker() as read:
        person = await read.get(NaturalPerson, principal.subject)
        if person is None or person.realname_verified_at is None:
            raise Problem(403, "the account has not passed 实名核验", code="insufficient-assurance")
        rep_name, rep_id, _ = await natural_secrets(read, core, principal.subject)
    try:
        result = await core.realname.verify_legal(code, name.strip(), rep_name, rep_id)
    except RealNameUnavailable as exc:
        raise Problem(
            503, "法人核验服务暂不可用 (legal-person check unavailable)", code="unavailable"
        ) from exc
    if not result.matched:
        # One answer for an unknown USCC, a wrong name and a different representative.
        raise Problem(
            403,
            "法人核验未通过: the legal-person base does not confirm this USCC, name and 法定代表人",
            code="legal-person-not-confirmed",
        )
    async with core.db.transaction() as session:
        # Only the confirmed representative gets this far, so a 409 reveals nothing new.
        return await create_legal(
            session,
            core,
            uscc=code,
            name=name,
            password=password,
            admin_account_id=principal.subject,
            level="L3",
        )


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
    level: str = "L2",
) -> Account:
    """A 工作人员 account; L2 until an in-person check (or the operator) vouches more."""
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
    check_roles(roles)
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


def _citizen_id_or_none(value: str) -> str | None:
    try:
        return validate_citizen_id(value)
    except InvalidIdentifier:
        return None


async def find_by_username(
    session: AsyncSession, core: IdentityCore, username: str
) -> Account | None:
    """Login name → account: 公民身份号码, mobile number, USCC or account name. An ID
    number names its verified account, or else the newest unverified claim."""
    value = username.strip()
    if not value:
        return None
    if id_no := _citizen_id_or_none(value):
        people = await repo.naturals_by_index(session, citizen_id_ref(core.cipher, id_no), 1)
        return await repo.account(session, people[0].account_id) if people else None
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


async def login_candidates(
    session: AsyncSession, core: IdentityCore, username: str
) -> list[Account]:
    """The accounts a password login with this name may open. An ID number claimed by
    several unverified accounts tries each (newest first, bounded); once one account is
    verified, the number opens that account only."""
    id_no = _citizen_id_or_none(username.strip())
    if id_no is None:
        acc = await find_by_username(session, core, username)
        return [acc] if acc is not None else []
    people = await repo.naturals_by_index(
        session, citizen_id_ref(core.cipher, id_no), core.settings.identity_login_id_candidates
    )
    found = [await repo.account(session, p.account_id) for p in people]
    return [a for a in found if a is not None]


async def verified_natural_account(
    session: AsyncSession, core: IdentityCore, id_number: str
) -> Account | None:
    """The verified (实名核验) account of an ID number, if any."""
    id_no = _citizen_id_or_none(id_number)
    if id_no is None:
        return None
    person = await repo.verified_natural(session, citizen_id_ref(core.cipher, id_no))
    return await repo.account(session, person.account_id) if person else None


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


async def send_phone_code(core: IdentityCore, account_id: str, phone: str) -> None:
    """绑定手机号, step 1: send a code to the number (within its send limits). Same
    answer whether or not another account has the number."""
    number = normalise_phone(phone)
    index = phone_index(core, number)
    async with core.db.transaction() as session:
        if await session.get(NaturalPerson, account_id) is None:
            raise Problem(403, "only natural persons attach a mobile number", code="forbidden")
        await sms.issue_code(session, core, number, index, purpose="绑定手机")


async def confirm_phone(core: IdentityCore, account_id: str, phone: str, code: str) -> str:
    """绑定手机号, step 2: the code proves possession, so the number moves to this account
    (from any account that held it before: numbers are recycled). Returns it masked."""
    number = normalise_phone(phone)
    index = phone_index(core, number)
    async with core.db.transaction() as session:
        person = await session.get(NaturalPerson, account_id, with_for_update=True)
        if person is None:
            raise Problem(403, "only natural persons attach a mobile number", code="forbidden")
        if not await sms.check_code(session, index, code):
            raise Problem(400, "the code is wrong or has expired", code="invalid-code")
        holder = await repo.natural_by_phone(session, index)
        if holder is not None and holder.account_id != account_id:
            holder.phone, holder.phone_index = None, None
            await session.flush()
        person.phone = core.cipher.encrypt(number, context=_PHONE_CONTEXT)
        person.phone_index = index
    return mask_phone(number)
