"""``make run``'s demo data: the demo citizen has an open invitation; runs twice."""

from __future__ import annotations

from services.eval.seed import CITIZEN_ID, DEMO_CASE, seed_demo
from services.runtime.pii import citizen_id_ref, pii_cipher
from tests.eval.harness import eval_app
from tests.support.apps import serve
from tests.support.postgres import DatabaseFactory
from tests.support.tokens import TestIssuer, bearer


async def test_demo_citizen_has_an_open_invitation(pg: DatabaseFactory) -> None:
    issuer = TestIssuer()
    h = await eval_app(pg, issuer)
    url = str(h.hub.db.engine.url.render_as_string(hide_password=False))
    first = await seed_demo(url)
    assert await seed_demo(url) == first and DEMO_CASE in first[0]
    citizen = bearer(issuer.citizen(citizen_id_ref(pii_cipher(h.ctx.settings), CITIZEN_ID)))
    async with serve(h.app) as client:
        items = (await client.get("/v1/me/invitations", headers=citizen)).json()["items"]
        assert [(i["case_no"], i["open"]) for i in items] == [(DEMO_CASE, True)]
        body = {"case_no": DEMO_CASE, "channel": "pc", "level": 5}
        assert (await client.post("/v1/evaluations", json=body, headers=citizen)).status_code == 201
