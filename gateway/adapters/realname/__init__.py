"""Outbound adapter to the provincial 实名核验 service (name + 公民身份号码 check).

``POST /api/adapters/realname/v1/verify`` takes ``{"name", "id_number"}`` from a hub
service holding a token with scope ``realname:verify`` (the identity service), calls the
province with the hub's own credentials (app key + HMAC-SHA256 request signature with
timestamp and nonce) and answers ``{"match": bool}``. Province failures become
problem+json (502/504); the ID number never appears in a log line or error.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from typing import Annotated
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from gateway.settings import GatewaySettings
from services.runtime.auth import Principal, require_scopes
from services.runtime.crypto import sign_request
from services.runtime.identifiers import InvalidIdentifier, validate_citizen_id
from services.runtime.problems import Problem

log = logging.getLogger("hub.gateway.realname")
SCOPE = "realname:verify"


Caller = Annotated[Principal, Depends(require_scopes(SCOPE))]


class VerifyRequest(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    id_number: str = Field(min_length=15, max_length=18, description="公民身份号码")


class VerifyResult(BaseModel):
    match: bool
    reason: str = ""


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
            raise Problem(422, str(exc), code="invalid-identifier", identifier=exc.kind) from exc
        if not settings.realname_province_url:
            raise Problem(
                503, "no provincial 实名核验 service is configured", code="not-configured"
            )
        payload = json.dumps(
            {"name": body.name.strip(), "id_number": id_number}, ensure_ascii=False
        ).encode()
        path = urlsplit(settings.realname_province_url).path or "/"
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
                response = await client.post(
                    settings.realname_province_url, content=payload, headers=headers
                )
        except httpx.TimeoutException as exc:
            raise Problem(
                504,
                "the provincial 实名核验 service did not answer in time",
                code="upstream-timeout",
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
                502,
                f"the provincial service answered {response.status_code}",
                code="upstream-error",
            )
        try:
            result = response.json()
            match = result["result"] == "1"
        except (ValueError, KeyError, TypeError) as exc:
            raise Problem(
                502, "the provincial service answered something unreadable", code="upstream-error"
            ) from exc
        log.info("实名核验 for %s: %s", principal.client_id, "match" if match else "no match")
        return VerifyResult(match=match, reason=str(result.get("message", "")))

    return router
