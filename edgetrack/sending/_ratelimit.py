"""A token bucket per destination, so edgetrack stays under each vendor's published limit.

The bucket is pure: it reads no clock; the caller passes ``now`` (seconds, any monotonic
origin). ``throttle()`` is the blocking wait built on it, in real (monotonic) time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["TokenBucket", "throttle"]


class TokenBucket:
    """``rate`` tokens a second, holding at most ``burst``; one token a request."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("TokenBucket needs rate > 0 and burst >= 1")
        self.rate = float(rate)
        self.burst = float(burst)
        self._tokens = float(burst)
        self._at = now

    def _refill(self, now: float) -> None:
        if now > self._at:
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = max(self._at, now)

    def wait_time(self, now: float) -> float:
        """Seconds until a token is available (0 when one is)."""
        self._refill(now)
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate

    def take(self, now: float) -> float:
        """Take a token if one is available and return 0, else return the seconds to wait."""
        wait = self.wait_time(now)
        if wait == 0.0:
            self._tokens -= 1
        return wait


def throttle(
    bucket: TokenBucket | None, stopping: Callable[[], bool], nap: Callable[[float], object]
) -> Callable[[], bool] | None:
    """A blocking wait for ``bucket``'s next token (None: no limit); False once ``stopping()``.
    ``nap(seconds)`` is the scheduler's interruptible sleep, so shutdown cuts a wait short."""
    if bucket is None:
        return None

    def wait_for_token() -> bool:
        while not stopping():
            wait = bucket.take(time.monotonic())
            if wait == 0.0:
                return True
            nap(wait)
        return False

    return wait_for_token
