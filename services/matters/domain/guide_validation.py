"""Structural validation of guide definitions (情形引导定义) and of answers (情形选项).

A definition is a JSON-serialisable dict stored with a matter version::

    {"schema_version": 1, "matter": {...}, "notes": [str],
     "questions": [{"key", "label", "type": enum|bool|number|list, "options"?, "when"?,
                    "min"?, "max"?, "integer"?, "help"?}],
     "rules": [{"id", "kind": material|violation|decision, "article": "第十一条", "when"?,
                ...kind-specific fields}]}

``when`` is JSON Logic; a question whose ``when`` is false is not asked and its answer is
ignored. Pure functions, no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from .guide_logic import Scope, check_logic
from .guide_model import GuideDefinitionError

QUESTION_TYPES: frozenset[str] = frozenset({"enum", "bool", "number", "list"})
# Target -> whether a definition must end it with an unconditional fallback decision,
# because the result needs a value whatever the answers are.
DECISION_TARGETS: Mapping[str, bool] = {
    "review_category": False,
    "onsite_waivable": True,
    "authority_level": True,
    "licence_display": False,
}
AUTHORITY_LEVELS: frozenset[str] = frozenset({"市", "县"})
ARTICLE_PATTERN = re.compile(r"^第[零一二三四五六七八九十百]+条$")

_TOP_FIELDS = frozenset({"schema_version", "matter", "notes", "questions", "rules"})
_QUESTION_FIELDS = frozenset(
    {"key", "label", "type", "options", "when", "min", "max", "integer", "help"}
)
_RULE_FIELDS: Mapping[str, frozenset[str]] = {
    "material": frozenset({"id", "kind", "article", "when", "material", "reason"}),
    "violation": frozenset({"id", "kind", "article", "when", "message"}),
    "decision": frozenset({"id", "kind", "article", "when", "target", "value", "reason"}),
}
_MATERIAL_FIELDS = frozenset({"name", "required", "base"})
_ANY = "*"  # the "field" of an answer error that concerns the answers as a whole
# Merged material reasons are joined with this, so a single reason must not contain it.
REASON_SEPARATOR = "；"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def validate_guide_definition(definition: dict[str, Any]) -> list[str]:
    """Return the structural errors of a guide definition; ``[]`` if it is usable."""
    if not isinstance(definition, dict):
        return ["definition must be an object"]
    errors = [f"unknown top-level field {name!r}" for name in definition if name not in _TOP_FIELDS]
    if definition.get("schema_version", 1) != 1:
        errors.append("schema_version must be 1")
    if "matter" in definition and not isinstance(definition["matter"], dict):
        errors.append("matter must be an object")
    notes = definition.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        errors.append("notes must be a list of strings")
    questions = definition.get("questions")
    if not isinstance(questions, list) or not questions:
        return [*errors, "questions must be a non-empty list"]
    visible = _check_questions(questions, errors)
    rules = definition.get("rules")
    if not isinstance(rules, list):
        return [*errors, "rules must be a list"]
    _check_rules(rules, visible, errors)
    return errors


def _check_questions(questions: list[Any], errors: list[str]) -> dict[str, Mapping[str, Any]]:
    """Check questions in order; a ``when`` may only use keys of earlier questions."""
    seen: dict[str, Mapping[str, Any]] = {}
    for index, question in enumerate(questions):
        where = f"questions[{index}]"
        if not isinstance(question, dict):
            errors.append(f"{where}: must be an object")
            continue
        errors.extend(
            f"{where}: unknown field {f!r}" for f in question if f not in _QUESTION_FIELDS
        )
        key = question.get("key")
        if not _text(key) or "." in key:
            errors.append(f"{where}: key must be a non-empty string without '.'")
            continue
        where = f"questions[{key}]"
        if key in seen:
            errors.append(f"{where}: duplicate key")
        if not _text(question.get("label")):
            errors.append(f"{where}: label must be a non-empty string")
        if "help" in question and not isinstance(question["help"], str):
            errors.append(f"{where}: help must be a string")
        kind = question.get("type")
        if kind not in QUESTION_TYPES:
            errors.append(f"{where}: type must be one of {sorted(QUESTION_TYPES)}")
        _check_question_options(question, kind, where, errors)
        if "when" in question:
            errors.extend(check_logic(question["when"], f"{where}.when", Scope(dict(seen))))
        seen[key] = question
    return seen


def _check_question_options(
    question: Mapping[str, Any], kind: Any, where: str, errors: list[str]
) -> None:
    options = question.get("options")
    if kind in ("enum", "list"):
        if not isinstance(options, list) or not options or not all(map(_text, options)):
            errors.append(f"{where}: options must be a non-empty list of strings")
        elif len(set(options)) != len(options):
            errors.append(f"{where}: options must be unique")
    elif options is not None:
        errors.append(f"{where}: options only apply to enum and list questions")
    numeric = [f for f in ("min", "max", "integer") if f in question]
    if kind != "number" and numeric:
        errors.append(f"{where}: {numeric} only apply to number questions")
    for bound in ("min", "max"):
        if bound in question and not _is_number(question[bound]):
            errors.append(f"{where}: {bound} must be a number")
    if "integer" in question and not isinstance(question["integer"], bool):
        errors.append(f"{where}: integer must be a boolean")


def _check_rules(
    rules: list[Any], questions: Mapping[str, Mapping[str, Any]], errors: list[str]
) -> None:
    ids: set[str] = set()
    fallback_of: dict[str, str] = {}  # target -> id of its unconditional decision
    scope = Scope(questions)
    for index, rule in enumerate(rules):
        where = f"rules[{index}]"
        if not isinstance(rule, dict):
            errors.append(f"{where}: must be an object")
            continue
        rule_id = rule.get("id")
        if not _text(rule_id):
            errors.append(f"{where}: id must be a non-empty string")
        else:
            where = f"rules[{rule_id}]"
            if rule_id in ids:
                errors.append(f"{where}: duplicate id")
            ids.add(rule_id)
        kind = rule.get("kind")
        if kind not in _RULE_FIELDS:
            errors.append(f"{where}: kind must be one of {sorted(_RULE_FIELDS)}")
            continue
        errors.extend(f"{where}: unknown field {f!r}" for f in rule if f not in _RULE_FIELDS[kind])
        if not isinstance(rule.get("article"), str) or not ARTICLE_PATTERN.match(rule["article"]):
            errors.append(f"{where}: article must cite one article, e.g. '第十一条'")
        if "when" in rule:
            errors.extend(check_logic(rule["when"], f"{where}.when", scope))
        if kind == "material":
            _check_material_rule(rule, where, errors)
        elif kind == "violation":
            _check_text_or_logic(rule.get("message"), f"{where}.message", scope, errors)
        else:
            _check_decision_rule(rule, where, scope, fallback_of, errors)
    errors.extend(
        f"decisions for {target!r} must end with a rule without 'when' (fallback)"
        for target, needs_fallback in DECISION_TARGETS.items()
        if needs_fallback and target not in fallback_of
    )


def _check_text_or_logic(value: Any, where: str, scope: Scope, errors: list[str]) -> None:
    if isinstance(value, dict):
        errors.extend(check_logic(value, where, scope))
    elif not _text(value):
        errors.append(f"{where}: must be a non-empty string or a JSON Logic expression")


def _check_material_rule(rule: Mapping[str, Any], where: str, errors: list[str]) -> None:
    material = rule.get("material")
    if not isinstance(material, dict):
        errors.append(f"{where}: material must be an object")
        return
    errors.extend(
        f"{where}: unknown material field {f!r}" for f in material if f not in _MATERIAL_FIELDS
    )
    if not _text(material.get("name")):
        errors.append(f"{where}: material.name must be a non-empty string")
    if not isinstance(material.get("required"), bool):
        errors.append(f"{where}: material.required must be a boolean")
    if not isinstance(material.get("base", False), bool):
        errors.append(f"{where}: material.base must be a boolean")
    _check_reason(rule, where, errors)


def _check_reason(rule: Mapping[str, Any], where: str, errors: list[str]) -> None:
    reason = rule.get("reason")
    if not _text(reason):
        errors.append(f"{where}: reason must be a non-empty string")
    elif REASON_SEPARATOR in reason:
        errors.append(f"{where}: reason must not contain {REASON_SEPARATOR!r} (merge separator)")


def _check_decision_rule(
    rule: Mapping[str, Any],
    where: str,
    scope: Scope,
    fallback_of: dict[str, str],
    errors: list[str],
) -> None:
    target = rule.get("target")
    if target not in DECISION_TARGETS:
        errors.append(f"{where}: target must be one of {sorted(DECISION_TARGETS)}")
        return
    if target in fallback_of:
        errors.append(f"{where}: unreachable, {fallback_of[target]!r} already decides {target}")
    if "when" not in rule:
        fallback_of[target] = str(rule.get("id"))
    _check_reason(rule, where, errors)
    if "value" not in rule:
        errors.append(f"{where}: value is required (a literal or a JSON Logic expression)")
        return
    value = rule["value"]
    if isinstance(value, dict | list):
        errors.extend(check_logic(value, f"{where}.value", scope))
    else:
        problem = decision_value_problem(target, value)
        if problem:
            errors.append(f"{where}.value: {problem}")


def decision_value_problem(target: str, value: Any) -> str | None:
    """Why ``value`` cannot be the result for ``target`` (None if it can)."""
    if target == "review_category":
        ok = value is None or (isinstance(value, int) and not isinstance(value, bool) and value > 0)
        return None if ok else "review_category must be a positive integer or null"
    if target == "onsite_waivable":
        return None if isinstance(value, bool) else "onsite_waivable must be a boolean"
    if target == "authority_level":
        return None if value in AUTHORITY_LEVELS else "authority_level must be '市' or '县'"
    return None if value is None or _text(value) else "licence_display must be a string or null"


def validate_answers(definition: dict[str, Any], answers: dict[str, Any]) -> list[dict[str, str]]:
    """Check answers against the questions: unknown keys, wrong types, values not in options.

    ``None`` means "not answered yet" and is accepted, so a half-filled form validates.
    Whether a question is relevant is not checked here: irrelevant answers are ignored
    by the evaluator. Raises ``GuideDefinitionError`` if the definition itself is broken.
    """
    definition_errors = validate_guide_definition(definition)
    if definition_errors:
        raise GuideDefinitionError(definition_errors)
    if not isinstance(answers, dict):
        return [{"field": _ANY, "message": "答案必须是对象（键为问题 key）"}]
    questions = {q["key"]: q for q in definition["questions"]}
    errors: list[dict[str, str]] = []
    for key, value in answers.items():
        question = questions.get(key)
        if question is None:
            errors.append({"field": str(key), "message": "未知的问题"})
        elif value is not None:
            message = _answer_problem(question, value)
            if message:
                errors.append({"field": key, "message": message})
    return errors


def _answer_problem(question: Mapping[str, Any], value: Any) -> str | None:
    kind = question["type"]
    if kind == "bool":
        return None if isinstance(value, bool) else "应为布尔值（是/否）"
    if kind == "number":
        return _number_problem(question, value)
    options: list[str] = question["options"]
    if kind == "enum":
        if not isinstance(value, str):
            return "应为单个选项（字符串）"
        return None if value in options else f"选项“{value}”不在允许范围内"
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return "应为选项列表（字符串数组）"
    unknown = [item for item in value if item not in options]
    if unknown:
        return f"选项{'、'.join(f'“{u}”' for u in unknown)}不在允许范围内"
    if len(set(value)) != len(value):
        return "选项重复"
    return None


def _number_problem(question: Mapping[str, Any], value: Any) -> str | None:
    if not _is_number(value) or not math.isfinite(value):
        return "应为数值"
    if question.get("integer") and value != int(value):
        return "应为整数"
    if "min" in question and value < question["min"]:
        return f"不得小于{question['min']}"
    if "max" in question and value > question["max"]:
        return f"不得大于{question['max']}"
    return None
