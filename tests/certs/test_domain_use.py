"""授权用证 rules (pure): coverage by org, certificate or type, 办件, matter and period."""

from __future__ import annotations

import datetime as dt

import pytest

from services.certs.domain.use import (
    AuthorizationError,
    Grant,
    UseRequest,
    check_period,
    decide,
)

NOW = dt.datetime(2026, 12, 2, 8, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
ORG, OTHER = "12440203MB0A000120", "12440203MB0A000340"
REQ = UseRequest(org_uscc=ORG, lineage="T.I.S", type_code="T", use_cause="审查")


def grant(gid: str = "g", **kw: object) -> Grant:
    values: dict[str, object] = {
        "id": gid,
        "org_uscc": ORG,
        "use_cause": "审查",
        "lineage": "T.I.S",
        "type_code": None,
        "case_no": None,
        "matter_code": None,
        "valid_from": NOW - DAY,
        "valid_until": NOW + DAY,
    } | kw
    return Grant(**values)  # type: ignore[arg-type]


def test_allowed_only_when_everything_is_covered() -> None:
    assert decide([grant()], REQ, NOW).allowed
    assert decide([grant(lineage=None, type_code="T")], REQ, NOW).grant_id == "g"
    for miss in (
        {"org_uscc": OTHER},
        {"lineage": "T.I.OTHER"},
        {"lineage": None, "type_code": "U"},
        {"case_no": "C1"},
        {"matter_code": "M1"},
    ):
        assert decide([grant(**miss)], REQ, NOW).reason == "no-authorisation", miss
    scoped = UseRequest(**(REQ.__dict__ | {"case_no": "C1", "matter_code": "M1"}))
    assert decide([grant(case_no="C1", matter_code="M1")], scoped, NOW).allowed


def test_refusals_name_the_latest_covering_grant() -> None:
    revoked = grant("r", revoked_at=NOW - DAY / 2)
    expired = grant("e", valid_from=NOW - 3 * DAY, valid_until=NOW - DAY)
    later = grant("l", valid_from=NOW + DAY, valid_until=NOW + 2 * DAY)
    assert decide([revoked], REQ, NOW).reason == "authorisation-revoked"
    assert decide([revoked, expired], REQ, NOW).reason == "authorisation-expired"
    assert decide([expired, later], REQ, NOW).reason == "authorisation-not-yet"
    assert decide([revoked, grant("ok")], REQ, NOW).grant_id == "ok"
    # The period is half-open: at valid_until the grant has ended.
    assert not decide([grant(valid_until=NOW)], REQ, NOW).allowed


@pytest.mark.parametrize(
    ("start", "end"),
    [(NOW, NOW), (NOW - 2 * DAY, NOW - DAY), (NOW, NOW + 367 * DAY)],
)
def test_bad_periods(start: dt.datetime, end: dt.datetime) -> None:
    with pytest.raises(AuthorizationError):
        check_period(start, end, NOW)
    check_period(NOW, NOW + 366 * DAY, NOW)
