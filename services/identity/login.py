"""Login (登录): password, SMS code, TOTP second factor, lockout, SSO sessions, step-up.

Every attempt is audited (``login_events`` + an event on ``hub.identity``) in the same
transaction as its effect on the account, so a failure count never moves without its
audit record and vice versa.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity import accounts, sms
from services.identity.core import IdentityCore
from services.identity.domain import lockout
from services.identity.domain.levels import rank, session_level
from services.identity.events import audit
from services.identity.realname import RealNameUnavailable
from services.identity.secrets import digest, new_secret, verify_password
from services.identity.store import repo
from services.identity.store.tables import (
    Account,
    BrowserSession,
    LoginChallenge,
    LoginFailure,
    NaturalPerson,
)
from services.runtime.db import utcnow

log = logging.getLogger("hub.identity.login")
# What a login method can prove at most: none of ours shows a face (L4) or a certificate.
METHOD_CAP = "L3"
_TOTP_CONTEXT = "accounts.totp_secret"


@dataclass
class LoginResult:
    ok: bool
    status: int = 200
    message: str = ""
    session_cookie: str | None = None
    challenge: str | None = None  # a second factor is owed
    account_id: str | None = None


@dataclass
class Attempt:
    username: str
    client_id: str | None
    ip: str | None


def _source(attempt: Attempt) -> str:
    """Where an attempt comes from: the client address (the gateway's X-Forwarded-For)."""
    return (attempt.ip or "unknown")[:64]


async def _failures(session: AsyncSession, acc: Account, attempt: Attempt) -> LoginFailure:
    """The lockout state of this account for this source (created on first use)."""
    key = {"account_id": acc.id, "source": _source(attempt)}
    row = await session.get(LoginFailure, key, with_for_update=True)
    if row is None:
        row = LoginFailure(**key, failures=0)
        session.add(row)
    return row


async def _fail(
    session: AsyncSession,
    core: IdentityCore,
    acc: Account,
    attempt: Attempt,
    method: str,
    reason: str,
) -> LoginResult:
    now = utcnow()
    state = await _failures(session, acc, attempt)
    outcome = lockout.record_failure(state.failures, state.last_failure_at, now, core.policy)
    state.failures = outcome.failures
    state.last_failure_at = now
    if outcome.locked_until is not None:
        state.locked_until = outcome.locked_until
    await _audit(session, core, attempt, outcome="failed", method=method, acc=acc, reason=reason)
    if outcome.locked_until is not None:
        await audit.account_locked(
            session,
            core,
            account_id=acc.id,
            failures=outcome.failures,
            until=outcome.locked_until.isoformat(),
            ip=attempt.ip,
        )
        log.warning(
            "account %s locked for one source until %s", acc.id, outcome.locked_until.isoformat()
        )
        return _locked_result(outcome.locked_until, now)
    return LoginResult(False, 401, "用户名或密码错误 (wrong login name or password)")


async def _audit(
    session: AsyncSession,
    core: IdentityCore,
    attempt: Attempt,
    *,
    outcome: str,
    method: str,
    acc: Account | None = None,
    reason: str | None = None,
    acr: str | None = None,
) -> None:
    """One login attempt on ``hub.identity``, with what the attempt and account say."""
    await audit.login_attempt(
        session,
        core,
        outcome=outcome,
        username_masked=accounts.masked_username(attempt.username),
        method=method,
        account_id=acc.id if acc is not None else None,
        subject_type=acc.kind if acc is not None else None,
        reason=reason,
        client_id=attempt.client_id,
        ip=attempt.ip,
        acr=acr,
    )


def _locked_result(until: datetime, now: datetime) -> LoginResult:
    wait = max(1, int((until - now).total_seconds()))
    return LoginResult(
        False, 423, f"账号已临时锁定，请 {wait} 秒后再试 (account locked for {wait} s)"
    )


async def _locked(
    session: AsyncSession, core: IdentityCore, acc: Account, attempt: Attempt, method: str
) -> LoginResult | None:
    now = utcnow()
    state = await session.get(LoginFailure, {"account_id": acc.id, "source": _source(attempt)})
    if state is None or not lockout.is_locked(state.locked_until, now):
        return None
    await _audit(session, core, attempt, outcome="failed", method=method, acc=acc, reason="locked")
    assert state.locked_until is not None
    return _locked_result(state.locked_until, now)


async def _unknown(
    session: AsyncSession, core: IdentityCore, attempt: Attempt, method: str
) -> LoginResult:
    await _audit(session, core, attempt, outcome="failed", method=method, reason="unknown-account")
    return LoginResult(False, 401, "用户名或密码错误 (wrong login name or password)")


async def _succeed(
    session: AsyncSession, core: IdentityCore, acc: Account, attempt: Attempt, amr: list[str]
) -> LoginResult:
    # A success clears this source's count only (Keycloak resets on success as well).
    await session.execute(
        delete(LoginFailure).where(
            LoginFailure.account_id == acc.id, LoginFailure.source == _source(attempt)
        )
    )
    cookie, row = new_browser_session(core, acc, amr)
    session.add(row)
    method = {"pwd": "password", "otp": "totp"}.get(amr[-1], amr[-1])
    await _audit(session, core, attempt, outcome="succeeded", method=method, acc=acc, acr=row.acr)
    return LoginResult(True, session_cookie=cookie, account_id=acc.id)


def new_browser_session(
    core: IdentityCore, acc: Account, amr: list[str]
) -> tuple[str, BrowserSession]:
    cookie = new_secret()
    now = utcnow()
    row = BrowserSession(
        id=digest(cookie),
        account_id=acc.id,
        acr=session_level(acc.level, METHOD_CAP),
        amr=amr,
        auth_time=now,
        expires_at=now + timedelta(seconds=core.settings.identity_session_lifetime),
    )
    return cookie, row


async def password_login(
    core: IdentityCore, username: str, password: str, attempt: Attempt
) -> LoginResult:
    async with core.db.sessionmaker() as read:
        candidates = [
            (a.id, a.password_hash) for a in await accounts.login_candidates(read, core, username)
        ]
    # argon2 costs ~20-30 ms of CPU: off the event loop. Unknown accounts pay it too.
    matched: str | None = None
    for account_id, stored in candidates or [("", None)]:
        if await asyncio.to_thread(verify_password, core.hasher, stored, password):
            matched = account_id
            break
    async with core.db.transaction() as session:
        if not candidates:
            return await _unknown(session, core, attempt, "password")
        if matched is None:
            # Every claim of the login name takes the failure (for this source).
            result: LoginResult | None = None
            for account_id, _ in candidates:
                acc = await session.get(Account, account_id, with_for_update=True)
                assert acc is not None
                locked = await _locked(session, core, acc, attempt, "password")
                outcome = locked or await _fail(
                    session, core, acc, attempt, "password", "bad-password"
                )
                if result is None or outcome.status == 423:
                    result = outcome
            assert result is not None
            return result
        acc = await session.get(Account, matched, with_for_update=True)
        assert acc is not None
        if (locked := await _locked(session, core, acc, attempt, "password")) is not None:
            return locked
        if acc.disabled:
            return await _fail(session, core, acc, attempt, "password", "bad-password")
        if acc.totp_secret:
            handle = new_secret()
            session.add(
                LoginChallenge(
                    id=digest(handle),
                    account_id=acc.id,
                    amr=["pwd"],
                    resume="",
                    expires_at=utcnow()
                    + timedelta(seconds=core.settings.identity_login_challenge_lifetime),
                )
            )
            return LoginResult(True, challenge=handle, account_id=acc.id)
        return await _succeed(session, core, acc, attempt, ["pwd"])


async def totp_login(core: IdentityCore, handle: str, code: str, attempt: Attempt) -> LoginResult:
    async with core.db.transaction() as session:
        challenge = await session.get(LoginChallenge, digest(handle), with_for_update=True)
        now = utcnow()
        if challenge is None or challenge.used_at or challenge.expires_at <= now:
            return LoginResult(False, 400, "登录已过期，请重新登录 (login expired, start again)")
        acc = await session.get(Account, challenge.account_id, with_for_update=True)
        assert acc is not None
        if (locked := await _locked(session, core, acc, attempt, "totp")) is not None:
            return locked
        secret = core.cipher.decrypt(acc.totp_secret or "", context=_TOTP_CONTEXT)
        if not pyotp.TOTP(secret).verify(code.strip(), valid_window=1):
            result = await _fail(session, core, acc, attempt, "totp", "bad-otp")
            if result.status == 401:
                result.challenge = handle
                result.message = "动态口令错误 (wrong one-time code)"
            return result
        challenge.used_at = now
        return await _succeed(session, core, acc, attempt, [*challenge.amr, "otp"])


async def send_sms_code(core: IdentityCore, phone: str) -> None:
    """Send a login code if the number belongs to an account and its send limits allow;
    say nothing either way (the page is the same)."""
    try:
        number = accounts.normalise_phone(phone)
    except Exception:
        return
    index = accounts.phone_index(core, number)
    async with core.db.transaction() as session:
        if await repo.natural_by_phone(session, index) is not None:
            await sms.issue_code(session, core, number, index)


async def sms_login(core: IdentityCore, phone: str, code: str, attempt: Attempt) -> LoginResult:
    async with core.db.transaction() as session:
        acc = await accounts.find_by_username(session, core, phone)
        if acc is None:
            return await _unknown(session, core, attempt, "sms")
        acc = await session.get(Account, acc.id, with_for_update=True)
        assert acc is not None
        if (locked := await _locked(session, core, acc, attempt, "sms")) is not None:
            return locked
        index = accounts.phone_index(core, accounts.normalise_phone(phone))
        if acc.disabled or not await sms.check_code(session, index, code):
            return await _fail(session, core, acc, attempt, "sms", "bad-otp")
        return await _succeed(session, core, acc, attempt, ["sms"])


async def current_session(core: IdentityCore, cookie: str | None) -> BrowserSession | None:
    if not cookie:
        return None
    async with core.db.sessionmaker() as session:
        row = await repo.browser_session(session, digest(cookie))
    if row is None or row.ended_at is not None or row.expires_at <= utcnow():
        return None
    return row


async def end_session(core: IdentityCore, session_id: str) -> int:
    """Logout: end the SSO session and revoke the tokens issued under it."""
    now = utcnow()
    async with core.db.transaction() as session:
        row = await repo.browser_session(session, session_id)
        if row is not None and row.ended_at is None:
            row.ended_at = now
        return await repo.revoke_by_session(session, session_id, now)


_MISMATCH = "实名核验未通过 (the population base does not confirm this name and ID number)"


async def _step_up_refused(
    session: AsyncSession, core: IdentityCore, acc: Account, attempt: Attempt, reason: str
) -> None:
    await audit.login_attempt(
        session,
        core,
        outcome="failed",
        username_masked=acc.id,
        method="step-up",
        account_id=acc.id,
        subject_type="natural",
        reason=reason,
        client_id=attempt.client_id,
        ip=attempt.ip,
    )


async def step_up_realname(core: IdentityCore, session_id: str, attempt: Attempt) -> LoginResult:
    """L2 → L3: 实名核验 of the account's name + ID number, then raise the session."""
    async with core.db.sessionmaker() as read:
        bs = await repo.browser_session(read, session_id)
        if bs is None:
            return LoginResult(False, 400, "no login session")
        acc = await repo.account(read, bs.account_id)
        if acc is None or acc.kind != "natural":
            return LoginResult(False, 403, "实名核验 applies to natural persons only")
        name, id_no, _ = await accounts.natural_secrets(read, core, acc.id)
        taken = await accounts.verified_natural_account(read, core, id_no)
    if taken is not None and taken.id != acc.id:
        # Another account passed 实名核验 for this ID number: this claim never will.
        # The answer is the mismatch answer (no hint who holds the number).
        async with core.db.transaction() as session:
            await _step_up_refused(session, core, acc, attempt, "realname-claimed")
        return LoginResult(False, 403, _MISMATCH)
    try:
        result = await core.realname.verify(name, id_no)
    except RealNameUnavailable as exc:
        log.warning("实名核验 unavailable: %s", exc)
        return LoginResult(False, 503, "实名核验服务暂不可用 (verification service unavailable)")
    async with core.db.transaction() as session:
        acc = await session.get(Account, bs.account_id, with_for_update=True)
        bs = await session.get(BrowserSession, session_id)
        assert acc is not None and bs is not None
        if not result.matched:
            await _step_up_refused(session, core, acc, attempt, "realname-mismatch")
            return LoginResult(False, 403, _MISMATCH)
        person = await session.get(NaturalPerson, acc.id, with_for_update=True)
        assert person is not None
        if person.realname_verified_at is None:
            if await repo.verified_natural(session, person.id_no_index) is not None:
                await _step_up_refused(session, core, acc, attempt, "realname-claimed")
                return LoginResult(False, 403, _MISMATCH)
            person.realname_verified_at = utcnow()
            try:
                # Two claims verifying at once: the partial unique index lets one win.
                async with session.begin_nested():
                    await session.flush()
            except IntegrityError:
                person.realname_verified_at = None
                await _step_up_refused(session, core, acc, attempt, "realname-claimed")
                return LoginResult(False, 403, _MISMATCH)
        if rank(acc.level) < rank("L3"):
            acc.level = "L3"
        bs.acr = session_level(acc.level, METHOD_CAP)
        bs.amr = [*bs.amr, "realname"]
        await audit.login_attempt(
            session,
            core,
            outcome="succeeded",
            username_masked=acc.id,
            method="step-up",
            account_id=acc.id,
            subject_type="natural",
            client_id=attempt.client_id,
            ip=attempt.ip,
            acr=bs.acr,
        )
    return LoginResult(True, account_id=acc.id)


async def enrol_totp(core: IdentityCore, account_id: str) -> str:
    """Give the account a TOTP secret; returns the otpauth:// URI for an authenticator."""
    secret = pyotp.random_base32()
    async with core.db.transaction() as session:
        acc = await session.get(Account, account_id)
        assert acc is not None
        acc.totp_secret = core.cipher.encrypt(secret, context=_TOTP_CONTEXT)
    return pyotp.TOTP(secret).provisioning_uri(name=account_id, issuer_name="一网通办")


async def login_events(session: AsyncSession, account_id: str) -> list[tuple[str, str]]:
    from services.identity.store.tables import LoginEvent

    rows = (
        await session.scalars(
            select(LoginEvent).where(LoginEvent.account_id == account_id).order_by(LoginEvent.id)
        )
    ).all()
    return [(r.outcome, r.reason or "") for r in rows]
