"""Contracts stay true: schemas are valid, the AsyncAPI and OpenAPI exports are current."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from contracts import EVENTS_DIR, EventContracts, UnknownEventType, default_contracts
from hub.asyncapi import build, is_current
from hub.openapi import stale


def test_every_schema_is_valid_and_names_its_topic_and_types() -> None:
    paths = sorted(EVENTS_DIR.glob("*.schema.json"))
    assert paths
    for path in paths:
        schema = json.loads(path.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
        assert schema["x-topic"].startswith("hub."), path.name
        assert schema["x-event-types"], path.name
        # Consumers must tolerate unknown fields: never closed at the top level.
        assert schema.get("additionalProperties", True) is not False, path.name


def test_registry_validates_and_refuses_unknown_types() -> None:
    contracts = default_contracts()
    contract = contracts.get("hub.matter.published")
    assert contract.topic == "hub.matters"
    assert contract.errors({"implementation_code": "x"})  # missing fields, bad pattern
    with pytest.raises(UnknownEventType):
        contracts.get("hub.no.such.event")


def test_unknown_fields_are_tolerated() -> None:
    contract = EventContracts().get("hub.matter.withdrawn")
    data = {
        "implementation_code": "11440200MB2C12345X0000000000001",
        "version": 2,
        "name": "x",
        "status": "withdrawn",
        "added_in_a_later_version": True,
    }
    assert contract.errors(data) == []


def test_asyncapi_document_is_current() -> None:
    assert is_current(), "run `hub contracts asyncapi` and commit contracts/asyncapi.yaml"
    doc = build()
    addresses = {c["address"] for c in doc["channels"].values()}  # type: ignore[union-attr]
    assert addresses == default_contracts().topics()


def test_exported_openapi_documents_are_current() -> None:
    assert stale() == [], "run `make openapi` and commit contracts/openapi/"


def test_fast_path_and_authoritative_validator_agree_on_verdicts() -> None:
    contract = default_contracts().get("hub.case.event.received")
    good = {
        "event_id": "e-1",
        "source_system": "county",
        "channel": "rest",
        "case_no": "11440200MB2C12345W0001170080000202609280001",
        "implementation_code": "11440200MB2C12345W0001170080000",
        "stage": "accepted",
        "occurred_at": "2026-09-28T09:00:00+08:00",
    }
    assert contract.errors(good) == []
    for bad in (
        {**good, "stage": "lost"},
        {**good, "case_no": "short"},
        {k: v for k, v in good.items() if k != "event_id"},
        {**good, "seq": -1},
    ):
        assert contract.errors(bad), bad
        assert not contract.fast.is_valid(bad)


def test_event_type_constants_name_exactly_the_schemas() -> None:
    from contracts import event_types

    contracts = default_contracts()
    assert event_types.all_event_types() == set(contracts.types())
    assert event_types.all_topics() == contracts.topics()
