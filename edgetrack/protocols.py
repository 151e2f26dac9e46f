"""The plug points of edgetrack, as ``typing.Protocol``s.

Each has a real implementation and one meant for tests:

============  ================================  ===================================
protocol      real                              for tests
============  ================================  ===================================
Clock         ``SystemClock``                   ``edgetrack.testing.FakeClock``
Sender        ``edgetrack.sending._transport.HttpSender`` ``edgetrack.testing.RecordingSender``
Destination   ``edgetrack.destinations.*``      any object with these attributes
============  ================================  ===================================
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from edgetrack.models import Limits, Outcome, QueuedEvent, Request, Response

if TYPE_CHECKING:
    from edgetrack.plugins import Timeline

__all__ = ["Clock", "Destination", "Sender", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """The only time source library code reads.

    ``now()`` is the wall clock (seconds since the epoch): it stamps events and ``sentAt`` and
    nothing else, because on edge devices it jumps (a Raspberry Pi boots with a stale time and
    NTP corrects it later; phones correct theirs). ``monotonic()`` never jumps and counts time
    spent suspended where the platform allows: every age, deadline and wait comes from it.
    ``boot_id()`` names the current boot: ``monotonic()`` values compare only within one.
    """

    def now(self) -> float: ...

    def monotonic(self) -> float: ...

    def boot_id(self) -> str: ...


_BOOTTIME: int | None = getattr(time, "CLOCK_BOOTTIME", None)  # Linux and Android
_boot_id: str | None = None


def _monotonic_source() -> Callable[[], float]:
    if _BOOTTIME is not None:
        return partial(time.clock_gettime, _BOOTTIME)
    if sys.platform in ("darwin", "ios"):  # Darwin's CLOCK_MONOTONIC counts sleep; monotonic() does not
        return partial(time.clock_gettime, time.CLOCK_MONOTONIC)
    return time.monotonic


_monotonic = _monotonic_source()


def _read_boot_id() -> str:
    try:  # Linux and Android: a random id the kernel makes at every boot
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            text = handle.read().strip()
        if text:
            return text
    except OSError:
        pass
    # Elsewhere: the wall time of the boot, to the minute. A wall-clock jump between two starts
    # in one boot makes this look like a new boot, which only makes ages shorter (conservative).
    return f"boot@{round((time.time() - _monotonic()) / 60)}"


class SystemClock:
    """The real clocks: ``time.time()``, the boot-time clock, the kernel's boot id."""

    # Plain functions, not methods: track() reads both clocks, so every call counts.
    now = staticmethod(time.time)
    monotonic = staticmethod(_monotonic)

    def boot_id(self) -> str:
        global _boot_id
        if _boot_id is None:
            _boot_id = _read_boot_id()
        return _boot_id


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
    rate_limit: tuple[float, int] | None  # (requests per second, burst) the vendor allows
    plugins: Timeline  # run on each event at send time, for this lane only

    def batch(self, events: Sequence[QueuedEvent]) -> int:
        """How many of the leading ``events`` go into one request (at least 1)."""
        ...

    def check(self, event: QueuedEvent, now: float) -> tuple[str, str] | None:
        """``(kind, reason)`` for an event this lane will never send, else None."""
        ...

    def encode(self, events: Sequence[QueuedEvent], *, sent_at: str) -> Request: ...

    def interpret(self, response: Response) -> Outcome: ...

    def public_path(self, url: str) -> str:
        """The path of one of its request URLs as it may be logged (no key in it)."""
        ...

    def redact(self, text: str) -> str:
        """``text`` (a server's answer, an error) without the keys the destination sends."""
        ...
