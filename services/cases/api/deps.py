"""Dependencies of the cases API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.cases.casework import Casework
from services.cases.progress import PERSONAL_DATA_LEVEL
from services.runtime.auth import Principal, require_active_token
from services.runtime.deps import HubDep

# Personal data (DOMAIN §7): scope cases:read, a login at L3 or above, and a token the
# issuer still reports active (not revoked, logged out, its 授权代办 ended, its client
# disabled). Checked in that order: the local checks before the call to identity.
CasesReader = Annotated[
    Principal, Depends(require_active_token("cases:read", assurance=PERSONAL_DATA_LEVEL))
]


def get_casework(hub: HubDep) -> Casework:
    return hub.extras["casework"]  # type: ignore[no-any-return]


CaseworkDep = Annotated[Casework, Depends(get_casework)]
