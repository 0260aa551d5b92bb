"""The holder's PDF: render it, rasterise the page (PDFium), decode the 2-D code (zxing-cpp)
and verify it offline with only the issuer's published public key."""

from __future__ import annotations

import pypdfium2 as pdfium
import pytest
import zxingcpp

from services.certs.domain.qr_payload import verify_qr
from services.certs.domain.types import SHAOGUAN_EDUCATION_USCC, TEACHER_QUALIFICATION
from services.runtime.pii import citizen_id_ref
from tests.certs.harness import certs_app, citizen_id, teacher_face
from tests.support.apps import serve
from tests.support.postgres import DatabaseFactory
from tests.support.tokens import TestIssuer, bearer


@pytest.fixture(scope="module")
def issuer() -> TestIssuer:
    return TestIssuer()


async def test_pdf_carries_face_seal_and_an_offline_verifiable_code(
    pg: DatabaseFactory, issuer: TestIssuer
) -> None:
    h = await certs_app(pg, issuer)
    alice_id = citizen_id(51)
    alice = bearer(issuer.citizen(citizen_id_ref(h.ctx.cipher, alice_id)))
    staff = bearer(issuer.staff(SHAOGUAN_EDUCATION_USCC, ["certs-issuer"]))
    async with serve(h.app) as client:
        r = await client.post(
            "/v1/certificates",
            json={"type_code": TEACHER_QUALIFICATION.type_code, "face": teacher_face(alice_id)},
            headers=staff,
        )
        cid = r.json()["certificate_id"]
        r = await client.get(f"/v1/me/certificates/{cid}/pdf", headers=alice)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/pdf"
        assert r.headers["cache-control"] == "no-store"
        keys = (await client.get(f"/v1/issuers/{SHAOGUAN_EDUCATION_USCC}/keys")).json()
        # Nobody else gets it: another citizen, staff, no token.
        bob = bearer(issuer.citizen(citizen_id_ref(h.ctx.cipher, citizen_id(52))))
        for who in (bob, staff):
            r2 = await client.get(f"/v1/me/certificates/{cid}/pdf", headers=who)
            assert r2.status_code == 404
            assert r2.headers["content-type"].startswith("application/problem+json")
        assert (await client.get(f"/v1/me/certificates/{cid}/pdf")).status_code == 401

    doc = pdfium.PdfDocument(r.content)
    assert len(doc) == 1
    page = doc[0]
    text = page.get_textpage().get_text_range()
    for expected in ("教师资格证书", "姓名", "王小明", "高级中学教师资格", cid, "韶关市教育局"):
        assert expected in text, expected
    assert alice_id in text  # the holder's own copy carries the full 照面
    images = [o for o in page.get_objects() if o.type == pdfium.raw.FPDF_PAGEOBJ_IMAGE]
    assert len(images) == 2  # the 2-D code and the seal

    bitmap = page.render(scale=3).to_pil().convert("L")
    found = zxingcpp.read_barcodes(bitmap)
    assert len(found) == 1 and found[0].format == zxingcpp.BarcodeFormat.QRCode
    pems = {k["kid"]: k["public_key_pem"] for k in keys["keys"]}

    def lookup(uscc: str, kid: bytes) -> str | None:
        return pems.get(kid.hex()) if uscc == SHAOGUAN_EDUCATION_USCC else None

    claims = verify_qr(found[0].text, lookup)  # offline: only the published key
    assert claims.certificate_id == cid
