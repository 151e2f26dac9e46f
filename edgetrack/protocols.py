"""The plug points of edgetrack, as ``typing.Protocol``s.

Each has a real implementation and one meant for tests:

============  ================================  ===================================
protocol      real                              for tests
============  ================================  ===================================
Clock         ``SystemClock``                   ``edgetrack.testing.FakeClock``
Sender        ``edgetrack.transport.HttpSender`` ``edgetrack.testing.RecordingSender``
Destination   ``edgetrack.destinations.*``      any object with these attributes
============  ================================  ===================================
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from edgetrack.models import Limits, Outcome, QueuedEvent, Request, Response

__all__ = ["Clock", "Destination", "Sender", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Wall-clock time in seconds since the epoch; the only time source library code reads."""

    def now(self) -> float: ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()


@runtime_checkable
class Sender(Protocol):
    """Sends one request and returns a response for every status; never retries or redirects."""

    def send(self, request: Request, *, timeout: tuple[float, float]) -> Response: ...

    def close(self) -> None: ...


@runtime_checkable
class Destination(Protocol):
    """A vendor API: pure translation between queued events and HTTP.

    ``name`` is the delivery lane's name in the queue file: keep it stable across app
    versions (changing a key must not change it, so a fixed key delivers the backlog).
    """

    name: str
    limits: Limits
    supports: frozenset[str]

    def batch(self, events: Sequence[QueuedEvent]) -> int:
        """How many of the leading ``events`` go into one request (at least 1)."""
        ...

    def check(self, event: QueuedEvent, now: float) -> tuple[str, str] | None:
        """``(kind, reason)`` for an event this lane will never send, else None."""
        ...

    def encode(self, events: Sequence[QueuedEvent], *, sent_at: str) -> Request: ...

    def interpret(self, response: Response) -> Outcome: ...
