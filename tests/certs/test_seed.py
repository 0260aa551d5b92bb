"""``make run``'s demo data: the demo citizen sees two certificates at once; runs twice."""

from __future__ import annotations

from services.certs.app import create_app
from services.certs.seed import CITIZEN_ID, seed_demo
from services.certs.settings import CertsSettings
from services.runtime.pii import citizen_id_ref, pii_cipher
from tests.support.apps import serve
from tests.support.postgres import DatabaseFactory
from tests.support.tokens import TestIssuer, bearer


async def test_demo_citizen_holds_the_seeded_certificates(pg: DatabaseFactory) -> None:
    url = await pg.create("certs")
    first = await seed_demo(url)
    assert await seed_demo(url) == first and len(first) == 2
    issuer = TestIssuer()
    env = issuer.env()
    settings = CertsSettings(
        database_url=url,
        kafka_enabled=False,
        certs_sweep_interval=0,
        auth_jwks=issuer.jwks_json,
        auth_issuer=env["HUB_AUTH_ISSUER"],
        auth_audience=env["HUB_AUTH_AUDIENCE"],
    )
    app = create_app(settings)
    citizen = bearer(issuer.citizen(citizen_id_ref(pii_cipher(settings), CITIZEN_ID)))
    async with serve(app) as client:
        items = (await client.get("/v1/me/certificates", headers=citizen)).json()["items"]
        assert sorted(i["name"] for i in items) == ["教师资格证书", "食品经营许可证"]
        for item in items:
            assert item["status"] == "valid" and item["certificate_id"] in " ".join(first)
            detail = await client.get(
                f"/v1/me/certificates/{item['certificate_id']}", headers=citizen
            )
            qr = detail.json()["qr_text"]
            assert (await client.post("/v1/verify", json={"qr": qr})).json()["result"] == "valid"
