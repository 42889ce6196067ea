"""A request rate limit shared by execute's workers (--max-requests-per-second,
--max-api-requests-per-second).

Each request reserves the next free send time under a lock, then sleeps until it outside the
lock, so N workers together send at most `rate` requests a second, evenly spaced. Time left idle
is not saved up: after a pause the next request goes at once, and the ones after it are spaced
again (no burst that a fragile registry would have to absorb).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from pruneplan.errors import EXIT_USAGE, PrunePlanError


class RateLimiter:
    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"rate must be a finite number above 0, not {rate!r}")
        self.rate = rate
        self._interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next: float | None = None  # the earliest time the next request may be sent
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Wait for this request's turn."""
        with self._lock:
            now = self._clock()
            at = now if self._next is None else max(now, self._next)
            self._next = at + self._interval
        if at > now:
            self._sleep(at - now)


def parse_rate(value: str | None, flag: str) -> float | None:
    """A requests-per-second flag: None when not given, else a finite number above 0 (exit 2)."""
    if value is None:
        return None
    try:
        rate = float(value.strip())
    except ValueError:
        rate = math.nan
    if not (math.isfinite(rate) and rate > 0):
        raise PrunePlanError(f"{flag} must be a number of requests per second above 0 (such as 20 or 0.5), not {value!r}",
                             EXIT_USAGE)
    return rate


def limiter_for(rate: float | None) -> RateLimiter | None:
    return RateLimiter(rate) if rate is not None else None
