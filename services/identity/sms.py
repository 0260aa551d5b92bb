"""SMS one-time codes (短信验证码) with a pluggable sender, limited per mobile number.

The local sender records each message in ``local_sms_messages`` (masked number, blind
index, text) where tests and operators read it; production plugs in an SMS gateway.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.secrets import digest, digest_matches, new_id
from services.identity.store.tables import LocalSmsMessage, SmsCode
from services.runtime.db import utcnow
from services.runtime.masking import mask_phone

if TYPE_CHECKING:
    from services.identity.core import IdentityCore

log = logging.getLogger("hub.identity.sms")
MAX_ATTEMPTS = 5


class SmsSender(Protocol):
    async def send(
        self, session: AsyncSession, phone: str, phone_index: str, text: str
    ) -> None: ...


class LocalSmsSender:
    async def send(self, session: AsyncSession, phone: str, phone_index: str, text: str) -> None:
        session.add(
            LocalSmsMessage(phone_index=phone_index, phone_masked=mask_phone(phone), text=text)
        )


def sender_from_settings(core: IdentityCore) -> SmsSender:
    return LocalSmsSender()


async def may_send(session: AsyncSession, core: IdentityCore, phone_index: str) -> bool:
    """The per-number limits: one code per ``identity_sms_min_interval`` seconds and
    ``identity_sms_daily_limit`` codes per 24 h, whoever asks."""
    now = utcnow()
    since = now - timedelta(days=1)
    sent = (
        await session.scalars(
            select(SmsCode.sent_at).where(
                SmsCode.phone_index == phone_index, SmsCode.sent_at > since
            )
        )
    ).all()
    times = [t for t in sent if t is not None]
    interval = timedelta(seconds=core.settings.identity_sms_min_interval)
    if any(now - t < interval for t in times):
        return False
    return len(times) < core.settings.identity_sms_daily_limit


async def issue_code(
    session: AsyncSession, core: IdentityCore, phone: str, phone_index: str, purpose: str = "登录"
) -> bool:
    """Send a fresh code unless the number's limits are reached; True when sent."""
    if not await may_send(session, core, phone_index):
        log.info("SMS code to %s withheld: send limit", mask_phone(phone))
        return False
    code = f"{secrets.randbelow(10**6):06d}"
    now = utcnow()
    session.add(
        SmsCode(
            id=new_id("sms"),
            phone_index=phone_index,
            code_hash=digest(f"{phone_index}:{code}"),
            expires_at=now + timedelta(seconds=core.settings.identity_sms_code_lifetime),
            attempts=0,
            sent_at=now,
        )
    )
    minutes = core.settings.identity_sms_code_lifetime // 60
    await core.sms.send(
        session,
        phone,
        phone_index,
        f"【一网通办】您的{purpose}验证码为{code}，{minutes}分钟内有效。",
    )
    return True


async def check_code(session: AsyncSession, phone_index: str, code: str) -> bool:
    """True once for the newest unexpired code; wrong guesses use up its attempts."""
    now = utcnow()
    row = (
        await session.scalars(
            select(SmsCode)
            .where(SmsCode.phone_index == phone_index, SmsCode.used_at.is_(None))
            .order_by(SmsCode.expires_at.desc())
            .limit(1)
        )
    ).first()
    if row is None or row.expires_at <= now or row.attempts >= MAX_ATTEMPTS:
        return False
    if digest_matches(row.code_hash, f"{phone_index}:{code.strip()}"):
        row.used_at = now
        return True
    row.attempts += 1
    return False


async def last_local_message(session: AsyncSession, phone_index: str) -> str | None:
    row = (
        await session.scalars(
            select(LocalSmsMessage)
            .where(LocalSmsMessage.phone_index == phone_index)
            .order_by(LocalSmsMessage.id.desc())
            .limit(1)
        )
    ).first()
    return row.text if row else None
