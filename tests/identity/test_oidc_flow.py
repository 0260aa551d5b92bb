"""The portal flow with authlib's OIDC client: discovery → code + PKCE (HTML login) →
token → ID token checked against JWKS → userinfo → refresh → SSO → logout."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oidc.core.util import create_half_hash
from joserfc import jwt
from joserfc.jwk import KeySet

from services.runtime.auth import TokenVerifier
from services.runtime.pii import citizen_id_ref
from tests.identity.support import (
    CITIZEN_ID,
    CITIZEN_PASSWORD,
    ISSUER,
    RP,
    RP2,
    identity_env,
    login_via_form,
)


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def test_portal_login_token_refresh_sso_logout(pg) -> None:
    url = await pg.create("identity_flow")
    async with identity_env(url) as env:
        rp = AsyncOAuth2Client(
            client_id="portal",
            redirect_uri=RP,
            scope="openid profile cases:read",
            code_challenge_method="S256",
            transport=env.transport(),
        )
        meta = (
            await rp.request(
                "GET", f"{ISSUER}/.well-known/openid-configuration", withhold_token=True
            )
        ).json()
        assert meta["issuer"] == ISSUER
        assert meta["code_challenge_methods_supported"] == ["S256"]
        assert all(
            meta[k].startswith(ISSUER + "/")
            for k in (
                "authorization_endpoint",
                "token_endpoint",
                "jwks_uri",
                "userinfo_endpoint",
                "revocation_endpoint",
                "introspection_endpoint",
                "end_session_endpoint",
            )
        )

        verifier = generate_token(48)
        nonce = generate_token(16)
        auth_url, state = rp.create_authorization_url(
            meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        landing = await login_via_form(env.http, auth_url, CITIZEN_ID, CITIZEN_PASSWORD)
        assert landing.status_code == 302, landing.text
        callback = landing.headers["location"]
        assert callback.startswith(RP + "?") and _query(callback)["state"] == state

        token = await rp.fetch_token(
            meta["token_endpoint"], authorization_response=callback, code_verifier=verifier
        )
        assert token["token_type"].lower() == "bearer" and token["refresh_token"]

        jwks = KeySet.import_key_set(
            (await rp.request("GET", meta["jwks_uri"], withhold_token=True)).json()
        )
        id_token = jwt.decode(token["id_token"], jwks, algorithms=["ES256"])
        claims = id_token.claims
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": ISSUER},
            aud={"essential": True, "value": "portal"},
            nonce={"essential": True, "value": nonce},
            exp={"essential": True},
        ).validate(claims)
        assert claims["at_hash"] == create_half_hash(token["access_token"], "ES256").decode()
        assert claims["sub_type"] == "natural" and claims["acr"] == "L2"
        assert claims["id_number_masked"] == "1101**********002X"
        assert CITIZEN_ID not in str(claims)

        # The access token passes the verifier every service uses.
        shared = TokenVerifier(issuer=ISSUER, audience="ywtb-hub", jwks=jwks.as_dict())
        principal = await shared.verify(token["access_token"])
        assert principal.subject == claims["sub"] and principal.subject_type == "natural"
        assert principal.id_ref == citizen_id_ref(env.core.cipher, CITIZEN_ID)
        assert principal.has_scope("cases:read") and principal.client_id == "portal"

        info = (await rp.get(meta["userinfo_endpoint"])).json()
        assert info["sub"] == claims["sub"] and info["name"] == "张三"

        # Refresh rotates the refresh token.
        old_refresh = token["refresh_token"]
        refreshed = await rp.refresh_token(meta["token_endpoint"], refresh_token=old_refresh)
        assert refreshed["refresh_token"] != old_refresh
        assert refreshed["access_token"] != token["access_token"]
        assert (await shared.verify(refreshed["access_token"])).subject == claims["sub"]

        # SSO: another portal of the same browser gets a code without a password.
        rp2 = AsyncOAuth2Client(
            client_id="portal2",
            redirect_uri=RP2,
            scope="openid",
            code_challenge_method="S256",
            transport=env.transport(),
        )
        v2 = generate_token(48)
        url2, _ = rp2.create_authorization_url(meta["authorization_endpoint"], code_verifier=v2)
        sso = await env.http.get(url2)
        assert sso.status_code == 302 and sso.headers["location"].startswith(RP2 + "?code=")
        token2 = await rp2.fetch_token(
            meta["token_endpoint"], authorization_response=sso.headers["location"], code_verifier=v2
        )
        assert jwt.decode(token2["id_token"], jwks).claims["sub"] == claims["sub"]

        # RP-initiated logout ends the session and the tokens issued in it.
        out = await env.http.get(
            meta["end_session_endpoint"],
            params={
                "id_token_hint": token["id_token"],
                "post_logout_redirect_uri": RP + "/bye",
                "state": "s1",
            },
        )
        assert out.status_code == 302 and out.headers["location"] == RP + "/bye?state=s1"
        after = await rp.get(meta["userinfo_endpoint"])
        assert after.status_code == 401
        again = await env.http.get(url2)
        assert again.status_code == 200 and 'name="password"' in again.text


async def test_refresh_returns_a_fresh_id_token_for_openid_grants(pg) -> None:
    """OIDC Core 12.2: same iss/sub/aud, original auth_time/acr/amr, new iat, no nonce."""
    url = await pg.create("identity_refresh_idt")
    async with identity_env(url) as env:
        rp = AsyncOAuth2Client(
            client_id="portal",
            redirect_uri=RP,
            scope="openid profile cases:read",
            code_challenge_method="S256",
            transport=env.transport(),
        )
        verifier, nonce = generate_token(48), generate_token(16)
        auth_url, _ = rp.create_authorization_url(
            f"{ISSUER}/authorize", code_verifier=verifier, nonce=nonce
        )
        landing = await login_via_form(env.http, auth_url, CITIZEN_ID, CITIZEN_PASSWORD)
        token = await rp.fetch_token(
            f"{ISSUER}/token",
            authorization_response=landing.headers["location"],
            code_verifier=verifier,
        )
        jwks = KeySet.import_key_set(env.core.keys.jwks)
        first = jwt.decode(token["id_token"], jwks).claims
        assert first["nonce"] == nonce

        refreshed = await rp.refresh_token(f"{ISSUER}/token", refresh_token=token["refresh_token"])
        assert "id_token" in refreshed, refreshed
        again = jwt.decode(refreshed["id_token"], jwks, algorithms=["ES256"]).claims
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": ISSUER},
            aud={"essential": True, "value": "portal"},
            sub={"essential": True, "value": first["sub"]},
            exp={"essential": True},
        ).validate(again)
        for claim in ("auth_time", "acr", "amr", "sid", "sub_type", "azp"):
            assert again[claim] == first[claim], claim
        assert again["iat"] >= first["iat"] and "nonce" not in again
        assert again["at_hash"] == create_half_hash(refreshed["access_token"], "ES256").decode()
        assert again["name"] == "张三" and CITIZEN_ID not in str(again)

        # Narrowed to a scope without openid: an access token only, no ID token.
        narrow = await env.http.post(
            f"{ISSUER}/token",
            data={
                "grant_type": "refresh_token",
                "client_id": "portal",
                "refresh_token": refreshed["refresh_token"],
                "scope": "cases:read",
            },
        )
        assert narrow.status_code == 200, narrow.text
        assert narrow.json()["scope"] == "cases:read" and "id_token" not in narrow.json()


async def test_behind_a_tls_gateway_prefix_urls_and_cookies_follow_the_issuer(pg) -> None:
    public = "https://ywtb.example.gov.cn/api/identity"
    url = await pg.create("identity_prefix")
    async with identity_env(url, settings={"auth_issuer": public}) as env:
        meta = (await env.http.get("/.well-known/openid-configuration")).json()
        assert meta["issuer"] == public and meta["token_endpoint"] == f"{public}/token"
        page = await env.http.get(
            "/authorize",
            params={
                "response_type": "code",
                "client_id": "portal",
                "redirect_uri": RP,
                "scope": "openid",
                "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                "code_challenge_method": "S256",
            },
            headers={"X-Forwarded-Prefix": "/api/identity", "X-Forwarded-Proto": "https"},
        )
        assert page.status_code == 200 and f'action="{public}/login"' in page.text
        cookie = page.headers["set-cookie"].lower()
        assert cookie.startswith("hub_csrf=") and "path=/api/identity" in cookie
        assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
        # A forged Host does not move the URLs the service hands out.
        forged = await env.http.get(
            "/.well-known/openid-configuration", headers={"Host": "evil.example"}
        )
        assert forged.json()["authorization_endpoint"] == f"{public}/authorize"
