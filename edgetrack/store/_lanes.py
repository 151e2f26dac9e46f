"""Lanes: one per destination, each a cursor over the shared events. Created (the first ones
take every event already queued), marked as seen by the clients that send them, dropped when
nobody does, and their persisted waits kept within bounds. Functions of a connection, run
inside the caller's transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from edgetrack.store._sql import bump, delete_done, fold, keep_floor, pending, seq

__all__ = ["cap_waits", "clear_pause", "drop_lane", "ensure_lanes", "stale_lanes"]


def ensure_lanes(conn: sqlite3.Connection, names: Iterable[str], now: float) -> None:
    """Create missing lanes and mark every one as seen now. The first lanes of a file take
    every event already queued (an app that queues with no destination leaves sending to
    whoever opens the file later); later lanes start after the newest event, so a new
    destination does not receive old history."""
    first = conn.execute("SELECT 1 FROM lanes LIMIT 1").fetchone() is None
    start = 0 if first else seq(conn)
    conn.executemany(
        "INSERT INTO lanes (name, cursor, created, seen) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET seen = excluded.seen",
        [(name, start, now, now) for name in names],
    )


def drop_lane(conn: sqlite3.Connection, name: str) -> int:
    """Remove a lane with its pending events, dead letters and counters; returns how many
    pending events it had (counted in the queue's ``*`` counters as ``lane_dropped``)."""
    if conn.execute("SELECT 1 FROM lanes WHERE name = ?", (name,)).fetchone() is None:
        return 0
    waiting = pending(conn, name)
    n, size = conn.execute(
        "SELECT count(*), coalesce(sum(size), 0) FROM events WHERE lane = ?", (name,)
    ).fetchone()
    if n:
        fold(conn)
        conn.execute("DELETE FROM events WHERE lane = ?", (name,))
        conn.execute("UPDATE totals SET events = events - ?, bytes = bytes - ? WHERE id = 1", (n, size))
    for table in ("lanes WHERE name", "dead_letters WHERE lane", "counters WHERE lane"):
        conn.execute(f"DELETE FROM {table} = ?", (name,))
    bump(conn, "*", {("lane_dropped", name): waiting})
    if conn.execute("SELECT 1 FROM lanes LIMIT 1").fetchone() is None:
        # The last lane: what it held was for it alone (not for the next lane to open).
        keep_floor(conn)
        conn.execute("DELETE FROM events")
        conn.execute("DELETE FROM contexts")
        conn.execute("DELETE FROM gaps")
        conn.execute("UPDATE totals SET events = 0, bytes = 0, through = ? WHERE id = 1", (seq(conn),))
    delete_done(conn)
    return waiting


def stale_lanes(conn: sqlite3.Connection, keep: Iterable[str], now: float, max_age: float) -> list[str]:
    """Lanes not in ``keep`` that no client has configured for ``max_age`` seconds."""
    kept = set(keep)
    rows = conn.execute("SELECT name, coalesce(seen, created) FROM lanes").fetchall()
    return [name for name, seen in rows if name not in kept and seen < now - max_age]


def cap_waits(
    conn: sqlite3.Connection, now: float, pauses: Mapping[str, float], backoff: float, lease: float
) -> None:
    """Bring every persisted wait within its own maximum from ``now``: a pause by its reason's
    cap (``pauses[""]`` for other reasons), a backoff, a lease."""
    default = pauses.get("", max(pauses.values(), default=backoff))
    cases = " ".join("WHEN ? THEN ?" for _ in pauses)
    limit = f"(? + CASE pause_reason {cases} ELSE ? END)" if pauses else "(? + ?)"
    args: list[Any] = [now]
    for reason, cap in pauses.items():
        args += [reason, cap]
    args.append(default)
    conn.execute(
        f"UPDATE lanes SET paused_until = min(paused_until, {limit}) WHERE paused_until > {limit}",
        args + args,
    )
    conn.execute(
        "UPDATE lanes SET next_attempt = ? + ? WHERE next_attempt > ? + ?", (now, backoff, now, backoff)
    )
    conn.execute("UPDATE lanes SET lease_until = ? + ? WHERE lease_until > ? + ?", (now, lease, now, lease))


def clear_pause(conn: sqlite3.Connection, lane: str, reason: str) -> None:
    """End a lane's pause if it was for ``reason``."""
    conn.execute(
        "UPDATE lanes SET paused_until = NULL, pause_reason = NULL, next_attempt = NULL "
        "WHERE name = ? AND pause_reason = ?",
        (lane, reason),
    )
