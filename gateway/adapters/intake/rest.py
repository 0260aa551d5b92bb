"""REST/JSON batch intake: ``POST /api/intake/v1/case-events`` (client credentials).

The body is ``{"events": [...]}`` with 1..``intake_max_batch`` items; the answer is 202
with one result per item. The body is parsed here rather than by a pydantic model so that
one malformed item is reported as that item's rejection instead of failing the batch.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from gateway.adapters.intake.ingest import (
    Counts,
    ItemResult,
    accept_call,
    log_call,
    normalise_all,
)
from gateway.adapters.intake.limits import MAX_DEPTH, depth_exceeds
from gateway.clients.registry import ClientRefused, admitted
from gateway.settings import GatewaySettings
from services.runtime.auth import Principal, require_active_token
from services.runtime.crypto import sm3_hex
from services.runtime.deps import HubDep
from services.runtime.problems import Problem

CHANNEL = "rest"
SCOPE = "cases:push"

# An ACTIVE token: a revoked or disabled client is refused at once (introspection).
PushPrincipal = Annotated[Principal, Depends(require_active_token(SCOPE))]

router = APIRouter(prefix="/api/intake/v1", tags=["intake"])


def _answer_body(results: list[ItemResult]) -> dict[str, Any]:
    return {**Counts.of(results).as_dict(), "results": [r.as_dict() for r in results]}


def _no_constants(name: str) -> Any:
    # RFC 8259 has no NaN/Infinity; Python would accept them and the database would not.
    raise ValueError(f"{name} is not JSON")


def _events_of(body: bytes, max_batch: int) -> list[Any]:
    try:
        document = json.loads(body, parse_constant=_no_constants)
    except RecursionError as exc:
        raise _too_deep() from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem(400, "The request body is not valid JSON.", code="malformed-json") from exc
    # {"events": [event]}: an event's own levels start at depth 2.
    if depth_exceeds(document, MAX_DEPTH + 2):
        raise _too_deep()
    if not isinstance(document, dict) or not isinstance(document.get("events"), list):
        raise Problem(422, 'The body must be an object {"events": [...]}.', code="validation-error")
    events = document["events"]
    if not events:
        raise Problem(422, "events must hold at least one event.", code="validation-error")
    if len(events) > max_batch:
        raise Problem(
            422,
            f"A batch holds at most {max_batch} events; got {len(events)}.",
            code="batch-too-large",
            max_events=max_batch,
        )
    return events


def _too_deep() -> Problem:
    return Problem(
        400,
        f"The JSON nests deeper than an event may ({MAX_DEPTH} levels).",
        code="too-deep",
        max_depth=MAX_DEPTH,
    )


@router.post(
    "/case-events",
    status_code=202,
    summary="Push a batch of 办件 events (client credentials, scope cases:push)",
    responses={202: {"description": "one result per event: accepted, duplicate or rejected"}},
)
async def push_case_events(
    request: Request,
    hub: HubDep,
    principal: PushPrincipal,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="replays the first answer for 24 h (handled by the gateway's front door)",
        ),
    ] = None,
) -> JSONResponse:
    settings = hub.settings
    assert isinstance(settings, GatewaySettings)
    client_id = principal.client_id or principal.subject
    body = await request.body()
    digest = sm3_hex(body)
    try:
        async with hub.db.sessionmaker() as session:
            client = await admitted(session, client_id, CHANNEL)
    except ClientRefused as refused:
        await log_call(
            hub,
            client_id=client_id,
            channel=CHANNEL,
            result="refused",
            body_digest=digest,
            detail=refused.code,
        )
        raise Problem(403, str(refused), code=refused.code) from refused
    orgs = frozenset(client.orgs)
    try:
        events = _events_of(body, settings.intake_max_batch)
    except Problem as problem:
        await log_call(
            hub,
            client_id=client_id,
            channel=CHANNEL,
            result="refused",
            body_digest=digest,
            detail=problem.code,
        )
        raise
    items = normalise_all(events, source_system=client_id, channel=CHANNEL)
    # Idempotency-Key (replay, 422 on another body, 409 while in flight) is the front
    # door's (gateway/policies), for this route as for every POST of an external system.
    results = await accept_call(
        hub, client_id=client_id, orgs=orgs, channel=CHANNEL, items=items, body_digest=digest
    )
    return JSONResponse(_answer_body(results), status_code=202)
