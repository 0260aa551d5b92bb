"""Version lifecycle (版本生命周期): draft → submitted → approved → published → superseded /
withdrawn. Pure: no I/O."""

from __future__ import annotations

from enum import StrEnum


class VersionStatus(StrEnum):
    DRAFT = "draft"  # 草稿
    SUBMITTED = "submitted"  # 已提交审核
    APPROVED = "approved"  # 审核通过
    PUBLISHED = "published"  # 已发布
    SUPERSEDED = "superseded"  # 已被新版本取代
    WITHDRAWN = "withdrawn"  # 已撤销


OPEN = frozenset({VersionStatus.DRAFT, VersionStatus.SUBMITTED, VersionStatus.APPROVED})
PUBLIC = frozenset({VersionStatus.PUBLISHED, VersionStatus.SUPERSEDED, VersionStatus.WITHDRAWN})

# action → (statuses it starts from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[VersionStatus], VersionStatus]] = {
    "submit": (frozenset({VersionStatus.DRAFT}), VersionStatus.SUBMITTED),
    "approve": (frozenset({VersionStatus.SUBMITTED}), VersionStatus.APPROVED),
    "return": (
        frozenset({VersionStatus.SUBMITTED, VersionStatus.APPROVED}),
        VersionStatus.DRAFT,
    ),
    "publish": (frozenset({VersionStatus.APPROVED}), VersionStatus.PUBLISHED),
    "withdraw": (frozenset({VersionStatus.PUBLISHED}), VersionStatus.WITHDRAWN),
}


class TransitionRefused(ValueError):
    def __init__(self, action: str, status: str) -> None:
        allowed = ", ".join(sorted(TRANSITIONS[action][0]))
        super().__init__(f"cannot {action} a version that is {status} (needs: {allowed})")
        self.action = action
        self.status = status


def next_status(action: str, current: str) -> VersionStatus:
    sources, target = TRANSITIONS[action]
    if VersionStatus(current) not in sources:
        raise TransitionRefused(action, current)
    return target
