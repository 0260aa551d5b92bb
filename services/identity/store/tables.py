"""Tables of the identity service (its own database; no other service reads them).

PII columns (公民身份号码, 手机号码, TOTP secrets, private signing keys) hold
:class:`~services.runtime.crypto.FieldCipher` tokens; ``*_index`` columns hold the keyed
blind index used for look-ups. Secrets presented by callers (refresh tokens, codes,
cookies, client secrets) are stored only as SHA-256 digests.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.runtime.db import UTCDateTime, make_base, utcnow

Base = make_base()


class Account(Base):
    """登录账号: credentials and level of any subject (lockout state: ``login_failures``)."""

    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # natural | legal | staff
    username: Mapped[str | None] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(2), default="L2")
    totp_secret: Mapped[str | None] = mapped_column(Text)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NaturalPerson(Base):
    """自然人, keyed by 公民身份号码 (stored encrypted, found by blind index).

    Several unverified (L2) accounts may claim one ID number, so a squatter cannot block
    the real person; only one account per ID number can pass 实名核验 (partial unique
    index ``uq_natural_persons_verified_id``)."""

    __tablename__ = "natural_persons"
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    id_no: Mapped[str] = mapped_column(Text)
    id_no_index: Mapped[str] = mapped_column(String(128), index=True)
    phone: Mapped[str | None] = mapped_column(Text)
    phone_index: Mapped[str | None] = mapped_column(String(128), unique=True)
    realname_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LegalPerson(Base):
    """法人, keyed by 统一社会信用代码."""

    __tablename__ = "legal_persons"
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    admin_account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"))


class StaffMember(Base):
    """工作人员 of an org (USCC), with department, 行政区划 and roles."""

    __tablename__ = "staff_members"
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    org_uscc: Mapped[str] = mapped_column(String(18), index=True)
    department: Mapped[str | None] = mapped_column(String(200))
    division: Mapped[str | None] = mapped_column(String(12))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)


class Client(Base):
    """OAuth client (portal, county or department system)."""

    __tablename__ = "clients"
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    grant_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    access_token_lifetime: Mapped[int | None] = mapped_column(Integer)
    refresh_token_lifetime: Mapped[int | None] = mapped_column(Integer)
    can_introspect: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # USCCs of the orgs the system was registered for (hub systems onboard): the ``orgs``
    # claim of its client-credentials tokens, which services such as certs trust.
    orgs: Mapped[list[str] | None] = mapped_column(JSON)


class BrowserSession(Base):
    """SSO session (一次认证、全网通办): one per browser login, shared by every client."""

    __tablename__ = "browser_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    acr: Mapped[str] = mapped_column(String(2))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginChallenge(Base):
    """A login half done: password accepted, second factor (TOTP) still owed."""

    __tablename__ = "login_challenges"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the handle
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    resume: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuthorizationCode(Base):
    __tablename__ = "authorization_codes"
    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[str] = mapped_column(String(40))
    session_id: Mapped[str | None] = mapped_column(String(64))
    delegation_id: Mapped[str | None] = mapped_column(String(40))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(String(255))
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(10))
    acr: Mapped[str] = mapped_column(String(2))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IssuedToken(Base):
    """One access token (by ``jti``) and, if any, its refresh token; a refresh-token
    family (``family_id``) links every token rotated from one grant, so reuse of an old
    refresh token can revoke them all."""

    __tablename__ = "tokens"
    jti: Mapped[str] = mapped_column(String(40), primary_key=True)
    family_id: Mapped[str] = mapped_column(String(40), index=True)
    grant_type: Mapped[str] = mapped_column(String(40))
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    account_id: Mapped[str | None] = mapped_column(String(40))
    delegation_id: Mapped[str | None] = mapped_column(String(40), index=True)
    session_id: Mapped[str | None] = mapped_column(String(64), index=True)
    code_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    scope: Mapped[str] = mapped_column(Text, default="")
    acr: Mapped[str | None] = mapped_column(String(2))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    auth_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refresh_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    access_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    refresh_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refresh_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SigningKey(Base):
    """A JWS signing key. The newest unretired key signs; a retired key stays in the
    JWKS until ``publish_until`` (after every token it signed has expired)."""

    __tablename__ = "signing_keys"
    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(10))
    private_jwk: Mapped[str] = mapped_column(Text)  # FieldCipher token
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    publish_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DelegationRow(Base):
    """授权代办: legal person → natural person, with scopes and an end date."""

    __tablename__ = "delegations"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    legal_account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    agent_account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    granted_by: Mapped[str] = mapped_column(String(40))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoginEvent(Base):
    """登录审计: every attempt, append-only (also published on ``hub.identity``)."""

    __tablename__ = "login_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    account_id: Mapped[str | None] = mapped_column(String(40), index=True)
    username_masked: Mapped[str] = mapped_column(String(100))
    method: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(60))
    client_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))


class SmsCode(Base):
    """A one-time login code sent by SMS (hash only)."""

    __tablename__ = "sms_codes"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    phone_index: Mapped[str] = mapped_column(String(128), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When the code was sent: the per-number send limits count these.
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class LoginFailure(Base):
    """防暴力破解 state per (account, source): failures from one source (client IP) lock
    the account for that source only, so a stranger cannot lock the owner out."""

    __tablename__ = "login_failures"
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LocalSmsMessage(Base):
    """What the local SMS sender 'sent': read by tests and operators instead of a phone."""

    __tablename__ = "local_sms_messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    phone_index: Mapped[str] = mapped_column(String(128), index=True)
    phone_masked: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


Index("ix_tokens_account_client", IssuedToken.account_id, IssuedToken.client_id)
Index(
    "uq_natural_persons_verified_id",
    NaturalPerson.id_no_index,
    unique=True,
    postgresql_where=NaturalPerson.realname_verified_at.is_not(None),
    sqlite_where=NaturalPerson.realname_verified_at.is_not(None),
)
