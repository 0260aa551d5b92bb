"""Staff editing (事项编辑): create, change, submit, approve, publish, withdraw.

Roles come from the staff token: ``matters-editor`` edits and submits items of their own
org and 区划, ``matters-approver`` approves and publishes (never their own edit),
``matters-admin`` does both for every org of their 区划.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.matters import catalog
from services.matters.catalog import Actor
from services.matters.domain.access import ADMIN, APPROVER, EDITOR
from services.matters.domain.elements import parse_content
from services.matters.domain.gate import missing_elements
from services.matters.reading import version_meta
from services.matters.store import repository as repo
from services.matters.store.tables import Matter, MatterVersion
from services.runtime.auth import OptionalPrincipal, Principal, require_roles
from services.runtime.deps import HubDep, ReadSession
from services.runtime.problems import Problem

router = APIRouter(prefix="/v1/matters", tags=["matters (staff)"])

Staff = Annotated[Principal, Depends(require_roles(EDITOR, APPROVER, ADMIN))]


class CreateMatter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    implementation_code: str = Field(min_length=1, max_length=64)
    content: dict[str, Any]
    note: str | None = Field(default=None, max_length=1000)


class ChangeMatter(BaseModel):
    """Top-level elements to change (the rest stay as they are)."""

    model_config = ConfigDict(extra="forbid")
    changes: dict[str, Any]
    note: str | None = Field(default=None, max_length=1000)


class Withdrawal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=1000)


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=1000)


def version_view(matter: Matter, version: MatterVersion) -> dict[str, Any]:
    content = parse_content(version.content)
    return {
        **version_meta(matter, version),
        "head_version": matter.head_version,
        "published_version": matter.published_version,
        "based_on": version.based_on,
        "edited_by": version.edited_by,
        "submitted_by": version.submitted_by,
        "approved_by": version.approved_by,
        "published_by": version.published_by,
        "note": version.note,
        "created_at": version.created_at,
        "status_changed_at": version.status_changed_at,
        "diff": version.diff,
        "missing_elements": missing_elements(content),
        "content": version.content,
    }


async def _view(hub: Any, code: str, number: int, status: int = 200) -> JSONResponse:
    async with hub.db.sessionmaker() as session:
        matter = await catalog.load_matter(session, code)
        version = await catalog.load_version(session, matter, number)
        return JSONResponse(jsonable_encoder(version_view(matter, version)), status_code=status)


@router.post("", status_code=201, summary="Create an implementation item (version 1, draft)")
async def create(body: CreateMatter, hub: HubDep, principal: Staff) -> JSONResponse:
    version = await catalog.create_matter(
        hub, Actor.of(principal), body.implementation_code, body.content, note=body.note
    )
    return await _view(hub, version.implementation_code, version.version, 201)


@router.patch("/{implementation_code}", summary="Change elements: a new draft version")
async def change(
    implementation_code: str,
    body: ChangeMatter,
    hub: HubDep,
    principal: Staff,
    if_match: Annotated[str | None, Header(description="the head version number expected")] = None,
) -> JSONResponse:
    expected = None
    if if_match is not None:
        try:
            expected = int(if_match.strip().strip('"'))
        except ValueError as exc:
            raise Problem(400, "If-Match must be a version number", code="bad-if-match") from exc
    version, created = await catalog.edit_matter(
        hub,
        Actor.of(principal),
        implementation_code,
        body.changes,
        expected_head=expected,
        note=body.note,
    )
    return await _view(hub, version.implementation_code, version.version, 201 if created else 200)


@router.post(
    "/{implementation_code}/versions/{version}/{action}",
    summary="Move a version on: submit, approve, return (to draft) or publish",
)
async def act(
    implementation_code: str,
    version: Annotated[int, Path(ge=1, le=1_000_000)],
    action: Literal["submit", "approve", "return", "publish"],
    hub: HubDep,
    principal: Staff,
    body: Note | None = None,
) -> JSONResponse:
    row = await catalog.transition(
        hub,
        Actor.of(principal),
        implementation_code,
        version,
        action,
        note=body.note if body else None,
    )
    return await _view(hub, row.implementation_code, row.version)


@router.post("/{implementation_code}/withdraw", summary="Withdraw (撤销) the published item")
async def withdraw(
    implementation_code: str, body: Withdrawal, hub: HubDep, principal: Staff
) -> JSONResponse:
    row = await catalog.withdraw(hub, Actor.of(principal), implementation_code, body.reason)
    return await _view(hub, row.implementation_code, row.version)


def _staff_in_scope(principal: Principal | None, matter: Matter) -> bool:
    if principal is None:
        return False
    try:
        catalog.require_scope(Actor.of(principal), matter, EDITOR, APPROVER, ADMIN)
    except Problem:
        return False
    return True


@router.get(
    "/{implementation_code}/versions",
    summary="Version history with field-level diffs (drafts only for staff in scope)",
)
async def versions(
    implementation_code: str, session: ReadSession, principal: OptionalPrincipal
) -> dict[str, Any]:
    matter = await catalog.load_matter(session, implementation_code)
    staff = _staff_in_scope(principal, matter)
    rows = await repo.list_versions(session, matter.implementation_code)
    return {
        "implementation_code": matter.implementation_code,
        "head_version": matter.head_version if staff else None,
        "published_version": matter.published_version,
        "versions": [
            {
                "version": r.version,
                "status": r.status,
                "source": r.source,
                "created_at": r.created_at,
                "published_at": r.published_at,
                "diff": r.diff,
                "edited_by": r.edited_by if staff else None,
            }
            for r in rows
            if staff or r.published_at is not None
        ],
    }


@router.get(
    "/{implementation_code}/head", summary="The newest version (any status), for staff in scope"
)
async def head(implementation_code: str, session: ReadSession, principal: Staff) -> dict[str, Any]:
    matter = await catalog.load_matter(session, implementation_code)
    if not _staff_in_scope(principal, matter):
        raise Problem(403, "outside your organisation or 区划", code="outside-scope")
    version = await catalog.load_version(session, matter, matter.head_version)
    return version_view(matter, version)
