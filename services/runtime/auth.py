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
"""

from __future__ import annotations

import asyncio
import json
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
