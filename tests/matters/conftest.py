"""Fixtures of the matters tests: a migrated PostgreSQL database, the app, staff tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.matters.app import create_app
from services.matters.demo_catalog import DEPARTMENTS, DIVISION
from services.matters.settings import MattersSettings
from tests.support.apps import migrate, serve
from tests.support.tokens import AUDIENCE, ISSUER, TestIssuer, bearer

MARKET_USCC = DEPARTMENTS["market"][1]
POLICE_USCC = DEPARTMENTS["police"][1]


@pytest.fixture(scope="session")
def issuer() -> TestIssuer:
    return TestIssuer()


def settings_for(url: str, issuer: TestIssuer, **extra: Any) -> MattersSettings:
    return MattersSettings(
        service_name="matters",
        database_url=url,
        kafka_enabled=False,
        auth_jwks=issuer.jwks_json,
        auth_issuer=ISSUER,
        auth_audience=AUDIENCE,
        log_json=False,
        **extra,
    )


@pytest.fixture
async def matters_url(pg: Any) -> str:
    url = await pg.create("matters")
    migrate("matters", url)
    return url


@pytest.fixture
async def client(matters_url: str, issuer: TestIssuer) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings_for(matters_url, issuer))
    async with serve(app) as c:
        c.app = app  # type: ignore[attr-defined]
        yield c


class Staff:
    """Tokens of staff members of the demo departments."""

    def __init__(self, issuer: TestIssuer) -> None:
        self.issuer = issuer

    def editor(self, uscc: str = MARKET_USCC, division: str = DIVISION) -> dict[str, str]:
        return bearer(self.issuer.staff(uscc, ["matters-editor"], division))

    def approver(self, uscc: str = MARKET_USCC, division: str = DIVISION) -> dict[str, str]:
        return bearer(self.issuer.staff(uscc, ["matters-approver"], division))

    def admin(self, uscc: str = MARKET_USCC, division: str = DIVISION) -> dict[str, str]:
        return bearer(self.issuer.staff(uscc, ["matters-admin"], division))

    def same_person(self, roles: list[str], uscc: str = MARKET_USCC) -> dict[str, str]:
        return bearer(
            self.issuer.token(
                sub="staff-fixed", sub_type="staff", uscc=uscc, roles=roles, division=DIVISION
            )
        )


@pytest.fixture
def staff(issuer: TestIssuer) -> Staff:
    return Staff(issuer)


async def publish_new(
    client: httpx.AsyncClient, staff: Staff, code: str, content: dict[str, Any]
) -> dict[str, Any]:
    """Create, submit, approve and publish an item; returns the published version view."""
    r = await client.post(
        "/v1/matters",
        json={"implementation_code": code, "content": content},
        headers=staff.editor(code[:18]),
    )
    assert r.status_code == 201, r.text
    v = r.json()["version"]
    for action, who in (
        ("submit", staff.editor),
        ("approve", staff.approver),
        ("publish", staff.approver),
    ):
        r = await client.post(f"/v1/matters/{code}/versions/{v}/{action}", headers=who(code[:18]))
        assert r.status_code == 200, (action, r.text)
    return r.json()
