"""OIDC / OAuth 2 endpoints: discovery, JWKS, authorize, token, revoke, introspect,
userinfo, logout. Paths are relative to the issuer (the gateway serves them under
``/api/identity``)."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from authlib.oidc.core.errors import LoginRequiredError
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from services.identity import login, oauth, pages
from services.identity.api.deps import CSRF_COOKIE, SSO_COOKIE, CoreDep, cookie_path, cookie_secure
from services.identity.domain import scopes as scope_rules
from services.identity.domain.levels import rank, requested_level, satisfies
from services.identity.domain.subjects import Authenticated
from services.identity.oauth import HubOAuth2Request, run_in_context
from services.identity.store import repo
from services.runtime.auth import InvalidToken
from services.runtime.db import utcnow
from services.runtime.problems import Problem

router = APIRouter(tags=["oidc"])
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def to_response(status: int, body: Any, headers: Any) -> Response:
    hdrs = {k: v for k, v in (headers or []) if k.lower() != "content-type"}
    hdrs.update(NO_STORE)
    if status in (301, 302, 303):
        location = hdrs.pop("Location", None) or dict(headers).get("Location", "")
        return RedirectResponse(location, status_code=302, headers=hdrs)
    if isinstance(body, dict):
        return JSONResponse(body, status_code=status, headers=hdrs)
    return Response(body or "", status_code=status, headers=hdrs)


def error_response(error: OAuth2Error) -> Response:
    return to_response(*error())


@router.get("/.well-known/openid-configuration", summary="OIDC discovery")
async def discovery(core: CoreDep) -> dict[str, Any]:
    iss = core.issuer
    return {
        "issuer": iss,
        "authorization_endpoint": f"{iss}/authorize",
        "token_endpoint": f"{iss}/token",
        "userinfo_endpoint": f"{iss}/userinfo",
        "jwks_uri": f"{iss}/jwks",
        "revocation_endpoint": f"{iss}/revoke",
        "introspection_endpoint": f"{iss}/introspect",
        "end_session_endpoint": f"{iss}/logout",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": list(oauth.ANY_CLIENT),
        "revocation_endpoint_auth_methods_supported": list(oauth.ANY_CLIENT),
        "introspection_endpoint_auth_methods_supported": list(oauth.CONFIDENTIAL),
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": sorted(scope_rules.KNOWN_SCOPES),
        "claims_supported": [
            "sub",
            "sub_type",
            "name",
            "id_ref",
            "uscc",
            "roles",
            "division",
            "dept",
            "acr",
            "act",
            "auth_time",
            "nonce",
            "sid",
            "id_number_masked",
            "phone_number_masked",
        ],
        "acr_values_supported": ["L2", "L3", "L4", "L5"],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "ui_locales_supported": ["zh-CN"],
    }


@router.get("/jwks", summary="JSON Web Key Set (current and still-published retired keys)")
async def jwks(core: CoreDep) -> JSONResponse:
    await core.keys.maybe_reload()
    return JSONResponse(core.keys.jwks, headers={"Cache-Control": "public, max-age=60"})


def _oauth_request(
    core: Any, request: Request, path: str, form: list[tuple[str, str]]
) -> HubOAuth2Request:
    query = list(request.query_params.multi_items())
    uri = f"{core.issuer}{path}"
    if request.url.query:
        uri += f"?{request.url.query}"
    return HubOAuth2Request(request.method, uri, request.headers, query, form)


def _resume_for_login(request: Request) -> str:
    # After a fresh login the same request comes back; prompt=login is satisfied then.
    items = [(k, v) for k, v in request.query_params.multi_items() if k != "prompt"]
    return urlencode(items)


def _login_page(core: Any, request: Request) -> Response:
    csrf = secrets.token_urlsafe(16)
    response = pages.login_page(core.issuer, _resume_for_login(request), csrf)
    set_csrf_cookie(core, response, csrf)
    return response


def set_csrf_cookie(core: Any, response: Response, csrf: str) -> None:
    response.set_cookie(
        CSRF_COOKIE,
        csrf,
        httponly=True,
        samesite="lax",
        secure=cookie_secure(core),
        path=cookie_path(core),
    )


@router.get("/authorize", summary="Authorization endpoint (code + PKCE S256)")
async def authorize(request: Request, core: CoreDep) -> Response:
    await core.keys.maybe_reload()
    req = _oauth_request(core, request, "/authorize", [])
    data = dict(request.query_params)
    bs = await login.current_session(core, request.cookies.get(SSO_COOKIE))
    now = utcnow()
    async with core.db.transaction() as session:
        user: Authenticated | None = None
        if bs is not None:
            user = await oauth.load_user(
                session,
                core,
                account_id=bs.account_id,
                acr=bs.acr,
                amr=bs.amr,
                auth_time=bs.auth_time,
                session_id=bs.id,
                delegation_id=None,
                now=now,
            )
        try:
            grant = await run_in_context(core, session, core.oauth.get_consent_grant, req, user)
        except OAuth2Error as error:
            return error_response(error)
        redirect_uri = grant.redirect_uri
        state = data.get("state")
        max_age = data.get("max_age")
        stale = (
            bs is not None
            and max_age is not None
            and max_age.isdigit()
            and (now - bs.auth_time).total_seconds() > int(max_age)
        )
        if user is None or grant.prompt == "login" or stale:
            if data.get("prompt") == "none":
                return error_response(LoginRequiredError(redirect_uri=redirect_uri, state=state))
            return _login_page(core, request)
        wanted = requested_level(data.get("acr_values"))
        if wanted is not None and not satisfies(user.acr, wanted):
            if rank(wanted) > rank(login.METHOD_CAP) or user.subject.kind != "natural":
                return error_response(
                    _access_denied(
                        redirect_uri, state, f"assurance level {wanted} cannot be reached online"
                    )
                )
            csrf = secrets.token_urlsafe(16)
            response = pages.step_up_page(core.issuer, _resume_for_login(request), csrf, wanted)
            set_csrf_cookie(core, response, csrf)
            return response
        act_for = data.get("act_for")
        if act_for:
            if user.subject.kind != "natural":
                return error_response(
                    _access_denied(
                        redirect_uri, state, "only natural persons act for a legal person"
                    )
                )
            legal = await repo.legal_by_uscc(session, act_for.strip().upper())
            row = (
                await repo.active_delegation(
                    session, legal.account_id, user.subject.account_id, now
                )
                if legal
                else None
            )
            if legal is None or row is None:
                return error_response(
                    _access_denied(
                        redirect_uri, state, "no active authorisation to act for this legal person"
                    )
                )
            acting = await oauth.load_user(
                session,
                core,
                account_id=legal.account_id,
                acr=user.acr,
                amr=list(user.amr),
                auth_time=bs.auth_time if bs else None,
                session_id=user.session_id,
                delegation_id=row.id,
                now=now,
            )
            if acting is None:
                return error_response(
                    _access_denied(redirect_uri, state, "the authorisation to act is not usable")
                )
            # Only what the grant allows of what was asked; nothing left is a refusal
            # (an empty scope would otherwise default to all of the client's scopes).
            scope = scope_rules.for_delegation(scope_rules.split(req.scope), row.scopes or [])
            if not scope:
                return error_response(
                    _access_denied(
                        redirect_uri, state, "the authorisation does not cover the scopes asked"
                    )
                )
            req.scope = scope_rules.join(scope)
            user = acting
        result = await run_in_context(
            core, session, core.oauth.create_authorization_response, req, user, grant
        )
    return to_response(*result)


def _access_denied(redirect_uri: str, state: str | None, description: str) -> OAuth2Error:
    from authlib.oauth2.rfc6749.errors import AccessDeniedError

    error = AccessDeniedError(description=description, redirect_uri=redirect_uri)
    error.state = state
    return error


async def _form(request: Request) -> list[tuple[str, str]]:
    form = await request.form()
    return [(k, v) for k, v in form.multi_items() if isinstance(v, str)]


@router.post("/token", summary="Token endpoint")
async def token(request: Request, core: CoreDep) -> Response:
    await core.keys.maybe_reload()
    req = _oauth_request(core, request, "/token", await _form(request))
    async with core.db.transaction() as session:
        result = await run_in_context(core, session, core.oauth.create_token_response, req)
    return to_response(*result)


@router.post("/revoke", summary="Token revocation (RFC 7009)")
async def revoke(request: Request, core: CoreDep) -> Response:
    req = _oauth_request(core, request, "/revoke", await _form(request))
    async with core.db.transaction() as session:
        result = await run_in_context(
            core, session, core.oauth.create_endpoint_response, "revocation", req
        )
    return to_response(*result)


@router.post("/introspect", summary="Token introspection (RFC 7662), confidential clients")
async def introspect(request: Request, core: CoreDep) -> Response:
    await core.keys.maybe_reload()
    req = _oauth_request(core, request, "/introspect", await _form(request))
    async with core.db.transaction() as session:
        result = await run_in_context(
            core, session, core.oauth.create_endpoint_response, "introspection", req
        )
    return to_response(*result)


@router.get("/userinfo", summary="OIDC userinfo")
@router.post("/userinfo", summary="OIDC userinfo (form or bearer)")
async def userinfo(request: Request, core: CoreDep) -> JSONResponse:
    from services.identity.tokens import active_token_user

    header = request.headers.get("authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw:
        raise Problem(
            401,
            "userinfo needs a bearer access token",
            code="unauthorized",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        user, scope = await active_token_user(core, raw.strip())
    except InvalidToken as exc:
        raise Problem(
            401,
            str(exc),
            code="unauthorized",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from exc
    if user is None or "openid" not in scope:
        raise Problem(
            403, "userinfo needs a user token with scope openid", code="insufficient-scope"
        )
    from services.identity.domain.subjects import userinfo_claims

    return JSONResponse(userinfo_claims(user, scope), headers=NO_STORE)


@router.get("/logout", summary="RP-initiated logout")
@router.post("/logout", summary="RP-initiated logout (form post)")
async def logout(request: Request, core: CoreDep) -> Response:
    form = await _form(request) if request.method == "POST" else []
    req = _oauth_request(core, request, "/logout", form)
    bs = await login.current_session(core, request.cookies.get(SSO_COOKIE))
    async with core.db.transaction() as session:
        try:
            validated = await run_in_context(
                core, session, core.oauth.validate_endpoint_request, "end_session", req
            )
        except OAuth2Error as error:
            return error_response(error)
    sid = bs.id if bs else (validated.id_token_claims or {}).get("sid")
    if sid:
        await login.end_session(core, sid)
    if validated.redirect_uri:
        response: Response = RedirectResponse(validated.redirect_uri, status_code=302)
    else:
        response = pages.message_page("已退出登录", "您已安全退出统一身份认证。")
    response.delete_cookie(
        SSO_COOKIE,
        path=cookie_path(core),
        secure=cookie_secure(core),
        httponly=True,
        samesite="lax",
    )
    return response


__all__ = ["router"]
