"""Token verification shared by the gateway and every service (resource-server side).

Access tokens are JWTs issued by the identity service (统一身份认证) and signed with a key
published at its JWKS endpoint. The verifier checks the signature against the cached
JWKS (refetched when an unknown ``kid`` appears), ``iss``, ``aud``, ``exp``/``nbf`` with a
small leeway, and an allow-list of asymmetric algorithms: never ``none``, never an HMAC
algorithm (which would let a public key be used as a shared secret).

Claims the hub relies on (the identity service issues them):

- ``sub``: stable subject id; ``sub_type``: ``natural`` (自然人) | ``legal`` (法人) |
  ``staff`` (工作人员) | ``client`` (a system using client credentials)
- ``id_ref``: keyed blind index of the natural person's 公民身份号码 (never the number
  itself); services match applicants by computing the same index
- ``uscc``: the legal person's 统一社会信用代码, or the staff member's org
- ``roles``, ``division`` (行政区划 of staff), ``dept``; ``scope`` (space separated)
- ``acr``: assurance level ``L2``..``L5``; ``act``: the actor when a natural person acts
  for a legal person (授权代办, RFC 8693), e.g. ``{"sub": ..., "sub_type": "natural"}``
- ``client_id``: the OAuth client the token was issued to

A JWT stays valid until it expires (≤ 10 minutes by default), even after logout, an
RFC 7009 revocation, the end of a 授权代办 or the disabling of its client. Routes where
that matters (personal data, intake) use :func:`require_active_token` (or
``ActivePrincipal``): besides the signature checks it asks the issuer's introspection
endpoint (RFC 7662) with the service's own client credentials. Positive answers may be
cached for ``HUB_AUTH_INTROSPECTION_CACHE_SECONDS`` (default 0: a revocation takes
effect on the very next request; a short cache trades that for throughput, see
docs/benchmarks.md); a token once reported inactive stays refused until it expires.

Personal data also needs an assurance level: ``require_active_token(..., assurance="L3")``
refuses user tokens whose ``acr`` is lower with 403 ``insufficient-assurance`` and the
RFC 9470 step-up challenge (``error="insufficient_user_authentication"``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import httpx
from fastapi import Depends, Request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from services.runtime.problems import Problem

log = logging.getLogger("hub.auth")
ALLOWED_ALGORITHMS = ("ES256", "ES384", "RS256", "PS256", "EdDSA")
SubjectType = Literal["natural", "legal", "staff", "client"]
ASSURANCE_LEVELS = ("L2", "L3", "L4", "L5")


@dataclass(frozen=True)
class Principal:
    """Who is asking, as the verified token says."""

    subject: str
    subject_type: SubjectType
    client_id: str | None = None
    scopes: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()
    uscc: str | None = None
    id_ref: str | None = None
    division: str | None = None
    department: str | None = None
    acr: str | None = None
    actor: Mapping[str, Any] | None = None
    name: str | None = None
    token_id: str | None = None
    claims: Mapping[str, Any] = field(default_factory=dict)

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def has_role(self, role: str) -> bool:
        return role in self.roles

    def assurance_at_least(self, level: str) -> bool:
        if self.acr not in ASSURANCE_LEVELS:
            return False
        return ASSURANCE_LEVELS.index(self.acr) >= ASSURANCE_LEVELS.index(level)

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Principal:
        sub_type = claims.get("sub_type")
        if sub_type not in ("natural", "legal", "staff", "client"):
            raise InvalidToken("token has no valid sub_type claim")
        scope = claims.get("scope", "")
        roles = claims.get("roles", [])
        return cls(
            subject=str(claims["sub"]),
            subject_type=sub_type,
            client_id=claims.get("client_id") or claims.get("azp"),
            scopes=frozenset(scope.split() if isinstance(scope, str) else scope),
            roles=frozenset(roles if isinstance(roles, list) else []),
            uscc=claims.get("uscc"),
            id_ref=claims.get("id_ref"),
            division=claims.get("division"),
            department=claims.get("dept"),
            acr=claims.get("acr"),
            actor=claims.get("act"),
            name=claims.get("name"),
            token_id=claims.get("jti"),
            claims=dict(claims),
        )


class InvalidToken(Exception):
    """The bearer token cannot be accepted; the message says why (for the caller)."""


class TokenVerifier:
    """Verifies bearer tokens against a JWKS that is fetched once and cached."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_url: str | None = None,
        jwks: Mapping[str, Any] | None = None,
        leeway: int = 30,
        refetch_interval: float = 30.0,
        http: httpx.AsyncClient | None = None,
        key_source: Callable[[], KeySet] | None = None,
    ) -> None:
        if jwks_url is None and jwks is None and key_source is None:
            raise ValueError("a TokenVerifier needs jwks_url, jwks or key_source")
        self.issuer = issuer
        self.audience = audience
        self.jwks_url = jwks_url
        self.leeway = leeway
        self.refetch_interval = refetch_interval
        self._http = http
        self._keys: KeySet | None = KeySet.import_key_set(dict(jwks)) if jwks else None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()
        # The issuer itself verifies against its live key ring (no HTTP round trip).
        self._key_source = key_source

    async def _fetch(self) -> None:
        assert self.jwks_url is not None
        client = self._http or httpx.AsyncClient(timeout=5)
        try:
            response = await client.get(self.jwks_url)
            response.raise_for_status()
            self._keys = KeySet.import_key_set(response.json())
            self._fetched_at = time.monotonic()
        finally:
            if self._http is None:
                await client.aclose()

    async def _key_set(self, kid: str | None) -> KeySet:
        if self._key_source is not None:
            return self._key_source()
        known = self._keys is not None and (
            kid is None or any(k.kid == kid for k in self._keys.keys)
        )
        if known or self.jwks_url is None:
            if self._keys is None:
                raise InvalidToken("no signing keys are known")
            return self._keys
        async with self._lock:
            # Refetch on an unknown kid (key rotation), at most every refetch_interval.
            if time.monotonic() - self._fetched_at > self.refetch_interval or self._keys is None:
                try:
                    await self._fetch()
                except (httpx.HTTPError, ValueError) as exc:
                    if self._keys is None:
                        raise InvalidToken("signing keys are not available") from exc
        assert self._keys is not None
        return self._keys

    async def verify(self, token: str) -> Principal:
        header = _unverified_header(token)
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise InvalidToken(f"token algorithm {alg!r} is not accepted")
        keys = await self._key_set(header.get("kid"))
        try:
            decoded = jwt.decode(token, keys, algorithms=list(ALLOWED_ALGORITHMS))
        except JoseError as exc:
            raise InvalidToken(f"token signature is not valid ({exc.error})") from exc
        except ValueError as exc:
            raise InvalidToken("token is malformed") from exc
        registry = jwt.JWTClaimsRegistry(
            leeway=self.leeway,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "values": [self.audience]},
            exp={"essential": True},
            sub={"essential": True},
        )
        try:
            registry.validate(decoded.claims)
        except JoseError as exc:
            raise InvalidToken(f"token is not valid here: {exc.description or exc.error}") from exc
        return Principal.from_claims(decoded.claims)


