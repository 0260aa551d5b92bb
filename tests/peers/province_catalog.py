"""Simulator of the provincial 事项目录管理系统: a real HTTP server with a change feed.

``GET /feed?since=<cursor>&limit=N`` answers the changes after ``cursor`` in change-time
order: ``{"changes": [...], "next_cursor": str|null, "has_more": bool}``. Each change is
``{"seq", "cursor", "change_id", "changed_at", "kind": "base_item"|"implementation_item",
"op": "upsert"|"withdraw", "code", "data"}``. Callers authenticate with an app key and an
HMAC-SHA256 signature over the request (``services.runtime.crypto.canonical_request``);
a stale timestamp or a reused nonce is refused.

Tests drive it directly (``sim.upsert_item(...)``) or over HTTP (``POST /admin/changes``),
and can make the next requests fail (``sim.fail_next(n, status)``).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse

from services.runtime.crypto import verify_request_signature
from tests.peers.server import ThreadedServer

MAX_SKEW = 300


class ProvinceCatalog:
    def __init__(self, app_key: str = "hub-city-440200", secret: str = "province-secret") -> None:
        self.app_key = app_key
        self.secret = secret
        self.changes: list[dict[str, Any]] = []
        self.requests = 0
        self._failures: list[int] = []
        self._nonces: set[str] = set()
        self._lock = threading.Lock()
        self.app = self._build()
        self._http = ThreadedServer(self.app, "province catalog simulator")
        self.port = self._http.port

    # -- feed content -------------------------------------------------------------------
    def _add(self, kind: str, op: str, code: str, data: dict[str, Any] | None) -> dict[str, Any]:
        with self._lock:
            seq = len(self.changes) + 1
            change = {
                "seq": seq,
                "cursor": f"{seq:012d}",
                "change_id": f"chg-{seq}",
                "changed_at": datetime.now(UTC).isoformat(),
                "kind": kind,
                "op": op,
                "code": code,
                "data": data,
            }
            self.changes.append(change)
            return change

    def upsert_item(self, code: str, content: dict[str, Any]) -> dict[str, Any]:
        return self._add("implementation_item", "upsert", code, content)

    def withdraw_item(self, code: str) -> dict[str, Any]:
        return self._add("implementation_item", "withdraw", code, None)

    def upsert_base_item(self, code: str, data: dict[str, Any]) -> dict[str, Any]:
        return self._add("base_item", "upsert", code, data)

    def add_raw(self, change: dict[str, Any]) -> dict[str, Any]:
        """A malformed change, as real feeds sometimes carry (kind/op/code as given)."""
        return self._add(
            str(change.get("kind")),
            str(change.get("op")),
            str(change.get("code")),
            change.get("data"),
        )

    def fail_next(self, count: int, status: int = 503) -> None:
        with self._lock:
            self._failures.extend([status] * count)

    # -- HTTP -----------------------------------------------------------------------------
    def _authenticate(self, request: Request) -> JSONResponse | None:
        h = request.headers
        key, ts, nonce, sig = (
            h.get("x-app-key"),
            h.get("x-timestamp"),
            h.get("x-nonce"),
            h.get("x-signature"),
        )
        if key != self.app_key or not ts or not nonce or not sig:
            return JSONResponse({"code": "AUTH", "detail": "unknown app key"}, status_code=401)
        try:
            fresh = abs(time.time() - int(ts)) <= MAX_SKEW
        except ValueError:
            fresh = False
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if not fresh or not verify_request_signature(
            self.secret.encode(), request.method, path, ts, nonce, b"", sig
        ):
            return JSONResponse({"code": "AUTH", "detail": "bad signature"}, status_code=401)
        with self._lock:
            if nonce in self._nonces:
                return JSONResponse({"code": "AUTH", "detail": "nonce reused"}, status_code=401)
            self._nonces.add(nonce)
        return None

    def _build(self) -> FastAPI:
        app = FastAPI(title="省级事项目录管理系统 (simulator)")

        @app.get("/feed")
        async def feed(
            request: Request,
            since: str | None = None,
            limit: int = Query(default=100, ge=1, le=1000),
        ) -> JSONResponse:
            self.requests += 1
            with self._lock:
                failure = self._failures.pop(0) if self._failures else None
            if failure is not None:
                return JSONResponse({"detail": "simulated outage"}, status_code=failure)
            denied = self._authenticate(request)
            if denied is not None:
                return denied
            if since is not None and not since.isdigit():
                return JSONResponse({"detail": "cursor is not valid"}, status_code=400)
            start = int(since) if since else 0
            with self._lock:
                page = [c for c in self.changes if c["seq"] > start][:limit]
                has_more = bool(page) and page[-1]["seq"] < len(self.changes)
            return JSONResponse(
                {
                    "changes": page,
                    "next_cursor": page[-1]["cursor"] if page else since,
                    "has_more": has_more,
                }
            )

        @app.post("/admin/changes")
        async def add(changes: list[dict[str, Any]]) -> dict[str, int]:
            for change in changes:
                self.add_raw(change)
            return {"count": len(self.changes)}

        return app

    # -- server -----------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._http.start()

    def stop(self) -> None:
        self._http.stop()

    def __enter__(self) -> ProvinceCatalog:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
