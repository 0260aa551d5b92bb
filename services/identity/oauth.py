"""The OAuth 2 / OIDC authorization server, on authlib's framework-agnostic core.

authlib's grants are synchronous and call storage hooks; our storage is async
SQLAlchemy. Each OAuth request therefore runs authlib in a worker thread
(:func:`run_in_context`) while the request's own transaction stays on the event loop:
every hook hands its query back to the loop (``Ctx.run``) and waits for it. The whole
request is one transaction, committed before the response leaves — including the writes
made on the way to an error (a reused code or refresh token revokes its family even
though the answer is ``invalid_grant``).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import (
    ClientMixin,
    InvalidRequestError,
    OAuth2Request,
    TokenMixin,
)
from authlib.oauth2.rfc6749.errors import InvalidScopeError
from authlib.oauth2.rfc6749.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
)
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7636.challenge import compare_s256_code_challenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode, OpenIDToken
from authlib.oidc.core.models import AuthorizationCodeMixin
from authlib.oidc.rpinitiated import EndSessionEndpoint
from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity import accounts
from services.identity.core import IdentityCore
from services.identity.domain import scopes as scope_rules
from services.identity.domain.subjects import Authenticated, access_claims, userinfo_claims
from services.identity.secrets import digest, digest_matches, new_secret
from services.identity.store import repo
from services.identity.store.tables import AuthorizationCode, Client, DelegationRow, IssuedToken
from services.runtime.db import utcnow

log = logging.getLogger("hub.identity.oauth")
T = TypeVar("T")

_ctx: contextvars.ContextVar[Ctx] = contextvars.ContextVar("identity_oauth_ctx")


@dataclass
class Ctx:
    """One OAuth request: its transaction, the loop that owns it, scratch state."""

    core: IdentityCore
    session: AsyncSession
    loop: asyncio.AbstractEventLoop
    now: datetime = field(default_factory=utcnow)
    pending: dict[str, Any] = field(default_factory=dict)
    clients: dict[str, Client | None] = field(default_factory=dict)
    browser_session_id: str | None = None

    def run(self, coro: Awaitable[T]) -> T:
        """Run a coroutine on the request's loop from the authlib thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()  # type: ignore[arg-type]


def ctx() -> Ctx:
    return _ctx.get()


async def run_in_context(
    core: IdentityCore, session: AsyncSession, fn: Callable[..., T], *args: Any, **extra: Any
) -> T:
    """Call authlib (sync) in a worker thread with hooks bound to ``session``."""
    c = Ctx(core=core, session=session, loop=asyncio.get_running_loop(), **extra)
    token = _ctx.set(c)
    try:
        return await asyncio.to_thread(fn, *args)
    finally:
        _ctx.reset(token)


# -- request adapter ----------------------------------------------------------------


class _Payload:
    def __init__(self, items: list[tuple[str, str]]) -> None:
        self.datalist: defaultdict[str, list[str]] = defaultdict(list)
        for k, v in items:
            self.datalist[k].append(v)
        self.data = {k: v[0] for k, v in self.datalist.items()}

    client_id = property(lambda self: self.data.get("client_id"))
    grant_type = property(lambda self: self.data.get("grant_type"))
    redirect_uri = property(lambda self: self.data.get("redirect_uri"))
    scope = property(lambda self: self.data.get("scope"))
    state = property(lambda self: self.data.get("state"))

    @property
    def response_type(self) -> str | None:
        rt = self.data.get("response_type")
        return " ".join(sorted(rt.split())) if rt and " " in rt else rt


class HubOAuth2Request(OAuth2Request):
    """authlib's request, built from what FastAPI parsed (query + form)."""

    def __init__(
        self,
        method: str,
        uri: str,
        headers: Mapping[str, str],
        query: list[tuple[str, str]],
        form: list[tuple[str, str]],
    ) -> None:
        super().__init__(method, uri, headers=headers)  # case-insensitive (Starlette)
        self._args = dict(query)
        self._form = dict(form)
        self.payload = _Payload(query + form)  # type: ignore[assignment]

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


