"""Dependencies of the eval API: the use-case context and who may call."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.eval.service.context import EvalContext
from services.runtime.auth import Principal, require_active_token
from services.runtime.deps import HubDep
from services.runtime.problems import Problem

# Evaluator identity and ratings are personal data (DOMAIN §7): a login at L3 or above and a
# token the issuer still reports active.
PERSONAL_DATA_LEVEL = "L3"


def get_context(hub: HubDep) -> EvalContext:
    return hub.extras["eval"]  # type: ignore[no-any-return]


async def _applicant(
    principal: Annotated[Principal, Depends(require_active_token(assurance=PERSONAL_DATA_LEVEL))],
) -> Principal:
    if principal.subject_type not in ("natural", "legal"):
        raise Problem(403, "ratings are given by applicants", code="forbidden")
    return principal


async def _staff(
    principal: Annotated[Principal, Depends(require_active_token(assurance=PERSONAL_DATA_LEVEL))],
) -> Principal:
    if principal.subject_type != "staff":
        raise Problem(403, "差评 handling is done by staff", code="forbidden")
    return principal


ContextDep = Annotated[EvalContext, Depends(get_context)]
Applicant = Annotated[Principal, Depends(_applicant)]
Staff = Annotated[Principal, Depends(_staff)]
