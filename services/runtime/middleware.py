"""ASGI middleware every hub process runs: request ids, size limits, media types.

Written as plain ASGI (not ``BaseHTTPMiddleware``) so request and response bodies keep
streaming through the gateway.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.runtime.context import reset_request_id, set_request_id
from services.runtime.problems import problem_response

log = logging.getLogger("hub.http")

REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")

JSON_MEDIA_TYPES = ("application/json", "+json")
FORM_MEDIA_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class RequestIdMiddleware:
    """Adopts a well-formed incoming ``X-Request-ID`` or makes one; echoes it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, REQUEST_ID_HEADER)
        request_id = incoming if incoming and _VALID_REQUEST_ID.match(incoming) else None
        request_id = request_id or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = set_request_id(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == REQUEST_ID_HEADER.encode() for k, _ in headers):
                    headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message["headers"] = headers
            await send(message)

        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send_with_id(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception:
            # Handled here, inside the request-id context, so the 500 carries the id and
            # the log line does too; the caller never sees internals.
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                response = problem_response(
                    500,
                    "The server could not complete the request. Quote the request id to support.",
                )
                await response(scope, receive, send_with_id)
        finally:
            reset_request_id(token)


_FORWARDED_PREFIX = re.compile(r"^/api/[a-z][a-z0-9-]{0,30}$")


class ForwardedPrefixMiddleware:
    """Behind the gateway a service lives under ``/api/<name>``: take the gateway's
    ``X-Forwarded-Prefix`` as the ASGI root path, so generated links (OpenAPI docs,
    redirects) carry it. Only the gateway's own shape of prefix is accepted."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            prefix = _header(scope, "x-forwarded-prefix")
            if prefix and _FORWARDED_PREFIX.match(prefix):
                scope = {**scope, "root_path": prefix}
        await self.app(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Refuses bodies over ``max_bytes`` with 413, by header or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, "content-length")
        if declared is not None:
            if not declared.isdigit():
                await problem_response(400, "Content-Length is not a number.")(scope, receive, send)
                return
            if int(declared) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
        received = 0
        response_started = False
        refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused, response_started
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes and not refused:
                    refused = True
                    if not response_started:
                        # Answer now: frameworks may turn a failed body read into a 400.
                        response_started = True
                        await self._refuse(scope, receive, send)
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if refused:
                return  # the 413 has been sent; whatever the app answers is dropped
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            pass

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413,
            f"The request body exceeds the limit of {self.max_bytes} bytes.",
            code="body-too-large",
            max_bytes=self.max_bytes,
        )
        await response(scope, receive, send)


class MediaTypeMiddleware:
    """Refuses bodies in a media type the process does not read (415).

    JSON and forms are accepted everywhere; a process that reads other types (XML intake,
    files) lists them in ``extra_types``.
    """

    def __init__(self, app: ASGIApp, extra_types: Iterable[str] = ()) -> None:
        self.app = app
        self.accepted = (*JSON_MEDIA_TYPES, *FORM_MEDIA_TYPES, *extra_types)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        length = _header(scope, "content-length")
        has_body = (length not in (None, "0")) or _header(scope, "transfer-encoding") is not None
        content_type = (_header(scope, "content-type") or "").split(";")[0].strip().lower()
        if has_body and not any(
            content_type == t or (t.startswith("+") and content_type.endswith(t))
            for t in self.accepted
        ):
            response = problem_response(
                415,
                f"Content-Type {content_type or '(none)'} is not supported here; "
                "send application/json.",
                code="unsupported-media-type",
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _header(scope: Scope, name: str) -> str | None:
    key = name.encode()
    for k, v in scope.get("headers", []):
        if k.lower() == key:
            return v.decode("latin-1")
    return None
