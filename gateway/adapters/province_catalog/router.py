"""``GET /v1/adapters/province-catalog/feed``: the matters service pulls the feed here.

Callers need a client token with the scope ``province-catalog:read``; the adapter forwards
with the hub's provincial credentials and turns every provincial failure into
problem+json (502/504, or 400 when the province rejects the cursor).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from gateway.adapters.province_catalog.client import ProvinceCatalogClient, ProvinceError
from services.runtime.auth import Principal, require_scopes
from services.runtime.problems import Problem

SCOPE = "province-catalog:read"


def build_province_catalog_router(client: ProvinceCatalogClient) -> APIRouter:
    router = APIRouter(prefix="/v1/adapters/province-catalog", tags=["adapters"])

    @router.get("/feed", summary="The provincial 事项目录 change feed (paged, by cursor)")
    async def feed(
        _principal: Annotated[Principal, Depends(require_scopes(SCOPE))],
        since: Annotated[str | None, Query(max_length=200, pattern=r"^[0-9A-Za-z_.:-]*$")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        if not client.base_url:
            raise Problem(503, "the provincial catalog is not configured", code="not-configured")
        try:
            return await client.feed(since, limit)
        except ProvinceError as exc:
            raise Problem(exc.status, exc.detail, code=exc.code) from exc

    return router
