"""The certificate as a PDF (电子证照版式文件): 照面 with Chinese field names, the issuer's seal
image and the 扫码亮证 2-D code, optionally watermarked with a 用证事由 (加注件).

Chinese text uses reportlab's built-in CID font STSong-Light (Adobe-GB1; viewers supply the
glyphs, nothing to ship). The 2-D code is the signed QR text of the version, so the printed
page verifies offline like the screen.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas
from sqlalchemy.ext.asyncio import AsyncSession

from services.certs.service.context import CertsContext
from services.certs.service.issuance import decrypt_face
from services.certs.store import repository as repo
from services.certs.store.tables import CertificateRow, TypeRow

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def _value(value: Any) -> str:
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    if isinstance(value, dict):
        return "；".join(f"{k}: {v}" for k, v in value.items())
    return "" if value is None else str(value)


def _wrap(text: str, width: float, size: float) -> list[str]:
    """Break a line where it would overflow (CJK text has no spaces to break at)."""
    lines: list[str] = []
    current = ""
    for ch in text:
        if pdfmetrics.stringWidth(current + ch, FONT, size) > width and current:
            lines.append(current)
            current = ch
        else:
            current += ch
    return [*lines, current]


def face_rows(face: Mapping[str, Any], face_schema: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(Chinese field name, value) in the schema's order; unknown keys last, by key."""
    props: Mapping[str, Any] = face_schema.get("properties", {})
    keys = [k for k in props if k in face] + sorted(k for k in face if k not in props)
    return [(str(props.get(k, {}).get("title", k)), _value(face[k])) for k in keys]


def render(
    *,
    title: str,
    rows: Sequence[tuple[str, str]],
    meta: Sequence[tuple[str, str]],
    issuer_name: str,
    seal_png: bytes | None,
    qr_text: str,
    watermark: str | None = None,
) -> bytes:
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4, invariant=True)  # invariant: same bytes each run
    page.setTitle(title)
    width, height = A4
    if watermark:
        page.saveState()
        page.setFont(FONT, 22)
        page.setFillColorRGB(0.75, 0.75, 0.75)
        page.translate(width / 2, height / 2)
        page.rotate(35)
        for dy in (-220, 0, 220):
            page.drawCentredString(0, dy, f"仅供{watermark}使用")
        page.restoreState()
    page.setFont(FONT, 22)
    page.drawCentredString(width / 2, height - 30 * mm, title)
    y = height - 45 * mm
    label_x, value_x, value_w = 20 * mm, 62 * mm, width - 82 * mm
    for label, value in rows:
        page.setFont(FONT, 11)
        page.drawString(label_x, y, label)
        for line in _wrap(value, value_w, 11):
            page.drawString(value_x, y, line)
            y -= 6 * mm
        y -= 2 * mm
    y -= 4 * mm
    page.setFont(FONT, 8)
    for label, value in meta:
        page.drawString(label_x, y, f"{label}：{value}")
        y -= 4.5 * mm
    qr = io.BytesIO()
    segno.make(qr_text, error="q", mode="alphanumeric", micro=False).save(
        qr, kind="png", scale=4, border=4
    )
    qr_size = 55 * mm
    page.drawImage(ImageReader(io.BytesIO(qr.getvalue())), label_x, 18 * mm, qr_size, qr_size)
    page.setFont(FONT, 8)
    page.drawString(label_x, 14 * mm, "扫码亮证：用颁发机构公钥离线验证")
    seal_size = 40 * mm
    seal_x = width - 20 * mm - seal_size
    page.setFont(FONT, 12)
    page.drawRightString(width - 20 * mm, 30 * mm, issuer_name)
    if seal_png:
        page.drawImage(
            ImageReader(io.BytesIO(seal_png)), seal_x, 20 * mm, seal_size, seal_size, mask="auto"
        )
    page.showPage()
    page.save()
    return out.getvalue()


async def certificate_pdf(
    ctx: CertsContext, session: AsyncSession, row: CertificateRow, watermark: str | None = None
) -> bytes:
    """The PDF of one stored version (the caller has checked who may have it)."""
    type_row = await session.get(TypeRow, (row.type_code, row.type_version))
    schema = (type_row.definition if type_row else {}).get("face_schema", {})
    issuer = await repo.get_issuer(session, row.issuer_uscc)
    until = "长期" if row.valid_until is None else row.valid_until.isoformat()
    meta = [
        ("证照标识", row.certificate_id),
        ("证照编号", row.number),
        ("持证主体", f"{row.holder_name_masked}（{row.holder_id_masked}）"),
        ("颁证日期", row.issued_on.isoformat()),
        ("有效期", f"{row.valid_from.isoformat()} 至 {until}"),
        ("在线核验", ctx.verify_url(row.certificate_id)),
    ]
    return render(
        title=row.name,
        rows=face_rows(decrypt_face(ctx, row), schema),
        meta=meta,
        issuer_name=row.issuer_name,
        seal_png=issuer.seal_image_png if issuer else None,
        qr_text=row.qr_text,
        watermark=watermark,
    )
