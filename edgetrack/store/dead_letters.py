"""Dead letters: events a lane gave up on, kept in the queue file (bounded) with the reason,
to list, requeue (to their own lane only) or purge. Mixed into ``SQLiteStore``."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from edgetrack.store import forksafe

__all__ = ["DeadLetter", "DeadLetters"]


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


class DeadLetters:
    """The dead-letter half of ``SQLiteStore`` (which provides ``conn`` and ``_tx``)."""

    conn: sqlite3.Connection

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def dead_letters(self, lane: str | None = None, limit: int = 100, *, after: int = 0) -> list[DeadLetter]:
        """Dead letters (all, or one lane's), oldest first, from dead-letter id ``after`` on."""
        sql = (
            "SELECT id, lane, event_id, type, message_id, body, created, reason, detail, dead_at "
            "FROM dead_letters WHERE id > ?"
        )
        args: tuple[Any, ...] = (after, limit)
        if lane is not None:
            sql += " AND lane = ?"
            args = (after, lane, limit)
        with forksafe.inside():
            return [DeadLetter(*row) for row in self.conn.execute(sql + " ORDER BY id LIMIT ?", args)]

    def dead_letter_mark(self) -> int:
        """The newest dead letter's id (0 for none): a mark for ``dead_letters_since``."""
        with forksafe.inside():
            return int(self.conn.execute("SELECT coalesce(max(id), 0) FROM dead_letters").fetchone()[0])

    def dead_letters_since(self, mark: int, *, upto: int) -> int:
        """Dead letters made after ``mark`` of events queued with ids up to ``upto``."""
        with forksafe.inside():
            row = self.conn.execute(
                "SELECT count(*) FROM dead_letters WHERE id > ? AND event_id <= ?", (mark, upto)
            ).fetchone()
        return int(row[0])

    def count_dead(self, ids: Sequence[int] | None = None, *, lane: str | None = None) -> int:
        """How many dead letters these ids and this lane select (None: every one)."""
        where, args = self._dead_filter(ids, lane)
        with forksafe.inside():
            return int(
                self.conn.execute(f"SELECT count(*) FROM dead_letters WHERE {where}", args).fetchone()[0]
            )

    def unknown_dead(self, ids: Sequence[int]) -> list[int]:
        """Which of ``ids`` name no dead letter."""
        where, args = self._dead_filter(ids, None)
        with forksafe.inside():
            found = {row[0] for row in self.conn.execute(f"SELECT id FROM dead_letters WHERE {where}", args)}
        return [i for i in ids if i not in found]

    def dead_letter_ids(self, limit: int = 20) -> list[int]:
        with forksafe.inside():
            return [
                row[0]
                for row in self.conn.execute("SELECT id FROM dead_letters ORDER BY id LIMIT ?", (limit,))
            ]

    def dead_letter_count(self) -> int:
        with forksafe.inside():
            return int(self.conn.execute("SELECT count(*) FROM dead_letters").fetchone()[0])

    def requeue_dead(
        self, ids: Sequence[int] | None = None, *, lane: str | None = None, now: float | None = None
    ) -> int:
        """Put dead letters back in their own lane's queue (only that lane sends them again).

        With ``now``, a requeued event's age starts again from ``now`` (an event dead-lettered
        as too old would otherwise expire again at once); its timestamp is sent as it was.
        """
        where, args = self._dead_filter(ids, lane)
        with self._tx() as conn:
            rows = conn.execute(
                f"SELECT id, lane, type, message_id, body, created FROM dead_letters WHERE {where}",
                args,
            ).fetchall()
            conn.executemany(
                "INSERT INTO events (type, message_id, body, size, created, lane) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (t, m, b, len(b.encode("utf-8")), c if now is None else now, lane_)
                    for _, lane_, t, m, b, c in rows
                ],
            )
            conn.execute(
                "UPDATE totals SET events = events + ?, bytes = bytes + ? WHERE id = 1",
                (len(rows), sum(len(r[4].encode("utf-8")) for r in rows)),
            )
            conn.execute(f"DELETE FROM dead_letters WHERE {where}", args)
        return len(rows)

    def purge_dead(self, ids: Sequence[int] | None = None, *, lane: str | None = None) -> int:
        where, args = self._dead_filter(ids, lane)
        with self._tx() as conn:
            return conn.execute(f"DELETE FROM dead_letters WHERE {where}", args).rowcount

    @staticmethod
    def _dead_filter(ids: Sequence[int] | None, lane: str | None) -> tuple[str, list[Any]]:
        clauses: list[str] = ["1"]
        args: list[Any] = []
        if ids is not None:
            clauses.append(f"id IN ({','.join('?' * len(ids))})" if ids else "0")
            args.extend(ids)
        if lane is not None:
            clauses.append("lane = ?")
            args.append(lane)
        return " AND ".join(clauses), args
