"""Dependencies of the cases API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.cases.casework import Casework
from services.runtime.deps import HubDep


def get_casework(hub: HubDep) -> Casework:
    return hub.extras["casework"]  # type: ignore[no-any-return]


CaseworkDep = Annotated[Casework, Depends(get_casework)]
