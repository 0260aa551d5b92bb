"""The role allow-list rules (services/identity/domain/roles.py), pure."""

from __future__ import annotations

from services.identity.domain.roles import DEFAULT_GRANTS, SUPERADMIN, decide_change, grantable
from services.identity.settings import IdentitySettings

ORG, OTHER = "11440203MB2C3D4E57", "11440204MB2C3D4E5X"


def test_grantable_is_listed_and_held() -> None:
    held = ["identity-admin", "case-officer"]
    assert grantable(held, DEFAULT_GRANTS) == {"identity-admin", "case-officer"}
    assert grantable(["case-officer"], DEFAULT_GRANTS) == frozenset()  # lists nothing
    assert SUPERADMIN not in grantable([SUPERADMIN, "identity-admin"], DEFAULT_GRANTS)


def test_decisions() -> None:
    admin = {"actor_roles": ["identity-admin", "case-officer"], "grants": DEFAULT_GRANTS}
    ok = decide_change(**admin, actor_org=ORG, target_org=ORG, before=[], after=["case-officer"])
    assert ok.allowed
    other = decide_change(**admin, actor_org=ORG, target_org=OTHER, before=[], after=[])
    assert not other.allowed and other.code == "forbidden"
    lacking = decide_change(
        **admin, actor_org=ORG, target_org=ORG, before=[], after=["eval-reviewer"]
    )
    assert not lacking.allowed and lacking.refused == ("eval-reviewer",)
    # Removing is a change too: nobody strips a role they could not grant.
    strip = decide_change(
        **admin, actor_org=ORG, target_org=ORG, before=["eval-reviewer"], after=[]
    )
    assert not strip.allowed
    for before, after in (([], [SUPERADMIN]), ([SUPERADMIN], [SUPERADMIN, "case-officer"])):
        assert not decide_change(
            **admin, actor_org=ORG, target_org=ORG, before=before, after=after
        ).allowed
    sup = decide_change(
        actor_roles=[SUPERADMIN, "ops"],
        actor_org=OTHER,
        target_org=ORG,
        before=[],
        after=["ops"],
        grants=DEFAULT_GRANTS,
    )
    assert sup.allowed


def test_allow_list_is_configurable() -> None:
    settings = IdentitySettings(identity_role_grants={"identity-admin": ["ops"]})
    grants = settings.role_grants
    assert grants == {"identity-admin": ("ops",)}
    assert grantable(["identity-admin", "ops", "case-officer"], grants) == {"ops"}
    assert IdentitySettings().role_grants == DEFAULT_GRANTS
