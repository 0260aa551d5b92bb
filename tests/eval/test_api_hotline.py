"""12345: the operator enters a rating for the applicant who called; recorded as such."""

from __future__ import annotations

from services.runtime.pii import citizen_id_ref
from tests.certs.harness import citizen_id
from tests.eval.harness import ORG, eval_app
from tests.support.apps import serve
from tests.support.postgres import DatabaseFactory
from tests.support.tokens import TestIssuer, bearer


async def test_the_operator_rates_for_the_caller(pg: DatabaseFactory) -> None:
    issuer = TestIssuer()
    h = await eval_app(pg, issuer)
    caller = citizen_id(21)
    ref = citizen_id_ref(h.ctx.cipher, caller)
    case_no = await h.concluded(("natural", ref))
    operator = bearer(issuer.staff("11440200MB2C99999H", ["hotline-operator"]))
    body = {
        "case_no": case_no,
        "applicant_type": "natural",
        "applicant_id": caller,
        "level": 2,
        "indicators": {"service_attitude": 2},
        "categories": ["attitude"],
        "comment": "电话里说窗口态度不好",
    }
    async with serve(h.app) as client:
        other = body | {"applicant_id": citizen_id(22)}
        r = await client.post("/v1/hotline-evaluations", json=other, headers=operator)
        assert r.status_code == 404
        handler = bearer(issuer.staff(ORG, ["eval-handler"]))
        r = await client.post("/v1/hotline-evaluations", json=body, headers=handler)
        assert r.status_code == 403
        r = await client.post("/v1/hotline-evaluations", json=body, headers=operator)
        assert r.status_code == 201, r.text
        got = r.json()
        assert got["channel"] == "hotline_12345" and got["entered_by"].startswith("staff-")
        assert caller not in r.text
        assert (
            await client.post("/v1/hotline-evaluations", json=body, headers=operator)
        ).status_code == 409
        # the applicant sees it as theirs; the org's handlers get the 差评 to handle
        mine = (await client.get("/v1/me/evaluations", headers=bearer(issuer.citizen(ref)))).json()
        assert [(e["channel"], e["rectification_state"]) for e in mine["items"]] == [
            ("hotline_12345", "reported")
        ]
        items = (await client.get("/v1/rectifications", headers=handler)).json()["items"]
        assert [i["case_no"] for i in items] == [case_no]
