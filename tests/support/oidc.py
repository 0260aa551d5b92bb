"""Real tokens from the real identity service, the way portals and systems get them.

``portal_login`` drives the HTML login form through authorization code + PKCE (cookies,
CSRF, redirects) and optionally the 实名核验 step-up to L3; ``client_token`` uses client
credentials. Both go through whatever base URL they are given (normally the gateway), so
the tokens are recorded by identity and pass revocation checks like any caller's.
"""

from __future__ import annotations

import re
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client


def form_of(html: str) -> tuple[str, dict[str, str]]:
    """The first form of a page: its action and hidden fields."""
    action = re.search(r'<form method="post" action="([^"]+)">', html)
    if action is None:
        raise AssertionError(f"no form on the page: {html[:500]}")
    hidden = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html)
    return unescape(action.group(1)), {k: unescape(v) for k, v in hidden}


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def portal_login(
    issuer: str,
    *,
    client_id: str,
    redirect_uri: str,
    username: str,
    password: str,
    scope: str = "openid profile",
    step_up: bool = False,
    timeout: float = 20,
) -> dict[str, Any]:
    """Log a person in as a public portal would; returns the token response."""
    rp = AsyncOAuth2Client(
        client_id=client_id,
        redirect_uri=redirect_uri,
        scope=scope,
        code_challenge_method="S256",
        timeout=timeout,
    )
    async with rp, httpx.AsyncClient(timeout=timeout) as browser:
        meta = (
            await rp.request(
                "GET", f"{issuer}/.well-known/openid-configuration", withhold_token=True
            )
        ).json()
        verifier = generate_token(48)
        extra = {"acr_values": "L3"} if step_up else {}
        auth_url, _state = rp.create_authorization_url(
            meta["authorization_endpoint"], code_verifier=verifier, **extra
        )
        page = await browser.get(auth_url)
        action, fields = form_of(page.text)
        posted = await browser.post(
            action, data={**fields, "username": username, "password": password}
        )
        if posted.status_code != 303:
            raise AssertionError(f"login refused ({posted.status_code}): {posted.text[:500]}")
        landing = await browser.get(posted.headers["location"])
        if landing.status_code == 200 and step_up:
            # The step-up offer (实名核验): accept it.
            action, fields = form_of(landing.text)
            raised = await browser.post(action, data=fields)
            if raised.status_code != 303:
                raise AssertionError(f"step-up refused ({raised.status_code}): {raised.text[:500]}")
            landing = await browser.get(raised.headers["location"])
        if landing.status_code != 302:
            raise AssertionError(f"no code ({landing.status_code}): {landing.text[:500]}")
        token: dict[str, Any] = await rp.fetch_token(
            meta["token_endpoint"],
            authorization_response=landing.headers["location"],
            code_verifier=verifier,
        )
        return token


async def client_token(
    issuer: str, client_id: str, client_secret: str, scope: str, timeout: float = 20
) -> str:
    async with httpx.AsyncClient(timeout=timeout) as http:
        response = await http.post(
            f"{issuer}/token",
            auth=(client_id, client_secret),
            data={"grant_type": "client_credentials", "scope": scope},
        )
    if response.status_code != 200:
        raise AssertionError(f"client credentials refused: {response.text[:500]}")
    return str(response.json()["access_token"])
