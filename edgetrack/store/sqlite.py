"""The SQLite queue: group-commit appends, lane cursors, leases, caps, counters, dead letters.

One ``SQLiteStore`` is one connection; each thread that needs the queue opens its own.
Every change is one ``BEGIN IMMEDIATE`` transaction, so two processes sharing the file
serialise on SQLite's lock (WAL lets readers such as the CLI go on meanwhile).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

from edgetrack.config import QueueLimits
from edgetrack.errors import StorageError
from edgetrack.models import QueuedEvent
from edgetrack.store.dead_letters import DeadLetter, DeadLetters
from edgetrack.store.owners import LIVE_OWNERS, make_owner, owner_is_dead
from edgetrack.store.paths import ensure_private_file, quarantine
from edgetrack.store.reading import LaneState, Reading
from edgetrack.store.schema import migrate

__all__ = ["LIVE_OWNERS", "Claim", "DeadLetter", "LaneState", "SQLiteStore", "make_owner", "owner_is_dead"]

Counts = Mapping[tuple[str, str], int]  # (counter name, reason) -> increment
Row = tuple[str, str, str, int, float]  # type, message_id, body, size, created

_TRIM_TO = 0.99  # trim a little below a cap, so a full queue does not trim on every commit

# Multi-row INSERTs of fixed sizes (largest first): one GIL release a statement, not one a row
# as executemany(), and few cached statements (~0.25 MB each). SQLite < 3.32: 999 parameters.
_CHUNKS = (128, 64, 32, 16, 8, 4, 2, 1) if sqlite3.sqlite_version_info < (3, 32) else (256, 128, 32, 8, 2, 1)
_VALUES = "INSERT INTO events (type, message_id, body, size, created) VALUES "
_INSERT = {n: _VALUES + ",".join(["(?,?,?,?,?)"] * n) for n in _CHUNKS}


@dataclass(frozen=True, slots=True)
class Claim:
    """A leased run of a lane's oldest pending events, ``ids <= hi``."""

    lane: str
    events: list[QueuedEvent]
    hi: int


