"""Issuance rules: type, issuer and 照面 checks before a version is signed."""

from __future__ import annotations

import datetime as dt

import pytest

from services.certs.domain.canonical import HolderIdType
from services.certs.domain.identifiers import make_certificate_id
from services.certs.domain.issuance import IssuanceError, prepare_version
from services.certs.domain.types import (
    BUSINESS_LICENCE,
    FOOD_LICENCE,
    SHAOGUAN_MARKET_USCC,
    TEACHER_QUALIFICATION,
)
from tests.certs.support import CITIZEN_ID, OPERATOR_USCC, food_face

ISSUED = dt.date(2026, 3, 15)


def food_id(issuer: str = SHAOGUAN_MARKET_USCC, type_code: str = FOOD_LICENCE.type_code) -> str:
    return make_certificate_id(type_code, issuer, "2026000123", 1)


def test_version_metadata_comes_from_the_type_rules() -> None:
    face = food_face()
    version = prepare_version(
        FOOD_LICENCE,
        certificate_id=food_id(),
        issuer_name="韶关市市场监督管理局",
        issued_on=ISSUED,
        face=face,
    )
    assert version.number == face["licence_no"]
    assert (version.holder_name, version.holder_id) == (face["operator_name"], OPERATOR_USCC)
    assert version.holder_id_type is HolderIdType.USCC
    assert (version.valid_from, version.valid_until) == (ISSUED, dt.date(2031, 3, 14))
    assert (version.version, version.issuer_uscc) == (1, SHAOGUAN_MARKET_USCC)


def test_natural_person_holder_is_identified_by_citizen_id() -> None:
    issuer = next(iter(TEACHER_QUALIFICATION.issuing_orgs))
    face = {
        "holder_name": "赵六",
        "gender": "女",
        "birth_date": "1995-07-01",
        "citizen_id": CITIZEN_ID,
        "certificate_no": "20264402031000123",
        "qualification": "小学教师资格",
        "subject": "语文",
        "certifying_authority": "韶关市武江区教育局",
        "certified_on": "2026-06-30",
    }
    version = prepare_version(
        TEACHER_QUALIFICATION,
        certificate_id=make_certificate_id(TEACHER_QUALIFICATION.type_code, issuer, "9", 1),
        issuer_name="韶关市教育局",
        issued_on=ISSUED,
        face=face,
    )
    assert version.holder_id_type is HolderIdType.CITIZEN_ID
    assert version.holder_id == CITIZEN_ID and version.valid_until is None


@pytest.mark.parametrize(
    ("certificate_id", "face", "reason"),
    [
        ("1.2.156.3005.2.nonsense", food_face(), "certificate_id"),
        (food_id(type_code=BUSINESS_LICENCE.type_code), food_face(), "type_mismatch"),
        (food_id(issuer=OPERATOR_USCC), food_face(), "issuer_not_allowed"),
        (food_id(), food_face(business_items=[]), "face_invalid"),
    ],
)
def test_refusals_have_reasons(certificate_id: str, face: dict[str, object], reason: str) -> None:
    with pytest.raises(IssuanceError) as err:
        prepare_version(
            FOOD_LICENCE,
            certificate_id=certificate_id,
            issuer_name="x",
            issued_on=ISSUED,
            face=face,
        )
    assert err.value.reason == reason
    if reason == "face_invalid":
        assert [(e.path, e.keyword) for e in err.value.errors] == [("/business_items", "minItems")]
