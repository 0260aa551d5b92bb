"""Operator endpoints (matters-admin): provincial sync, its issues, the 基本目录."""

from __future__ import annotations

import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from services.matters import catalog, excel, sync
from services.matters.catalog import Actor
from services.matters.domain.access import ADMIN, APPROVER, EDITOR, within_division
from services.matters.store import repository as repo
from services.matters.store.tables import BaseItem, BaseItemVersion, SyncIssue
from services.runtime.auth import Principal, require_roles
from services.runtime.db import utcnow
from services.runtime.deps import HubDep, ReadSession
from services.runtime.problems import Problem

router = APIRouter(tags=["matters (operators)"])

Admin = Annotated[Principal, Depends(require_roles(ADMIN))]
Staff = Annotated[Principal, Depends(require_roles(EDITOR, APPROVER, ADMIN))]


class Resolution(BaseModel):
    model_config = ConfigDict(extra="forbid")
    keep: Literal["local", "province"]
    note: str | None = Field(default=None, max_length=1000)


@router.post("/v1/sync/run", summary="Pull the provincial feed now (incremental)")
async def run_sync(hub: HubDep, principal: Admin) -> dict[str, Any]:
    client = hub.extras.get("feed_client") or sync.client_from_settings(hub)
    try:
        report = await sync.sync_once(hub, client)
    except sync.FeedUnavailable as exc:
        raise Problem(502, str(exc), code="province-unavailable") from exc
    return report.to_dict()


@router.get("/v1/sync/state", summary="Where the provincial feed was read up to")
async def sync_state(hub: HubDep, principal: Admin) -> dict[str, Any]:
    async with hub.db.transaction() as session:
        state = await repo.get_sync_state(session, sync.FEED)
        return {
            "feed": state.feed,
            "cursor": state.cursor,
            "applied": state.applied,
            "updated_at": state.updated_at,
        }


def _issue(i: SyncIssue) -> dict[str, Any]:
    return {
        "id": i.id,
        "kind": i.kind,
        "code": i.code,
        "change_id": i.change_id,
        "field": i.field,
        "local_value": i.local_value,
        "province_old": i.province_old,
        "province_new": i.province_new,
        "detail": i.detail,
        "status": i.status,
        "resolution": i.resolution,
        "resolved_by": i.resolved_by,
        "created_at": i.created_at,
        "resolved_at": i.resolved_at,
    }


@router.get("/v1/sync/issues", summary="Conflicts with 二次统筹 edits and rejected changes")
async def issues(
    session: ReadSession,
    principal: Admin,
    status: Annotated[Literal["open", "resolved"] | None, Query()] = "open",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    rows = await repo.list_issues(session, status, limit, offset)
    return {"items": [_issue(i) for i in rows]}


@router.post(
    "/v1/sync/issues/{issue_id}/resolve", summary="Keep the city value or take the province's"
)
async def resolve(
    issue_id: Annotated[int, Path(ge=1, le=2**62)], body: Resolution, hub: HubDep, principal: Admin
) -> dict[str, Any]:
    async with hub.db.transaction() as session:
        issue = await session.get(SyncIssue, issue_id)
        if issue is None:
            raise Problem(404, f"no sync issue {issue_id}", code="issue-not-found")
        if issue.status != "open":
            raise Problem(409, "the issue is already resolved", code="issue-resolved")
        if issue.kind != "conflict" and body.keep == "province":
            raise Problem(
                422, "only conflicts can take the provincial value", code="not-a-conflict"
            )
        field, value, code = issue.field, issue.province_new, issue.code
    if body.keep == "province" and field is not None:
        # Taking the provincial value is an edit like any other: a new draft to approve.
        await catalog.edit_matter(
            hub, Actor.of(principal), code, {field: value}, note=body.note or f"采用省级 {field}"
        )
    async with hub.db.transaction() as session:
        issue = await session.get(SyncIssue, issue_id)
        assert issue is not None
        issue.status = "resolved"
        issue.resolution = body.keep
        issue.resolved_by = principal.subject
        issue.resolved_at = utcnow()
        return _issue(issue)


@router.get("/v1/base-items/{base_code}", summary="A 基本目录 item with its versions")
async def base_item(base_code: str, session: ReadSession) -> dict[str, Any]:
    item = await session.get(BaseItem, base_code.strip().upper()[:20])
    if item is None:
        raise Problem(404, f"no base item {base_code[:20]}", code="base-item-not-found")
    versions = (
        (
            await session.execute(
                select(BaseItemVersion)
                .where(BaseItemVersion.base_code == item.base_code)
                .order_by(BaseItemVersion.version)
            )
        )
        .scalars()
        .all()
    )
    return {
        "base_code": item.base_code,
        "name": item.name,
        "matter_type": item.matter_type,
        "level": item.level,
        "legal_basis": item.legal_basis,
        "origin": item.origin,
        "version": item.version,
        "updated_at": item.updated_at,
        "versions": [
            {"version": v.version, "source": v.source, "diff": v.diff, "created_at": v.created_at}
            for v in versions
        ],
    }


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.post(
    "/v1/matters/import",
    summary="Import a 实施清单 workbook (.xlsx body); rows outside your 区划 are refused",
    openapi_extra={
        "requestBody": {"content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}}
    },
)
async def import_xlsx(
    request: Request,
    hub: HubDep,
    principal: Admin,
    dry_run: bool = False,
    publish: bool = False,
) -> dict[str, Any]:
    body = await request.body()
    if not body:
        raise Problem(422, "send the workbook as the request body", code="empty-body")

    def allow(row: excel.ParsedRow) -> str | None:
        division = row.content.get("division_code") or principal.division
        if not within_division(principal.division, division):
            return "outside your 区划"
        return None

    try:
        report = await excel.import_workbook(
            hub,
            Actor.of(principal),
            io.BytesIO(body),
            dry_run=dry_run,
            publish=publish,
            allow=allow,
        )
    except excel.WorkbookError as exc:
        raise Problem(422, str(exc), code="invalid-workbook") from exc
    return report.to_dict()
