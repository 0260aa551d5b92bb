"""Subjects (主体) as tokens describe them, and the claims built from them.

Claim conventions are those of ``services/runtime/auth.py`` (sub, sub_type, id_ref, uscc,
roles, division, dept, scope, acr, act, client_id). The 公民身份号码 never appears in a
token: ``id_ref`` (its keyed blind index) lets services match applicants without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

SubjectKind = Literal["natural", "legal", "staff"]


@dataclass(frozen=True)
class Subject:
    """自然人 / 法人 / 工作人员, with what tokens may say about them."""

    account_id: str
    kind: SubjectKind
    name: str
    level: str
    id_ref: str | None = None  # natural persons
    uscc: str | None = None  # legal persons; the org of staff
    roles: tuple[str, ...] = ()
    division: str | None = None
    department: str | None = None
    id_no_masked: str | None = None
    phone_masked: str | None = None

    def identity_claims(self) -> dict[str, Any]:
        claims: dict[str, Any] = {"sub": self.account_id, "sub_type": self.kind}
        if self.kind == "natural" and self.id_ref:
            claims["id_ref"] = self.id_ref
        if self.kind in ("legal", "staff") and self.uscc:
            claims["uscc"] = self.uscc
        if self.kind == "staff":
            claims["roles"] = list(self.roles)
            if self.division:
                claims["division"] = self.division
            if self.department:
                claims["dept"] = self.department
        return claims


@dataclass(frozen=True)
class Authenticated:
    """The resource owner of a grant: who the token names (``subject``), who acts
    (``actor``, for 授权代办) and how they logged in."""

    subject: Subject
    acr: str
    amr: tuple[str, ...] = ()
    auth_time: int = 0
    session_id: str | None = None
    actor: Subject | None = None
    delegation_id: str | None = None
    delegation_scopes: frozenset[str] | None = None

    def get_user_id(self) -> str:  # authlib's UserMixin contract
        return self.subject.account_id


def access_claims(
    *,
    issuer: str,
    audience: str,
    client_id: str,
    scope: str,
    jti: str,
    issued_at: int,
    expires_at: int,
    user: Authenticated | None,
    orgs: Sequence[str] = (),
) -> dict[str, Any]:
    """Claims of an access token (RFC 9068 shape plus the hub conventions). A client's own
    token carries ``orgs``: the USCCs its registration names (never from the request)."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "client_id": client_id,
        "scope": scope,
        "jti": jti,
        "iat": issued_at,
        "nbf": issued_at,
        "exp": expires_at,
    }
    if user is None:
        claims.update({"sub": client_id, "sub_type": "client"})
        if orgs:
            claims["orgs"] = list(orgs)
        return claims
    claims.update(user.subject.identity_claims())
    claims["name"] = user.subject.name
    claims["acr"] = user.acr
    if user.auth_time:
        claims["auth_time"] = user.auth_time
    if user.actor is not None:
        act: dict[str, Any] = {"sub": user.actor.account_id, "sub_type": "natural"}
        if user.actor.id_ref:
            act["id_ref"] = user.actor.id_ref
        claims["act"] = act
    return claims


def userinfo_claims(user: Authenticated, scopes: set[str]) -> dict[str, Any]:
    """What ``/userinfo`` and the ID token say: identifiers masked (the relying party is
    not the subject; the subject reads full values at ``/v1/me``)."""
    s = user.subject
    info: dict[str, Any] = dict(s.identity_claims())
    if "profile" in scopes:
        info["name"] = s.name
        info["level"] = s.level
        if s.id_no_masked:
            info["id_number_masked"] = s.id_no_masked
    if "phone" in scopes and s.phone_masked:
        info["phone_number_masked"] = s.phone_masked
    if user.actor is not None:
        info["act"] = {"sub": user.actor.account_id, "sub_type": "natural", "name": user.actor.name}
    return info


__all__ = ["Authenticated", "Subject", "SubjectKind", "access_claims", "userinfo_claims"]