def _unverified_header(token: str) -> dict[str, Any]:
    import base64

    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("token is not a signed JWT")
    try:
        padded = parts[0] + "=" * (-len(parts[0]) % 4)
        header = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, json.JSONDecodeError) as exc:
        raise InvalidToken("token header is unreadable") from exc
    if not isinstance(header, dict):
        raise InvalidToken("token header is unreadable")
    return header


# -- FastAPI dependencies -------------------------------------------------------------


def _unauthorized(message: str) -> Problem:
    return Problem(
        401,
        message,
        code="unauthorized",
        headers={
            "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{message}"'
        },
    )


async def optional_principal(request: Request) -> Principal | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("use an Authorization: Bearer token")
    verifier: TokenVerifier | None = request.app.state.hub.extras.get("token_verifier")
    if verifier is None:
        raise Problem(503, "token verification is not configured on this service")
    try:
        principal = await verifier.verify(token.strip())
    except InvalidToken as exc:
        raise _unauthorized(str(exc)) from exc
    request.state.principal = principal
    return principal


async def current_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    if principal is None:
        raise Problem(
            401,
            "this resource needs a bearer token",
            code="unauthorized",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]


def require_scopes(*scopes: str) -> Callable[..., Any]:
    """Dependency: the token must carry every scope listed."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        missing = [s for s in scopes if not principal.has_scope(s)]
        if missing:
            raise Problem(
                403,
                f"the token lacks the scope(s): {' '.join(missing)}",
                code="insufficient-scope",
                headers={
                    "WWW-Authenticate": f'Bearer error="insufficient_scope", '
                    f'scope="{" ".join(scopes)}"'
                },
            )
        return principal

    return dependency


def require_roles(*roles: str) -> Callable[..., Any]:
    """Dependency: a staff token holding at least one of ``roles``."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.subject_type != "staff" or not any(principal.has_role(r) for r in roles):
            raise Problem(403, f"this needs a staff role: {' or '.join(roles)}", code="forbidden")
        return principal

    return dependency


