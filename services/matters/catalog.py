"""Catalog changes (事项编辑与发布): create, edit, submit, approve, publish, withdraw.

Every change is a new version with its field-level diff; published versions never
change. Publishing writes ``hub.matter.published`` to the outbox and refreshes the search
index in the same transaction, so nothing half-written is ever visible.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.matters.domain.access import (
    ADMIN,
    APPROVER,
    EDITOR,
    read_only_fields,
    within_division,
)
from services.matters.domain.diff import changed_fields, field_diff
from services.matters.domain.elements import ContentError, MatterContent, parse_content
from services.matters.domain.gate import missing_elements
from services.matters.domain.lifecycle import OPEN, TransitionRefused, VersionStatus, next_status
from services.matters.domain.search_text import IndexInput, index_terms
from services.matters.store import repository as repo
from services.matters.store.tables import Matter, MatterVersion
from services.runtime.app import Hub
from services.runtime.auth import Principal
from services.runtime.db import utcnow
from services.runtime.identifiers import (
    ImplementationCode,
    InvalidIdentifier,
    parse_implementation_code,
    validate_base_code,
    validate_division_code,
)
from services.runtime.problems import Problem

PUBLISHED_EVENT = "hub.matter.published"
WITHDRAWN_EVENT = "hub.matter.withdrawn"


@dataclass(frozen=True)
class Actor:
    """Who changes the catalog: a staff member, the provincial sync or an import."""

    subject: str
    uscc: str | None = None
    division: str | None = None
    roles: frozenset[str] = frozenset()
    kind: str = "staff"  # staff | province | import

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        return cls(principal.subject, principal.uscc, principal.division, principal.roles)

    @property
    def is_system(self) -> bool:
        return self.kind != "staff"


# -- validation helpers ------------------------------------------------------------------


def check_code(raw: str) -> ImplementationCode:
    try:
        return parse_implementation_code(raw)
    except InvalidIdentifier as exc:
        raise Problem(
            422,
            f"实施编码 is not valid: {exc}",
            code="invalid-implementation-code",
            reason=exc.reason,
        ) from exc


def content_problem(exc: ContentError) -> Problem:
    return Problem(
        422,
        f"The matter content is not valid: {exc}"[:500],
        code="invalid-content",
        errors=exc.errors,
    )


def check_content(
    raw: dict[str, Any], code: ImplementationCode, base_code_pattern: str
) -> MatterContent:
    try:
        content = parse_content(raw)
    except ContentError as exc:
        raise content_problem(exc) from exc
    errors: list[dict[str, str]] = []
    if content.base_code is not None:
        try:
            validate_base_code(content.base_code, base_code_pattern)
        except InvalidIdentifier as exc:
            errors.append({"field": "base_code", "message": str(exc)})
    if content.division_code is not None:
        try:
            validate_division_code(content.division_code)
        except InvalidIdentifier as exc:
            errors.append({"field": "division_code", "message": str(exc)})
    body = content.implementing_body
    if body is not None and body.uscc.upper() != code.uscc:
        errors.append(
            {
                "field": "implementing_body.uscc",
                "message": "must be the USCC carried by the 实施编码 (its first 18 characters)",
            }
        )
    if errors:
        raise content_problem(ContentError(errors))
    return content


def etag_of(code: str, version: int, content: dict[str, Any]) -> str:
    canonical = json.dumps(
        {"c": code, "v": version, "content": content},
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:40]


# -- permissions ---------------------------------------------------------------------------


def _require_role(actor: Actor, *roles: str) -> None:
    if actor.is_system:
        return
    if not any(r in actor.roles for r in roles):
        raise Problem(403, f"this needs the role {' or '.join(roles)}", code="forbidden")


def require_scope(actor: Actor, matter: Matter, *roles: str) -> None:
    """Staff act only on items of their own org (token ``uscc``) in their 区划; an admin
    covers every org of their 区划."""
    _require_role(actor, *roles)
    if actor.is_system:
        return
    own_org = actor.uscc == matter.org_uscc or ADMIN in actor.roles
    if not own_org or not within_division(actor.division, matter.division_code):
        raise Problem(
            403,
            "staff may act only on items of their own organisation and 区划",
            code="outside-scope",
        )


# -- reads used by writes -------------------------------------------------------------------


async def load_matter(session: AsyncSession, raw_code: str, *, lock: bool = False) -> Matter:
    code = check_code(raw_code)
    matter = await repo.get_matter(session, code.code, lock=lock)
    if matter is None:
        raise Problem(404, f"no matter with 实施编码 {code.code}", code="matter-not-found")
    return matter


async def load_version(session: AsyncSession, matter: Matter, version: int) -> MatterVersion:
    row = await repo.get_version(session, matter.implementation_code, version)
    if row is None:
        raise Problem(404, f"version {version} does not exist", code="version-not-found")
    return row


async def _head(session: AsyncSession, matter: Matter) -> MatterVersion | None:
    if matter.head_version == 0:
        return None
    return await repo.get_version(session, matter.implementation_code, matter.head_version)


# -- create and edit ------------------------------------------------------------------------


async def create_matter(
    hub: Hub,
    actor: Actor,
    raw_code: str,
    raw_content: dict[str, Any],
    *,
    origin: str = "local",
    note: str | None = None,
) -> MatterVersion:
    """A new implementation item with version 1 as a draft."""
    _require_role(actor, EDITOR, ADMIN)
    code = check_code(raw_code)
    content = check_content(raw_content, code, base_code_pattern(hub))
    division = content.division_code or actor.division
    if division is None:
        raise Problem(422, "division_code (区划) is required", code="invalid-content")
    matter = Matter(
        implementation_code=code.code,
        org_uscc=code.uscc,
        division_code=division,
        base_code=content.base_code,
        origin=origin,
        head_version=0,
    )
    require_scope(actor, matter, EDITOR, ADMIN)
    try:
        async with hub.db.transaction() as session:
            if await repo.get_matter(session, code.code) is not None:
                raise _code_taken(code.code)
            session.add(matter)
            await session.flush()
            return await add_version(session, matter, content.dump(), None, actor, note=note)
    except IntegrityError as exc:  # a concurrent create won the race
        raise _code_taken(code.code) from exc


def _code_taken(code: str) -> Problem:
    return Problem(409, f"实施编码 {code} already exists", code="implementation-code-taken")


def base_code_pattern(hub: Hub) -> str:
    return str(getattr(hub.settings, "matters_base_code_pattern", r"^[0-9A-Z]{10,14}$"))


async def add_version(
    session: AsyncSession,
    matter: Matter,
    content: dict[str, Any],
    base: dict[str, Any] | None,
    actor: Actor,
    *,
    status: VersionStatus = VersionStatus.DRAFT,
    note: str | None = None,
) -> MatterVersion:
    """Append version ``head + 1``; an open version it replaces becomes superseded."""
    now = utcnow()
    previous = await _head(session, matter)
    if previous is not None and previous.status in OPEN:
        previous.status = VersionStatus.SUPERSEDED
        previous.status_changed_at = now
    # The published version this chain of drafts starts from (for the stale check).
    based_on = matter.published_version
    number = matter.head_version + 1
    version = MatterVersion(
        implementation_code=matter.implementation_code,
        version=number,
        status=status,
        content=content,
        diff=field_diff(base, content),
        based_on=based_on,
        source=actor.kind if actor.is_system else "local",
        edited_by=actor.subject,
        edited_by_org=actor.uscc,
        note=note,
        etag=etag_of(matter.implementation_code, number, content),
        created_at=now,
        status_changed_at=now,
    )
    session.add(version)
    matter.head_version = number
    matter.base_code = content.get("base_code")
    if content.get("division_code"):
        matter.division_code = content["division_code"]
    matter.updated_at = now
    await session.flush()
    return version


async def edit_matter(
    hub: Hub,
    actor: Actor,
    raw_code: str,
    changes: dict[str, Any],
    *,
    expected_head: int | None = None,
    note: str | None = None,
) -> tuple[MatterVersion, bool]:
    """Apply top-level field changes as a new draft version; ``(version, created)``."""
    _require_role(actor, EDITOR, ADMIN)
    if not changes:
        raise Problem(422, "no changes given", code="invalid-content")
    async with hub.db.transaction() as session:
        matter = await load_matter(session, raw_code, lock=True)
        require_scope(actor, matter, EDITOR, ADMIN)
        if expected_head is not None and expected_head != matter.head_version:
            raise Problem(
                412,
                f"the item is at version {matter.head_version}, not {expected_head}",
                code="version-mismatch",
                head_version=matter.head_version,
            )
        head = await _head(session, matter)
        base = dict(head.content) if head is not None else {}
        code = check_code(matter.implementation_code)
        content = check_content({**base, **changes}, code, base_code_pattern(hub)).dump()
        diff = field_diff(base, content)
        if not diff:
            assert head is not None
            return head, False
        locked = read_only_fields(matter.origin, changed_fields(diff))
        if locked and not actor.is_system:
            raise Problem(
                403,
                "these elements are defined by the province and read-only in the city "
                "(only 二次统筹 fields may change): " + ", ".join(locked),
                code="province-defined-fields",
                fields=locked,
            )
        version = await add_version(session, matter, content, base, actor, note=note)
        return version, True


# -- lifecycle --------------------------------------------------------------------------------


async def _authors_since_publish(session: AsyncSession, matter: Matter) -> set[str]:
    rows = await repo.versions_after(session, matter.implementation_code, matter.published_version)
    return {r.edited_by for r in rows if r.edited_by and r.source == "local"}


async def transition(
    hub: Hub, actor: Actor, raw_code: str, number: int, action: str, note: str | None = None
) -> MatterVersion:
    """submit / approve / return / publish one version."""
    roles = {
        "submit": (EDITOR, ADMIN),
        "approve": (APPROVER, ADMIN),
        "return": (APPROVER, ADMIN),
        "publish": (APPROVER, ADMIN),
    }[action]
    _require_role(actor, *roles)
    async with hub.db.transaction() as session:
        matter = await load_matter(session, raw_code, lock=True)
        require_scope(actor, matter, *roles)
        version = await load_version(session, matter, number)
        try:
            target = next_status(action, version.status)
        except TransitionRefused as exc:
            raise Problem(409, str(exc), code="invalid-transition", status_now=exc.status) from exc
        if number != matter.head_version:
            raise Problem(409, "only the newest version can move on", code="not-head-version")
        if action == "approve" and actor.subject in await _authors_since_publish(session, matter):
            raise Problem(
                403,
                "an approver cannot approve a version they edited (四眼原则)",
                code="own-edit",
            )
        if action == "publish":
            await _publish(hub, session, matter, version, actor)
            return version
        version.status = target
        version.status_changed_at = utcnow()
        if action == "submit":
            version.submitted_by = actor.subject
        elif action == "approve":
            version.approved_by = actor.subject
        if note:
            version.note = note
        return version


async def _publish(
    hub: Hub, session: AsyncSession, matter: Matter, version: MatterVersion, actor: Actor
) -> None:
    content = parse_content(version.content)
    missing = missing_elements(content)
    if missing:
        raise Problem(
            422,
            "publishing needs every 十统一 element (plus 受理条件 and 办理结果); missing: "
            + "、".join(m["element"] for m in missing),
            code="elements-missing",
            missing=missing,
        )
    if version.based_on != matter.published_version:
        raise Problem(
            409,
            f"version {version.version} was edited from version {version.based_on}, but "
            f"version {matter.published_version} has been published since; edit again",
            code="stale-version",
        )
    await publish_version(hub, session, matter, version, actor)


async def publish_version(
    hub: Hub, session: AsyncSession, matter: Matter, version: MatterVersion, actor: Actor
) -> None:
    """Make ``version`` the one every channel reads, emit the event, refresh search."""
    now = utcnow()
    if matter.published_version is not None and matter.published_version != version.version:
        old = await repo.get_version(session, matter.implementation_code, matter.published_version)
        if old is not None and old.status == VersionStatus.PUBLISHED:
            old.status = VersionStatus.SUPERSEDED
            old.status_changed_at = now
    version.status = VersionStatus.PUBLISHED
    version.status_changed_at = now
    version.published_at = now
    version.published_by = actor.subject
    matter.published_version = version.version
    matter.withdrawn = False
    matter.updated_at = now
    await session.flush()
    await repo.replace_index(
        session, search_doc(matter, version), search_terms(matter.implementation_code, version)
    )
    await hub.messaging.publish(
        session,
        PUBLISHED_EVENT,
        key=matter.implementation_code,
        subject=matter.implementation_code,
        data=event_data(matter, version, "published"),
    )


async def withdraw(hub: Hub, actor: Actor, raw_code: str, reason: str) -> MatterVersion:
    """撤销: the published version is withdrawn; the item leaves search and every channel."""
    _require_role(actor, APPROVER, ADMIN)
    async with hub.db.transaction() as session:
        matter = await load_matter(session, raw_code, lock=True)
        require_scope(actor, matter, APPROVER, ADMIN)
        return await withdraw_in(hub, session, matter, actor, reason)


async def withdraw_in(
    hub: Hub, session: AsyncSession, matter: Matter, actor: Actor, reason: str
) -> MatterVersion:
    if matter.published_version is None or matter.withdrawn:
        raise Problem(409, "the item has no published version to withdraw", code="not-published")
    version = await load_version(session, matter, matter.published_version)
    now = utcnow()
    version.status = VersionStatus.WITHDRAWN
    version.status_changed_at = now
    version.note = reason
    matter.withdrawn = True
    matter.updated_at = now
    await repo.remove_index(session, matter.implementation_code)
    await hub.messaging.publish(
        session,
        WITHDRAWN_EVENT,
        key=matter.implementation_code,
        subject=matter.implementation_code,
        data=event_data(matter, version, "withdrawn"),
    )
    return version


# -- what publishing derives ----------------------------------------------------------------------


def event_data(matter: Matter, version: MatterVersion, status: str) -> dict[str, Any]:
    c = version.content
    body = c.get("implementing_body") or {}
    result = c.get("result")
    published_at: datetime | None = version.published_at
    return {
        "implementation_code": matter.implementation_code,
        "base_code": c.get("base_code"),
        "version": version.version,
        "name": c.get("name") or matter.implementation_code,
        "matter_type": c.get("matter_type"),
        "department": {"name": body.get("name", ""), "uscc": body.get("uscc", matter.org_uscc)},
        "division_code": matter.division_code,
        "status": status,
        "statutory_limit_days": c.get("statutory_limit_days"),
        "promised_limit_days": c.get("promised_limit_days"),
        "result": (
            {"name": result["name"], "certificate_type": result.get("certificate_type")}
            if result
            else None
        ),
        "effective_from": c.get("effective_from"),
        "published_at": published_at.isoformat() if published_at else None,
        "service_objects": c.get("service_objects") or [],
        "online_available": c.get("online_available"),
        "special_procedures": [p["name"] for p in c.get("special_procedures") or []],
        "special_procedure_limit_days": _special_procedure_limit(c),
        "handling_items": [
            {"code": h["code"], "kind": h["kind"]} for h in c.get("handling_items") or []
        ],
    }


def _special_procedure_limit(content: dict[str, Any]) -> int | None:
    """The longest 特别程序 time limit (working days): case events do not say which
    procedure a pause is, so the cases service holds every pause to the longest."""
    limits = [
        p["limit_days"]
        for p in content.get("special_procedures") or []
        if p.get("limit_days") is not None
    ]
    return max(limits, default=None)


def search_doc(matter: Matter, version: MatterVersion) -> dict[str, Any]:
    c = version.content
    body = c.get("implementing_body") or {}
    objects = c.get("service_objects") or []
    return {
        "implementation_code": matter.implementation_code,
        "version": version.version,
        "name": c.get("name") or matter.implementation_code,
        "base_code": c.get("base_code"),
        "department": body.get("name"),
        "department_uscc": body.get("uscc"),
        "matter_type": c.get("matter_type"),
        "level": c.get("level"),
        "division_code": matter.division_code,
        "service_objects": "|" + "|".join(objects) + "|" if objects else "",
        "online": c.get("online_available"),
        "promised_limit_days": c.get("promised_limit_days"),
    }


def search_terms(code: str, version: MatterVersion) -> dict[str, int]:
    c = version.content
    body = c.get("implementing_body") or {}
    return index_terms(
        IndexInput(
            implementation_code=code,
            base_code=c.get("base_code"),
            name=c.get("name") or code,
            keywords=c.get("keywords") or [],
            department=body.get("name"),
            matter_type=c.get("matter_type"),
        )
    )
