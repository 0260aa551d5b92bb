"""认证等级 (levels of assurance) L2–L5 as used in 广东, carried as the ``acr`` claim.

- L2 self-declared: the ID number only passed the format/check-digit test;
- L3 实名核验: name + ID number matched the population (or legal-person) base;
- L4 real person (face) + name + document agree;
- L5 digital certificate or in-person check.
"""

from __future__ import annotations

LEVELS: tuple[str, ...] = ("L2", "L3", "L4", "L5")


def is_level(value: str) -> bool:
    return value in LEVELS


def rank(level: str) -> int:
    """Position of a level; unknown values rank below L2 (never satisfy anything)."""
    return LEVELS.index(level) if level in LEVELS else -1


def satisfies(have: str, want: str) -> bool:
    return rank(have) >= rank(want) >= 0


def requested_level(acr_values: str | None) -> str | None:
    """The level a client asks for with ``acr_values`` (space separated, in preference
    order per OIDC). We honour the lowest level listed that we know: a client listing
    ``L3 L4`` accepts either, so the weakest is enough."""
    if not acr_values:
        return None
    known = [v for v in acr_values.split() if v in LEVELS]
    if not known:
        return None
    return min(known, key=rank)


def session_level(account_level: str, method_cap: str) -> str:
    """A login reaches the account's proven level, but no more than the method allows
    (a password cannot prove a face match)."""
    return account_level if rank(account_level) <= rank(method_cap) else method_cap
