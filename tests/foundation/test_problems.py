"""Every error is RFC 9457 problem+json with a clear message, never a stack trace."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter
from pydantic import BaseModel

from services.runtime.app import create_service_app
from services.runtime.problems import Problem
from services.runtime.settings import HubSettings


class Item(BaseModel):
    name: str
    quantity: int


def router() -> APIRouter:
    r = APIRouter(prefix="/v1")

    @r.post("/items", status_code=201)
    async def create(item: Item) -> Item:
        return item

    @r.get("/items/{item_id}")
    async def read(item_id: int) -> dict[str, int]:
        if item_id == 7:
            raise Problem(404, "No item 7 here.", code="item-not-found", item_id=7)
        return {"id": item_id}

    @r.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2 at /srv/app.py line 12")

    return r


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = HubSettings(
        service_name="problems-test",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'p.db'}",
        kafka_enabled=False,
        max_body_bytes=1024,
    )
    app = create_service_app(settings=settings, title="t", routers=[router()])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


def assert_problem(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["type"].startswith("https://")
    assert body["request_id"] == r.headers["x-request-id"]
    assert "Traceback" not in r.text
    return body


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/items", content=b'{"name": "a", ', headers={"content-type": "application/json"}
    )
    body = assert_problem(r, 400)
    assert "not valid JSON" in body["detail"]


async def test_wrong_types_are_422_with_field_locations(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/items", json={"name": "a", "quantity": "many"})
    body = assert_problem(r, 422)
    assert body["errors"][0]["location"] == "body.quantity"
    assert "quantity" in body["detail"]


async def test_missing_field_is_422(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.post("/v1/items", json={"name": "a"}), 422)
    assert any(e["location"] == "body.quantity" for e in body["errors"])


async def test_unknown_route_is_404(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/v1/nowhere"), 404)
    assert "/v1/nowhere" in body["detail"]


async def test_wrong_method_is_405(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.delete("/v1/items"), 405)
    assert "DELETE" in body["detail"]


async def test_oversized_body_is_413_by_header(client: httpx.AsyncClient) -> None:
    big = b'{"name": "' + b"x" * 5000 + b'", "quantity": 1}'
    body = assert_problem(
        await client.post("/v1/items", content=big, headers={"content-type": "application/json"}),
        413,
    )
    assert body["max_bytes"] == 1024


async def test_oversized_streamed_body_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 500

    r = await client.post(
        "/v1/items", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_problem(r, 413)


async def test_unsupported_media_type_is_415(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/items", content=b"<item/>", headers={"content-type": "text/xml"})
    body = assert_problem(r, 415)
    assert "text/xml" in body["detail"]


async def test_path_parameter_of_wrong_type_is_422(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/items/abc"), 422)


async def test_domain_problem_carries_code_and_extensions(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/v1/items/7"), 404)
    assert body["type"].endswith("/item-not-found")
    assert body["item_id"] == 7


async def test_unexpected_error_is_500_without_internals(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/boom")
    body = assert_problem(r, 500)
    assert "hunter2" not in r.text and "app.py" not in r.text
    assert "request id" in body["detail"]


async def test_incoming_request_id_is_kept_and_bad_ones_replaced(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/healthz", headers={"x-request-id": "county-abc-12345"})
    assert r.headers["x-request-id"] == "county-abc-12345"
    r = await client.get("/healthz", headers={"x-request-id": "bad id <script>"})
    assert r.headers["x-request-id"] != "bad id <script>"
    assert len(r.headers["x-request-id"]) == 32
