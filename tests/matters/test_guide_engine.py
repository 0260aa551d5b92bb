"""The generic guide engine: definition checks, answer checks and evaluation semantics."""

from __future__ import annotations

import ast
import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from services.matters.domain import guide
from services.matters.domain.guide import (
    GuideAnswersError,
    GuideDefinitionError,
    evaluate_guide,
    validate_answers,
    validate_guide_definition,
)
from services.matters.domain.reference import load_food_licence_guide


def tiny_guide() -> dict[str, Any]:
    """A minimal valid definition exercising every question type and rule kind."""
    return {
        "schema_version": 1,
        "questions": [
            {"key": "kind", "label": "类型", "type": "enum", "options": ["a", "b"]},
            {"key": "items", "label": "项目", "type": "list", "options": ["x", "y", "z"]},
            {"key": "flag", "label": "开关", "type": "bool",
             "when": {"===": [{"var": "kind"}, "a"]}},
            {"key": "size", "label": "面积", "type": "number", "min": 0},
            {"key": "people", "label": "人数", "type": "number", "integer": True, "max": 10000},
        ],
        "rules": [
            {"id": "extra", "kind": "material", "article": "第二条", "when": {"var": "flag"},
             "material": {"name": "附加材料", "required": True}, "reason": "开关为是"},
            {"id": "base", "kind": "material", "article": "第一条",
             "material": {"name": "申请书", "required": True, "base": True}, "reason": "都要"},
            {"id": "extra_again", "kind": "material", "article": "第三条",
             "when": {"in": ["x", {"var": "items"}]},
             "material": {"name": "附加材料", "required": False}, "reason": "选了x"},
            {"id": "too_small", "kind": "violation", "article": "第四条",
             "when": {"and": [{"!": {"missing": ["size"]}}, {"<": [{"var": "size"}, 30]}]},
             "message": {"cat": ["面积", {"var": "size"}, "不足"]}},
            {"id": "waive_b", "kind": "decision", "target": "onsite_waivable", "article": "第五条",
             "when": {"===": [{"var": "kind"}, "b"]}, "value": True, "reason": "b可免"},
            {"id": "inspect", "kind": "decision", "target": "onsite_waivable", "article": "第五条",
             "value": False, "reason": "须核查"},
            {"id": "city", "kind": "decision", "target": "authority_level", "article": "第六条",
             "when": {"some": [{"var": "items"}, {"===": [{"var": ""}, "z"]}]},
             "value": "市", "reason": "z由市审"},
            {"id": "county", "kind": "decision", "target": "authority_level", "article": "第六条",
             "value": "县", "reason": "其余县审"},
            {"id": "category", "kind": "decision", "target": "review_category", "article": "第七条",
             "when": {"var": "kind"}, "value": {"if": [{"===": [{"var": "kind"}, "a"]}, 1, 2]},
             "reason": "按类型"},
        ],
    }  # fmt: skip


# --- validate_guide_definition -----------------------------------------------------------


def test_tiny_and_reference_guides_are_valid() -> None:
    assert validate_guide_definition(tiny_guide()) == []
    assert validate_guide_definition(load_food_licence_guide()) == []


