"""Scope rules of OAuth clients."""

from __future__ import annotations

from collections.abc import Iterable

OIDC_SCOPES = frozenset({"openid", "profile", "phone"})


def split(scope: str | None) -> list[str]:
    return [s for s in (scope or "").split() if s]


def allowed(requested: Iterable[str], client_scopes: Iterable[str]) -> bool:
    """Every requested scope must be registered for the client (no silent narrowing:
    a client asking for more than it may gets ``invalid_scope``)."""
    permitted = set(client_scopes)
    return all(s in permitted for s in requested)


def join(scopes: Iterable[str]) -> str:
    return " ".join(dict.fromkeys(scopes))
