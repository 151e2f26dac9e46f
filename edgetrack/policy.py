"""When to upload: a pure function of the lane's backlog and the time (no I/O, no clock reads)."""

from __future__ import annotations

from dataclasses import dataclass

from edgetrack.config import _positive

__all__ = ["FlushPolicy"]


@dataclass(frozen=True)
class FlushPolicy:
    """Upload a lane once ``flush_at`` events are pending or the oldest has waited ``flush_interval`` s.

    The defaults (20 events / 30 s) are the mobile SDKs' (Segment, Intilery), so moving an app
    over does not change how fresh its data is.
    """

    flush_at: int = 20
    flush_interval: float = 30.0

    def __post_init__(self) -> None:
        _positive("flush_at", self.flush_at, integer=True)
        _positive("flush_interval", self.flush_interval)

    def due_at(self, *, pending: int, oldest_created: float | None, now: float) -> float | None:
        """The time the lane should upload (``<= now`` means now), or None with nothing pending."""
        if pending <= 0 or oldest_created is None:
            return None
        if pending >= self.flush_at:
            return now
        return oldest_created + self.flush_interval
