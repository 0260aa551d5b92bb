"""What every identity module needs, built once per process (``hub.extras["identity"]``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher

from services.identity.domain.lockout import LockoutPolicy
from services.identity.keys import KeyRing
from services.identity.secrets import password_hasher
from services.identity.settings import IdentitySettings
from services.runtime.crypto import FieldCipher
from services.runtime.db import Database
from services.runtime.messaging import Messaging
from services.runtime.pii import pii_cipher

if TYPE_CHECKING:
    from services.identity.realname import RealNameVerifier
    from services.identity.sms import SmsSender


@dataclass
class IdentityCore:
    settings: IdentitySettings
    db: Database
    messaging: Messaging | None
    cipher: FieldCipher
    keys: KeyRing
    hasher: PasswordHasher
    policy: LockoutPolicy
    realname: RealNameVerifier
    sms: SmsSender
    oauth: Any = None  # services.identity.oauth.OAuthServer, set by the app

    @property
    def issuer(self) -> str:
        return self.settings.issuer


def build_core(
    settings: IdentitySettings,
    db: Database,
    messaging: Messaging | None,
    *,
    realname: RealNameVerifier | None = None,
    sms: SmsSender | None = None,
) -> IdentityCore:
    from services.identity.realname import verifier_from_settings
    from services.identity.sms import sender_from_settings

    cipher = pii_cipher(settings)
    keys = KeyRing(db, settings, cipher)
    core = IdentityCore(
        settings=settings,
        db=db,
        messaging=messaging,
        cipher=cipher,
        keys=keys,
        hasher=password_hasher(settings),
        policy=LockoutPolicy(
            failure_factor=settings.identity_lockout_failure_factor,
            wait_increment=settings.identity_lockout_wait_increment,
            max_wait=settings.identity_lockout_max_wait,
            failure_reset=settings.identity_lockout_failure_reset,
        ),
        realname=None,  # type: ignore[arg-type]
        sms=None,  # type: ignore[arg-type]
    )
    core.realname = realname or verifier_from_settings(core)
    core.sms = sms or sender_from_settings(core)
    return core
