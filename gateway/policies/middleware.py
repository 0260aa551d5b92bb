"""The front door's ASGI layers.

``EdgeMiddleware`` (outermost): the client's address given trusted proxies, CORS for the
portal origins (preflights answered here) and security headers on every response.
``PolicyMiddleware`` (inside the request-id and body-limit layers, so its problems carry
the request id and bodies it buffers are bounded): credential-guessing guard, rate limits,
``Idempotency-Key``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

from redis.exceptions import RedisError
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.policies import rules
from gateway.policies.counters import Counters
from gateway.policies.idempotency import IdempotencyStore, parse_key, request_digest
from gateway.settings import GatewaySettings
from services.runtime.auth import InvalidToken, TokenVerifier
from services.runtime.forwarding import client_address, parse_networks
from services.runtime.problems import problem_response

log = logging.getLogger("hub.gateway.policies")

CORS_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE"
CORS_HEADERS = {
    "authorization",
    "content-type",
    "accept",
    "accept-language",
    "idempotency-key",
    "x-request-id",
    "traceparent",
    "tracestate",
}
CORS_EXPOSE = "RateLimit, RateLimit-Policy, Retry-After, X-Request-ID, Idempotency-Replayed"
# HTML here is identity's login pages (one inline <style>, form posts, no script). No
# form-action: browsers apply it to the redirect that follows the login post, which leaves
# for the portal's own origin.
STRICT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "base-uri 'none'; frame-ancestors 'none'"
)
# FastAPI's /docs and /redoc load their UI from a CDN with a small inline script.
DOCS_CSP = (
    "default-src 'none'; script-src 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https:; "
    "connect-src 'self'; worker-src blob:; base-uri 'none'; frame-ancestors 'none'"
)
DOCS_SUFFIXES = ("/docs", "/redoc", "/docs/oauth2-redirect")


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", []):
        if k.lower() == name:
            return v.decode("latin-1")  # type: ignore[no-any-return]
    return None


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, settings: GatewaySettings) -> None:
        self.app = app
        self.trusted = parse_networks(settings.trusted_proxies)
        self.origins = frozenset(o.rstrip("/") for o in settings.cors_origins)
        self.max_age = str(settings.cors_max_age)
        self.hsts = settings.public_base_url.startswith("https://")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        peer = scope["client"][0] if scope.get("client") else None
        ip = client_address(peer, _header(scope, b"x-forwarded-for"), self.trusted)
        scope.setdefault("state", {})["client_ip"] = ip or ""
        origin = _header(scope, b"origin")
        allowed = origin is not None and origin.rstrip("/") in self.origins
        if (
            origin is not None
            and scope["method"] == "OPTIONS"
            and _header(scope, b"access-control-request-method") is not None
        ):
            await self._preflight(scope, receive, send, origin, allowed)
            return
        path = scope["path"]

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in _SECURITY_NAMES
                ]
                headers += self._security(headers, path)
                if allowed:
                    assert origin is not None
                    headers += [
                        (b"access-control-allow-origin", origin.encode("latin-1")),
                        (b"access-control-expose-headers", CORS_EXPOSE.encode()),
                        (b"vary", b"Origin"),
                    ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_secured)

    def _security(self, headers: list[tuple[bytes, bytes]], path: str) -> list[tuple[bytes, bytes]]:
        out = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
        ]
        if self.hsts:
            out.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
        content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
        if content_type.lower().startswith(b"text/html"):
            csp = DOCS_CSP if path.endswith(DOCS_SUFFIXES) else STRICT_CSP
            out.append((b"content-security-policy", csp.encode()))
        return out

    async def _preflight(
        self, scope: Scope, receive: Receive, send: Send, origin: str, allowed: bool
    ) -> None:
        requested = {
            h.strip().lower()
            for h in (_header(scope, b"access-control-request-headers") or "").split(",")
            if h.strip()
        }
        method = (_header(scope, b"access-control-request-method") or "").upper()
        response: Response
        if not allowed or method not in CORS_METHODS.split(", ") or requested - CORS_HEADERS:
            response = problem_response(
                403,
                "This origin, method or header is not allowed by the gateway's CORS policy.",
                code="cors-refused",
            )
        else:
            headers = {
                "access-control-allow-origin": origin,
                "access-control-allow-methods": CORS_METHODS,
                "access-control-max-age": self.max_age,
                "vary": "Origin",
            }
            if requested:
                headers["access-control-allow-headers"] = ", ".join(sorted(requested))
            response = Response(status_code=204, headers=headers)
        await response(scope, receive, send)


_SECURITY_NAMES = {
    b"x-content-type-options",
    b"referrer-policy",
    b"x-frame-options",
    b"strict-transport-security",
    b"content-security-policy",
}


Verifier = Callable[[], TokenVerifier | None]


@dataclass
class Policies:
    """What the policy layer needs, built once by :func:`gateway.policies.install`."""

    settings: GatewaySettings
    counters: Counters
    idempotency: IdempotencyStore | None
    verifier: Verifier
    lock_seconds: float = 60.0


class PolicyMiddleware:
    def __init__(self, app: ASGIApp, policies: Policies) -> None:
        self.app = app
        self.p = policies
        s = policies.settings
        self.rules = s.rate_limits if s.rate_limits_enabled else []
        self.names = [rules.rule_name(r, i) for i, r in enumerate(self.rules)]
        self.failure_statuses = frozenset(s.guard_failure_statuses)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        path: str = scope["path"]
        s = self.p.settings
        ip = scope.get("state", {}).get("client_ip") or (
            scope["client"][0] if scope.get("client") else ""
        )
        authorization = _header(scope, b"authorization")
        caller = rules.caller_of(ip, authorization)

        # 1. 防撞库: refuse a source that failed too often, before it tries again.
        guard_keys: list[tuple[str, int]] = []
        if method == "POST" and rules.is_guarded(s.guard_paths, path):
            guard_keys.append((f"guard:ip:{ip}", s.guard_max_failures))
            if path == "/api/identity/token":
                receive, client = await _token_client(scope, receive, authorization)
                if client:
                    guard_keys.append((f"guard:client:{client}", s.guard_client_max_failures))
            for key, limit in guard_keys:
                count, reset = await self.p.counters.peek(key)
                if count >= limit:
                    await _too_many(
                        scope,
                        receive,
                        send,
                        reset,
                        "Too many failed attempts from this source; wait before trying again.",
                        code="too-many-failures",
                    )
                    return

        # 2. Rate limits (every matching rule counts; the tightest one is reported).
        extra: list[tuple[bytes, bytes]] = []
        applicable = [
            (rule, name)
            for rule, name in zip(self.rules, self.names, strict=True)
            if rules.applies(rule, method, path)
        ]
        if applicable:
            counts = await self.p.counters.hit_many(
                [(rules.counter_key(name, rule, caller), rule.window) for rule, name in applicable]
            )
            tightest: float | None = None
            for (rule, name), (count, reset) in zip(applicable, counts, strict=True):
                headers = rules.rate_headers(name, rule.limit, rule.window, count, reset)
                if count > rule.limit:
                    await _too_many(
                        scope,
                        receive,
                        send,
                        reset,
                        f"Rate limit {name} ({rule.limit} per {rule.window} s) exceeded.",
                        code="rate-limited",
                        extra=headers,
                    )
                    return
                left = (rule.limit - count) / rule.limit
                if tightest is None or left < tightest:
                    tightest = left
                    extra = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

        failure_statuses = self.failure_statuses if guard_keys else frozenset()

        async def send_counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                if message["status"] in failure_statuses:
                    for key, _ in guard_keys:
                        await self.p.counters.hit(key, s.guard_window)
                if extra:
                    message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        # 3. Idempotency-Key on POSTs of external systems.
        key_header = _header(scope, b"idempotency-key")
        if method == "POST" and key_header is not None and self.p.idempotency is not None:
            client_id = await self._external_client(authorization)
            if client_id is not None:
                await self._idempotent(scope, receive, send_counted, client_id, key_header)
                return
        await self.app(scope, receive, send_counted)

    async def _external_client(self, authorization: str | None) -> str | None:
        """The verified client id of a client-credentials token, else None."""
        verifier = self.p.verifier()
        if verifier is None or not authorization or authorization[:7].lower() != "bearer ":
            return None
        try:
            principal = await verifier.verify(authorization[7:].strip())
        except InvalidToken:
            return None
        if principal.subject_type != "client":
            return None
        return principal.client_id or principal.subject

    async def _idempotent(
        self, scope: Scope, receive: Receive, send: Send, client_id: str, header: str
    ) -> None:
        store = self.p.idempotency
        assert store is not None
        key = parse_key(header)
        if not key:
            response = problem_response(
                400,
                "Idempotency-Key must be 1-200 visible ASCII characters.",
                code="bad-idempotency-key",
            )
            await response(scope, receive, send)
            return
        body, receive = await _buffer_body(receive)
        digest = request_digest(
            scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1"), body
        )
        try:
            existing = await store.begin(client_id, key, digest, self.p.lock_seconds)
        except (RedisError, OSError) as exc:
            log.warning("idempotency store unavailable: %s", exc)
            response = problem_response(
                503,
                "Idempotent calls cannot be handled just now; retry with the same key.",
                code="idempotency-unavailable",
                headers={"Retry-After": "5"},
            )
            await response(scope, receive, send)
            return
        if existing is not None:
            await _answer_existing(scope, receive, send, existing, digest)
            return
        await self._first_call(scope, receive, send, client_id, key)

    async def _first_call(
        self, scope: Scope, receive: Receive, send: Send, client_id: str, key: str
    ) -> None:
        store = self.p.idempotency
        assert store is not None
        limit = self.p.settings.idempotency_max_body_bytes
        status = 0
        content_type: str | None = None
        chunks: list[bytes] = []
        size = 0
        done = False

        async def capture(message: Message) -> None:
            nonlocal status, content_type, size, done
            if message["type"] == "http.response.start":
                status = message["status"]
                content_type = next(
                    (
                        v.decode("latin-1")
                        for k, v in message.get("headers", [])
                        if k.lower() == b"content-type"
                    ),
                    None,
                )
            elif message["type"] == "http.response.body":
                chunk = message.get("body", b"")
                size += len(chunk)
                if size <= limit:
                    chunks.append(chunk)
                if not message.get("more_body", False):
                    done = True
            await send(message)

        stored = False
        try:
            await self.app(scope, receive, capture)
            # 5xx and oversized answers are not kept: the caller may retry with the key.
            if done and status and status < 500 and size <= limit:
                await store.finish(
                    client_id,
                    key,
                    status_code=status,
                    content_type=content_type,
                    body=b"".join(chunks),
                    ttl=timedelta(hours=self.p.settings.idempotency_ttl_hours),
                )
                stored = True
        finally:
            if not stored:
                try:
                    await store.release(client_id, key)
                except (RedisError, OSError) as exc:  # the claim expires by itself
                    log.warning("idempotency claim not released: %s", exc)


async def _answer_existing(
    scope: Scope, receive: Receive, send: Send, existing: Any, digest: str
) -> None:
    if existing.request_digest != digest:
        response: Any = problem_response(
            422,
            "This Idempotency-Key was used with a different request.",
            code="idempotency-key-reused",
        )
    elif existing.state != "done":
        response = problem_response(
            409,
            "A request with this Idempotency-Key is still being processed.",
            code="idempotency-conflict",
            headers={"Retry-After": "1"},
        )
    else:
        response = Response(
            content=existing.body,
            status_code=existing.status_code or 200,
            headers={"Idempotency-Replayed": "true"},
            media_type=existing.content_type,
        )
    await response(scope, receive, send)


async def _too_many(
    scope: Scope,
    receive: Receive,
    send: Send,
    reset: float,
    detail: str,
    *,
    code: str,
    extra: dict[str, str] | None = None,
) -> None:
    retry = rules.retry_seconds(reset)
    response = problem_response(
        429,
        detail,
        code=code,
        headers={**(extra or {}), "Retry-After": str(retry)},
        retry_after=retry,
    )
    await response(scope, receive, send)


async def _buffer_body(receive: Receive) -> tuple[bytes, Receive]:
    """Read the whole body (bounded by the body-limit layer outside) and replay it."""
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(parts)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


async def _token_client(
    scope: Scope, receive: Receive, authorization: str | None
) -> tuple[Receive, str | None]:
    """The client id of a /token call: Basic credentials or the form's ``client_id``."""
    client = rules.basic_user(authorization)
    if client:
        return receive, client[:100]
    content_type = (_header(scope, b"content-type") or "").lower()
    if not content_type.startswith("application/x-www-form-urlencoded"):
        return receive, None
    body, receive = await _buffer_body(receive)
    values = parse_qs(body.decode("latin-1"), max_num_fields=50).get("client_id")
    return receive, (values[0][:100] if values else None)
