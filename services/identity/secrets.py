"""Passwords (argon2id) and the digests under which presented secrets are stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from services.identity.settings import IdentitySettings


def password_hasher(settings: IdentitySettings) -> PasswordHasher:
    return PasswordHasher(
        time_cost=settings.identity_argon2_time_cost,
        memory_cost=settings.identity_argon2_memory_kib,
        parallelism=settings.identity_argon2_parallelism,
    )


def verify_password(hasher: PasswordHasher, stored: str | None, presented: str) -> bool:
    if not stored:
        # Spend the same time as a real check so timing does not reveal unknown accounts.
        hasher.hash(presented)
        return False
    try:
        return hasher.verify(stored, presented)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# argon2 is a KDF for low-entropy passwords. Client secrets, refresh tokens, codes and
# cookies are 256-bit random strings: SHA-256 cannot be brute-forced for them, and a fast
# digest keeps the token endpoint cheap.
def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def digest_matches(stored: str | None, presented: str) -> bool:
    return stored is not None and hmac.compare_digest(stored, digest(presented))


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(12)}"
