"""The gateway's front door: streaming both ways, trace and request ids forwarded,
unreachable or slow upstreams mapped to problem+json 502/504."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.broker import LocalBroker, free_port
from tests.support.apps import migrate
from tests.support.postgres import DatabaseFactory
from tests.support.processes import AppProcess

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(
    pg: DatabaseFactory, broker: LocalBroker, log_dir: Path
) -> Iterator[dict[str, AppProcess]]:
    common = {"HUB_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap}
    notes = AppProcess(
        "notes",
        "tests.foundation.apps:create_notes_app",
        {**common, "HUB_DATABASE_URL": pg.create_sync("gw_notes")},
        log_dir,
    )
    gateway_db = pg.create_sync("gw_gateway")
    migrate("gateway", gateway_db)
    gateway = AppProcess(
        "gateway",
        "gateway.app:create_app",
        {
            **common,
            "HUB_DATABASE_URL": gateway_db,
            "HUB_UPSTREAMS": json.dumps(
                {
                    "notes": notes.url,
                    "ghost": f"http://127.0.0.1:{free_port()}",  # nothing listens there
                }
            ),
            "HUB_UPSTREAM_TIMEOUT": "1.0",
            "HUB_MAX_BODY_BYTES": str(4 * 1024 * 1024),
        },
        log_dir,
    )
    notes.start()
    gateway.start()
    yield {"notes": notes, "gateway": gateway}
    gateway.stop()
    notes.stop()


def assert_problem(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    return r.json()


def test_request_and_response_bodies_pass_through_intact(stack: dict[str, AppProcess]) -> None:
    gw = stack["gateway"].url
    payload = json.dumps({"blob": "办件" * 200_000}, ensure_ascii=False).encode()  # 1.2 MB
    r = httpx.post(
        f"{gw}/api/notes/v1/echo",
        content=payload,
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 200
    assert r.content == payload
    assert r.headers["x-echo-length"] == str(len(payload))


def test_streamed_response_arrives_whole(stack: dict[str, AppProcess]) -> None:
    with httpx.stream(
        "GET", f"{stack['gateway'].url}/api/notes/v1/stream?chunks=50", timeout=30
    ) as r:
        body = b"".join(r.iter_raw())
    assert body == b"".join(f"chunk-{i};".encode() for i in range(50))


def test_query_string_and_request_id_are_forwarded(stack: dict[str, AppProcess]) -> None:
    r = httpx.get(
        f"{stack['gateway'].url}/api/notes/v1/slow?seconds=0",
        headers={"x-request-id": "portal-req-000123"},
        timeout=10,
    )
    assert r.json() == {"slept": 0.0}
    assert r.headers["x-request-id"] == "portal-req-000123"
    assert "portal-req-000123" in stack["notes"].log_text()


def test_upstream_errors_pass_through_as_problems(stack: dict[str, AppProcess]) -> None:
    body = assert_problem(httpx.get(f"{stack['gateway'].url}/api/notes/v1/nothing-here"), 404)
    assert "/v1/nothing-here" in body["detail"]


def test_unreachable_upstream_is_502(stack: dict[str, AppProcess]) -> None:
    body = assert_problem(httpx.get(f"{stack['gateway'].url}/api/ghost/v1/x", timeout=10), 502)
    assert body["type"].endswith("/upstream-unreachable")


def test_slow_upstream_is_504(stack: dict[str, AppProcess]) -> None:
    r = httpx.get(f"{stack['gateway'].url}/api/notes/v1/slow?seconds=3", timeout=10)
    body = assert_problem(r, 504)
    assert "did not answer in time" in body["detail"]


def test_unknown_service_is_404(stack: dict[str, AppProcess]) -> None:
    body = assert_problem(httpx.get(f"{stack['gateway'].url}/api/nosuch/v1/x"), 404)
    assert body["type"].endswith("/unknown-service")


def test_oversized_body_is_refused_at_the_gateway(stack: dict[str, AppProcess]) -> None:
    big = b'{"x": "' + b"a" * (5 * 1024 * 1024) + b'"}'
    r = httpx.post(
        f"{stack['gateway'].url}/api/notes/v1/echo",
        content=big,
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert_problem(r, 413)


def test_repeated_response_headers_are_kept_apart(stack: dict[str, AppProcess]) -> None:
    r = httpx.get(f"{stack['gateway'].url}/api/notes/v1/cookies", timeout=10)
    assert sorted(c.split(";")[0] for c in r.headers.get_list("set-cookie")) == ["a=1", "b=2"]


def test_service_docs_link_to_their_openapi_under_the_gateway_prefix(
    stack: dict[str, AppProcess],
) -> None:
    html = httpx.get(f"{stack['gateway'].url}/api/notes/docs", timeout=10).text
    assert "/api/notes/openapi.json" in html
    # Directly (no gateway) the same page links to the unprefixed document.
    assert "'/openapi.json'" in httpx.get(f"{stack['notes'].url}/docs", timeout=10).text


def test_percent_encoded_control_characters_reach_the_upstream_encoded(
    stack: dict[str, AppProcess],
) -> None:
    """Found by `make fuzz`: the decoded path re-joined into the upstream URL held a raw
    control character (``%06``), which httpx refuses: a 500. The path now travels as the
    client encoded it, and the upstream answers for itself (a 404 problem here)."""
    gw = stack["gateway"].url
    for path in ("/api/notes/v1/items/%06", "/api/notes/v1/%0F%07x", "/api/notes/v1/a%2Fb"):
        r = httpx.get(f"{gw}{path}", timeout=10)
        assert r.status_code == 404, (path, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
