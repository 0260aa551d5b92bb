"""Circuit breaker per upstream (APISIX ``api-breaker``), a pure state machine.

Closed: calls pass; ``threshold`` consecutive failures (connect errors, timeouts, 5xx) open
it. Open: calls are refused until the break ends; breaks last ``base`` seconds, doubling at
each re-open up to ``ceiling``. Half-open: after the break one probe passes; its success
closes the breaker, its failure re-opens it for twice as long.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Breaker:
    threshold: int = 5
    base: float = 2.0
    ceiling: float = 300.0
    probe_timeout: float = 60.0
    clock: Callable[[], float] = field(default=time.monotonic)
    failures: int = 0
    opens: int = 0
    open_until: float = 0.0
    probe_started: float | None = None

    @property
    def state(self) -> str:
        if self.opens == 0:
            return "closed"
        return "open" if self.clock() < self.open_until else "half-open"

    def admit(self) -> float | None:
        """None when the call may go; else the seconds until it is worth trying again."""
        if self.opens == 0:
            return None
        now = self.clock()
        if now < self.open_until:
            return self.open_until - now
        if self.probe_started is not None and now - self.probe_started < self.probe_timeout:
            return self.base  # another caller's probe is under way
        self.probe_started = now
        return None

    def success(self) -> None:
        self.failures = 0
        self.opens = 0
        self.open_until = 0.0
        self.probe_started = None

    def failure(self) -> None:
        if self.opens:
            if self.probe_started is not None:  # the probe failed: a longer break
                self._open()
            return
        self.failures += 1
        if self.failures >= self.threshold:
            self._open()

    def break_seconds(self) -> float:
        return min(self.base * 2 ** max(self.opens - 1, 0), self.ceiling)

    def _open(self) -> None:
        self.opens += 1
        self.probe_started = None
        self.open_until = self.clock() + self.break_seconds()