def _broken(path: str, value: Any) -> dict[str, Any]:
    """tiny_guide() with one element replaced; path like 'rules.0.article'."""
    definition = tiny_guide()
    *parents, last = path.split(".")
    node: Any = definition
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return definition


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        ("not a dict", "definition must be an object"),
        ({"questions": [], "rules": []}, "questions must be a non-empty list"),
        (_broken("questions.1.key", "kind"), "questions[kind]: duplicate key"),
        (_broken("questions.1.key", "a.b"), "key must be a non-empty string without '.'"),
        (_broken("questions.0.type", "text"), "type must be one of"),
        (_broken("questions.0.options", []), "options must be a non-empty list of strings"),
        (_broken("questions.0.options", ["a", "a"]), "options must be unique"),
        (_broken("questions.2.options", ["yes"]), "options only apply to enum and list"),
        (_broken("questions.0.min", 1), "only apply to number questions"),
        (_broken("questions.0.when", {"var": "size"}), "var 'size' is not a question key visible"),
        (_broken("questions.0.colour", "red"), "unknown field 'colour'"),
        (_broken("rules.0.article", "第2条"), "article must cite one article"),
        (_broken("rules.0.article", "第一条、第二条"), "article must cite one article"),
        (_broken("rules.1.id", "extra"), "rules[extra]: duplicate id"),
        (_broken("rules.0.kind", "hint"), "kind must be one of"),
        (_broken("rules.0.when", {"regex": ["a", "b"]}), "unknown JSON Logic operator 'regex'"),
        (_broken("rules.0.when", {"log": "x"}), "unknown JSON Logic operator 'log'"),
        (_broken("rules.0.when", {"var": "nope"}), "var 'nope' is not a question key"),
        (_broken("rules.0.when", {"===": [{"var": "kind"}, "c"]}), "'c' is not an option"),
        (_broken("rules.0.when", {"in": [{"var": "kind"}, ["a", "q"]]}), "'q' is not an option"),
        (_broken("rules.0.when", {"in": ["w", {"var": "items"}]}), "'w' is not an option"),
        (
            _broken("rules.0.when", {"some": [{"var": "items"}, {"===": [{"var": ""}, "w"]}]}),
            "'w' is not an option",
        ),
        (
            _broken("rules.0.when", {"some": [{"var": "kind"}, {"var": ""}]}),
            "first argument must be {'var': <list question>}",
        ),
        (_broken("rules.0.when", {"==": [1, 1], "!=": [1, 2]}), "exactly one operator key"),
        (_broken("rules.0.material", {"name": "x"}), "material.required must be a boolean"),
        (_broken("rules.0.reason", ""), "reason must be a non-empty string"),
        (_broken("rules.0.reason", "甲；乙"), "reason must not contain '；'"),
        (_broken("rules.3.message", 42), "must be a non-empty string or a JSON Logic"),
        (_broken("rules.7.value", "省"), "authority_level must be '市' or '县'"),
        (_broken("rules.5.value", "no"), "onsite_waivable must be a boolean"),
        (_broken("rules.8.value", 0), "review_category must be a positive integer or null"),
        (_broken("rules.8.target", "fee"), "target must be one of"),
    ],
)
def test_structural_errors_are_reported(definition: Any, expected: str) -> None:
    errors = validate_guide_definition(definition)
    assert any(expected in error for error in errors), errors


def test_fallback_decisions_are_required_and_must_come_last() -> None:
    no_fallback = tiny_guide()
    no_fallback["rules"] = [r for r in no_fallback["rules"] if r["id"] != "county"]
    assert any(
        "'authority_level' must end with" in e for e in validate_guide_definition(no_fallback)
    )
    unreachable = tiny_guide()
    rules = unreachable["rules"]
    rules.insert(4, rules.pop(5))  # 'inspect' (no when) now precedes 'waive_b'
    assert any("rules[waive_b]: unreachable" in e for e in validate_guide_definition(unreachable))


def test_reference_guide_option_typo_is_caught() -> None:
    definition = load_food_licence_guide()
    rule = next(r for r in definition["rules"] if r["id"] == "m30_home_brew_report")
    rule["when"] = {"in": ["自制饮品制售(含自酿酒)", {"var": "经营项目"}]}  # half-width brackets
    assert validate_guide_definition(definition) == [
        "rules[m30_home_brew_report].when.in: '自制饮品制售(含自酿酒)' is not an option"
    ]


# --- validate_answers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "field", "message"),
    [
        ({"colour": "red"}, "colour", "未知的问题"),
        ({"kind": "c"}, "kind", "选项“c”不在允许范围内"),
        ({"kind": ["a"]}, "kind", "应为单个选项（字符串）"),
        ({"items": "x"}, "items", "应为选项列表（字符串数组）"),
        ({"items": ["x", "w"]}, "items", "选项“w”不在允许范围内"),
        ({"items": ["x", "x"]}, "items", "选项重复"),
        ({"flag": "是"}, "flag", "应为布尔值（是/否）"),
        ({"flag": 1}, "flag", "应为布尔值（是/否）"),
        ({"size": "30"}, "size", "应为数值"),
        ({"size": True}, "size", "应为数值"),
        ({"size": float("nan")}, "size", "应为数值"),
        ({"size": -1}, "size", "不得小于0"),
        ({"people": 10.5}, "people", "应为整数"),
        ({"people": 10001}, "people", "不得大于10000"),
    ],
)
def test_answer_errors(answers: dict[str, Any], field: str, message: str) -> None:
    assert validate_answers(tiny_guide(), answers) == [{"field": field, "message": message}]


def test_valid_and_partial_answers_pass() -> None:
    complete = {"kind": "a", "items": ["x", "z"], "flag": False, "size": 30.5, "people": 12}
    assert validate_answers(tiny_guide(), complete) == []
    assert validate_answers(tiny_guide(), {}) == []
    assert validate_answers(tiny_guide(), {"kind": None, "items": []}) == []


