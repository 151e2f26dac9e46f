"""What to do after a response: a pure, immutable policy (in the spirit of urllib3's ``Retry``).

It never sleeps; it returns when to try again, and the scheduler waits on a condition that
``shutdown()`` interrupts. Jitter draws from an injected ``random.Random``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from edgetrack.config import positive
from edgetrack.errors import ConfigError
from edgetrack.models import Outcome, OutcomeKind

__all__ = ["Decision", "RetryPolicy", "parse_retry_after"]


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    import email.utils  # rare path: keep it off import time

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True, slots=True)
class Decision:
    """``ack``, or wait: ``delay`` seconds, as a ``pause`` (not an attempt) or a ``backoff``."""

    action: Literal["ack", "backoff", "pause"]
    delay: float = 0.0
    reason: str = ""


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with jitter; vendor rate-limit waits of at least 5 s.

    Give-up rules: an event older than ``max_age`` (7 days) is expired for the lane; a batch
    the server answered with 5xx/408 ``max_attempts`` times in a row (30, about 2 h at the
    5-minute cap) is dead-lettered. Network errors (offline) never count toward that: an
    offline kiosk keeps its events until ``max_age``. ``startup_jitter``: the first upload
    after a start waits a random 0 to 10 s, so a fleet powering up together does not hit
    the vendor in the same second (``flush()`` does not wait).
    """

    backoff_base: float = 1.0
    backoff_cap: float = 300.0
    rate_limit_min: float = 5.0
    rate_limit_cap: float = 3600.0
    auth_pause_base: float = 60.0
    auth_pause_cap: float = 3600.0
    max_age: float = 7 * 86400.0
    max_attempts: int = 30
    startup_jitter: float = 10.0

    def __post_init__(self) -> None:
        for name in ("backoff_base", "backoff_cap", "rate_limit_min", "rate_limit_cap"):
            positive(f"RetryPolicy.{name}", getattr(self, name))
        positive("RetryPolicy.max_age", self.max_age)
        positive("RetryPolicy.max_attempts", self.max_attempts, integer=True)
        if self.startup_jitter < 0:
            raise ConfigError("RetryPolicy.startup_jitter must be 0 or more seconds")
        positive("RetryPolicy.auth_pause_base", self.auth_pause_base)
        positive("RetryPolicy.auth_pause_cap", self.auth_pause_cap)
        if self.backoff_cap < self.backoff_base:
            raise ConfigError("RetryPolicy.backoff_cap must be at least backoff_base")
        if self.rate_limit_cap < self.rate_limit_min:
            raise ConfigError("RetryPolicy.rate_limit_cap must be at least rate_limit_min")

    def backoff(self, failures: int, rng: random.Random) -> float:
        """Wait before attempt ``failures + 1``: between half and all of ``base * 2**(n-1)``, capped.

        Half-to-full jitter (not full jitter) keeps a minimum spacing, so a fleet that failed
        together spreads out without any device retrying at once.
        """
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** max(0, failures - 1))
        return float(ceiling * (0.5 + 0.5 * rng.random()))

    def decide(self, outcome: Outcome, failures: int, rng: random.Random) -> Decision:
        """Map a destination's outcome to a decision; ``failures`` counts this one."""
        kind = outcome.kind
        if kind is OutcomeKind.ACK:
            return Decision("ack")
        if kind is OutcomeKind.RATE_LIMITED:
            wait = max(self.rate_limit_min, outcome.retry_after or 0.0)
            return Decision("pause", min(wait, self.rate_limit_cap), "rate_limited")
        if kind in (OutcomeKind.AUTH, OutcomeKind.CONFIG):  # a person must fix the key or the URL
            wait = min(self.auth_pause_cap, self.auth_pause_base * 2 ** max(0, failures - 1))
            return Decision("pause", wait, kind.value)
        return Decision("backoff", self.backoff(failures, rng), kind.value)
