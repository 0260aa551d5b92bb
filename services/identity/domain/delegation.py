"""授权代办: a legal person (法人) authorises a natural person (自然人) to act for it.

The token then names the legal person as ``sub`` and the natural person in ``act``
(RFC 8693 §4.1): resource servers see whom the action binds and who performed it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Delegation:
    """授权代办 record as the rules see it."""

    id: str
    legal_account_id: str
    agent_account_id: str
    scopes: frozenset[str]
    starts_at: datetime
    ends_at: datetime
    revoked_at: datetime | None = None

    def active_at(self, now: datetime) -> bool:
        return self.revoked_at is None and self.starts_at <= now < self.ends_at

    def permitted_scopes(self, requested: Iterable[str]) -> set[str]:
        """Scopes the agent may use for the company: ``openid``/``profile`` always (they
        only describe the login), business scopes only if the grant lists them."""
        always = {"openid", "profile"}
        return {s for s in requested if s in always or s in self.scopes}


def actor_claim(agent_subject: str, id_ref: str | None) -> dict[str, str]:
    """The RFC 8693 ``act`` claim naming the natural person who acts."""
    claim = {"sub": agent_subject, "sub_type": "natural"}
    if id_ref:
        claim["id_ref"] = id_ref
    return claim
