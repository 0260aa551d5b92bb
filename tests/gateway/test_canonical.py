"""The canonical 办件 event: normalisation and per-field errors (pure, no I/O)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from contracts import default_contracts
from gateway.adapters.intake.canonical import normalise
from tests.peers.county_system import COUNTIES, CountySystem, malformed


def _event(**changes: Any) -> dict[str, Any]:
    event = CountySystem(COUNTIES[0], seed=7).case()[0]
    event.update(changes)
    return event


def _paths(raw: Any) -> set[str]:
    return {e.path for e in normalise(raw, source_system="s", channel="rest").errors}


def test_valid_event_is_normalised_and_meets_the_contract() -> None:
    raw = _event(occurred_at="2026-03-02T09:30:00+08:00", case_type=2, seq="1")
    raw["applicant"] = dict(raw["applicant"], id_no=raw["applicant"]["id_no"].lower())
    out = normalise(raw, source_system="county-a", channel="soap")
    assert out.ok, out.errors
    event = out.event
    assert event is not None
    assert event["occurred_at"] == "2026-03-02T01:30:00.000000Z"
    assert event["case_type"] == "2" and event["seq"] == 1
    assert event["source_system"] == "county-a" and event["channel"] == "soap"
    assert event["implementation_code"] == event["case_no"][:31]
    assert event["applicant"]["id_no"] == raw["applicant"]["id_no"].upper()
    assert default_contracts().get("hub.case.event.received").errors(event) == []


def test_chinese_aliases_and_derived_implementation_code() -> None:
    raw = _event(stage="受理", case_type="承诺件")
    raw.pop("implementation_code")
    raw["applicant"] = (
        dict(raw["applicant"], type="0")
        if raw["applicant"]["type"] == "natural"
        else raw["applicant"]
    )
    event = normalise(raw, source_system="s", channel="file").event
    assert event is not None
    assert event["stage"] == "accepted" and event["case_type"] == "2"
    assert event["implementation_code"] == event["case_no"][:31]


@pytest.mark.parametrize(
    ("alias", "stage"),
    [("容缺受理", "conditionally_accepted"), ("退件", "returned"), ("returned", "returned")],
)
def test_new_stages_and_their_chinese_aliases_meet_the_contract(alias: str, stage: str) -> None:
    out = normalise(_event(stage=alias, result=None), source_system="s", channel="rest")
    assert out.ok, out.errors
    assert out.event is not None and out.event["stage"] == stage
    assert default_contracts().get("hub.case.event.received").errors(out.event) == []


@pytest.mark.parametrize("path, item", malformed(CountySystem(COUNTIES[1], seed=3).case()[0]))
def test_each_malformed_item_names_the_bad_field(path: str, item: Any) -> None:
    assert path in _paths(item)


def test_errors_never_quote_the_submitted_value() -> None:
    raw = _event()
    bad = raw["applicant"]["id_no"][:17] + ("1" if raw["applicant"]["id_no"][17] == "0" else "0")
    raw["applicant"] = {"type": "natural", "id_type": "身份证", "id_no": bad, "name": "张三"}
    errors = normalise(raw, source_system="s", channel="rest").errors
    assert [e.path for e in errors] == ["applicant.id_no"]
    assert bad not in errors[0].message and bad[:10] not in errors[0].message


def test_result_rules_by_stage() -> None:
    assert "result" in _paths(_event(stage="decided", result=None))
    assert "result" in _paths(_event(stage="accepted", result={"decision": "approved"}))
    assert "result.decision" in _paths(_event(stage="concluded", result={"decision": "maybe"}))
    ok = normalise(
        _event(stage="concluded", result={"decision": "准予", "certificate_data": '{"a": 1}'}),
        source_system="s",
        channel="file",
    ).event
    assert ok is not None and ok["result"]["decision"] == "approved"
    assert ok["result"]["certificate_data"] == {"a": 1}


def test_submitted_needs_an_applicant_and_legal_persons_need_a_uscc() -> None:
    assert "applicant" in _paths(_event(stage="submitted", applicant=None))
    legal = {
        "type": "legal",
        "id_type": "统一社会信用代码",
        "id_no": "91440204000000001X",
        "name": "x",
    }
    assert "applicant.id_no" in _paths(_event(applicant=legal))


def test_future_and_wrong_types_are_rejected_without_exceptions() -> None:
    rng = random.Random(5)
    future = datetime(2999, 1, 1, tzinfo=UTC).isoformat()
    assert "occurred_at" in _paths(_event(occurred_at=future))
    garbage = [None, 1, "x", [], {"event_id": {"a": 1}}, {"seq": True}, {"applicant": "me"}]
    for raw in [*garbage, {k: rng.random() for k in _event()}]:
        out = normalise(raw, source_system="s", channel="rest")
        assert not out.ok and out.errors
