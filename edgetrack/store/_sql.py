"""SQL the other store modules share: the newest id, a lane's pending count, counters, and
deleting what every lane is done with. Functions of a connection, run inside the caller's
transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

__all__ = ["Counts", "bump", "delete_done", "pending", "seq"]

Counts = Mapping[tuple[str, str], int]  # (counter name, reason) -> increment


def seq(conn: sqlite3.Connection) -> int:
    """The id of the newest event ever queued (AUTOINCREMENT: ids are never reused)."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    return int(row[0]) if row else 0


def pending(conn: sqlite3.Connection, name: str, cursor: int | None = None) -> int:
    """Events pending for a lane: ids above its cursor, less other lanes' requeued events and
    the gaps they left."""
    if cursor is None:
        cursor = conn.execute("SELECT cursor FROM lanes WHERE name = ?", (name,)).fetchone()[0]
    others = conn.execute(
        "SELECT (SELECT count(*) FROM events WHERE lane IS NOT NULL AND lane != ? "
        "AND +id > ?) + (SELECT count(*) FROM gaps WHERE id > ?)",
        (name, cursor, cursor),
    ).fetchone()[0]
    return max(0, seq(conn) - cursor - int(others))


def bump(conn: sqlite3.Connection, lane: str, counts: Counts) -> None:
    conn.executemany(
        "INSERT INTO counters (lane, name, reason, n) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (lane, name, reason) DO UPDATE SET n = n + excluded.n",
        [(lane, name, reason, n) for (name, reason), n in counts.items() if n],
    )


def delete_done(conn: sqlite3.Connection) -> None:
    """Delete the events every lane is done with (below the lowest cursor), and requeued dead
    letters their own lane has passed."""
    low = conn.execute("SELECT min(cursor) FROM lanes").fetchone()[0]
    if low is None:
        return
    conn.execute("DELETE FROM gaps WHERE id <= ?", (low,))
    n, size = conn.execute(
        "SELECT count(*), coalesce(sum(size), 0) FROM events WHERE id <= ?", (low,)
    ).fetchone()
    if n:
        conn.execute("DELETE FROM events WHERE id <= ?", (low,))
        conn.execute("UPDATE totals SET events = events - ?, bytes = bytes - ? WHERE id = 1", (n, size))
    # Requeued dead letters belong to one lane: gone once that lane's cursor passes them.
    # "+id" keeps SQLite on the small partial index instead of scanning the rowid range.
    done = "lane IS NOT NULL AND +id <= (SELECT cursor FROM lanes WHERE name = events.lane)"
    n, size = conn.execute(f"SELECT count(*), coalesce(sum(size), 0) FROM events WHERE {done}").fetchone()
    if n:
        conn.execute(f"INSERT OR IGNORE INTO gaps (id) SELECT id FROM events WHERE {done}")
        conn.execute(f"DELETE FROM events WHERE {done}")
        conn.execute("UPDATE totals SET events = events - ?, bytes = bytes - ? WHERE id = 1", (n, size))