class _Conn:
    """What the migrations need of a database: its connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino)


def _enable_wal(conn: sqlite3.Connection, patience: float) -> None:
    """Switch a new file to WAL. The switch skips SQLite's busy handler, so two connections
    opening a brand-new file together retry here; an existing WAL file needs no switch."""
    import time

    deadline = time.monotonic() + patience
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class SQLiteStore(DeadLetters, Reading):
    """One connection to the queue file."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self._db: Any = None
        self._inode = _inode(path)

    @property
    def db(self) -> Any:
        """The sqlite-utils ``Database`` on this connection (``execute_plugins=False``), for the
        CLI and inspection. Made on first use: importing sqlite-utils costs ~150 ms, which must
        not delay the first commit after start-up."""
        if self._db is None:
            import sqlite_utils

            self._db = sqlite_utils.Database(self.conn, execute_plugins=False)
        return self._db

    def still_there(self) -> bool:
        """False when the file was deleted or replaced since it was opened (writes would be lost)."""
        return self._inode is not None and _inode(self.path) == self._inode

    def count(self, lane: str, name: str, reason: str = "", n: int = 1) -> None:
        """Add to a counter (e.g. lane "*" for whole-queue events such as a quarantined file)."""
        with self._tx() as conn:
            self._bump(conn, lane, {(name, reason): n})

    quarantine = staticmethod(quarantine)

    @classmethod
    def open(cls, path: Path | str, *, synchronous: str = "NORMAL", busy_timeout: float = 5.0) -> SQLiteStore:
        """Open (creating owner-only if needed) and migrate the queue file."""
        path = Path(path)
        ensure_private_file(path)
        conn = sqlite3.connect(str(path), timeout=busy_timeout, isolation_level=None, check_same_thread=False)
        try:
            _enable_wal(conn, busy_timeout)
            conn.execute(f"PRAGMA synchronous={synchronous}")
            conn.execute("PRAGMA foreign_keys=OFF")
            migrate(_Conn(conn))
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StorageError(f"cannot use the queue file {path}: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        return cls(conn, path)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- lanes -----------------------------------------------------------------------------

    def ensure_lanes(self, names: Iterable[str], now: float) -> None:
        """Create missing lanes; a new lane starts after the newest event already queued."""
        with self._tx() as conn:
            seq = self._seq(conn)
            conn.executemany(
                "INSERT OR IGNORE INTO lanes (name, cursor, created) VALUES (?, ?, ?)",
                [(name, seq, now) for name in names],
            )

    # -- appending -------------------------------------------------------------------------

    def append(self, rows: Sequence[Row], limits: QueueLimits) -> dict[str, int]:
        """Insert events in one transaction, trimming the oldest past the caps.

        Returns the number of pending events dropped per lane (normally empty).
        """
        with self._tx() as conn:
            start, left = 0, len(rows)
            for n in _CHUNKS:
                while left >= n:
                    conn.execute(_INSERT[n], list(chain.from_iterable(rows[start : start + n])))
                    start, left = start + n, left - n
            added = sum(row[3] for row in rows)
            total_events, total_bytes = conn.execute(
                "UPDATE totals SET events = events + ?, bytes = bytes + ? WHERE id = 1 "
                "RETURNING events, bytes",
                (len(rows), added),
            ).fetchone()
            if total_events > limits.max_events or total_bytes > limits.max_bytes:
                return self._trim(conn, total_events, total_bytes, limits)
        return {}

    def _trim(self, conn: sqlite3.Connection, events: int, size: int, limits: QueueLimits) -> dict[str, int]:
        free_events = events - int(limits.max_events * _TRIM_TO)
        free_bytes = size - int(limits.max_bytes * _TRIM_TO)
        dropped: list[tuple[int, str | None]] = []
        freed_bytes = 0
        after = 0
        newest = self._seq(conn)  # never drop the event just appended
        while free_events > len(dropped) or free_bytes > freed_bytes:
            chunk = conn.execute(
                "SELECT id, size, lane FROM events WHERE id > ? ORDER BY id LIMIT 2000", (after,)
            ).fetchall()
            if not chunk:
                break
            for event_id, event_size, lane in chunk:
                if event_id >= newest or (free_events <= len(dropped) and free_bytes <= freed_bytes):
                    break
                dropped.append((event_id, lane))
                freed_bytes += event_size
            if after == chunk[-1][0] or chunk[-1][0] >= newest:
                break
            after = chunk[-1][0]
        if not dropped:
            return {}
        hi = dropped[-1][0]
        conn.execute("DELETE FROM events WHERE id <= ?", (hi,))
        conn.execute(
            "UPDATE totals SET events = events - ?, bytes = bytes - ? WHERE id = 1",
            (len(dropped), freed_bytes),
        )
        per_lane: dict[str, int] = {}
        for name, cursor in conn.execute("SELECT name, cursor FROM lanes").fetchall():
            n = sum(1 for event_id, lane in dropped if event_id > cursor and lane in (None, name))
            if n:
                per_lane[name] = n
                self._bump(conn, name, {("dropped", "queue_full"): n})
        conn.execute("UPDATE lanes SET cursor = max(cursor, ?)", (hi,))
        return per_lane

    # -- delivering ------------------------------------------------------------------------

    def claim(
        self,
        lane: str,
        owner: str,
        now: float,
        *,
        lease: float,
        max_events: int,
        max_bytes: int,
        overhead: int = 1,
    ) -> Claim | None:
        """Lease the lane's oldest pending events, within the request limits.

        Returns None when nothing is pending or another live owner holds the lane's lease.
        """
        with self._tx() as conn:
            row = conn.execute(
                "SELECT cursor, lease_owner, lease_until FROM lanes WHERE name = ?", (lane,)
            ).fetchone()
            if row is None:
                return None
            cursor, lease_owner, lease_until = row
            if (
                lease_owner not in (None, owner)
                and (lease_until or 0) > now
                and not owner_is_dead(lease_owner)
            ):
                return None
            rows = conn.execute(
                "SELECT id, type, message_id, body, created, size FROM events "
                "WHERE id > ? AND (lane IS NULL OR lane = ?) ORDER BY id LIMIT ?",
                (cursor, lane, max_events),
            ).fetchall()
            if not rows:
                return None
            events: list[QueuedEvent] = []
            used = 0
            make = QueuedEvent._make
            for row in rows:
                size = row[5]
                if events and used + size + overhead > max_bytes:
                    break
                used += size + overhead
                events.append(make(row[:5]))
            hi = events[-1].id
            conn.execute(
                "UPDATE lanes SET lease_owner = ?, lease_until = ?, lease_hi = ? WHERE name = ?",
                (owner, now + lease, hi, lane),
            )
        return Claim(lane, events, hi)

    def complete(
        self,
        claim: Claim,
        owner: str,
        now: float,
        *,
        counts: Counts,
        dead: Sequence[tuple[QueuedEvent, str, str]] = (),
        max_dead_letters: int = 1000,
    ) -> None:
        """Finish a claim: advance the cursor past it, record dead letters, release the lease."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE lanes SET cursor = max(cursor, ?), failures = 0, server_failures = 0, "
                "next_attempt = NULL, "
                "lease_owner = CASE WHEN lease_owner = ? THEN NULL ELSE lease_owner END, "
                "lease_until = CASE WHEN lease_owner = ? THEN NULL ELSE lease_until END "
                "WHERE name = ?",
                (claim.hi, owner, owner, claim.lane),
            )
            if dead:
                conn.executemany(
                    "INSERT INTO dead_letters (lane, event_id, type, message_id, body, created, "
                    "reason, detail, dead_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (claim.lane, e.id, e.type, e.message_id, e.body, e.created, r, d, now)
                        for e, r, d in dead
                    ],
                )
                conn.execute(
                    "DELETE FROM dead_letters WHERE lane = ? AND id <= (SELECT id FROM "
                    "dead_letters WHERE lane = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                    (claim.lane, claim.lane, max_dead_letters),
                )
            self._bump(conn, claim.lane, counts)
            self._delete_done(conn)

    def fail(
        self,
        lane: str,
        owner: str,
        now: float,
        *,
        error: str,
        next_attempt: float | None = None,
        paused_until: float | None = None,
        pause_reason: str | None = None,
        count_failure: bool = True,
        server_failure: bool = False,
        counts: Counts | None = None,
    ) -> None:
        """Release the lease and schedule the lane's next attempt; the events stay queued."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE lanes SET next_attempt = ?, paused_until = ?, pause_reason = ?, "
                "failures = failures + ?, server_failures = CASE WHEN ? THEN server_failures + 1 ELSE 0 END, "
                "last_error = ?, last_error_at = ?, "
                "lease_owner = CASE WHEN lease_owner = ? THEN NULL ELSE lease_owner END, "
                "lease_until = CASE WHEN lease_owner = ? THEN NULL ELSE lease_until END "
                "WHERE name = ?",
                (
                    next_attempt,
                    paused_until,
                    pause_reason,
                    1 if count_failure else 0,
                    server_failure,
                    error,
                    now,
                    owner,
                    owner,
                    lane,
                ),
            )
            if counts:
                self._bump(conn, lane, counts)

    def clear_pause(self, lane: str, reason: str) -> None:
        """End a lane's pause if it was for ``reason`` (an auth pause ends when the app restarts,
        which is when a corrected key arrives)."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE lanes SET paused_until = NULL, pause_reason = NULL, next_attempt = NULL "
                "WHERE name = ? AND pause_reason = ?",
                (lane, reason),
            )

    def release(self, lane: str, owner: str) -> None:
        """Give a lease back unused (for example when shutdown interrupts a delivery)."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE lanes SET lease_owner = NULL, lease_until = NULL WHERE name = ? AND lease_owner = ?",
                (lane, owner),
            )

    def _delete_done(self, conn: sqlite3.Connection) -> None:
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

    @staticmethod
    def _bump(conn: sqlite3.Connection, lane: str, counts: Counts) -> None:
        conn.executemany(
            "INSERT INTO counters (lane, name, reason, n) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (lane, name, reason) DO UPDATE SET n = n + excluded.n",
            [(lane, name, reason, n) for (name, reason), n in counts.items() if n],
        )
