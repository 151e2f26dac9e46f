"""Dead letters: events a lane gave up on, kept in the queue file (bounded) with the reason, to
list, requeue (to their own lane only) or purge. Functions of a connection."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from edgetrack.store._sql import fold, next_id, seq

__all__ = ["DeadLetter", "count", "ids", "listed", "mark", "purge", "requeue", "since", "unknown"]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An event a lane gave up on, kept with the reason."""

    id: int
    lane: str
    event_id: int
    type: str
    message_id: str
    body: str
    created: float
    reason: str
    detail: str
    dead_at: float


def _where(chosen: Sequence[int] | None, lane: str | None) -> tuple[str, list[Any]]:
    clauses: list[str] = ["1"]
    args: list[Any] = []
    if chosen is not None:
        clauses.append(f"id IN ({','.join('?' * len(chosen))})" if chosen else "0")
        args.extend(chosen)
    if lane is not None:
        clauses.append("lane = ?")
        args.append(lane)
    return " AND ".join(clauses), args


def listed(conn: sqlite3.Connection, lane: str | None, limit: int, after: int) -> list[DeadLetter]:
    where, args = _where(None, lane)
    query = (
        "SELECT id, lane, event_id, type, message_id, body, created, reason, detail, dead_at "
        f"FROM dead_letters WHERE id > ? AND {where} ORDER BY id LIMIT ?"
    )
    return [DeadLetter(*row) for row in conn.execute(query, [after, *args, limit])]


def mark(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT coalesce(max(id), 0) FROM dead_letters").fetchone()[0])


def since(conn: sqlite3.Connection, after: int, upto: int) -> int:
    query = "SELECT count(*) FROM dead_letters WHERE id > ? AND event_id <= ?"
    return int(conn.execute(query, (after, upto)).fetchone()[0])


def count(conn: sqlite3.Connection, chosen: Sequence[int] | None, lane: str | None) -> int:
    where, args = _where(chosen, lane)
    return int(conn.execute(f"SELECT count(*) FROM dead_letters WHERE {where}", args).fetchone()[0])


def unknown(conn: sqlite3.Connection, chosen: Sequence[int]) -> list[int]:
    where, args = _where(chosen, None)
    found = {row[0] for row in conn.execute(f"SELECT id FROM dead_letters WHERE {where}", args)}
    return [i for i in chosen if i not in found]


def ids(conn: sqlite3.Connection, limit: int) -> list[int]:
    return [row[0] for row in conn.execute("SELECT id FROM dead_letters ORDER BY id LIMIT ?", (limit,))]


def requeue(
    conn: sqlite3.Connection, chosen: Sequence[int] | None, lane: str | None, now: float | None
) -> int:
    """Back to their own lane (a lane-specific event row); with ``now`` their age starts again."""
    where, args = _where(chosen, lane)
    rows = conn.execute(
        f"SELECT id, lane, type, message_id, body, created FROM dead_letters WHERE {where}", args
    ).fetchall()
    first = next_id(conn) or seq(conn) + 1  # ids never reused, dense from the newest on
    conn.executemany(
        "INSERT INTO events (id, type, message_id, body, size, created, lane) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (first + i, t, m, b, len(b.encode("utf-8")), c if now is None else now, owner)
            for i, (_, owner, t, m, b, c) in enumerate(rows)
        ],
    )
    fold(conn)
    conn.execute(f"DELETE FROM dead_letters WHERE {where}", args)
    return len(rows)


def purge(conn: sqlite3.Connection, chosen: Sequence[int] | None, lane: str | None) -> int:
    where, args = _where(chosen, lane)
    return int(conn.execute(f"DELETE FROM dead_letters WHERE {where}", args).rowcount)
