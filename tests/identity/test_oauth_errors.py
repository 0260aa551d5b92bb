"""Each way a token request can be wrong gets the right OAuth error, and the shared
verifier refuses forged, unsigned, expired and misdirected tokens."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy import update

from services.identity.store.tables import AuthorizationCode
from services.runtime.auth import InvalidToken, TokenVerifier
from services.runtime.db import utcnow
from tests.identity.support import (
    CITIZEN_ID,
    CITIZEN_PASSWORD,
    ISSUER,
    RP,
    USCC,
    identity_env,
    login_via_form,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module")
async def env(pg):
    url = await pg.create("identity_errors")
    async with identity_env(url) as e:
        yield e


def _q(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _authorize_params(**extra: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": "portal",
        "redirect_uri": RP,
        "scope": "openid profile",
        "state": "st",
    }
    params.update(extra)
    return params


async def _code(env, verifier: str) -> str:
    params = _authorize_params(
        code_challenge=create_s256_code_challenge(verifier), code_challenge_method="S256"
    )
    url = f"{ISSUER}/authorize?" + httpx.QueryParams(params).__str__()
    response = await env.http.get(url)
    if response.status_code == 200:  # not logged in yet in this browser
        response = await login_via_form(env.http, url, CITIZEN_ID, CITIZEN_PASSWORD)
    assert response.status_code == 302, response.text
    return _q(response.headers["location"])["code"]


async def _redeem(env, code: str, verifier: str, **extra: str) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": RP,
        "client_id": "portal",
        "code_verifier": verifier,
        **extra,
    }
    return await env.http.post(f"{ISSUER}/token", data=data)


async def test_pkce_verifier_mismatch(env) -> None:
    code = await _code(env, generate_token(48))
    r = await _redeem(env, code, generate_token(48))
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


async def test_plain_pkce_refused(env) -> None:
    v = generate_token(48)
    r = await env.http.get(
        f"{ISSUER}/authorize",
        params=_authorize_params(code_challenge=v, code_challenge_method="plain"),
    )
    assert r.status_code == 302 and _q(r.headers["location"])["error"] == "invalid_request"
    r = await env.http.get(f"{ISSUER}/authorize", params=_authorize_params(code_challenge=v))
    assert _q(r.headers["location"])["error"] == "invalid_request"  # no method = plain
    r = await env.http.get(f"{ISSUER}/authorize", params=_authorize_params())
    assert _q(r.headers["location"])["error"] == "invalid_request"  # public client without PKCE


async def test_redirect_uri_mismatch_is_not_redirected(env) -> None:
    v = generate_token(48)
    r = await env.http.get(
        f"{ISSUER}/authorize",
        params=_authorize_params(
            redirect_uri=RP + "/evil",
            code_challenge=create_s256_code_challenge(v),
            code_challenge_method="S256",
        ),
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    code = await _code(env, v)
    r = await _redeem(env, code, v, redirect_uri=RP + "?x=1")
    assert r.json()["error"] == "invalid_grant"


async def test_code_reuse_revokes_its_tokens(env) -> None:
    v = generate_token(48)
    code = await _code(env, v)
    first = await _redeem(env, code, v)
    assert first.status_code == 200
    second = await _redeem(env, code, v)
    assert second.status_code == 400 and second.json()["error"] == "invalid_grant"
    info = await env.http.get(
        f"{ISSUER}/userinfo", headers={"Authorization": f"Bearer {first.json()['access_token']}"}
    )
    assert info.status_code == 401
    refresh = await env.http.post(
        f"{ISSUER}/token",
        data={
            "grant_type": "refresh_token",
            "client_id": "portal",
            "refresh_token": first.json()["refresh_token"],
        },
    )
    assert refresh.json()["error"] == "invalid_grant"


async def test_expired_code(env) -> None:
    v = generate_token(48)
    code = await _code(env, v)
    async with env.core.db.transaction() as session:
        await session.execute(
            update(AuthorizationCode).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    r = await _redeem(env, code, v)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


async def test_refresh_reuse_revokes_family(env) -> None:
    v = generate_token(48)
    tokens = (await _redeem(env, await _code(env, v), v)).json()
    rotate = {"grant_type": "refresh_token", "client_id": "portal"}
    second = await env.http.post(
        f"{ISSUER}/token", data={**rotate, "refresh_token": tokens["refresh_token"]}
    )
    assert second.status_code == 200
    replay = await env.http.post(
        f"{ISSUER}/token", data={**rotate, "refresh_token": tokens["refresh_token"]}
    )
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    # The legitimate successor is revoked too, and so is its access token.
    third = await env.http.post(
        f"{ISSUER}/token", data={**rotate, "refresh_token": second.json()["refresh_token"]}
    )
    assert third.json()["error"] == "invalid_grant"
    introspect = await env.http.post(
        f"{ISSUER}/introspect",
        auth=("web", env.secrets["web"]),
        data={"token": second.json()["access_token"]},
    )
    assert introspect.json() == {"active": False}


async def test_client_credentials_secret_and_scope(env) -> None:
    ok = await env.http.post(
        f"{ISSUER}/token",
        auth=("county", env.secrets["county"]),
        data={"grant_type": "client_credentials", "scope": "cases:push"},
    )
    assert (
        ok.status_code == 200
        and ok.json()["scope"] == "cases:push"
        and "refresh_token" not in ok.json()
    )
    wrong = await env.http.post(
        f"{ISSUER}/token",
        auth=("county", "not-the-secret"),
        data={"grant_type": "client_credentials"},
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    scope = await env.http.post(
        f"{ISSUER}/token",
        auth=("county", env.secrets["county"]),
        data={"grant_type": "client_credentials", "scope": "cases:push certs:issue"},
    )
    assert scope.status_code == 400 and scope.json()["error"] == "invalid_scope"
    grant = await env.http.post(
        f"{ISSUER}/token", data={"grant_type": "client_credentials", "client_id": "portal"}
    )
    assert grant.json()["error"] in ("invalid_client", "unauthorized_client")
    # Introspection: the county may look at its own token; revocation ends it.
    token = ok.json()["access_token"]
    seen = await env.http.post(
        f"{ISSUER}/introspect", auth=("county", env.secrets["county"]), data={"token": token}
    )
    assert seen.json()["active"] is True and seen.json()["sub_type"] == "client"
    await env.http.post(
        f"{ISSUER}/revoke", auth=("county", env.secrets["county"]), data={"token": token}
    )
    gone = await env.http.post(
        f"{ISSUER}/introspect", auth=("county", env.secrets["county"]), data={"token": token}
    )
    assert gone.json() == {"active": False}
    public = await env.http.post(
        f"{ISSUER}/introspect", data={"token": token, "client_id": "portal"}
    )
    assert public.status_code in (400, 401) and public.json()["error"] == "invalid_client"


async def test_code_scope_not_allowed(env) -> None:
    v = generate_token(48)
    r = await env.http.get(
        f"{ISSUER}/authorize",
        params=_authorize_params(
            scope="openid certs:issue",
            code_challenge=create_s256_code_challenge(v),
            code_challenge_method="S256",
        ),
    )
    assert _q(r.headers["location"])["error"] == "invalid_scope"


async def test_registration_rejects_bad_identifiers(env) -> None:
    bad = await env.http.post(
        f"{ISSUER}/v1/register/natural",
        json={"id_number": CITIZEN_ID[:-1] + "1", "name": "李四", "password": "long enough 1"},
    )
    assert bad.status_code == 422 and bad.json()["identifier"] == "citizen_id"
    assert CITIZEN_ID[:-1] not in bad.text
    from services.identity import accounts
    from services.runtime.problems import Problem

    async with env.core.db.transaction() as session:
        with pytest.raises(Problem) as err:
            await accounts.create_legal(
                session, env.core, uscc=USCC[:-1] + "0", name="x", password=None
            )
    assert err.value.status == 422 and err.value.extensions["identifier"] == "uscc"


# -- the shared verifier (services/runtime/auth.py) ----------------------------------


async def test_shared_verifier_refusals(env) -> None:
    jwks = env.core.keys.jwks
    verifier = TokenVerifier(issuer=ISSUER, audience="ywtb-hub", jwks=jwks)
    good = (
        await env.http.post(
            f"{ISSUER}/token",
            auth=("county", env.secrets["county"]),
            data={"grant_type": "client_credentials"},
        )
    ).json()["access_token"]
    assert (await verifier.verify(good)).client_id == "county"
    _header, payload, _sig = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))

    forger = ECKey.generate_key("P-256", parameters={"kid": env.core.keys.signing_key.kid})
    forged = jwt.encode({"alg": "ES256", "kid": forger.kid}, claims, forger)
    with pytest.raises(InvalidToken, match="signature"):
        await verifier.verify(forged)

    def b64(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    with pytest.raises(InvalidToken, match="algorithm"):
        await verifier.verify(f"{b64({'alg': 'none'})}.{payload}.")
    with pytest.raises(InvalidToken, match="algorithm"):
        await verifier.verify(f"{b64({'alg': 'HS256', 'kid': forger.kid})}.{payload}.{_sig}")

    key = env.core.keys.signing_key
    now = int(time.time())
    expired = jwt.encode(
        {"alg": "ES256", "kid": key.kid},
        {**claims, "iat": now - 900, "nbf": now - 900, "exp": now - 300},
        key,
    )
    with pytest.raises(InvalidToken, match="not valid here"):
        await verifier.verify(expired)
    other = jwt.encode({"alg": "ES256", "kid": key.kid}, {**claims, "aud": "another-system"}, key)
    with pytest.raises(InvalidToken, match="not valid here"):
        await verifier.verify(other)
    elsewhere = jwt.encode(
        {"alg": "ES256", "kid": key.kid}, {**claims, "iss": "https://evil.example"}, key
    )
    with pytest.raises(InvalidToken):
        await verifier.verify(elsewhere)
