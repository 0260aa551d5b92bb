"""Calls to the provincial 事项目录管理系统 with the hub's own credentials.

The province authenticates the hub by an app key and an HMAC signature over the request
(timestamp + nonce against replay), the legacy scheme of provincial platforms.
"""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from services.runtime.crypto import sign_request


class ProvinceError(Exception):
    """The province could not give an answer; ``status`` is what the hub should return."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


class ProvinceCatalogClient:
    def __init__(self, base_url: str, app_key: str, secret: str, timeout: float = 15.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_key = app_key
        self.secret = secret.encode()
        self.http = httpx.AsyncClient(timeout=timeout)

    async def close(self) -> None:
        await self.http.aclose()

    def _signed_headers(self, method: str, path_and_query: str) -> dict[str, str]:
        timestamp = str(int(time.time()))
        nonce = secrets.token_hex(12)
        signature = sign_request(self.secret, method, path_and_query, timestamp, nonce, b"")
        return {
            "X-App-Key": self.app_key,
            "X-Timestamp": timestamp,
            "X-Nonce": nonce,
            "X-Signature": signature,
            "X-Signature-Algorithm": "HMAC-SHA256",
        }

    async def feed(self, since: str | None, limit: int) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if since:
            params["since"] = since
        url = f"{self.base_url}/feed?{urlencode(params)}"
        parts = urlsplit(url)
        path_and_query = f"{parts.path}?{parts.query}"
        try:
            response = await self.http.get(url, headers=self._signed_headers("GET", path_and_query))
        except httpx.TimeoutException as exc:
            raise ProvinceError(
                504, "province-timeout", "the province did not answer in time"
            ) from exc
        except httpx.HTTPError as exc:
            raise ProvinceError(
                502,
                "province-unreachable",
                f"the province cannot be reached ({type(exc).__name__})",
            ) from exc
        if response.status_code in (401, 403):
            raise ProvinceError(
                502, "province-auth-failed", "the province refused the hub's credentials"
            )
        if response.status_code in (400, 422):
            raise ProvinceError(
                400,
                "province-bad-request",
                f"the province rejected the request: {_detail(response)}",
            )
        if response.status_code != 200:
            raise ProvinceError(
                502, "province-error", f"the province answered {response.status_code}"
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise ProvinceError(
                502, "province-bad-answer", "the province answered non-JSON"
            ) from exc
        if not isinstance(body, dict) or not isinstance(body.get("changes"), list):
            raise ProvinceError(
                502, "province-bad-answer", "the province answer has no changes list"
            )
        return body


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
        return str(body.get("detail") or body.get("message") or "")[:300]
    except ValueError:
        return response.text[:300]
