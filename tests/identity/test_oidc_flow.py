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
