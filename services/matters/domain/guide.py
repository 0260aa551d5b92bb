"""Scenario-driven guide (情形引导): evaluate a declarative guide definition against answers.

The definition (questions + JSON Logic rules, see ``guide_validation``) is data stored with
a matter version; nothing here is specific to one matter. Rules come in three kinds:

- ``material``: when it holds, the applicant must (or may) submit a material (申请材料);
- ``violation``: when it holds, the application breaks a hard limit (不符合许可条件);
- ``decision``: the first rule that holds for a target decides it — 审查类别
  (``review_category``), 可否免于现场核查 (``onsite_waivable``), 审查层级
  (``authority_level``) and 许可证括号标注 (``licence_display``).

Every reason the result carries starts with the article the rule cites. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .guide_logic import evaluate, truthy
from .guide_model import (
    GuideAnswersError,
    GuideDefinitionError,
    GuideResult,
    MaterialItem,
    Violation,
)
from .guide_validation import (
    DECISION_TARGETS,
    REASON_SEPARATOR,
    decision_value_problem,
    validate_answers,
    validate_guide_definition,
)

__all__ = [
    "GuideAnswersError",
    "GuideDefinitionError",
    "GuideResult",
    "MaterialItem",
    "Violation",
    "evaluate_guide",
    "validate_answers",
    "validate_guide_definition",
]


@dataclass
class _MaterialAcc:
    """A material being merged from several rules (de-duplicated by name)."""

    base: bool
    order: int
    required: bool
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Decision:
    value: Any
    reason: str


def evaluate_guide(definition: dict[str, Any], answers: dict[str, Any]) -> GuideResult:
    """Decide materials, 现场核查, 审查类别, 审查层级, 许可证标注 and violations.

    Answers may be partial: a rule whose inputs are unanswered should not fire (the
    definition guards with ``missing``). Raises ``GuideDefinitionError`` for a broken
    definition and ``GuideAnswersError`` when ``validate_answers`` finds problems.
    """
    answer_errors = validate_answers(definition, answers)  # also validates the definition
    if answer_errors:
        raise GuideAnswersError(answer_errors)
    data = _relevant_answers(definition, answers)
    materials: dict[str, _MaterialAcc] = {}
    violations: list[Violation] = []
    decisions: dict[str, _Decision] = {}
    fired: list[str] = []
    for order, rule in enumerate(definition["rules"]):
        kind, target = rule["kind"], rule.get("target")
        if kind == "decision" and target in decisions:
            continue  # first matching decision wins; later ones are fallbacks
        if "when" in rule and not truthy(_apply(rule, rule["when"], data)):
            continue
        fired.append(rule["id"])
        if kind == "material":
            _add_material(materials, rule, order)
        elif kind == "violation":
            violation = Violation(rule["article"], _text_of(rule, rule["message"], data))
            if violation not in violations:
                violations.append(violation)
        else:
            decisions[target] = _decide(rule, data)
    return _build_result(materials, violations, decisions, tuple(fired))


def _relevant_answers(definition: Mapping[str, Any], answers: Mapping[str, Any]) -> dict[str, Any]:
    """Keep the answers of questions that are asked, in question order.

    A question's ``when`` sees only earlier relevant answers, so an answer to a question
    that does not apply (e.g. 学校类型 for a 职工食堂) never influences a rule.
    """
    data: dict[str, Any] = {}
    for question in definition["questions"]:
        key = question["key"]
        value = answers.get(key)
        if value is None:
            continue
        if "when" in question and not truthy(evaluate(question["when"], data)):
            continue
        data[key] = list(value) if isinstance(value, list) else value
    return data


def _apply(rule: Mapping[str, Any], logic: Any, data: Mapping[str, Any]) -> Any:
    try:
        return evaluate(logic, data)
    except (ArithmeticError, TypeError, ValueError, ReferenceError) as exc:
        raise GuideDefinitionError([f"rule {rule['id']!r} failed: {exc}"]) from exc


def _text_of(rule: Mapping[str, Any], value: Any, data: Mapping[str, Any]) -> str:
    text = _apply(rule, value, data) if isinstance(value, dict) else value
    if not isinstance(text, str) or not text:
        raise GuideDefinitionError([f"rule {rule['id']!r}: message did not evaluate to text"])
    return text


def _cite(rule: Mapping[str, Any]) -> str:
    return f"{rule['article']}：{rule['reason']}"


def _add_material(materials: dict[str, _MaterialAcc], rule: Mapping[str, Any], order: int) -> None:
    spec = rule["material"]
    acc = materials.get(spec["name"])
    if acc is None:
        acc = materials[spec["name"]] = _MaterialAcc(bool(spec.get("base")), order, False)
    # A material that is base by one rule is listed with the base materials.
    acc.base = acc.base or bool(spec.get("base"))
    acc.required = acc.required or spec["required"]
    reason = _cite(rule)
    if reason not in acc.reasons:
        acc.reasons.append(reason)


def _decide(rule: Mapping[str, Any], data: Mapping[str, Any]) -> _Decision:
    target, raw = rule["target"], rule["value"]
    value = _apply(rule, raw, data) if isinstance(raw, dict | list) else raw
    problem = decision_value_problem(target, value)
    if problem:
        raise GuideDefinitionError([f"rule {rule['id']!r}: {problem}, got {value!r}"])
    return _Decision(value, _cite(rule))


def _build_result(
    materials: Mapping[str, _MaterialAcc],
    violations: list[Violation],
    decisions: Mapping[str, _Decision],
    fired: tuple[str, ...],
) -> GuideResult:
    # Base materials (第十一条) first, then by the first rule that asked for each one.
    ordered = sorted(materials.items(), key=lambda item: (not item[1].base, item[1].order))
    missing = [t for t, needs in DECISION_TARGETS.items() if needs and t not in decisions]
    if missing:  # unreachable for a validated definition: fallbacks always fire
        raise GuideDefinitionError([f"no decision for {missing}"])
    category = decisions.get("review_category")
    display = decisions.get("licence_display")
    return GuideResult(
        materials=tuple(
            MaterialItem(name, acc.required, REASON_SEPARATOR.join(acc.reasons))
            for name, acc in ordered
        ),
        onsite_waivable=decisions["onsite_waivable"].value,
        onsite_reason=decisions["onsite_waivable"].reason,
        review_category=category.value if category else None,
        authority_level=decisions["authority_level"].value,
        licence_display=display.value if display else None,
        violations=tuple(violations),
        authority_reason=decisions["authority_level"].reason,
        review_category_reason=category.reason if category else None,
        fired_rules=fired,
    )
