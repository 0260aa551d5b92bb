"""二维码评价: the one-time code works once and never again, without a login."""

from __future__ import annotations

import secrets

from tests.eval.harness import ORG, OTHER_ORG, eval_app
from tests.support.apps import serve
from tests.support.postgres import DatabaseFactory
from tests.support.tokens import TestIssuer, bearer


async def test_the_code_works_once_and_never_again(pg: DatabaseFactory) -> None:
    issuer = TestIssuer()
    h = await eval_app(pg, issuer)
    me = secrets.token_hex(16)
    case_no = await h.concluded(("natural", me))
    window = bearer(issuer.staff(ORG, ["eval-window"]))
    async with serve(h.app) as client:
        url = f"/v1/invitations/{case_no}/qr-code"
        assert (
            await client.post(url, headers=bearer(issuer.staff(OTHER_ORG, ["eval-window"])))
        ).status_code == 404
        assert (
            await client.post(url, headers=bearer(issuer.staff(ORG, ["certs-issuer"])))
        ).status_code == 403
        assert (await client.post(url, headers=bearer(issuer.citizen(me)))).status_code == 403
        issued = await client.post(url, headers=window)
        assert issued.status_code == 201
        code = issued.json()["code"]
        assert me not in code
        body = {"code": code, "level": 5, "indicators": {"overall": 5}}
        forged = code[:-4] + ("0000" if not code.endswith("0000") else "1111")
        r = await client.post("/v1/qr-evaluations", json=body | {"code": forged})
        assert r.status_code == 404 and r.headers["content-type"].startswith(
            "application/problem+json"
        )
        bad = await client.post("/v1/qr-evaluations", json=body | {"level": 1})
        assert bad.status_code == 422  # a 差评 still needs categories and a text
        first = await client.post("/v1/qr-evaluations", json=body)  # no login
        assert first.status_code == 201, first.text
        assert first.json()["channel"] == "qr" and first.json()["case_no"] == case_no
        again = await client.post("/v1/qr-evaluations", json=body)
        assert again.status_code == 409 and again.json()["type"].endswith("code-used")
        # a new code for the same 办件 cannot rate it twice on the same channel
        second = (await client.post(url, headers=window)).json()["code"]
        r = await client.post("/v1/qr-evaluations", json=body | {"code": second})
        assert r.status_code == 409
        # the rating is the applicant's: it is in their list
        mine = (await client.get("/v1/me/evaluations", headers=bearer(issuer.citizen(me)))).json()
        assert [e["channel"] for e in mine["items"]] == ["qr"]
