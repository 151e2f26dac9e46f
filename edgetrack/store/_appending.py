"""Appending events in one transaction (multi-row INSERTs), and trimming the oldest when the
queue passes its caps: ``max_events``, the events' own ``max_bytes``, or the file's size
(``_space``). Functions of a connection, run inside the caller's transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from itertools import chain

from edgetrack.config import QueueLimits
from edgetrack.store import _space as space
from edgetrack.store._lanes import ensure_lanes
from edgetrack.store._sql import FOLD_AT, bump, fold, next_id, seq, totals

__all__ = ["CHUNKS", "Row", "Rows", "append", "insert_statements"]

# type, message_id, body, size, created (queue time, or a monotonic reading plus ``shift``),
# and the wall clock at track() when edgetrack stamped the timestamp (None: the app gave it)
Row = tuple[str, str, str, int, float, float | None]
#: Rows as ``append`` takes them: (type, message_id, body, size, created[, wall]); without the
#: wall time (rows copied or built by tools) it is None.
Rows = Sequence[Row] | Sequence[tuple[str, str, str, int, float]]

TRIM_TO = 0.99  # trim a little below a cap, so a full queue does not trim on every commit

# Multi-row INSERTs of fixed sizes (largest first): one GIL release a statement, not one a row
# as executemany(), and few cached statements (~0.25 MB each). SQLite < 3.32: 999 parameters.
CHUNKS = (128, 64, 32, 16, 8, 4, 2, 1) if sqlite3.sqlite_version_info < (3, 32) else (256, 128, 32, 8, 2, 1)
_VALUES = "INSERT INTO events (type, message_id, body, size, created, wall, context) VALUES "
_FIRST = (
    "INSERT INTO events (id, type, message_id, body, size, created, wall, context) "
    "VALUES (?,?,?,?,?,?{shift},?,?)"
)
_CONTEXT = ',"context":'  # the envelope's last key: the context an event shares with others


def insert_statements(shift: float) -> dict[int, str]:
    """The multi-row INSERTs; ``shift`` is added to ``created`` by SQLite itself (the writer's
    rows carry monotonic readings), so the rows need no rebuilding in Python."""
    one = f"(?,?,?,?,?+{shift!r},?,?)" if shift else "(?,?,?,?,?,?,?)"
    return {n: _VALUES + ",".join([one] * n) for n in CHUNKS}


def append(
    conn: sqlite3.Connection,
    rows: Sequence[Row],
    statements: dict[int, str],
    limits: QueueLimits,
    lanes: Iterable[str],
    now: float,
    shift: float = 0.0,
) -> dict[str, int]:
    """Insert ``rows`` (after making sure of ``lanes``); returns the events dropped per lane."""
    if lanes:
        ensure_lanes(conn, lanes, now)
    shared = _shared_contexts(conn, rows)
    start, left = 0, len(shared)
    first = next_id(conn)
    if first is not None and shared:  # the newest rows were deleted: SQLite would reuse their ids
        conn.execute(_FIRST.format(shift=f"+{shift!r}" if shift else ""), (first, *shared[0]))
        start, left = 1, left - 1
    for n in CHUNKS:
        while left >= n:
            conn.execute(statements[n], list(chain.from_iterable(shared[start : start + n])))
            start, left = start + n, left - n
    # the totals row is not written on every commit (one page less): the tail since it was
    # last brought up to date is counted on the way, and folded in when it grows long
    total_events, total_bytes, tail = totals(conn)
    if tail >= FOLD_AT:
        fold(conn)
    used = space.used_bytes(conn)
    budget = space.file_budget(limits)
    if total_events <= limits.max_events and total_bytes <= limits.max_bytes and used <= budget:
        return {}
    # by the events' own bytes, or by the file's: whichever asks for more room
    overflow = max(0.0, (used - budget * TRIM_TO) / used) if used else 0.0
    free_events = total_events - int(limits.max_events * TRIM_TO)
    free_bytes = max(total_bytes - int(limits.max_bytes * TRIM_TO), int(total_bytes * overflow))
    return _trim(conn, free_events, free_bytes)


def _shared_contexts(conn: sqlite3.Connection, rows: Sequence[Row]) -> list[tuple[object, ...]]:
    """The rows with their context kept once: each body cut before its last ``"context"`` key,
    the cut-off end stored in ``contexts`` (once for every event that shares it) and its id in
    the row. Cutting anywhere is lossless (``queue`` joins the two back), so a body whose last
    such key is not the envelope's own is only shared less well, never changed."""
    ids: dict[str, int] = {}
    out: list[tuple[object, ...]] = []
    for kind, message_id, body, size, created, wall in rows:
        cut = body.rfind(_CONTEXT)
        if cut <= 0:
            out.append((kind, message_id, body, size, created, wall, None))
            continue
        tail = body[cut:]
        found = ids.get(tail)
        if found is None:
            conn.execute("INSERT OR IGNORE INTO contexts (json) VALUES (?)", (tail,))
            found = ids[tail] = conn.execute("SELECT id FROM contexts WHERE json = ?", (tail,)).fetchone()[0]
        out.append((kind, message_id, body[:cut], size, created, wall, found))
    return out


def _oldest(
    conn: sqlite3.Connection, free_events: int, free_bytes: int
) -> tuple[list[tuple[int, str | None]], int]:
    """The oldest events whose dropping frees what is asked (never the newest one)."""
    dropped: list[tuple[int, str | None]] = []
    freed = after = 0
    newest = seq(conn)
    while free_events > len(dropped) or free_bytes > freed:
        chunk = conn.execute(
            "SELECT id, size, lane FROM events WHERE id > ? ORDER BY id LIMIT 2000", (after,)
        ).fetchall()
        if not chunk:
            break
        for event_id, event_size, lane in chunk:
            if event_id >= newest or (free_events <= len(dropped) and free_bytes <= freed):
                break
            dropped.append((event_id, lane))
            freed += event_size
        if after == chunk[-1][0] or chunk[-1][0] >= newest:
            break
        after = chunk[-1][0]
    return dropped, freed


def _trim(conn: sqlite3.Connection, free_events: int, free_bytes: int) -> dict[str, int]:
    dropped, freed = _oldest(conn, free_events, free_bytes)
    if not dropped:
        return {}
    hi = dropped[-1][0]
    fold(conn)
    conn.execute("DELETE FROM events WHERE id <= ?", (hi,))
    conn.execute(
        "UPDATE totals SET events = events - ?, bytes = bytes - ? WHERE id = 1", (len(dropped), freed)
    )
    lanes = conn.execute("SELECT name, cursor FROM lanes").fetchall()
    if not lanes:  # queued for whoever opens the file later: count the drop for the queue
        bump(conn, "*", {("dropped", "queue_full"): len(dropped)})
        return {"*": len(dropped)}
    per_lane: dict[str, int] = {}
    for name, cursor in lanes:
        n = sum(1 for event_id, lane in dropped if event_id > cursor and lane in (None, name))
        if n:
            per_lane[name] = n
            bump(conn, name, {("dropped", "queue_full"): n})
    conn.execute("UPDATE lanes SET cursor = max(cursor, ?)", (hi,))
    return per_lane
