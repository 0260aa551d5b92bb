"""Dependencies of the identity routers."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request

from services.identity.core import IdentityCore
from services.runtime.forwarding import client_address, parse_networks

SSO_COOKIE = "hub_sso"
CSRF_COOKIE = "hub_csrf"


def get_core(request: Request) -> IdentityCore:
    return request.app.state.hub.extras["identity"]  # type: ignore[no-any-return]


CoreDep = Annotated[IdentityCore, Depends(get_core)]


def client_ip(request: Request) -> str | None:
    """The caller's address; ``X-Forwarded-For`` counts only from trusted proxies."""
    trusted = parse_networks(request.app.state.hub.settings.trusted_proxies)
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.get("x-forwarded-for"), trusted)


def cookie_path(core: IdentityCore) -> str:
    """Cookies are scoped to the issuer's path: behind the gateway (``…/api/identity``)
    the browser must not hand our session cookie to the other services on that host."""
    return urlsplit(core.issuer).path or "/"


def cookie_secure(core: IdentityCore) -> bool:
    """``Secure`` whenever the public issuer is HTTPS (TLS ends at the gateway or in front
    of it, so the request this service sees is plain HTTP), or when forced by settings."""
    return core.settings.identity_cookie_secure or core.issuer.startswith("https://")
