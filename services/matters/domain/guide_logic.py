"""JSON Logic (https://jsonlogic.com) for guide conditions: evaluation and static checks.

Evaluation is delegated to the ``panzi-json-logic`` package (module ``json_logic``): it
follows json-logic-js semantics, including lazy ``and``/``or``/``if``, which rules rely
on to guard arithmetic behind ``missing`` checks. This module is the only place that
imports it, so the library can be swapped without touching the evaluator.

The static checker rejects unknown operators, ``var`` names that are not question keys
and string literals compared against a question that are not among its options — the
typical typo (e.g. half-width brackets) in a hand-written guide.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from json_logic import jsonLogic

# "log" is left out on purpose: conditions must have no side effects.
OPERATORS: frozenset[str] = frozenset(
    {
        "var", "missing", "missing_some",
        "if", "?:", "==", "===", "!=", "!==", "!", "!!", "and", "or",
        ">", ">=", "<", "<=", "max", "min", "+", "-", "*", "/", "%",
        "map", "filter", "reduce", "all", "none", "some", "merge", "in",
        "cat", "substr",
    }
)  # fmt: skip
_ITERATING: frozenset[str] = frozenset({"some", "all", "none", "filter", "map"})
_EQUALITY: frozenset[str] = frozenset({"==", "===", "!=", "!=="})


def evaluate(logic: Any, data: Mapping[str, Any]) -> Any:
    """Apply a JSON Logic expression to the (relevant) answers."""
    return jsonLogic(logic, dict(data))


def truthy(value: Any) -> bool:
    """JSON Logic truthiness: null, false, 0, NaN, "" and [] are false."""
    if value is None or value is False:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    if isinstance(value, int | float | str | list):
        return bool(value)
    return True


@dataclass(frozen=True)
class Scope:
    """What ``var`` may name at one point of an expression.

    ``questions`` are visible at the top level; inside ``some``/``all``/``none``/
    ``filter``/``map`` the data is one item of the list question ``item_of``; inside
    ``reduce`` it is ``{"current", "accumulator"}``.
    """

    questions: Mapping[str, Mapping[str, Any]]
    item_of: str | None = None
    in_reduce: bool = False

    @property
    def top(self) -> bool:
        return self.item_of is None and not self.in_reduce


def check_logic(node: Any, where: str, scope: Scope) -> list[str]:
    """Return structural errors of a JSON Logic expression ([] if fine)."""
    errors: list[str] = []
    _walk(node, where, scope, errors)
    return errors


def _args(raw: Any) -> list[Any]:
    return raw if isinstance(raw, list) else [raw]


def _walk(node: Any, where: str, scope: Scope, errors: list[str]) -> None:
    if isinstance(node, list):
        for index, item in enumerate(node):
            _walk(item, f"{where}[{index}]", scope, errors)
        return
    if not isinstance(node, dict):
        return
    if len(node) != 1:
        errors.append(f"{where}: a JSON Logic operation must have exactly one operator key")
        return
    op, raw = next(iter(node.items()))
    if op not in OPERATORS:
        errors.append(f"{where}: unknown JSON Logic operator {op!r}")
        return
    args = _args(raw)
    here = f"{where}.{op}"
    if op == "var":
        _check_var(args, here, scope, errors)
    elif op in ("missing", "missing_some"):
        _check_missing(op, args, here, scope, errors)
    elif op in _ITERATING:
        _check_iterating(args, here, scope, errors)
    elif op == "reduce":
        _check_reduce(args, here, scope, errors)
    else:
        _check_option_literals(op, args, here, scope, errors)
        for index, arg in enumerate(args):
            _walk(arg, f"{here}[{index}]", scope, errors)


def _check_var(args: list[Any], where: str, scope: Scope, errors: list[str]) -> None:
    name = args[0] if args else ""
    if not isinstance(name, str):
        errors.append(f"{where}: var name must be a literal string")
        return
    if scope.in_reduce:
        if name.split(".")[0] not in ("current", "accumulator"):
            errors.append(f"{where}: inside reduce only 'current'/'accumulator' exist")
    elif scope.item_of is not None:
        if name != "":
            errors.append(f"{where}: items of {scope.item_of!r} are strings, use var ''")
    elif name.split(".")[0] not in scope.questions:
        errors.append(f"{where}: var {name!r} is not a question key visible here")
    for index, default in enumerate(args[1:], start=1):
        _walk(default, f"{where}[{index}]", scope, errors)


def _check_missing(op: str, args: list[Any], where: str, scope: Scope, errors: list[str]) -> None:
    if op == "missing_some":
        keys = args[1] if len(args) > 1 and isinstance(args[1], list) else None
    else:
        keys = args[0] if args and isinstance(args[0], list) else args
    if keys is None or not all(isinstance(key, str) for key in keys):
        errors.append(f"{where}: keys must be literal strings")
        return
    if not scope.top:
        errors.append(f"{where}: only allowed at the top level of a condition")
        return
    errors.extend(
        f"{where}: {key!r} is not a question key visible here"
        for key in keys
        if key not in scope.questions
    )


def _list_question(node: Any, scope: Scope) -> str | None:
    """The list question a ``{"var": K}`` names, when iterating over it."""
    if scope.top and isinstance(node, dict) and set(node) == {"var"}:
        name = _args(node["var"])[0] if _args(node["var"]) else ""
        question = scope.questions.get(name) if isinstance(name, str) else None
        if question is not None and question.get("type") == "list":
            return str(name)
    return None


def _check_iterating(args: list[Any], where: str, scope: Scope, errors: list[str]) -> None:
    if len(args) < 2:
        errors.append(f"{where}: needs an array and a sub-condition")
        return
    _walk(args[0], f"{where}[0]", scope, errors)
    item_of = _list_question(args[0], scope)
    if item_of is None:
        errors.append(f"{where}: first argument must be {{'var': <list question>}}")
        return
    _walk(args[1], f"{where}[1]", Scope(scope.questions, item_of=item_of), errors)


def _check_reduce(args: list[Any], where: str, scope: Scope, errors: list[str]) -> None:
    if len(args) < 2:
        errors.append(f"{where}: needs an array and a reducer")
        return
    _walk(args[0], f"{where}[0]", scope, errors)
    _walk(args[1], f"{where}[1]", Scope(scope.questions, in_reduce=True), errors)
    for index, arg in enumerate(args[2:], start=2):
        _walk(arg, f"{where}[{index}]", scope, errors)


def _options_of(node: Any, scope: Scope) -> list[str] | None:
    """Options a value comes from: an enum question at top level, or a list item."""
    if not (isinstance(node, dict) and set(node) == {"var"}):
        return None
    name = _args(node["var"])[0] if _args(node["var"]) else ""
    if scope.item_of is not None and name == "":
        return list(scope.questions[scope.item_of].get("options", []))
    if scope.top and isinstance(name, str):
        question = scope.questions.get(name)
        if question is not None and question.get("type") == "enum":
            return list(question.get("options", []))
    return None


def _check_option_literals(
    op: str, args: list[Any], where: str, scope: Scope, errors: list[str]
) -> None:
    if len(args) != 2:
        return
    literals: list[str] = []
    options: list[str] | None = None
    if op in _EQUALITY:
        for value, other in ((args[0], args[1]), (args[1], args[0])):
            if isinstance(other, str) and (found := _options_of(value, scope)) is not None:
                options, literals = found, [other]
    elif op == "in":
        needle, haystack = args
        options = _options_of(needle, scope)
        if options is not None and isinstance(haystack, list):
            literals = [item for item in haystack if isinstance(item, str)]
        elif isinstance(needle, str) and (list_key := _list_question(haystack, scope)):
            # membership in a list answer, e.g. {"in": ["散装熟食", {"var": "经营项目"}]}
            options, literals = list(scope.questions[list_key]["options"]), [needle]
    if options is not None:
        errors.extend(
            f"{where}: {lit!r} is not an option" for lit in literals if lit not in options
        )
