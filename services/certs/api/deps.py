"""Dependencies of the certs API: the use-case context and staff aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from services.certs.service.context import CertsContext
from services.runtime.auth import Principal, require_roles
from services.runtime.deps import HubDep
from services.runtime.problems import Problem


def get_context(hub: HubDep) -> CertsContext:
    return hub.extras["certs"]  # type: ignore[no-any-return]


async def _issuer_staff(
    principal: Annotated[Principal, Depends(require_roles("certs-issuer"))],
) -> Principal:
    # Issuing is an act of the org: its USCC on the token and a strong login.
    if not principal.uscc or not principal.assurance_at_least("L3"):
        raise Problem(403, "issuing needs staff of an org at L3 or above", code="forbidden")
    return principal


async def _pending_reader(
    principal: Annotated[Principal, Depends(require_roles("certs-issuer", "certs-admin"))],
) -> Principal:
    if not principal.assurance_at_least("L3"):
        raise Problem(403, "the pending queue needs staff at L3 or above", code="forbidden")
    return principal


ContextDep = Annotated[CertsContext, Depends(get_context)]
IssuerStaff = Annotated[Principal, Depends(_issuer_staff)]
# certs-admin sees every pending row (also those naming no org); issuers their org's.
PendingReader = Annotated[Principal, Depends(_pending_reader)]
CatalogueAdmin = Annotated[Principal, Depends(require_roles("certs-admin"))]

# 证照标识 in a path: its alphabet only (MOD 37,36 check may be '*'), so a NUL or other
# byte PostgreSQL refuses is a 422 here, not a database error.
CertificateId = Annotated[
    str, Path(max_length=120, pattern=r"^[0-9A-Za-z.*]+$", description="证照标识")
]
