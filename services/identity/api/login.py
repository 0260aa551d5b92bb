"""The login form posts (HTML): password, TOTP, SMS code, step-up (实名核验)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from services.identity import login, pages
from services.identity.api.deps import (
    CSRF_COOKIE,
    SSO_COOKIE,
    CoreDep,
    client_ip,
    cookie_path,
    cookie_secure,
)
from services.identity.core import IdentityCore
from services.identity.login import Attempt, LoginResult

router = APIRouter(tags=["login"])
FormStr = Annotated[str, Form()]


def _csrf_ok(request: Request, csrf: str) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie, csrf)


def _client_of(resume: str) -> str | None:
    from urllib.parse import parse_qs

    return (parse_qs(resume).get("client_id") or [None])[0]


def _attempt(request: Request, username: str, resume: str) -> Attempt:
    return Attempt(username=username, client_id=_client_of(resume), ip=client_ip(request))


def _back_to_authorize(core: IdentityCore, resume: str, result: LoginResult) -> Response:
    response = RedirectResponse(f"{core.issuer}/authorize?{resume.lstrip('?')}", status_code=303)
    if result.session_cookie:
        response.set_cookie(
            SSO_COOKIE,
            result.session_cookie,
            httponly=True,
            samesite="lax",
            secure=cookie_secure(core),
            max_age=core.settings.identity_session_lifetime,
            path=cookie_path(core),
        )
    return response


def _expired(core: IdentityCore) -> Response:
    return pages.message_page("请重新登录", "登录表单已失效，请返回应用重新登录。", status=400)


@router.post("/login", summary="Password login (HTML form)")
async def password_login(
    request: Request,
    core: CoreDep,
    username: FormStr,
    password: FormStr,
    resume: FormStr = "",
    csrf: FormStr = "",
) -> Response:
    if not _csrf_ok(request, csrf):
        return _expired(core)
    result = await login.password_login(
        core, username, password, _attempt(request, username, resume)
    )
    if result.ok and result.challenge:
        return pages.totp_page(core.issuer, resume, csrf, result.challenge)
    if not result.ok:
        return pages.login_page(
            core.issuer, resume, csrf, error=result.message, status=result.status
        )
    return _back_to_authorize(core, resume, result)


@router.post("/login/totp", summary="Second factor: TOTP code")
async def totp_login(
    request: Request,
    core: CoreDep,
    challenge: FormStr,
    code: FormStr,
    resume: FormStr = "",
    csrf: FormStr = "",
) -> Response:
    if not _csrf_ok(request, csrf):
        return _expired(core)
    result = await login.totp_login(core, challenge, code, _attempt(request, "totp", resume))
    if not result.ok:
        if result.challenge:
            return pages.totp_page(
                core.issuer,
                resume,
                csrf,
                result.challenge,
                error=result.message,
                status=result.status,
            )
        return pages.login_page(
            core.issuer, resume, csrf, error=result.message, status=result.status
        )
    return _back_to_authorize(core, resume, result)


@router.post("/login/sms/send", summary="Send an SMS login code")
async def sms_send(
    request: Request, core: CoreDep, phone: FormStr, resume: FormStr = "", csrf: FormStr = ""
) -> Response:
    if not _csrf_ok(request, csrf):
        return _expired(core)
    await login.send_sms_code(core, phone)
    return pages.sms_page(core.issuer, resume, csrf, phone)


@router.post("/login/sms", summary="Login with an SMS code")
async def sms_login(
    request: Request,
    core: CoreDep,
    phone: FormStr,
    code: FormStr,
    resume: FormStr = "",
    csrf: FormStr = "",
) -> Response:
    if not _csrf_ok(request, csrf):
        return _expired(core)
    result = await login.sms_login(core, phone, code, _attempt(request, phone, resume))
    if not result.ok:
        return pages.sms_page(
            core.issuer, resume, csrf, phone, error=result.message, status=result.status
        )
    return _back_to_authorize(core, resume, result)


@router.post("/login/step-up", summary="Raise the session to L3 by 实名核验")
async def step_up(
    request: Request, core: CoreDep, resume: FormStr = "", csrf: FormStr = ""
) -> Response:
    if not _csrf_ok(request, csrf):
        return _expired(core)
    bs = await login.current_session(core, request.cookies.get(SSO_COOKIE))
    if bs is None:
        return _expired(core)
    result = await login.step_up_realname(core, bs.id, _attempt(request, "", resume))
    if not result.ok:
        return pages.step_up_page(
            core.issuer, resume, csrf, "L3", error=result.message, status=result.status
        )
    return _back_to_authorize(core, resume, result)
