"""证照目录 API: public reads, versioned additions by certs-admin only, bad input → problem."""

from __future__ import annotations

import pytest

from services.certs.domain.types import FOOD_LICENCE, SEED_CATALOGUE, type_definition
from tests.certs.harness import certs_app
from tests.support.apps import serve
from tests.support.postgres import DatabaseFactory
from tests.support.tokens import TestIssuer, bearer


@pytest.fixture(scope="module")
def issuer() -> TestIssuer:
    return TestIssuer()


async def test_types_are_seeded_public_and_versioned(
    pg: DatabaseFactory, issuer: TestIssuer
) -> None:
    h = await certs_app(pg, issuer)
    admin = bearer(issuer.staff("11440200MB2C12345W", ["certs-admin"]))
    async with serve(h.app) as client:
        listed = (await client.get("/v1/types")).json()["items"]
        assert {t["type_code"] for t in listed} == set(SEED_CATALOGUE)
        one = await client.get(f"/v1/types/{FOOD_LICENCE.type_code}")
        assert one.status_code == 200
        body = one.json()
        assert body["name"] == "食品经营许可证" and body["version"] == 1
        assert body["face_schema"]["properties"]["licence_no"]["title"] == "许可证编号"

        definition = type_definition(FOOD_LICENCE)
        definition.pop("version")
        definition["validity"] = {"years": 3, "months": 0}
        definition["name"] = "食品经营许可证（新版）"
        # Not staff / staff without the role: refused.
        assert (await client.post("/v1/types", json=definition)).status_code == 401
        other = bearer(issuer.staff("11440200MB2C12345W", ["certs-issuer"]))
        refused = await client.post("/v1/types", json=definition, headers=other)
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("application/problem+json")

        added = await client.post("/v1/types", json=definition, headers=admin)
        assert added.status_code == 201, added.text
        assert added.json()["version"] == 2
        latest = (await client.get(f"/v1/types/{FOOD_LICENCE.type_code}")).json()
        assert latest["version"] == 2 and latest["validity"] == {"years": 3, "months": 0}
        first = await client.get(f"/v1/types/{FOOD_LICENCE.type_code}", params={"version": 1})
        assert first.json()["name"] == "食品经营许可证"


async def test_bad_types_and_unknown_codes_are_problems(
    pg: DatabaseFactory, issuer: TestIssuer
) -> None:
    h = await certs_app(pg, issuer)
    admin = bearer(issuer.staff("11440200MB2C12345W", ["certs-admin"]))
    definition = type_definition(FOOD_LICENCE)
    definition.pop("version")
    async with serve(h.app) as client:
        missing = await client.get("/v1/types/11440200MB2C12345W999")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
        bad_code = definition | {"type_code": "11440200MB2C12345X001"}  # wrong USCC check
        bad_schema = definition | {"face_schema": {"type": "nonsense"}}
        no_field = definition | {"number_field": "nope"}
        for body in (bad_code, bad_schema, no_field, {"type_code": 5}, []):
            r = await client.post("/v1/types", json=body, headers=admin)
            assert r.status_code == 422, (body, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
