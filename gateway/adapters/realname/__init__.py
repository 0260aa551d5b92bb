"""Outbound adapter to the provincial 实名核验 services.

- ``POST /api/adapters/realname/v1/verify`` takes ``{"name", "id_number"}`` (人口库:
  name + 公民身份号码) and answers ``{"match": bool}``;
- ``POST /api/adapters/realname/v1/verify-legal`` takes ``{"uscc", "name",
  "representative_name", "representative_id_number"}`` (法人库: the USCC exists, carries this
  name and this natural person is its 法定代表人) and answers ``{"match": bool}``.

Callers are hub services holding a token with scope ``realname:verify`` (the identity
service). The adapter calls the province with the hub's own credentials (app key +
HMAC-SHA256 request signature with timestamp and nonce). Province failures become
problem+json (502/504); ID numbers never appear in a log line or error.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from gateway.settings import GatewaySettings
from services.runtime.auth import Principal, require_scopes
from services.runtime.crypto import sign_request
from services.runtime.identifiers import InvalidIdentifier, validate_citizen_id, validate_uscc
from services.runtime.problems import Problem

log = logging.getLogger("hub.gateway.realname")
SCOPE = "realname:verify"
LEGAL_PATH = "/lpk/v1/check"


Caller = Annotated[Principal, Depends(require_scopes(SCOPE))]


class VerifyRequest(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    id_number: str = Field(min_length=15, max_length=18, description="公民身份号码")


class LegalVerifyRequest(BaseModel):
    uscc: str = Field(min_length=18, max_length=18, description="统一社会信用代码")
    name: str = Field(min_length=1, max_length=200, description="法人名称")
    representative_name: str = Field(min_length=1, max_length=100, description="法定代表人姓名")
    representative_id_number: str = Field(
        min_length=15, max_length=18, description="法定代表人公民身份号码"
    )


class VerifyResult(BaseModel):
    match: bool
    reason: str = ""


def _invalid(exc: InvalidIdentifier) -> Problem:
    return Problem(422, str(exc), code="invalid-identifier", identifier=exc.kind)


def legal_province_url(settings: GatewaySettings) -> str:
    if settings.realname_legal_province_url or not settings.realname_province_url:
        return settings.realname_legal_province_url
    parts = urlsplit(settings.realname_province_url)
    return urlunsplit((parts.scheme, parts.netloc, LEGAL_PATH, "", ""))


async def _ask_province(settings: GatewaySettings, url: str, body: dict[str, Any]) -> bool:
    """One signed call to a provincial check; True when it answers 一致 (``result`` "1")."""
    if not url:
        raise Problem(503, "no provincial 实名核验 service is configured", code="not-configured")
    payload = json.dumps(body, ensure_ascii=False).encode()
    path = urlsplit(url).path or "/"
    timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
    headers = {
        "Content-Type": "application/json",
        "X-App-Key": settings.realname_app_key,
        "X-Timestamp": timestamp,
        "X-Nonce": nonce,
        "X-Signature": sign_request(
            settings.realname_app_secret.encode(), "POST", path, timestamp, nonce, payload
        ),
    }
    try:
        async with httpx.AsyncClient(timeout=settings.realname_timeout) as client:
            response = await client.post(url, content=payload, headers=headers)
    except httpx.TimeoutException as exc:
        raise Problem(
            504, "the provincial 实名核验 service did not answer in time", code="upstream-timeout"
        ) from exc
    except httpx.TransportError as exc:
        log.warning("province 实名核验 unreachable: %s", type(exc).__name__)
        raise Problem(
            502, "the provincial 实名核验 service is not reachable", code="upstream-unreachable"
        ) from exc
    if response.status_code in (401, 403):
        log.error("province refused the hub's credentials (%s)", response.status_code)
        raise Problem(
            502, "the provincial service refused the hub's credentials", code="upstream-auth"
        )
    if response.status_code != 200:
        raise Problem(
            502, f"the provincial service answered {response.status_code}", code="upstream-error"
        )
    try:
        return bool(response.json()["result"] == "1")
    except (ValueError, KeyError, TypeError) as exc:
        raise Problem(
            502, "the provincial service answered something unreadable", code="upstream-error"
        ) from exc


def build_realname_router(settings: GatewaySettings) -> APIRouter:
    router = APIRouter(tags=["adapters: 实名核验"])

    @router.post(
        "/api/adapters/realname/v1/verify",
        response_model=VerifyResult,
        summary="实名核验 of name + ID number at the provincial service",
    )
    async def verify(body: VerifyRequest, principal: Caller) -> VerifyResult:
        try:
            id_number = validate_citizen_id(body.id_number)
        except InvalidIdentifier as exc:
            raise _invalid(exc) from exc
        match = await _ask_province(
            settings,
            settings.realname_province_url,
            {"name": body.name.strip(), "id_number": id_number},
        )
        log.info("实名核验 for %s: %s", principal.client_id, "match" if match else "no match")
        return VerifyResult(match=match, reason="一致" if match else "不一致")

    @router.post(
        "/api/adapters/realname/v1/verify-legal",
        response_model=VerifyResult,
        summary="法人核验: USCC, name and 法定代表人 at the provincial legal-person base",
    )
    async def verify_legal(body: LegalVerifyRequest, principal: Caller) -> VerifyResult:
        try:
            uscc = validate_uscc(body.uscc)
            rep_id = validate_citizen_id(body.representative_id_number)
        except InvalidIdentifier as exc:
            raise _invalid(exc) from exc
        match = await _ask_province(
            settings,
            legal_province_url(settings),
            {
                "uscc": uscc,
                "name": body.name.strip(),
                "legal_rep_name": body.representative_name.strip(),
                "legal_rep_id_number": rep_id,
            },
        )
        log.info("法人核验 for %s: %s", principal.client_id, "match" if match else "no match")
        return VerifyResult(match=match, reason="一致" if match else "不一致")

    return router