# -- models ---------------------------------------------------------------------------


class ClientModel(ClientMixin):
    def __init__(self, row: Client) -> None:
        self.row = row
        self.client_id = row.client_id

    @property
    def client_metadata(self) -> dict[str, Any]:
        return {"post_logout_redirect_uris": list(self.row.post_logout_redirect_uris or [])}

    @property
    def public(self) -> bool:
        return bool(self.row.public)

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> str | None:
        uris = self.row.redirect_uris or []
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        requested = scope_rules.split(scope)
        if not requested:
            return scope_rules.join(self.row.scopes or [])
        if not scope_rules.allowed(requested, self.row.scopes or []):
            return None
        return scope_rules.join(requested)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in (self.row.redirect_uris or [])  # exact match, no patterns

    def check_client_secret(self, client_secret: str) -> bool:
        return digest_matches(self.row.secret_hash, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in (self.row.grant_types or [])

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in (self.row.grant_types or [])


class CodeModel(AuthorizationCodeMixin):
    def __init__(self, row: AuthorizationCode, user: Authenticated | None) -> None:
        self.row = row
        self.user = user
        self.code_challenge = row.code_challenge
        self.code_challenge_method = row.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope

    def get_nonce(self) -> str | None:
        return self.row.nonce

    def get_auth_time(self) -> int:
        return int(self.row.auth_time.timestamp())

    def get_acr(self) -> str:
        return self.row.acr

    def get_amr(self) -> list[str]:
        return list(self.row.amr or [])


class TokenModel(TokenMixin):
    def __init__(
        self, row: IssuedToken, user: Authenticated | None, kind: str, delegation_ok: bool = True
    ) -> None:
        self.row = row
        self.user = user
        self.kind = kind  # access_token | refresh_token
        self.delegation_ok = delegation_ok

    def check_client(self, client: ClientModel) -> bool:
        return self.row.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_in(self) -> int:
        return int((self.row.access_expires_at - self.row.issued_at).total_seconds())

    def is_expired(self) -> bool:
        now = utcnow()
        if self.kind == "refresh_token":
            return self.row.refresh_expires_at is None or self.row.refresh_expires_at <= now
        return self.row.access_expires_at <= now

    def is_revoked(self) -> bool:
        if self.row.revoked_at is not None or not self.delegation_ok:
            return True
        return self.kind == "refresh_token" and self.row.refresh_used_at is not None

    def get_user(self) -> Authenticated | None:
        return self.user

    def get_client(self) -> ClientModel | None:
        return None


# -- loading users -------------------------------------------------------------------


async def load_user(
    session: AsyncSession,
    core: IdentityCore,
    *,
    account_id: str | None,
    acr: str | None,
    amr: list[str] | None,
    auth_time: datetime | None,
    session_id: str | None,
    delegation_id: str | None,
    now: datetime,
) -> Authenticated | None:
    """The resource owner behind a code or token; ``None`` when the account is disabled
    or the 授权代办 it relies on is revoked or over."""
    if account_id is None:
        return None
    acc = await repo.account(session, account_id)
    if acc is None or acc.disabled:
        return None
    subject = await accounts.subject_of(session, core, acc)
    actor = None
    scopes = None
    if delegation_id is not None:
        grant = await repo.delegation(session, delegation_id)
        if grant is None or not _delegation_active(grant, now):
            return None
        agent = await repo.account(session, grant.agent_account_id)
        if agent is None or agent.disabled:
            return None
        actor = await accounts.subject_of(session, core, agent)
        scopes = frozenset(grant.scopes or [])
    return Authenticated(
        subject=subject,
        acr=acr or acc.level,
        amr=tuple(amr or ()),
        auth_time=int(auth_time.timestamp()) if auth_time else 0,
        session_id=session_id,
        actor=actor,
        delegation_id=delegation_id,
        delegation_scopes=scopes,
    )


def _delegation_active(grant: DelegationRow, now: datetime) -> bool:
    return grant.revoked_at is None and grant.starts_at <= now < grant.ends_at


async def user_of_token(
    session: AsyncSession, core: IdentityCore, row: IssuedToken, now: datetime
) -> Authenticated | None:
    return await load_user(
        session,
        core,
        account_id=row.account_id,
        acr=row.acr,
        amr=row.amr,
        auth_time=row.auth_time,
        session_id=row.session_id,
        delegation_id=row.delegation_id,
        now=now,
    )


async def _call(fn: Callable[[], T]) -> T:
    return fn()


# -- grants ---------------------------------------------------------------------------

CONFIDENTIAL = ["client_secret_basic", "client_secret_post"]
ANY_CLIENT = [*CONFIDENTIAL, "none"]


class CodeGrant(AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ANY_CLIENT

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        c = ctx()
        user: Authenticated = request.user
        data = request.payload.data
        row = AuthorizationCode(
            code_hash=digest(code),
            client_id=request.client.get_client_id(),
            account_id=user.subject.account_id,
            session_id=user.session_id,
            delegation_id=user.delegation_id,
            redirect_uri=request.payload.redirect_uri or request.client.get_default_redirect_uri(),
            scope=request.scope or "",
            nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            acr=user.acr,
            amr=list(user.amr),
            auth_time=datetime.fromtimestamp(user.auth_time or time.time(), tz=c.now.tzinfo),
            expires_at=c.now + timedelta(seconds=c.core.settings.identity_code_lifetime),
        )
        c.run(_call(lambda: c.session.add(row)))

    def query_authorization_code(self, code: str, client: ClientModel) -> CodeModel | None:
        c = ctx()
        code_hash = digest(code)
        row = c.run(repo.code(c.session, code_hash))
        if row is None or row.client_id != client.get_client_id():
            return None
        # Consume atomically: of two concurrent redemptions only one wins.
        claimed = c.run(_claim_code(c.session, code_hash, c.now))
        if not claimed:
            revoked = c.run(repo.revoke_by_code(c.session, code_hash, c.now))
            log.warning(
                "authorization code reused by client %s; %d token(s) revoked",
                client.get_client_id(),
                revoked,
            )
            return None
        if row.expires_at <= c.now:
            return None
        user = c.run(
            load_user(
                c.session,
                c.core,
                account_id=row.account_id,
                acr=row.acr,
                amr=row.amr,
                auth_time=row.auth_time,
                session_id=row.session_id,
                delegation_id=row.delegation_id,
                now=c.now,
            )
        )
        c.pending["code_hash"] = code_hash
        return CodeModel(row, user)

    def delete_authorization_code(self, authorization_code: CodeModel) -> None:
        # Kept (already marked used): a second redemption must be recognised as reuse.
        return None

    def authenticate_user(self, authorization_code: CodeModel) -> Authenticated | None:
        return authorization_code.user


async def _claim_code(session: AsyncSession, code_hash: str, now: datetime) -> bool:
    result = await session.execute(
        update(AuthorizationCode)
        .where(AuthorizationCode.code_hash == code_hash, AuthorizationCode.used_at.is_(None))
        .values(used_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def _claim_refresh(session: AsyncSession, jti: str, now: datetime) -> bool:
    result = await session.execute(
        update(IssuedToken)
        .where(IssuedToken.jti == jti, IssuedToken.refresh_used_at.is_(None))
        .values(refresh_used_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


class S256Only(CodeChallenge):
    """PKCE with S256 only; required of public clients (``plain`` is refused)."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]
    CODE_CHALLENGE_METHODS: ClassVar[dict[str, Any]] = {"S256": compare_s256_code_challenge}

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        challenge, method = data.get("code_challenge"), data.get("code_challenge_method")
        if grant.request.client.public and not challenge:
            raise InvalidRequestError("public clients must use PKCE ('code_challenge', S256)")
        if challenge and method != "S256":
            # Without a method RFC 7636 means 'plain', which we refuse too.
            raise InvalidRequestError("'code_challenge_method' must be S256")
        super().validate_code_challenge(grant, redirect_uri)


class _HubIdToken:
    """How this provider signs ID tokens (shared by the code and refresh grants)."""

    def resolve_client_private_key(self, client: ClientModel) -> Any:
        return ctx().core.keys.signing_key

    def get_client_algorithm(self, client: ClientModel) -> str:
        return "ES256"

    def get_encode_header(self, client: ClientModel) -> dict[str, str]:
        return {"alg": "ES256", "kid": ctx().core.keys.signing_key.kid or "", "typ": "JWT"}

    def get_client_claims(self, client: ClientModel) -> dict[str, Any]:
        c = ctx()
        now = int(time.time())
        return {
            "iss": c.core.issuer,
            "aud": client.get_client_id(),
            "iat": now,
            "exp": now + c.core.settings.identity_id_token_lifetime,
        }

    def generate_user_info(self, user: Authenticated, scope: str) -> UserInfo:
        info = userinfo_claims(user, set(scope_rules.split(scope)))
        info["azp"] = ctx().pending.get("client_id")
        if user.session_id:
            info["sid"] = user.session_id
        return UserInfo(info)


class OpenID(_HubIdToken, OpenIDCode):
    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        c = ctx()
        return c.run(repo.nonce_used(c.session, request.payload.client_id, nonce))


class OpenIDRefresh(_HubIdToken, OpenIDToken):
    """A fresh ID token on refresh when the grant has ``openid`` (OIDC Core 12.2): same
    ``iss``/``sub``/``aud``; ``auth_time``, ``acr`` and ``amr`` of the original login;
    new ``iat``; no ``nonce`` (it belonged to the original authentication request)."""

    def get_compatible_claims(self, request: OAuth2Request) -> dict[str, Any]:
        claims: dict[str, Any] = super().get_compatible_claims(request)  # type: ignore[misc]
        token: TokenModel = request.refresh_token  # type: ignore[attr-defined]
        user = token.user
        if user is not None:
            if user.auth_time:
                claims["auth_time"] = user.auth_time
            claims["acr"] = user.acr
            if user.amr:
                claims["amr"] = list(user.amr)
        return claims


class RefreshGrant(RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ANY_CLIENT
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> TokenModel | None:
        c = ctx()
        row = c.run(repo.token_by_refresh(c.session, digest(refresh_token)))
        if row is None or row.revoked_at is not None:
            return None
        if not c.run(_claim_refresh(c.session, row.jti, c.now)):
            # Reuse of a rotated refresh token: someone holds a stolen copy. Revoke the
            # whole family so neither party keeps access (OAuth 2.1 §4.3.1).
            n = c.run(repo.revoke_family(c.session, row.family_id, c.now))
            log.warning("refresh token reused (client %s); family revoked (%d)", row.client_id, n)
            return None
        if row.refresh_expires_at is None or row.refresh_expires_at <= c.now:
            return None
        user = c.run(user_of_token(c.session, c.core, row, c.now))
        if user is None:
            return None
        c.pending["family_id"] = row.family_id
        started = c.run(repo.family_started(c.session, row.family_id)) or row.issued_at
        c.pending["family_started"] = started
        c.pending["code_hash"] = row.code_hash
        return TokenModel(row, user, "refresh_token")

    def authenticate_user(self, refresh_token: TokenModel) -> Authenticated | None:
        return refresh_token.user

    def revoke_old_credential(self, refresh_token: TokenModel) -> None:
        return None  # already marked used when it was claimed


class ClientCredentials(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL

    def validate_requested_scope(self) -> None:
        client: ClientModel = self.request.client
        if client.get_allowed_scope(self.request.payload.scope) is None:
            raise InvalidScopeError("the client may not request this scope")


# -- token endpoints (revocation, introspection) -------------------------------------


def _lookup_token(token_string: str, hint: str | None) -> TokenModel | None:
    c = ctx()
    if token_string.count(".") == 2 and hint != "refresh_token":
        try:
            decoded = jwt.decode(token_string, c.core.keys.public_keys, algorithms=["ES256"])
        except (JoseError, ValueError):
            return None
        if decoded.claims.get("iss") != c.core.issuer:
            return None
        row = c.run(repo.token_by_jti(c.session, str(decoded.claims.get("jti"))))
        kind = "access_token"
    else:
        row = c.run(repo.token_by_refresh(c.session, digest(token_string)))
        kind = "refresh_token"
    if row is None:
        return None
    if row.client_id not in c.clients:
        c.clients[row.client_id] = c.run(repo.client(c.session, row.client_id))
    owner = c.clients[row.client_id]
    if owner is None or owner.disabled:
        # A disabled client's tokens are dead at once (its refresh tokens too).
        return TokenModel(row, None, kind, delegation_ok=False)
    delegation_ok = True
    user = None
    if row.account_id is not None:
        user = c.run(user_of_token(c.session, c.core, row, c.now))
        delegation_ok = user is not None
    return TokenModel(row, user, kind, delegation_ok)


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = ANY_CLIENT

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenModel | None:
        return _lookup_token(token_string, token_type_hint)

    def revoke_token(self, token: TokenModel, request: OAuth2Request) -> None:
        c = ctx()
        if token.kind == "refresh_token":
            # RFC 7009 §2.1: revoking a refresh token revokes the grant's access tokens.
            c.run(repo.revoke_family(c.session, token.row.family_id, c.now))
        else:
            token.row.revoked_at = c.now


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = CONFIDENTIAL

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenModel | None:
        return _lookup_token(token_string, token_type_hint)

    def check_permission(self, token: TokenModel, client: ClientModel, request: Any) -> bool:
        return bool(client.row.can_introspect) or token.check_client(client)

    def introspect_token(self, token: TokenModel) -> dict[str, Any]:
        c = ctx()
        row = token.row
        body: dict[str, Any] = {
            "active": True,
            "token_type": "Bearer" if token.kind == "access_token" else "refresh_token",
            "client_id": row.client_id,
            "scope": row.scope,
            "iss": c.core.issuer,
            "aud": c.core.settings.auth_audience,
            "jti": row.jti,
            "iat": int(row.issued_at.timestamp()),
            "exp": int(
                (
                    row.access_expires_at
                    if token.kind == "access_token"
                    else (row.refresh_expires_at or row.access_expires_at)
                ).timestamp()
            ),
        }
        if token.user is None:
            body.update({"sub": row.client_id, "sub_type": "client"})
        else:
            claims = access_claims(
                issuer=c.core.issuer,
                audience=c.core.settings.auth_audience,
                client_id=row.client_id,
                scope=row.scope,
                jti=row.jti,
                issued_at=body["iat"],
                expires_at=body["exp"],
                user=token.user,
            )
            body.update({k: v for k, v in claims.items() if k not in body or k == "sub"})
        return body


class EndSession(EndSessionEndpoint):
    def get_server_jwks(self) -> Any:
        return ctx().core.keys.public_keys

    def get_algorithms(self) -> list[str]:
        return ["ES256"]

    def end_session(self, end_session_request: Any) -> None:
        c = ctx()
        sid = c.browser_session_id
        claims = end_session_request.id_token_claims or {}
        if sid is None and claims.get("sid"):
            sid = claims["sid"]
        if sid is not None:
            c.pending["ended_session"] = sid


# -- the server -----------------------------------------------------------------------


class OAuthServer(AuthorizationServer):
    def __init__(self, core: IdentityCore) -> None:
        super().__init__(scopes_supported=None)
        self.core = core
        self.register_token_generator("default", self._generate_token)
        self.register_grant(CodeGrant, [S256Only(required=True), OpenID(require_nonce=False)])
        self.register_grant(RefreshGrant, [OpenIDRefresh()])
        self.register_grant(ClientCredentials)
        self.register_endpoint(Revocation)
        self.register_endpoint(Introspection)
        self.register_endpoint(EndSession)

    def query_client(self, client_id: str) -> ClientModel | None:
        c = ctx()
        if client_id not in c.clients:
            c.clients[client_id] = c.run(repo.client(c.session, client_id))
        row = c.clients[client_id]
        return ClientModel(row) if row is not None and not row.disabled else None

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        return request  # already a HubOAuth2Request

    def create_json_request(self, request: Any) -> Any:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, Any]:
        return status, body, headers

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def _generate_token(
        self,
        grant_type: str,
        client: ClientModel,
        user: Authenticated | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        c = ctx()
        s = self.core.settings
        if not scope and grant_type == "client_credentials":
            scope = scope_rules.join(client.row.scopes or [])
        scope = scope or ""
        if user is not None and user.delegation_scopes is not None:
            # 授权代办: whatever was asked (or defaulted to), only the grant's scopes.
            granted = scope_rules.for_delegation(scope_rules.split(scope), user.delegation_scopes)
            scope = scope_rules.join(granted)
        lifetime = min(
            client.row.access_token_lifetime or s.identity_access_token_lifetime,
            s.identity_access_token_max_lifetime,
        )
        now = int(time.time())
        jti = uuid.uuid4().hex
        claims = access_claims(
            issuer=self.core.issuer,
            audience=s.auth_audience,
            client_id=client.get_client_id(),
            scope=scope,
            jti=jti,
            issued_at=now,
            expires_at=now + lifetime,
            user=user,
            orgs=client.row.orgs or (),
        )
        key = self.core.keys.signing_key
        access = jwt.encode({"alg": "ES256", "kid": key.kid or "", "typ": "at+jwt"}, claims, key)
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": access,
            "expires_in": lifetime,
            "scope": scope,
        }
        refresh = None
        if include_refresh_token and user is not None:
            refresh = new_secret()
            token["refresh_token"] = refresh
        c.pending.update(
            jti=jti,
            issued=now,
            lifetime=lifetime,
            refresh=refresh,
            refresh_lifetime=client.row.refresh_token_lifetime or s.identity_refresh_token_lifetime,
            grant_type=grant_type,
            client_id=client.get_client_id(),
        )
        return token

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        c = ctx()
        p = c.pending
        user: Authenticated | None = request.user
        issued = datetime.fromtimestamp(p["issued"], tz=c.now.tzinfo)
        row = IssuedToken(
            jti=p["jti"],
            family_id=p.get("family_id") or uuid.uuid4().hex,
            grant_type=p["grant_type"],
            client_id=p["client_id"],
            account_id=user.subject.account_id if user else None,
            delegation_id=user.delegation_id if user else None,
            session_id=user.session_id if user else None,
            code_hash=p.get("code_hash"),
            scope=token.get("scope", ""),
            acr=user.acr if user else None,
            amr=list(user.amr) if user else [],
            auth_time=datetime.fromtimestamp(user.auth_time, tz=c.now.tzinfo)
            if user and user.auth_time
            else None,
            refresh_hash=digest(p["refresh"]) if p.get("refresh") else None,
            issued_at=issued,
            access_expires_at=issued + timedelta(seconds=p["lifetime"]),
            refresh_expires_at=_refresh_expiry(c, issued, p) if p.get("refresh") else None,
        )
        c.run(_call(lambda: c.session.add(row)))


def _refresh_expiry(c: Ctx, issued: datetime, pending: Mapping[str, Any]) -> datetime:
    """Idle lifetime from now, never past the family's absolute end (first issue + max)."""
    idle = issued + timedelta(seconds=pending["refresh_lifetime"])
    started: datetime = pending.get("family_started") or issued
    absolute = started + timedelta(seconds=c.core.settings.identity_refresh_token_max_lifetime)
    return min(idle, absolute)
