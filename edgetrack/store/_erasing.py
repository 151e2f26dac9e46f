"""Erasing on request: the pending events (of one lane or every lane), or everything a queue
file holds about the user (privacy law's "erase"). Functions of a connection, run inside the
caller's transaction; ``scrub`` then gives the bytes back to the file system."""

from __future__ import annotations

import sqlite3

from edgetrack.store._sql import bump, delete_done, pending, seq, totals

__all__ = ["erase_all", "purge_pending", "scrub"]


def purge_pending(conn: sqlite3.Connection, lane: str | None) -> int:
    """Move ``lane``'s cursor (every lane's, for None) past the newest event, counting what it
    passes as ``dropped["purged"]``; returns the events erased (each counted once)."""
    newest = seq(conn)
    lanes = conn.execute("SELECT name, cursor FROM lanes").fetchall()
    chosen = [(name, cursor) for name, cursor in lanes if lane in (None, name)]
    for name, cursor in chosen:
        bump(conn, name, {("dropped", "purged"): pending(conn, name, cursor)})
    if lane is None:
        erased = totals(conn)[0]
        conn.execute("UPDATE lanes SET cursor = ?", (newest,))
        conn.execute("DELETE FROM events")
        conn.execute("DELETE FROM contexts")  # they hold the users' traits too
        conn.execute("DELETE FROM gaps")
        conn.execute("UPDATE totals SET events = 0, bytes = 0, through = ? WHERE id = 1", (newest,))
        return erased
    erased = pending(conn, lane) if chosen else 0
    conn.execute("UPDATE lanes SET cursor = ? WHERE name = ?", (newest, lane))
    conn.execute("DELETE FROM events WHERE lane = ?", (lane,))
    delete_done(conn)
    return erased


def erase_all(conn: sqlite3.Connection) -> int:
    """Every pending event, every dead letter and the app's state; returns the events erased."""
    erased = purge_pending(conn, None)
    conn.execute("DELETE FROM dead_letters")
    conn.execute("DELETE FROM state")
    return erased


def scrub(conn: sqlite3.Connection) -> None:
    """Give what was erased back to the file system and overwrite it: a ``VACUUM`` rewrites the
    file from its live pages, and the WAL is checkpointed and truncated, so no copy of an
    erased row is left in either (outside any transaction; ``secure_delete`` is on for it)."""
    conn.execute("PRAGMA secure_delete=ON")
    conn.execute("VACUUM")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
