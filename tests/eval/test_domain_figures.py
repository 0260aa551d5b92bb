"""GB/T 39735 rates from counts."""

from __future__ import annotations

from services.eval.domain.figures import Counts, rates


def test_rates() -> None:
    r = rates(
        Counts(
            total=10,
            satisfied=8,
            bad=2,
            bad_rectified=1,
            named_bad=1,
            named_bad_visited=1,
            proactive=7,
        )
    )
    assert r == {
        "satisfaction_rate": 0.8,
        "bad_rate": 0.2,
        "rectification_rate": 0.5,
        "return_visit_rate": 1.0,
        "proactive_rate": 0.7,
    }


def test_no_ratings_no_rates() -> None:
    assert set(rates(Counts()).values()) == {None}
