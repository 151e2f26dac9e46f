"""A lane's delivery as the queue sees it: a claim (a lease on the oldest pending events within
a request's limits), its completion (the cursor past it, dead letters, counters; only events
still pending count, so a claim finished twice after a lease takeover is counted once), or its
failure (the lease released, the next attempt or pause set). Functions of a connection, run
inside the caller's transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import NamedTuple

from edgetrack.models import QueuedEvent
from edgetrack.store._owners import owner_is_dead
from edgetrack.store._sql import Counts, bump, delete_done

__all__ = ["Claim", "Dead", "Settled", "claim", "complete", "fail"]

Settled = tuple[QueuedEvent, str, str]  # an event done for a lane: counter name, reason
Dead = tuple[QueuedEvent, str, str]  # an event given up on: reason, detail


class Claim(NamedTuple):
    """A leased run of a lane's oldest pending events, ``ids <= hi``."""

    lane: str
    events: list[QueuedEvent]
    hi: int


def claim(
    conn: sqlite3.Connection, lane: str, owner: str, now: float, lease: float, limits: tuple[int, int, int]
) -> Claim | None:
    """Lease the lane's oldest pending events within ``limits`` (max events, max bytes, bytes
    added to each event); None when nothing is pending or a live owner holds the lease."""
    row = conn.execute(
        "SELECT cursor, lease_owner, lease_until FROM lanes WHERE name = ?", (lane,)
    ).fetchone()
    if row is None:
        return None
    cursor, lease_owner, lease_until = row
    if lease_owner not in (None, owner) and (lease_until or 0) > now and not owner_is_dead(lease_owner):
        return None
    max_events, max_bytes, overhead = limits
    rows = conn.execute(
        "SELECT id, type, message_id, body, created, wall, size FROM queue "
        "WHERE id > ? AND (lane IS NULL OR lane = ?) ORDER BY id LIMIT ?",
        (cursor, lane, max_events),
    ).fetchall()
    events: list[QueuedEvent] = []
    used = 0
    make = QueuedEvent._make
    for row in rows:
        if events and used + row[6] + overhead > max_bytes:
            break
        used += row[6] + overhead
        events.append(make(row[:6]))
    if not events:
        return None
    conn.execute(
        "UPDATE lanes SET lease_owner = ?, lease_until = ?, lease_hi = ? WHERE name = ?",
        (owner, now + lease, events[-1].id, lane),
    )
    return Claim(lane, events, events[-1].id)


def complete(
    conn: sqlite3.Connection,
    done: Claim,
    owner: str,
    now: float,
    settled: Sequence[Settled],
    counts: Counts | None,
    dead: Sequence[Dead],
    max_dead_letters: int,
) -> None:
    row = conn.execute("SELECT cursor FROM lanes WHERE name = ?", (done.lane,)).fetchone()
    cursor = done.hi if row is None else row[0]
    conn.execute(
        "UPDATE lanes SET cursor = max(cursor, ?), failures = 0, server_failures = 0, "
        "next_attempt = NULL, seen = max(coalesce(seen, 0), ?), "
        "lease_owner = CASE WHEN lease_owner = ? THEN NULL ELSE lease_owner END, "
        "lease_until = CASE WHEN lease_owner = ? THEN NULL ELSE lease_until END "
        "WHERE name = ?",
        (done.hi, now, owner, owner, done.lane),
    )
    _dead_letters(conn, done.lane, [d for d in dead if d[0].id > cursor], now, max_dead_letters)
    tally: dict[tuple[str, str], int] = dict(counts or {})
    for event, name, reason in settled:
        if event.id > cursor:
            tally[(name, reason)] = tally.get((name, reason), 0) + 1
    if tally.get(("delivered", "")):  # a success: the last error is history
        conn.execute("UPDATE lanes SET last_error = NULL, last_error_at = NULL WHERE name = ?", (done.lane,))
    bump(conn, done.lane, tally)
    delete_done(conn)


def _dead_letters(conn: sqlite3.Connection, lane: str, dead: Sequence[Dead], now: float, keep: int) -> None:
    if not dead:
        return
    conn.executemany(
        "INSERT INTO dead_letters (lane, event_id, type, message_id, body, created, reason, detail, dead_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (lane, e.id, e.type, e.message_id, e.body, e.created, reason, detail, now)
            for e, reason, detail in dead
        ],
    )
    conn.execute(
        "DELETE FROM dead_letters WHERE lane = ? AND id <= "
        "(SELECT id FROM dead_letters WHERE lane = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
        (lane, lane, keep),
    )


class Failure(NamedTuple):
    """What a failed attempt leaves on its lane (see ``SQLiteStore.fail``)."""

    error: str
    next_attempt: float | None = None
    paused_until: float | None = None
    pause_reason: str | None = None
    count_failure: bool = True
    server_failure: bool = False


def fail(
    conn: sqlite3.Connection, lane: str, owner: str, now: float, failure: Failure, counts: Counts | None
) -> None:
    conn.execute(
        "UPDATE lanes SET next_attempt = ?, paused_until = ?, pause_reason = ?, failures = failures + ?, "
        "server_failures = CASE WHEN ? THEN server_failures + 1 ELSE 0 END, "
        "last_error = ?, last_error_at = ?, "
        "lease_owner = CASE WHEN lease_owner = ? THEN NULL ELSE lease_owner END, "
        "lease_until = CASE WHEN lease_owner = ? THEN NULL ELSE lease_until END WHERE name = ?",
        (
            failure.next_attempt,
            failure.paused_until,
            failure.pause_reason,
            1 if failure.count_failure else 0,
            failure.server_failure,
            failure.error,
            now,
            owner,
            owner,
            lane,
        ),
    )
    if counts:
        bump(conn, lane, counts)
