"""Reading the queue: lane states, counters, totals and a look at pending events. Functions of a
connection; none of them writes, so a read-only connection (``stats()``, the CLI) runs them."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from edgetrack.models import QueuedEvent
from edgetrack.store import _sql
from edgetrack.store._sql import pending, seq

__all__ = ["LaneState", "counters", "lane_names", "lane_states", "peek", "pending_union", "totals"]


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


_LANES = (
    "SELECT name, cursor, paused_until, pause_reason, next_attempt, failures, lease_owner, lease_until, "
    "lease_hi, last_error, server_failures, last_error_at, seen FROM lanes"
)


def lane_states(conn: sqlite3.Connection, now: float, names: Sequence[str] | None) -> list[LaneState]:
    """Lanes' pending count, oldest pending event, pause, backoff and lease, in one read."""
    sql, args = _LANES, list(names or ())
    if names is not None:
        sql += f" WHERE name IN ({','.join('?' * len(names))})"
    conn.execute("BEGIN")
    try:
        return [_lane_state(conn, row, now) for row in conn.execute(sql + " ORDER BY name", args)]
    finally:
        conn.execute("COMMIT")


def _lane_state(conn: sqlite3.Connection, row: Sequence[Any], now: float) -> LaneState:
    name, cursor = row[0], row[1]
    oldest = conn.execute(
        "SELECT created FROM events WHERE id > ? AND (lane IS NULL OR lane = ?) ORDER BY id LIMIT 1",
        (cursor, name),
    ).fetchone()
    leased = row[7] is not None and row[7] > now
    return LaneState(
        name=name,
        pending=pending(conn, name, cursor),
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


def pending_union(conn: sqlite3.Connection, names: Sequence[str]) -> int:
    """Events pending for at least one of ``names`` (one several of them wait for counts once)."""
    marks = ",".join("?" * len(names))
    low = conn.execute(f"SELECT min(cursor) FROM lanes WHERE name IN ({marks})", list(names)).fetchone()[0]
    if low is None:
        return 0
    query = f"SELECT count(*) FROM events WHERE id > ? AND (lane IS NULL OR lane IN ({marks}))"
    return int(conn.execute(query, [low, *names]).fetchone()[0])


def lane_names(conn: sqlite3.Connection) -> list[str]:
    """Every lane the file knows: configured ones and those its dead letters name."""
    rows = conn.execute("SELECT name FROM lanes UNION SELECT DISTINCT lane FROM dead_letters")
    return sorted(row[0] for row in rows)


def newest_id(conn: sqlite3.Connection) -> int:
    return seq(conn)


def counters(conn: sqlite3.Connection) -> dict[str, dict[tuple[str, str], int]]:
    result: dict[str, dict[tuple[str, str], int]] = {}
    for lane, name, reason, n in conn.execute("SELECT lane, name, reason, n FROM counters"):
        result.setdefault(lane, {})[(name, reason)] = n
    return result


def totals(conn: sqlite3.Connection) -> tuple[int, int]:
    events, size, _ = _sql.totals(conn)
    return events, size


def peek(
    conn: sqlite3.Connection, lane: str | None, limit: int, after: int, newest: bool
) -> list[QueuedEvent]:
    """Events still pending for ``lane`` (or for any lane), oldest first from id ``after`` on,
    or newest first."""
    if lane is None:
        cursor = conn.execute("SELECT coalesce(min(cursor), 0) FROM lanes").fetchone()[0]
        lane_filter, args = "1", [max(cursor, after), limit]
    else:
        row = conn.execute("SELECT cursor FROM lanes WHERE name = ?", (lane,)).fetchone()
        lane_filter, args = "(lane IS NULL OR lane = ?)", [max(row[0] if row else 0, after), lane, limit]
    order = "DESC" if newest else ""
    query = (
        f"SELECT id, type, message_id, body, created, wall FROM queue WHERE id > ? AND {lane_filter} "
        f"ORDER BY id {order} LIMIT ?"
    )
    return [QueuedEvent(*row) for row in conn.execute(query, args)]