def insufficient_assurance(level: str) -> Problem:
    """403 with the RFC 9470 step-up challenge: log in again at ``level`` or above."""
    return Problem(
        403,
        f"this needs a login at assurance level {level} or above (实名核验); "
        f"authenticate again with acr_values={level}",
        code="insufficient-assurance",
        headers={
            "WWW-Authenticate": f'Bearer error="insufficient_user_authentication", '
            f'error_description="assurance level {level} required", acr_values="{level}"'
        },
    )


def check_assurance(principal: Principal, level: str) -> None:
    """User tokens (natural, legal, staff; an agent's token carries the agent's login
    level) must be at ``level`` or above. Client tokens name no person: the routes
    decide what a client may see."""
    if principal.subject_type != "client" and not principal.assurance_at_least(level):
        raise insufficient_assurance(level)


class IntrospectionUnavailable(Exception):
    """The issuer could not say whether a token is active (not the same as 'inactive')."""


class TokenIntrospector:
    """Asks the issuer's ``/introspect`` (RFC 7662) whether a token is still active.

    Answers are cached for ``cache_seconds`` (keyed by a digest of the token, never the
    token itself): that bounds both the load on the issuer and how long a revoked token
    can still be used. The calling service authenticates with its own confidential client
    (``client_secret_basic``); that client needs the identity service's
    ``can_introspect`` permission to see tokens issued to other clients.

    Concurrent checks of the same token share one request to the issuer (single flight),
    and requests go over one pooled HTTP client (keep-alive), so a burst of reads with
    one token costs one round trip, not one connection each.
    """

    def __init__(
        self,
        *,
        url: str,
        client_id: str,
        client_secret: str,
        cache_seconds: float = 0.0,
        timeout: float = 3.0,
        max_entries: int = 10_000,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = url
        self.client_id = client_id
        self.client_secret = client_secret
        self.cache_seconds = cache_seconds
        self.timeout = timeout
        self.max_entries = max_entries
        self._http = http
        self._owns_http = http is None
        self._cache: dict[str, tuple[float, bool]] = {}
        self._inflight: dict[str, asyncio.Future[bool]] = {}
        self.calls = 0  # introspection requests actually sent (for tests and metrics)

    async def is_active(
        self, token: str, token_id: str | None = None, expires_in: float | None = None
    ) -> bool:
        key = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        flight = self._inflight.get(key)
        if flight is None:
            flight = asyncio.ensure_future(self._ask(token, token_id))
            self._inflight[key] = flight
            flight.add_done_callback(lambda _done: self._inflight.pop(key, None))
        active = await asyncio.shield(flight)  # one waiter cancelled never cancels the rest
        # A revoked token never comes back: remember that until it expires anyway.
        ttl = self.cache_seconds if active else max(self.cache_seconds, expires_in or 0.0)
        if ttl <= 0:
            return active
        if len(self._cache) >= self.max_entries:
            # Drop expired answers first, then the oldest (dicts keep insertion order).
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            while len(self._cache) >= self.max_entries:
                self._cache.pop(next(iter(self._cache)))
        self._cache[key] = (now + ttl, active)
        return active

    async def aclose(self) -> None:
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _ask(self, token: str, token_id: str | None) -> bool:
        if self._http is None:
            # Created on first use, inside the serving event loop, and kept (keep-alive).
            self._http = httpx.AsyncClient(
                timeout=self.timeout, limits=httpx.Limits(max_keepalive_connections=20)
            )
        self.calls += 1
        try:
            response = await self._http.post(
                self.url,
                data={"token": token, "token_type_hint": "access_token"},
                auth=(self.client_id, self.client_secret),
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise IntrospectionUnavailable(f"issuer unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            # 401 here means OUR credentials were refused: an operator problem, not the
            # caller's, so it must not read as "your token is invalid".
            log.error("token introspection answered %s", response.status_code)
            raise IntrospectionUnavailable(f"introspection answered {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise IntrospectionUnavailable("introspection answer is not JSON") from exc
        if not isinstance(body, dict) or body.get("active") is not True:
            return False
        # The answer must be about the token we verified (same jti), not some other one.
        return token_id is None or body.get("jti") in (None, token_id)


def introspector_from_settings(settings: Any) -> TokenIntrospector | None:
    """``HUB_AUTH_INTROSPECTION_URL`` (default: next to ``HUB_AUTH_JWKS_URL``, i.e.
    ``<identity>/introspect``), ``HUB_AUTH_CLIENT_ID`` / ``HUB_AUTH_CLIENT_SECRET`` (this
    service's own client), ``HUB_AUTH_INTROSPECTION_CACHE_SECONDS``; ``None`` when the
    service has no client credentials."""
    client_id = getattr(settings, "auth_client_id", "") or ""
    secret = getattr(settings, "auth_client_secret", "") or ""
    url = getattr(settings, "auth_introspection_url", "") or ""
    jwks_url = getattr(settings, "auth_jwks_url", "") or ""
    if not url and jwks_url.rstrip("/").endswith("/jwks"):
        url = jwks_url.rstrip("/")[: -len("/jwks")] + "/introspect"
    if not (client_id and secret and url):
        return None
    return TokenIntrospector(
        url=url,
        client_id=client_id,
        client_secret=secret,
        cache_seconds=float(getattr(settings, "auth_introspection_cache_seconds", 0.0)),
    )


def _introspector(request: Request) -> TokenIntrospector:
    hub = request.app.state.hub
    introspector: TokenIntrospector | None = hub.extras.get("token_introspector")
    if introspector is None:
        introspector = introspector_from_settings(hub.settings)
        if introspector is None:
            raise Problem(
                503,
                "token introspection is not configured on this service",
                code="not-configured",
            )
        hub.extras["token_introspector"] = introspector
    return introspector


async def active_principal(request: Request, principal: CurrentPrincipal) -> Principal:
    """Dependency: a verified token that the issuer still reports active (not revoked,
    not logged out, its 授权代办 not ended)."""
    introspector = _introspector(request)
    _, _, raw = request.headers.get("authorization", "").partition(" ")
    exp = principal.claims.get("exp")
    left = float(exp) - time.time() if isinstance(exp, int | float) else None
    try:
        active = await introspector.is_active(raw.strip(), principal.token_id, left)
    except IntrospectionUnavailable as exc:
        log.warning("cannot check token status: %s", exc)
        raise Problem(
            503,
            "the token's status cannot be checked right now; try again shortly",
            code="introspection-unavailable",
            headers={"Retry-After": "5"},
        ) from exc
    if not active:
        raise _unauthorized("token has been revoked")
    return principal


ActivePrincipal = Annotated[Principal, Depends(active_principal)]


def require_active_token(*scopes: str, assurance: str | None = None) -> Callable[..., Any]:
    """Dependency for revocation-sensitive routes: every scope listed, user tokens at
    ``assurance`` or above (when given), and the token still active at the issuer."""
    check_scopes = require_scopes(*scopes)

    async def dependency(request: Request, principal: CurrentPrincipal) -> Principal:
        await check_scopes(principal)  # local and cheap: before asking the issuer
        if assurance is not None:
            check_assurance(principal, assurance)
        return await active_principal(request, principal)

    return dependency


def verifier_from_settings(settings: Any) -> TokenVerifier | None:
    """Build the verifier from ``HUB_AUTH_*`` settings; ``None`` when not configured."""
    jwks_url = getattr(settings, "auth_jwks_url", "")
    jwks_json = getattr(settings, "auth_jwks", "")
    if not jwks_url and not jwks_json:
        return None
    return TokenVerifier(
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        jwks_url=jwks_url or None,
        jwks=json.loads(jwks_json) if jwks_json else None,
        leeway=settings.auth_leeway,
    )
