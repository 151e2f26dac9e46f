"""The queue's own time line: every age and deadline in the queue file is measured on it.

Wall clocks on edge devices jump (a Raspberry Pi has no real-time clock and boots with a stale
time or 1970; NTP then steps it by days or years; phones correct theirs). So times stored in
the queue (an event's ``created``, pauses, backoffs, leases, dead-letter times) are *queue
time*: the platform's monotonic boot-time clock plus an offset kept in the file's ``meta``
table for the current boot.

- **Within a boot** queue time is the boot-time clock (``CLOCK_BOOTTIME`` on Linux and Android,
  which counts suspended time), shifted: it never jumps, so no wall-clock step in either
  direction can expire an event, or stall a deadline.
- **Across a reboot** the monotonic clock restarts, and the time the device was off is not
  known reliably (the wall clock may be the thing that is wrong). The conservative rule: queue
  time resumes where the file last recorded anything (the newest ``created``, ``dead_at``,
  ``last_error_at`` or lane ``seen``), so the downtime counts as zero. Ages can come out too
  short (an event may be sent a little staler than ``max_age``), never too long: nothing is
  expired, and nothing waits, because the wall clock moved.
- A brand-new file starts queue time at the wall clock's reading, so its values look like
  epoch seconds when nothing has jumped.

Readers (``stats()``, the CLI) compute the same time line without writing; the first writer of
a boot records it (``meta``: ``clock_boot``, ``clock_offset``, ``clock_boot_start``).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from edgetrack.protocols import Clock

__all__ = ["RELEASED", "STEP_TOLERANCE", "Timeline", "establish"]

#: A wall clock earlier than this (2026-11-01T00:00:00Z, before this release was made) is
#: known to be wrong: ``stats().clock_trusted`` is False until the device sets its clock.
RELEASED = 1_793_491_200.0

#: A wall clock that moved against the monotonic clock by more than this since an event was
#: tracked was stepped (NTP slews smaller errors): the event's timestamp is corrected at send.
STEP_TOLERANCE = 1.0

_AFTER = 0.001  # a new boot's time line starts this much after the last recorded time

_PAST_TIMES = (
    "SELECT max(t) FROM ("
    "SELECT max(created) AS t FROM events UNION ALL SELECT max(dead_at) FROM dead_letters "
    "UNION ALL SELECT max(last_error_at) FROM lanes UNION ALL SELECT max(created) FROM lanes "
    "UNION ALL SELECT max(seen) FROM lanes)"
)


@dataclass(frozen=True, slots=True)
class Timeline:
    """Queue time for one boot: ``clock.monotonic() + offset``.

    ``boot_start`` is the queue time at which this boot's record began: an event created before
    it was tracked in an earlier boot, so its wall-clock error can no longer be measured.
    """

    clock: Clock
    offset: float
    boot_start: float

    def now(self) -> float:
        """Queue time now."""
        return self.clock.monotonic() + self.offset

    def wall_offset(self) -> float:
        """Wall time minus queue time, now (changes when the wall clock is stepped)."""
        clock = self.clock
        return clock.now() - (clock.monotonic() + self.offset)

    def to_wall(self, t: float | None) -> float | None:
        """A queue time as the wall clock would show it now (for display)."""
        return None if t is None else t + self.wall_offset()

    def trusted(self) -> bool:
        """False while the wall clock reads earlier than this release: it cannot be right."""
        return self.clock.now() >= RELEASED

    def true_wall(self, created: float, wall: float | None, offset: float | None = None) -> float | None:
        """When an event tracked at queue time ``created`` (wall clock then: ``wall``) really
        happened, by today's wall clock; None when no correction is needed or none is possible
        (the timestamp was given by the app, or the event was tracked in an earlier boot)."""
        if wall is None or created < self.boot_start:
            return None
        offset = self.wall_offset() if offset is None else offset
        if abs((wall - created) - offset) <= STEP_TOLERANCE:
            return None
        return created + offset


def establish(conn: sqlite3.Connection, clock: Clock, *, record: bool) -> Timeline:
    """This boot's time line for the file on ``conn``; with ``record``, write it to ``meta``
    (in a transaction of its own) when this is the first connection of the boot."""
    boot = clock.boot_id()
    if record:
        conn.execute("BEGIN IMMEDIATE")
    try:
        found = dict(
            conn.execute(
                "SELECT key, value FROM meta WHERE key IN ('clock_boot', 'clock_offset', 'clock_boot_start')"
            ).fetchall()
        )
        if found.get("clock_boot") == boot:
            timeline = Timeline(clock, float(found["clock_offset"]), float(found["clock_boot_start"]))
        else:
            timeline = _new_boot(conn, clock)
            if record:
                conn.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    [
                        ("clock_boot", boot),
                        ("clock_offset", repr(timeline.offset)),
                        ("clock_boot_start", repr(timeline.boot_start)),
                    ],
                )
        if record:
            conn.execute("COMMIT")
    except BaseException:
        if record and conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return timeline


def _new_boot(conn: sqlite3.Connection, clock: Clock) -> Timeline:
    mono = clock.monotonic()
    seen = conn.execute(_PAST_TIMES).fetchone()[0]
    # Resume just after the newest time the file recorded: everything stored by an earlier
    # boot is then strictly before this boot's start.
    start = clock.now() if seen is None else float(seen) + _AFTER
    return Timeline(clock, start - mono, start)
