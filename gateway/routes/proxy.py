"""The front door: ``/api/<service>/<path>`` is streamed to that service's ``/<path>``.

Bodies stream both ways (no buffering of uploads or downloads); trace context goes
upstream through the instrumented httpx client; an upstream that cannot be reached or
does not answer in time becomes a 502 or 504 problem, never a hang or a stack trace.
"""

from __future__ import annotations

import logging

import httpx
from fastapi import APIRouter, Request
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

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
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class UpstreamPool:
    """Routing table + one pooled HTTP client for all upstream calls."""

    def __init__(
        self,
        upstreams: dict[str, str],
        connect_timeout: float,
        timeout: float,
        max_connections: int,
    ) -> None:
        self.upstreams = {k: v.rstrip("/") for k, v in upstreams.items()}
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            follow_redirects=False,
        )

    async def close(self) -> None:
        await self.client.aclose()


def build_proxy_router(pool: UpstreamPool) -> APIRouter:
    router = APIRouter(tags=["proxy"])

    @router.api_route("/api/{service}/{path:path}", methods=METHODS, include_in_schema=False)
    async def proxy(service: str, path: str, request: Request) -> Response:
        base = pool.upstreams.get(service)
        if base is None:
            raise Problem(
                404, f"No service named {service!r} behind this gateway.", code="unknown-service"
            )
        url = f"{base}/{path}"
        if request.url.query:
            url += f"?{request.url.query}"
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP]
        client_host = request.client.host if request.client else ""
        headers += [
            ("x-forwarded-for", client_host),
            ("x-forwarded-proto", request.url.scheme),
            ("x-forwarded-host", request.headers.get("host", "")),
            ("x-forwarded-prefix", f"/api/{service}"),
            ("x-request-id", request.state.request_id),
        ]
        has_body = request.method in ("POST", "PUT", "PATCH", "DELETE")
        upstream_request = pool.client.build_request(
            request.method,
            url,
            headers=headers,
            content=request.stream() if has_body else None,
        )
        try:
            upstream = await pool.client.send(upstream_request, stream=True)
        except httpx.TimeoutException as exc:
            log.warning("upstream %s timed out: %s", service, exc)
            raise Problem(
                504, f"The {service} service did not answer in time.", code="upstream-timeout"
            ) from exc
        except httpx.TransportError as exc:
            log.warning("upstream %s unreachable: %s", service, exc)
            raise Problem(
                502, f"The {service} service is not reachable.", code="upstream-unreachable"
            ) from exc
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


async def _relay_body(upstream: httpx.Response, service: str):  # type: ignore[no-untyped-def]
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    except httpx.HTTPError as exc:
        # Headers are already sent; all we can do is cut the body short and say why.
        log.warning("upstream %s broke off its response: %s", service, exc)
