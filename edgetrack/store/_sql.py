"""SQL the other store modules share: the newest id, a lane's pending count, counters, and
deleting what every lane is done with. Functions of a connection, run inside the caller's
transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

__all__ = [
    "FOLD_AT",
    "Counts",
    "bump",
    "delete_done",
    "fold",
    "keep_floor",
    "next_id",
    "pending",
    "seq",
    "totals",
]

Counts = Mapping[tuple[str, str], int]  # (counter name, reason) -> increment


#: Events appended since the running totals were last brought up to date, at most: an append
#: leaves ``totals`` alone (one page less to write a commit) until its tail is this long.
FOLD_AT = 512


def seq(conn: sqlite3.Connection) -> int:
    """The id of the newest event ever queued: the newest row, or, once the newest rows are
    deleted, the highest id anything still refers to (a lane's cursor, a gap) or that the file
    recorded when it deleted them (``meta.id_floor``). Ids are never reused, without
    AUTOINCREMENT's ``sqlite_sequence`` row, which would be one more page written a commit."""
    row = conn.execute(
        "SELECT max(coalesce((SELECT max(id) FROM events), 0), "
        "coalesce((SELECT max(cursor) FROM lanes), 0), coalesce((SELECT max(id) FROM gaps), 0), "
        "coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'id_floor'), 0))"
    ).fetchone()
    return int(row[0])


def next_id(conn: sqlite3.Connection) -> int | None:
    """The id the next inserted event must take, when SQLite's own choice (the newest row's id
    plus one) would reuse one; None when SQLite's choice is right."""
    newest = seq(conn)
    top = conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
    return newest + 1 if top < newest else None


def totals(conn: sqlite3.Connection) -> tuple[int, int, int]:
    """Events and bytes queued, exactly, and how many of them are in the tail not yet folded
    into the ``totals`` row (its ``through`` is the newest id it counts)."""
    events, size, through = conn.execute("SELECT events, bytes, through FROM totals WHERE id = 1").fetchone()
    n, tail = conn.execute(
        "SELECT count(*), coalesce(sum(size), 0) FROM events WHERE id > ?", (through,)
    ).fetchone()
    return int(events) + int(n), int(size) + int(tail), int(n)


def fold(conn: sqlite3.Connection) -> None:
    """Bring the ``totals`` row up to date with the tail appended since (before any change that
    subtracts from it, and when the tail is ``FOLD_AT`` long)."""
    events, size, _ = totals(conn)
    conn.execute(
        "UPDATE totals SET events = ?, bytes = ?, through = (SELECT coalesce(max(id), 0) FROM events) "
        "WHERE id = 1",
        (events, size),
    )


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


def keep_floor(conn: sqlite3.Connection) -> None:
    """Before deleting the newest events with nothing left to refer to their ids: remember the
    newest id, so the next event does not take one of theirs."""
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('id_floor', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (str(seq(conn)),),
    )


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
        fold(conn)
        conn.execute("DELETE FROM events WHERE id <= ?", (low,))
        conn.execute("UPDATE totals SET events = events - ?, bytes = bytes - ? WHERE id = 1", (n, size))
    if n and conn.execute("SELECT 1 FROM events LIMIT 1").fetchone() is None:
        conn.execute("DELETE FROM contexts")  # nothing refers to them any more
    # Requeued dead letters belong to one lane: gone once that lane's cursor passes them.
    # "+id" keeps SQLite on the small partial index instead of scanning the rowid range.
    done = "lane IS NOT NULL AND +id <= (SELECT cursor FROM lanes WHERE name = events.lane)"
    n, size = conn.execute(f"SELECT count(*), coalesce(sum(size), 0) FROM events WHERE {done}").fetchone()
    if n:
        fold(conn)
        conn.execute(f"INSERT OR IGNORE INTO gaps (id) SELECT id FROM events WHERE {done}")
        conn.execute(f"DELETE FROM events WHERE {done}")
        conn.execute("UPDATE totals SET events = events - ?, bytes = bytes - ? WHERE id = 1", (n, size))
