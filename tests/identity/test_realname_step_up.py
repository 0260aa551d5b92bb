"""Step-up to L3: 实名核验 through the gateway adapter against the province simulator."""

from __future__ import annotations

import httpx
import pytest

from services.runtime.auth import TokenVerifier
from tests.identity.support import (
    CITIZEN_ID,
    CITIZEN_PASSWORD,
    ISSUER,
    RP,
    browser,
    form_fields,
    identity_env,
    realname_via_gateway,
    user_tokens,
)
from tests.peers.province_realname import ProvinceRealName

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module")
def province():
    sim = ProvinceRealName()
    sim.people[CITIZEN_ID] = "张三"
    sim.start()
    yield sim
    sim.stop()


async def test_step_up_to_l3_via_gateway(pg, province) -> None:
    url = await pg.create("identity_stepup")
    gw_url = await pg.create("gateway_stepup")
    async with identity_env(url) as env, realname_via_gateway(env, gw_url, province) as gw:
        async with browser(env) as b:
            first = await user_tokens(env, b, CITIZEN_ID, CITIZEN_PASSWORD)
            verifier = TokenVerifier(issuer=ISSUER, audience="ywtb-hub", jwks=env.core.keys.jwks)
            assert (await verifier.verify(first["access_token"])).acr == "L2"
            # The portal asks for L3: the session is L2, so the user is asked to verify.
            page = await b.get(
                f"{ISSUER}/authorize",
                params={
                    "response_type": "code",
                    "client_id": "portal",
                    "redirect_uri": RP,
                    "scope": "openid",
                    "acr_values": "L3",
                    "code_challenge": "a" * 43,
                    "code_challenge_method": "S256",
                },
            )
            assert page.status_code == 200 and "实名核验" in page.text
            calls = province.calls
            stepped = await b.post(f"{ISSUER}/login/step-up", data=form_fields(page.text))
            assert stepped.status_code == 303, stepped.text
            assert province.calls == calls + 1
            tokens = await user_tokens(env, b, CITIZEN_ID, CITIZEN_PASSWORD, acr_values="L3")
            assert (await verifier.verify(tokens["access_token"])).acr == "L3"
            # L4 needs a face check we do not offer online: refused, not silently lowered.
            denied = await b.get(
                f"{ISSUER}/authorize",
                params={
                    "response_type": "code",
                    "client_id": "portal",
                    "redirect_uri": RP,
                    "scope": "openid",
                    "acr_values": "L4",
                    "code_challenge": "a" * 43,
                    "code_challenge_method": "S256",
                },
            )
            assert "error=access_denied" in denied.headers["location"]

        # The adapter itself: scope enforced, mismatches reported, bad input refused.
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=gw), base_url="http://gw"
        ) as c:
            token = env.core.realname._service_token()
            auth = {"Authorization": f"Bearer {token}"}
            no = await c.post(
                "/api/adapters/realname/v1/verify",
                headers=auth,
                json={"name": "李四", "id_number": CITIZEN_ID},
            )
            assert no.status_code == 200 and no.json()["match"] is False
            bad = await c.post(
                "/api/adapters/realname/v1/verify",
                headers=auth,
                json={"name": "李四", "id_number": CITIZEN_ID[:-1] + "1"},
            )
            assert bad.status_code == 422 and CITIZEN_ID[:-1] not in bad.text
            county = (
                await env.http.post(
                    f"{ISSUER}/token",
                    auth=("county", env.secrets["county"]),
                    data={"grant_type": "client_credentials"},
                )
            ).json()["access_token"]
            refused = await c.post(
                "/api/adapters/realname/v1/verify",
                headers={"Authorization": f"Bearer {county}"},
                json={"name": "张三", "id_number": CITIZEN_ID},
            )
            assert refused.status_code == 403
            province.app_secret = "rotated-elsewhere"
            try:
                creds = await c.post(
                    "/api/adapters/realname/v1/verify",
                    headers=auth,
                    json={"name": "张三", "id_number": CITIZEN_ID},
                )
            finally:
                province.app_secret = "province-secret"
            assert creds.status_code == 502 and creds.json()["type"].endswith("upstream-auth")
