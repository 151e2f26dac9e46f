"""What ``Client.stats()`` and ``edgetrack status`` report: plain frozen dataclasses."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from edgetrack.store.sqlite import LaneState

__all__ = ["LaneStats", "Stats", "lane_stats"]


@dataclass(frozen=True)
class LaneStats:
    """One destination's lane: its backlog, its state and its counters (all persisted)."""

    name: str
    pending: int
    oldest_age: float | None
    in_flight: int
    paused_until: float | None
    pause_reason: str | None
    next_attempt: float | None
    failures: int
    delivered: int
    retried: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    dead_lettered: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    paused: dict[str, int] = field(default_factory=dict)
    split: dict[str, int] = field(default_factory=dict)
    last_error: str | None = None


@dataclass(frozen=True)
class Stats:
    """The whole client: per-lane stats plus the queue file and the in-memory hand-off."""

    path: str
    lanes: dict[str, LaneStats]
    events_on_disk: int
    bytes_on_disk: int
    buffered: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    write_errors: int = 0
    last_write_error: str | None = None
    scheduler_wakeups: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def pending(self) -> int:
        return sum(lane.pending for lane in self.lanes.values())


def lane_stats(state: LaneState, counts: dict[tuple[str, str], int], now: float) -> LaneStats:
    def group(name: str) -> dict[str, int]:
        return {reason: n for (kind, reason), n in sorted(counts.items()) if kind == name}

    return LaneStats(
        name=state.name,
        pending=state.pending,
        oldest_age=None if state.oldest_created is None else max(0.0, now - state.oldest_created),
        in_flight=state.in_flight,
        paused_until=state.paused_until if (state.paused_until or 0) > now else None,
        pause_reason=state.pause_reason if (state.paused_until or 0) > now else None,
        next_attempt=state.next_attempt,
        failures=state.failures,
        delivered=counts.get(("delivered", ""), 0),
        retried=group("retried"),
        dropped=group("dropped"),
        dead_lettered=group("dead"),
        skipped=group("skipped"),
        paused=group("paused"),
        split=group("split"),
        last_error=state.last_error,
    )
