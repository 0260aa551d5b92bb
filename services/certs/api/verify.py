"""Verification (扫码亮证, 一地发证、全网互认): public, no login."""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from services.certs.api.deps import CertificateId, ContextDep
from services.certs.api.schemas import VerifyIn, VerifyOut, problems
from services.certs.service import reading
from services.runtime.deps import ReadSession
from services.runtime.problems import Problem

router = APIRouter(prefix="/v1/verify", tags=["verification"])

_LABELS = {
    "valid": ("有效", "#1a7f37"),
    "suspended": ("已暂停（挂失/暂停或未年检）", "#b26b00"),
    "cancelled": ("已注销", "#b42318"),
    "revoked": ("已吊销", "#b42318"),
    "expired": ("已过期", "#b42318"),
    "superseded": ("已变更（有新版本）", "#b26b00"),
}


@router.post(
    "",
    response_model=VerifyOut,
    response_model_exclude_none=True,
    responses=problems(422),
    summary="Verify a QR text or a certificate JSON: valid / suspended / revoked / … with reasons",
)
async def verify(body: VerifyIn, ctx: ContextDep, session: ReadSession) -> dict[str, Any]:
    if (body.qr is None) == (body.certificate is None):
        raise Problem(422, "send exactly one of qr and certificate", code="invalid-request")
    if body.qr is not None:
        return await reading.verify_qr_text(ctx, session, body.qr)
    assert body.certificate is not None
    return await reading.verify_document(ctx, session, body.certificate)


@router.get(
    "/{certificate_id}",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}}, **problems(404)},
    summary="Public page (Chinese) with the status and the holder masked",
)
async def verify_page(
    certificate_id: CertificateId,
    ctx: ContextDep,
    session: ReadSession,
) -> HTMLResponse:
    out = await reading.public_status(ctx, session, certificate_id)
    label, colour = _LABELS[out["result"]]
    e = html.escape
    rows = [
        ("证照名称", out["name"]),
        ("证照编号", out["number"]),
        ("证照标识", out["certificate_id"]),
        ("持证主体", out["holder_name_masked"]),
        ("持证主体代码", out["holder_id_masked"]),
        ("颁发机构", out["issuer_name"]),
        ("有效期", f"{out['valid_from']} 至 {out['valid_until'] or '长期'}"),
        ("版本", str(out["version"])),
    ]
    table = "".join(f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in rows)
    page = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>电子证照核验</title>
<style>body{{font-family:sans-serif;margin:1.5em}}th{{text-align:left;padding-right:1em}}
.status{{font-size:1.6em;font-weight:bold;color:{colour}}}</style></head>
<body><h1>电子证照核验</h1>
<p class="status" data-status="{e(out["result"])}">{e(label)}</p>
<table>{table}</table>
<p>{e("；".join(out["reasons"]))}</p></body></html>"""
    return HTMLResponse(page)