def test_answers_must_be_an_object() -> None:
    assert validate_answers(tiny_guide(), ["kind"]) == [  # type: ignore[arg-type]
        {"field": "*", "message": "答案必须是对象（键为问题 key）"}
    ]


def test_validate_answers_rejects_a_broken_definition() -> None:
    with pytest.raises(GuideDefinitionError):
        validate_answers(_broken("rules.0.article", "x"), {"kind": "a"})


def test_every_problem_is_reported_in_answer_order() -> None:
    errors = validate_answers(tiny_guide(), {"size": "big", "nope": 1, "kind": "z"})
    assert [e["field"] for e in errors] == ["size", "nope", "kind"]


# --- evaluate_guide ----------------------------------------------------------------------


def test_evaluate_refuses_invalid_answers_and_definitions() -> None:
    with pytest.raises(GuideAnswersError) as caught:
        evaluate_guide(tiny_guide(), {"kind": "c"})
    assert caught.value.errors == [{"field": "kind", "message": "选项“c”不在允许范围内"}]
    with pytest.raises(GuideDefinitionError):
        evaluate_guide(_broken("rules.0.when", {"nope": 1}), {"kind": "a"})


def test_base_materials_first_and_duplicates_merged() -> None:
    out = evaluate_guide(tiny_guide(), {"kind": "a", "flag": True, "items": ["x"]}).to_dict()
    assert out["materials"] == [
        {"name": "申请书", "required": True, "reason": "第一条：都要"},
        {"name": "附加材料", "required": True, "reason": "第二条：开关为是；第三条：选了x"},
    ]


def test_merged_material_is_optional_only_if_every_rule_says_so() -> None:
    out = evaluate_guide(tiny_guide(), {"kind": "b", "items": ["x"]}).to_dict()
    assert out["materials"][1] == {"name": "附加材料", "required": False, "reason": "第三条：选了x"}


def test_irrelevant_answers_are_ignored() -> None:
    # 'flag' is only asked when kind == "a": for "b" its answer must not add a material
    out = evaluate_guide(tiny_guide(), {"kind": "b", "flag": True}).to_dict()
    assert [m["name"] for m in out["materials"]] == ["申请书"]


def test_first_matching_decision_wins_and_values_may_be_expressions() -> None:
    result = evaluate_guide(tiny_guide(), {"kind": "b", "items": ["z"]})
    assert (result.onsite_waivable, result.onsite_reason) == (True, "第五条：b可免")
    assert (result.authority_level, result.authority_reason) == ("市", "第六条：z由市审")
    assert result.review_category == 2
    assert result.licence_display is None
    fallback = evaluate_guide(tiny_guide(), {})
    assert (fallback.onsite_waivable, fallback.authority_level) == (False, "县")
    assert fallback.review_category is None
    assert "waive_b" not in fallback.fired_rules and "inspect" in fallback.fired_rules


def test_violation_messages_may_be_computed_and_missing_inputs_do_not_fire() -> None:
    out = evaluate_guide(tiny_guide(), {"size": 29.5}).to_dict()
    assert out["violations"] == [{"article": "第四条", "message": "面积29.5不足"}]
    assert evaluate_guide(tiny_guide(), {}).to_dict()["violations"] == []
    assert evaluate_guide(tiny_guide(), {"size": 30}).to_dict()["violations"] == []


def test_decision_expression_of_the_wrong_type_is_a_definition_error() -> None:
    definition = _broken("rules.8.value", {"cat": ["第", {"var": "kind"}]})
    assert validate_guide_definition(definition) == []  # only known when evaluated
    with pytest.raises(GuideDefinitionError, match="review_category must be"):
        evaluate_guide(definition, {"kind": "a"})


def test_result_is_frozen_and_inputs_untouched() -> None:
    definition, answers = tiny_guide(), {"kind": "a", "items": ["x"], "flag": True}
    before = (copy.deepcopy(definition), copy.deepcopy(answers))
    result = evaluate_guide(definition, answers)
    assert (definition, answers) == before
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.review_category = 3  # type: ignore[misc]


def test_domain_modules_import_no_io_libraries() -> None:
    """guide*.py stay pure: stdlib (no I/O modules), the JSON Logic library, own modules."""
    allowed = {"__future__", "collections", "dataclasses", "math", "re", "typing", "json_logic"}
    folder = Path(guide.__file__).parent
    for path in sorted(folder.glob("guide*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = {(node.module or "").split(".")[0]}
            else:
                continue
            assert roots <= allowed, f"{path.name} imports {roots - allowed}"
        assert "open(" not in path.read_text(encoding="utf-8")
