"""Result types and errors of the scenario-driven guide (情形引导).

Pure data: the evaluator in ``guide.py`` builds these, services serialise them with
``to_dict()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class GuideDefinitionError(ValueError):
    """The guide definition (情形引导定义) is structurally invalid or a rule misbehaved."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


class GuideAnswersError(ValueError):
    """The applicant's answers (情形选项) do not fit the guide's questions."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class MaterialItem:
    """One material (申请材料) with every article-citing reason that asked for it."""

    name: str
    required: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "required": self.required, "reason": self.reason}


@dataclass(frozen=True)
class Violation:
    """A hard limit the application breaks (不符合许可条件), citing its article."""

    article: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"article": self.article, "message": self.message}


@dataclass(frozen=True)
class GuideResult:
    """What the answers decide: materials, 现场核查 waiver, 审查类别, 审查层级, 许可证标注.

    ``authority_reason``, ``review_category_reason`` and ``fired_rules`` are kept for
    audit (全程留痕) but are not part of ``to_dict()``, whose keys are a fixed contract.
    """

    materials: tuple[MaterialItem, ...]
    onsite_waivable: bool
    onsite_reason: str
    review_category: int | None
    authority_level: str
    licence_display: str | None
    violations: tuple[Violation, ...]
    authority_reason: str = ""
    review_category_reason: str | None = None
    fired_rules: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "materials": [m.to_dict() for m in self.materials],
            "onsite_inspection": {"waivable": self.onsite_waivable, "reason": self.onsite_reason},
            "review_category": self.review_category,
            "authority_level": self.authority_level,
            "licence_display": self.licence_display,
            "violations": [v.to_dict() for v in self.violations],
        }
