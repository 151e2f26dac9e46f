"""What ``Client.stats()`` and ``edgetrack status`` report: plain frozen dataclasses, and the one
function that reads them from a queue file.

Times a person reads (``paused_until``, ``next_attempt``) are wall-clock epoch seconds, worked
out from the queue's monotonic time line at the moment of reading; ages are measured on the
time line itself, so a wall-clock jump never makes anything look older or younger.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgetrack.store._protocol import QueueStore
    from edgetrack.store._reading import LaneState
    from edgetrack.store._timeline import Timeline

__all__ = ["LaneStats", "Stats", "lane_stats", "read_stats"]


@dataclass(frozen=True)
class LaneStats:
    """One destination's lane: its backlog, its state and its counters (all persisted).

    ``orphan``: no destination of this client (or of the CLI's config file) has this name;
    ``seen_age``: seconds since a client last configured the lane. An orphan is dropped
    automatically once nobody has configured it for ``Client(orphan_lane_age=...)``.
    """

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
    last_error_at: float | None = None
    orphan: bool = False
    seen_age: float | None = None
    lease_owner: str | None = None  # who is sending the lane now (a client's ``host:pid:id``)


@dataclass(frozen=True)
class Stats:
    """The whole client: per-lane stats plus the queue file and the in-memory hand-off.

    ``clock_trusted`` is False while the wall clock reads earlier than this release (a device
    with no real-time clock that has not set its time yet): events tracked meanwhile carry a
    wrong timestamp, corrected at send time once the clock is set in the same boot.
    ``power_updates`` says how the lanes hear of power and network changes: the platform's
    push (``netlink``, ``broadcasts``, ``notifications``...), ``told`` (a probe the app
    updates), ``polling`` (read at each pass, looked at again on timers while offline), or
    ``none`` (no probe, or no lane running in this process).
    """

    path: str
    lanes: dict[str, LaneStats]
    events_on_disk: int
    bytes_on_disk: int
    buffered: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    write_errors: int = 0
    last_write_error: str | None = None
    scheduler_wakeups: int = 0
    clock_trusted: bool = True
    dead_letters: int = 0
    plugin_errors: dict[str, int] = field(default_factory=dict)  # per plugin ("<lane>:<plugin>" at send)
    power_updates: str = "none"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def pending(self) -> int:
        return sum(lane.pending for lane in self.lanes.values())

    @property
    def orphans(self) -> list[str]:
        return [name for name, lane in self.lanes.items() if lane.orphan]


def lane_stats(
    state: LaneState,
    counts: dict[tuple[str, str], int],
    now: float,
    timeline: Timeline | None = None,
    *,
    orphan: bool = False,
) -> LaneStats:
    """A lane's stats from its state and counters; ``now`` and the state are queue time, and
    ``timeline`` turns the times a person reads into wall-clock time."""

    def group(name: str) -> dict[str, int]:
        return {reason: n for (kind, reason), n in sorted(counts.items()) if kind == name}

    def wall(t: float | None) -> float | None:
        return t if timeline is None else timeline.to_wall(t)

    paused = (state.paused_until or 0) > now
    return LaneStats(
        name=state.name,
        pending=state.pending,
        oldest_age=None if state.oldest_created is None else max(0.0, now - state.oldest_created),
        in_flight=state.in_flight,
        paused_until=wall(state.paused_until) if paused else None,
        pause_reason=state.pause_reason if paused else None,
        next_attempt=wall(state.next_attempt),
        failures=state.failures,
        delivered=counts.get(("delivered", ""), 0),
        retried=group("retried"),
        dropped=group("dropped"),
        dead_lettered=group("dead"),
        skipped=group("skipped"),
        paused=group("paused"),
        split=group("split"),
        last_error=state.last_error,
        last_error_at=wall(state.last_error_at),
        orphan=orphan,
        seen_age=None if state.seen is None else max(0.0, now - state.seen),
        lease_owner=state.lease_owner,
    )


def read_stats(store: QueueStore, *, configured: Collection[str] | None) -> Stats:
    """Every lane in the file, its counters and the file's totals, read without writing.
    ``configured``: the lane names a client (or config file) sends; others are orphans (None:
    nobody to compare with)."""
    timeline = store.timeline
    now = timeline.now()
    counts = store.counters()
    lanes = {
        state.name: lane_stats(
            state,
            counts.get(state.name, {}),
            now,
            timeline,
            orphan=configured is not None and state.name not in configured,
        )
        for state in store.lane_states(now)
    }
    events, size = store.totals()
    return Stats(
        path=str(store.path),
        lanes=lanes,
        events_on_disk=events,
        bytes_on_disk=size,
        dropped={f"{name}:{reason}": n for (name, reason), n in counts.get("*", {}).items()},
        clock_trusted=timeline.trusted(),
        dead_letters=store.dead_letter_count(),
    )
