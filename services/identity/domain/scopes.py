"""Scope rules of OAuth clients."""

from __future__ import annotations

from collections.abc import Iterable

OIDC_SCOPES = frozenset({"openid", "profile", "phone"})

# The scope registry: every scope a client may be registered for, and what it allows.
KNOWN_SCOPES: dict[str, str] = {
    "openid": "OIDC login (ID token, userinfo)",
    "profile": "name and assurance level at userinfo",
    "phone": "masked mobile number at userinfo",
    "cases:read": "办件进度: read the subject's own cases (or, for staff, their org's)",
    "cases:push": "办件数据上报: county systems push case events at the gateway",
    "certs:read": "电子证照: read the subject's certificates",
}


def split(scope: str | None) -> list[str]:
    return [s for s in (scope or "").split() if s]


def allowed(requested: Iterable[str], client_scopes: Iterable[str]) -> bool:
    """Every requested scope must be registered for the client (no silent narrowing:
    a client asking for more than it may gets ``invalid_scope``)."""
    permitted = set(client_scopes)
    return all(s in permitted for s in requested)


def for_delegation(requested: Iterable[str], granted: Iterable[str]) -> list[str]:
    """授权代办: a token acting for a legal person carries only the grant's scopes that
    were asked for, plus ``openid`` (the login itself, no permission)."""
    permitted = set(granted) | {"openid"}
    return [s for s in requested if s in permitted]


def join(scopes: Iterable[str]) -> str:
    return " ".join(dict.fromkeys(scopes))
