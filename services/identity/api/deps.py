"""Dependencies of the identity routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.identity.core import IdentityCore

SSO_COOKIE = "hub_sso"
CSRF_COOKIE = "hub_csrf"


def get_core(request: Request) -> IdentityCore:
    return request.app.state.hub.extras["identity"]  # type: ignore[no-any-return]


CoreDep = Annotated[IdentityCore, Depends(get_core)]


def client_ip(request: Request) -> str | None:
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded:
        return forwarded.split(",")[0].strip()
    return request.client.host if request.client else None
