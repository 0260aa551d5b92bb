"""角色授予规则 (who may grant which staff roles): pure rules, no I/O.

Deny by default. A staff member may grant or remove a role only when

- one of the roles they hold lists it in the allow-list (``grants``), and
- they hold that role themselves (nobody hands out more than they have), and
- the target is in their own org, unless they hold ``identity-superadmin``;

``identity-superadmin`` itself is never granted or removed through the API, only by an
operator with the CLI (``hub identity users …``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

SUPERADMIN = "identity-superadmin"
ADMIN = "identity-admin"

# Every staff role a service checks (an org's own staff work): cases, matters, certs, eval.
_WORK_ROLES = (
    "case-officer",
    "certs-issuer",
    "eval-handler",
    "eval-rectifier",
    "eval-reviewer",
    "eval-window",
    "hotline-operator",
    "matters-editor",
    "matters-approver",
    "ops",
)
# The default allow-list (setting ``HUB_IDENTITY_ROLE_GRANTS`` replaces it): an org's
# identity-admin staffs its own org; a superadmin may also appoint org admins anywhere.
DEFAULT_GRANTS: dict[str, tuple[str, ...]] = {
    ADMIN: (ADMIN, *_WORK_ROLES),
    # Catalogue administrators (事项目录, 证照目录) act across orgs: appointed centrally.
    SUPERADMIN: (ADMIN, "matters-admin", "certs-admin", *_WORK_ROLES),
}


@dataclass(frozen=True)
class RoleDecision:
    allowed: bool
    reason: str = ""
    refused: tuple[str, ...] = ()
    code: str = ""  # problem code when refused: forbidden | role-not-grantable


def grantable(held: Iterable[str], grants: Mapping[str, Iterable[str]]) -> frozenset[str]:
    """The roles a holder of ``held`` may grant or remove."""
    mine = frozenset(held)
    listed = {role for r in mine for role in grants.get(r, ())}
    return frozenset(listed & mine) - {SUPERADMIN}


def decide_change(
    *,
    actor_roles: Iterable[str],
    actor_org: str | None,
    target_org: str,
    before: Iterable[str],
    after: Iterable[str],
    grants: Mapping[str, Iterable[str]],
) -> RoleDecision:
    """May an actor change a staff member's roles from ``before`` to ``after``?"""
    held = frozenset(actor_roles)
    if SUPERADMIN not in held and actor_org != target_org:
        return RoleDecision(
            False, "roles may only be managed in the administrator's own org", code="forbidden"
        )
    old, new = frozenset(before), frozenset(after)
    changed = old ^ new
    if SUPERADMIN in changed or (SUPERADMIN in old and SUPERADMIN not in held):
        return RoleDecision(
            False, f"{SUPERADMIN} is managed only with the operator CLI", code="role-not-grantable"
        )
    refused = tuple(sorted(changed - grantable(held, grants)))
    if refused:
        return RoleDecision(
            False, "not allowed to grant or remove these roles", refused, "role-not-grantable"
        )
    return RoleDecision(True)
