"""A rectification row as the domain's value, and back."""

from __future__ import annotations

from services.eval.domain import rectification as rect
from services.eval.store.tables import RectificationRow


def as_domain(row: RectificationRow) -> rect.Rectification:
    return rect.Rectification(
        rect.State(row.state),
        verify_due=row.verify_due,
        rectify_due=row.rectify_due,
        visit_due=row.visit_due,
        due_from=row.due_from,
        provisional=bool(row.due_provisional),
    )


def store(row: RectificationRow, value: rect.Rectification) -> None:
    row.state = str(value.state)
    row.verify_due, row.rectify_due, row.visit_due = (
        value.verify_due,
        value.rectify_due,
        value.visit_due,
    )
    row.due_from, row.due_provisional = value.due_from, value.provisional
