"""授权用证: who may use a holder's certificate, for what, and until when (pure rules).

The holder authorises one org (USCC) for a stated 用证事由, for one certificate (all its
versions: the lineage) or for every certificate of one type, optionally only within one 办件
or one matter, for a period. An org's system may use a certificate only when one active
authorisation covers (holder, org, certificate, 办件/matter, now). Everything else is refused
with a machine-readable ``reason`` that the holder's use log shows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

# The longest period a holder may grant in one authorisation (a year, as 授权 is per purpose).
MAX_PERIOD = dt.timedelta(days=366)


class AuthorizationError(ValueError):
    """An authorisation the holder may not create; ``reason`` for problem+json."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Grant:
    """授权: one holder's consent for one org (the stored row, as the rules see it)."""

    id: str
    org_uscc: str
    use_cause: str
    lineage: str | None  # one certificate, every version
    type_code: str | None  # or every certificate of one type
    case_no: str | None
    matter_code: str | None
    valid_from: dt.datetime
    valid_until: dt.datetime
    revoked_at: dt.datetime | None = None

    def active_at(self, now: dt.datetime) -> bool:
        return self.revoked_at is None and self.valid_from <= now < self.valid_until


@dataclass(frozen=True)
class UseRequest:
    """One fetch by an org's system: always with the 用证事由, optionally for a 办件/matter."""

    org_uscc: str
    lineage: str
    type_code: str
    use_cause: str
    case_no: str | None = None
    matter_code: str | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # authorised | no-authorisation | authorisation-expired | … (see decide)
    grant_id: str | None = None


def check_period(valid_from: dt.datetime, valid_until: dt.datetime, now: dt.datetime) -> None:
    """A period must end after it starts, end in the future, and last at most MAX_PERIOD."""
    if valid_until <= valid_from:
        raise AuthorizationError("period", "valid_until must be after valid_from")
    if valid_until <= now:
        raise AuthorizationError("period", "valid_until must be in the future")
    if valid_until - valid_from > MAX_PERIOD:
        raise AuthorizationError("period", "an authorisation lasts at most 366 days")


def _covers(grant: Grant, req: UseRequest) -> bool:
    if grant.org_uscc != req.org_uscc:
        return False
    if grant.lineage is not None and grant.lineage != req.lineage:
        return False
    if grant.type_code is not None and grant.type_code != req.type_code:
        return False
    if grant.case_no is not None and grant.case_no != req.case_no:
        return False
    return grant.matter_code is None or grant.matter_code == req.matter_code


def decide(grants: Iterable[Grant], req: UseRequest, now: dt.datetime) -> Decision:
    """Allowed under the first active grant covering the request. Otherwise the refusal names
    the state of the latest covering grant (``grants`` oldest first), so the holder sees why
    in the use log: ``authorisation-revoked``, ``-expired`` or ``-not-yet``; with no covering
    grant at all, ``no-authorisation``."""
    refusal = "no-authorisation"
    for grant in grants:
        if not _covers(grant, req):
            continue
        if grant.active_at(now):
            return Decision(True, "authorised", grant.id)
        if grant.revoked_at is not None:
            refusal = "authorisation-revoked"
        elif now >= grant.valid_until:
            refusal = "authorisation-expired"
        else:
            refusal = "authorisation-not-yet"
    return Decision(False, refusal)
