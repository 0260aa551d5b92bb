"""The front door: ``/api/<service>/<path>`` is streamed to that service's ``/<path>``.

Bodies stream both ways (no buffering of uploads or downloads); trace context goes
upstream through the instrumented httpx client; an upstream that cannot be reached or
does not answer in time becomes a 502 or 504 problem, never a hang or a stack trace.

Each upstream has its own connection pool (so a slow one cannot hold every connection) and
its own circuit breaker (:mod:`gateway.policies.breaker`): while open, calls are answered
503 at once. A client that stalls while sending its body gets 408. A body on GET, HEAD or
OPTIONS is ignored (not forwarded; its framing headers are dropped), as RFC 9110 allows.
``X-Forwarded-*`` from the client are replaced by what the gateway saw, unless the client
is a trusted proxy (``HUB_TRUSTED_PROXIES``), whose ``X-Forwarded-For`` chain is extended.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Request
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from gateway.policies.breaker import Breaker
from gateway.policies.rules import retry_seconds
from services.runtime.forwarding import Network, forwarded_chain, is_trusted
from services.runtime.problems import Problem

log = logging.getLogger("hub.gateway.proxy")

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
}
# Set by the gateway from what it saw, never copied from the client.
FORWARDING = {
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-prefix",
    "x-forwarded-port",
    "x-real-ip",
    "x-request-id",
}
BODYLESS = {"GET", "HEAD", "OPTIONS"}
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class SlowBody(Exception):
    """The client paused longer than the body read timeout while sending its body."""


class UpstreamPool:
    """Routing table + one pooled HTTP client and one breaker per upstream."""

    def __init__(
        self,
        upstreams: dict[str, str],
        connect_timeout: float,
        timeout: float,
        max_connections: int,
        *,
        max_per_upstream: int | None = None,
        body_timeout: float = 15.0,
        breaker_failures: int = 5,
        breaker_base: float = 2.0,
        breaker_max: float = 300.0,
        trusted_proxies: tuple[Network, ...] = (),
    ) -> None:
        self.upstreams = {k: v.rstrip("/") for k, v in upstreams.items()}
        per = min(max_per_upstream or max_connections, max_connections)
        self.clients = {
            name: httpx.AsyncClient(
                # pool: how long a call waits for a free connection of this upstream.
                timeout=httpx.Timeout(timeout, connect=connect_timeout, pool=connect_timeout),
                limits=httpx.Limits(max_connections=per, max_keepalive_connections=per),
                follow_redirects=False,
            )
            for name in self.upstreams
        }
        self.breakers = {
            name: Breaker(
                threshold=breaker_failures,
                base=breaker_base,
                ceiling=breaker_max,
                probe_timeout=timeout + connect_timeout,
            )
            for name in self.upstreams
        }
        self.body_timeout = body_timeout
        self.trusted = trusted_proxies

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()


def build_proxy_router(pool: UpstreamPool) -> APIRouter:
    router = APIRouter(tags=["proxy"])

    @router.api_route("/api/{service}/{path:path}", methods=METHODS, include_in_schema=False)
    async def proxy(service: str, path: str, request: Request) -> Response:
        base = pool.upstreams.get(service)
        if base is None:
            raise Problem(
                404, f"No service named {service!r} behind this gateway.", code="unknown-service"
            )
        breaker = pool.breakers[service]
        wait = breaker.admit()
        if wait is not None:
            raise Problem(
                503,
                f"The {service} service is failing; calls are paused for a while.",
                code="upstream-circuit-open",
                headers={"Retry-After": str(retry_seconds(wait))},
            )
        client = pool.clients[service]
        url = base + _upstream_path(request, service, path)
        if request.url.query:
            url += f"?{request.url.query}"
        has_body = request.method not in BODYLESS
        headers = [
            (k, v)
            for k, v in request.headers.items()
            if k.lower() not in HOP_BY_HOP
            and k.lower() not in FORWARDING
            and (has_body or k.lower() != "content-length")
        ]
        headers += _forwarded(request, service, pool.trusted)
        try:
            upstream_request = client.build_request(
                request.method,
                url,
                headers=headers,
                content=_timed_body(request, pool.body_timeout) if has_body else None,
            )
        except httpx.InvalidURL as exc:
            raise Problem(400, "The request path is not a valid URL.", code="bad-path") from exc
        try:
            upstream = await client.send(upstream_request, stream=True)
        except SlowBody as exc:
            raise Problem(
                408,
                f"The request body did not arrive within {pool.body_timeout:g} s.",
                code="body-timeout",
                headers={"Connection": "close"},
            ) from exc
        except httpx.PoolTimeout as exc:
            # Our own pool is full: back-pressure, not the upstream's fault.
            log.warning("upstream %s: connection pool exhausted", service)
            raise Problem(
                503,
                f"The {service} service is busy; try again shortly.",
                code="upstream-busy",
                headers={"Retry-After": "1"},
            ) from exc
        except httpx.TimeoutException as exc:
            breaker.failure()
            log.warning("upstream %s timed out: %s", service, exc)
            raise Problem(
                504, f"The {service} service did not answer in time.", code="upstream-timeout"
            ) from exc
        except httpx.TransportError as exc:
            breaker.failure()
            log.warning("upstream %s unreachable: %s", service, exc)
            raise Problem(
                502, f"The {service} service is not reachable.", code="upstream-unreachable"
            ) from exc
        if upstream.status_code >= 500:
            breaker.failure()
        else:
            breaker.success()
        response = StreamingResponse(
            _relay_body(upstream, service),
            status_code=upstream.status_code,
            background=BackgroundTask(upstream.aclose),
        )
        # multi_items keeps repeated headers (several Set-Cookie) apart.
        response.raw_headers = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in upstream.headers.multi_items()
            if k.lower() not in HOP_BY_HOP and k.lower() != "x-request-id"
        ]
        return response

    return router


def _upstream_path(request: Request, service: str, path: str) -> str:
    """The path as the client sent it (still percent-encoded), minus ``/api/<service>``:
    re-joining the decoded ``path`` would turn ``%06`` into a raw control character,
    which is not a URL any more, and ``%2F`` into a path separator."""
    raw = request.scope.get("raw_path")
    prefix = f"/api/{service}/".encode()
    if isinstance(raw, bytes) and raw.startswith(prefix):
        return "/" + raw[len(prefix) :].decode("latin-1")
    return "/" + quote(path, safe="/:@!$&'()*+,;=-._~")


def _forwarded(
    request: Request, service: str, trusted: tuple[Network, ...]
) -> list[tuple[str, str]]:
    peer = request.client.host if request.client else ""
    if is_trusted(peer, trusted):
        chain = [*forwarded_chain(request.headers.get("x-forwarded-for")), peer]
        proto = request.headers.get("x-forwarded-proto") or request.url.scheme
        host = request.headers.get("x-forwarded-host") or request.headers.get("host", "")
    else:
        chain, proto, host = [peer], request.url.scheme, request.headers.get("host", "")
    return [
        ("x-forwarded-for", ", ".join(chain)),
        ("x-forwarded-proto", proto),
        ("x-forwarded-host", host),
        ("x-forwarded-prefix", f"/api/{service}"),
        ("x-request-id", request.state.request_id),
    ]


async def _timed_body(request: Request, timeout: float) -> AsyncIterator[bytes]:
    """The request body, chunk by chunk; a pause longer than ``timeout`` raises SlowBody."""
    chunks = request.stream().__aiter__()
    while True:
        try:
            async with asyncio.timeout(timeout):
                chunk = await chunks.__anext__()
        except StopAsyncIteration:
            return
        except TimeoutError as exc:
            raise SlowBody from exc
        yield chunk


async def _relay_body(upstream: httpx.Response, service: str) -> AsyncIterator[bytes]:
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    except httpx.HTTPError as exc:
        # Headers are already sent; all we can do is cut the body short and say why.
        log.warning("upstream %s broke off its response: %s", service, exc)
