"""Reading the queue: lane states, counters, totals and a peek at pending events. Mixed into
``SQLiteStore`` (which provides ``conn``); readers never take the write lock."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from edgetrack.models import QueuedEvent
from edgetrack.store import forksafe

__all__ = ["LaneState", "Reading"]


@dataclass(frozen=True, slots=True)
class LaneState:
    """What the scheduler needs to know about a lane, read in one go."""

    name: str
    pending: int
    oldest_created: float | None
    paused_until: float | None
    pause_reason: str | None
    next_attempt: float | None
    failures: int
    server_failures: int
    lease_owner: str | None
    lease_until: float | None
    in_flight: int
    last_error: str | None
    last_error_at: float | None = None
    seen: float | None = None
    cursor: int = 0


class Reading:
    """The read-only half of ``SQLiteStore``."""

    conn: sqlite3.Connection

    @staticmethod
    def _seq(conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
        return int(row[0]) if row else 0

    @classmethod
    def _pending(cls, conn: sqlite3.Connection, name: str, cursor: int | None = None) -> int:
        """Events pending for a lane: ids above its cursor, less other lanes' requeued events and
        the gaps they left."""
        if cursor is None:
            cursor = conn.execute("SELECT cursor FROM lanes WHERE name = ?", (name,)).fetchone()[0]
        others = conn.execute(
            "SELECT (SELECT count(*) FROM events WHERE lane IS NOT NULL AND lane != ? "
            "AND +id > ?) + (SELECT count(*) FROM gaps WHERE id > ?)",
            (name, cursor, cursor),
        ).fetchone()[0]
        return max(0, cls._seq(conn) - cursor - int(others))

    def lane_states(self, now: float, names: Sequence[str] | None = None) -> list[LaneState]:
        """Lanes' pending count, oldest pending event, pause, backoff and lease, in one read."""
        sql = (
            "SELECT name, cursor, paused_until, pause_reason, next_attempt, failures, "
            "lease_owner, lease_until, lease_hi, last_error, server_failures, last_error_at, seen "
            "FROM lanes"
        )
        args: Sequence[str] = ()
        if names is not None:
            sql += f" WHERE name IN ({','.join('?' * len(names))})"
            args = names
        with forksafe.inside():
            conn = self.conn
            conn.execute("BEGIN")
            try:
                return [
                    self._lane_state(conn, row, now) for row in conn.execute(sql + " ORDER BY name", args)
                ]
            finally:
                conn.execute("COMMIT")

    def _lane_state(self, conn: sqlite3.Connection, row: Sequence[Any], now: float) -> LaneState:
        name, cursor = row[0], row[1]
        oldest = conn.execute(
            "SELECT created FROM events WHERE id > ? AND (lane IS NULL OR lane = ?) ORDER BY id LIMIT 1",
            (cursor, name),
        ).fetchone()
        leased = row[7] is not None and row[7] > now
        return LaneState(
            name=name,
            pending=self._pending(conn, name, cursor),
            oldest_created=oldest[0] if oldest else None,
            paused_until=row[2],
            pause_reason=row[3],
            next_attempt=row[4],
            failures=row[5],
            server_failures=row[10],
            lease_owner=row[6] if leased else None,
            lease_until=row[7] if leased else None,
            in_flight=max(0, (row[8] or cursor) - cursor) if leased else 0,
            last_error=row[9],
            last_error_at=row[11],
            seen=row[12],
            cursor=cursor,
        )

    def pending_union(self, names: Sequence[str]) -> int:
        """Events pending for at least one of the lanes ``names`` (an event several of them wait
        for counts once)."""
        with forksafe.inside():
            conn = self.conn
            marks = ",".join("?" * len(names))
            low = conn.execute(
                f"SELECT min(cursor) FROM lanes WHERE name IN ({marks})", list(names)
            ).fetchone()[0]
            if low is None:
                return 0
            row = conn.execute(
                f"SELECT count(*) FROM events WHERE id > ? AND (lane IS NULL OR lane IN ({marks}))",
                [low, *names],
            ).fetchone()
        return int(row[0])

    def lane_names(self) -> list[str]:
        """Every lane the file knows: configured ones and those its dead letters name."""
        with forksafe.inside():
            rows = self.conn.execute("SELECT name FROM lanes UNION SELECT DISTINCT lane FROM dead_letters")
            return sorted(row[0] for row in rows)

    def newest_id(self) -> int:
        """The id of the newest event ever queued (ids are never reused)."""
        with forksafe.inside():
            return self._seq(self.conn)

    def counters(self) -> dict[str, dict[tuple[str, str], int]]:
        result: dict[str, dict[tuple[str, str], int]] = {}
        with forksafe.inside():
            for lane, name, reason, n in self.conn.execute("SELECT lane, name, reason, n FROM counters"):
                result.setdefault(lane, {})[(name, reason)] = n
        return result

    def totals(self) -> tuple[int, int]:
        with forksafe.inside():
            events, size = self.conn.execute("SELECT events, bytes FROM totals WHERE id = 1").fetchone()
        return int(events), int(size)

    def peek(
        self, lane: str | None = None, limit: int = 20, *, after: int = 0, newest: bool = False
    ) -> list[QueuedEvent]:
        """Events still pending for ``lane`` (or for any lane): the oldest first, from queue id
        ``after`` on, or the newest first with ``newest=True`` (what ``edgetrack tail`` shows)."""
        with forksafe.inside():
            if lane is None:
                cursor = self.conn.execute("SELECT coalesce(min(cursor), 0) FROM lanes").fetchone()[0]
                lane_filter = "1"
                args: tuple[Any, ...] = (max(cursor, after), limit)
            else:
                row = self.conn.execute("SELECT cursor FROM lanes WHERE name = ?", (lane,)).fetchone()
                cursor = row[0] if row else 0
                lane_filter = "(lane IS NULL OR lane = ?)"
                args = (max(cursor, after), lane, limit)
            order = "DESC" if newest else ""
            return [
                QueuedEvent(*row)
                for row in self.conn.execute(
                    "SELECT id, type, message_id, body, created, wall FROM events WHERE id > ? AND "
                    f"{lane_filter} ORDER BY id {order} LIMIT ?",
                    args,
                )
            ]
