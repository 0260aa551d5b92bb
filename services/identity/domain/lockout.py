"""Brute-force protection (防暴力破解), modelled on Keycloak's temporary lockout.

Every ``failure_factor`` consecutive failures lock the account for a wait that grows by
``wait_increment`` each time (60 s, 120 s, 180 s …) up to ``max_wait``; a success resets
the count, and so does a quiet period of ``failure_reset`` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class LockoutPolicy:
    failure_factor: int = 5
    wait_increment: int = 60
    max_wait: int = 900
    failure_reset: int = 12 * 3600


@dataclass(frozen=True)
class FailureOutcome:
    failures: int
    locked_until: datetime | None

    @property
    def locked(self) -> bool:
        return self.locked_until is not None


def is_locked(locked_until: datetime | None, now: datetime) -> bool:
    return locked_until is not None and locked_until > now


def wait_seconds(failures: int, policy: LockoutPolicy) -> int:
    """Seconds to wait after ``failures`` consecutive failures (0 = not locked)."""
    if policy.failure_factor <= 0 or failures < policy.failure_factor:
        return 0
    if failures % policy.failure_factor != 0:
        return 0
    return min(policy.wait_increment * (failures // policy.failure_factor), policy.max_wait)


def record_failure(
    failures: int, last_failure_at: datetime | None, now: datetime, policy: LockoutPolicy
) -> FailureOutcome:
    """The account state after one more failed attempt at ``now``."""
    if last_failure_at is not None and now - last_failure_at > timedelta(
        seconds=policy.failure_reset
    ):
        failures = 0
    failures += 1
    wait = wait_seconds(failures, policy)
    return FailureOutcome(failures, now + timedelta(seconds=wait) if wait else None)
