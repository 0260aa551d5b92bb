"""12345 热线: the operator enters a rating on the applicant's behalf, recorded as such.

The operator names the applicant as the caller identified themself (公民身份号码 or USCC);
the number is turned into the same blind index the tokens carry and never stored."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from services.eval.domain.rating import Channel
from services.eval.service import rating
from services.eval.service.context import EvalContext
from services.eval.store.tables import EvaluationRow
from services.runtime.auth import Principal
from services.runtime.db import Database
from services.runtime.pii import citizen_id_ref
from services.runtime.problems import Problem

OPERATOR_ROLE = "hotline-operator"


async def enter(
    ctx: EvalContext,
    db: Database,
    operator: Principal,
    *,
    case_no: str,
    applicant_type: str,
    applicant_id: str,
    level: int,
    indicators: Mapping[str, int],
    categories: Sequence[str],
    comment: str | None,
    anonymous: bool,
    contact_phone: str | None,
) -> EvaluationRow:
    if not operator.has_role(OPERATOR_ROLE):
        raise Problem(403, "needs role hotline-operator", code="forbidden")
    ref = citizen_id_ref(ctx.cipher, applicant_id) if applicant_type == "natural" else applicant_id
    return await rating.rate_as(
        ctx,
        db,
        (applicant_type, ref),
        f"hotline:{operator.subject}",
        case_no=case_no,
        channel=str(Channel.HOTLINE),
        level=level,
        indicators=indicators,
        categories=categories,
        comment=comment,
        anonymous=anonymous,
        contact_phone=contact_phone,
        entered_by=operator.subject,
    )
