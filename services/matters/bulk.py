"""Loading whole items at once (seed, Excel import): create or new version, then publish.

A loaded item goes through the same versioning as an edit: an unchanged item makes no
new version, a changed one gets a new version with its diff, and with ``publish`` the
version is published (gate enforced) and announced on ``hub.matters``.
"""

from __future__ import annotations

from typing import Any

from services.matters import catalog
from services.matters.catalog import Actor
from services.matters.domain.gate import missing_elements
from services.matters.domain.lifecycle import VersionStatus
from services.matters.store import repository as repo
from services.matters.store.tables import Matter
from services.runtime.app import Hub
from services.runtime.problems import Problem


async def load_item(
    hub: Hub, actor: Actor, raw_code: str, raw_content: dict[str, Any], *, publish: bool
) -> str:
    """Load one item in one transaction; returns created | updated | unchanged.

    Raises ``Problem`` (422) for an invalid code or content, or a publish gate failure.
    """
    code = catalog.check_code(raw_code)
    content_model = catalog.check_content(raw_content, code, catalog.base_code_pattern(hub))
    content = content_model.dump()
    if publish:
        missing = missing_elements(content_model)
        if missing:
            raise Problem(
                422,
                "missing elements: " + "、".join(m["element"] for m in missing),
                code="elements-missing",
                missing=missing,
            )
    async with hub.db.transaction() as session:
        matter = await repo.get_matter(session, code.code, lock=True)
        outcome = "updated"
        if matter is None:
            division = content.get("division_code") or actor.division
            if not division:
                raise Problem(422, "division_code (区划) is required", code="invalid-content")
            matter = Matter(
                implementation_code=code.code,
                org_uscc=code.uscc,
                division_code=division,
                base_code=content.get("base_code"),
                origin="local",
                head_version=0,
            )
            session.add(matter)
            await session.flush()
            base: dict[str, Any] | None = None
            outcome = "created"
        else:
            head = await repo.get_version(session, code.code, matter.head_version)
            base = dict(head.content) if head is not None else None
            if base == content and (
                not publish
                or (
                    head is not None
                    and head.status == VersionStatus.PUBLISHED
                    and not matter.withdrawn
                )
            ):
                return "unchanged"
        if base == content and matter.head_version:
            version = await repo.get_version(session, code.code, matter.head_version)
            assert version is not None
        else:
            version = await catalog.add_version(session, matter, content, base, actor)
        if publish:
            await catalog.publish_version(hub, session, matter, version, actor)
        return outcome
