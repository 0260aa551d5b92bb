"""What identity lets retention purge: tokens, codes, sessions, challenges and SMS codes
that expired (plus the runtime's grace period, so a just-expired row still explains a
refusal for a while)."""

from __future__ import annotations

from sqlalchemy import or_

from services.identity.store.tables import (
    AuthorizationCode,
    BrowserSession,
    IssuedToken,
    LoginChallenge,
    SmsCode,
)
from services.runtime.retention import Retention


def register_retention(retention: Retention) -> None:
    grace = retention.grace
    retention.purge(
        "identity.tokens",
        IssuedToken,
        lambda now: (
            (IssuedToken.access_expires_at < now - grace)
            & or_(
                IssuedToken.refresh_expires_at.is_(None),
                IssuedToken.refresh_expires_at < now - grace,
            )
        ),
    )
    retention.purge(
        "identity.authorization_codes",
        AuthorizationCode,
        lambda now: AuthorizationCode.expires_at < now - grace,
    )
    retention.purge(
        "identity.browser_sessions",
        BrowserSession,
        lambda now: or_(
            BrowserSession.expires_at < now - grace, BrowserSession.ended_at < now - grace
        ),
    )
    retention.purge(
        "identity.login_challenges",
        LoginChallenge,
        lambda now: LoginChallenge.expires_at < now - grace,
    )
    retention.purge("identity.sms_codes", SmsCode, lambda now: SmsCode.expires_at < now - grace)
