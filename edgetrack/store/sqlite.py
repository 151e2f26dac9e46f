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
from edgetrack.protocols import Clock, SystemClock
from edgetrack.store import forksafe, space
from edgetrack.store.dead_letters import DeadLetter, DeadLetters
from edgetrack.store.owners import LIVE_OWNERS, make_owner, owner_is_dead
from edgetrack.store.paths import ensure_private_file, quarantine
from edgetrack.store.reading import LaneState, Reading
from edgetrack.store.schema import check_version, migrate
from edgetrack.store.timeline import Timeline, establish

__all__ = ["LIVE_OWNERS", "Claim", "DeadLetter", "LaneState", "SQLiteStore", "make_owner", "owner_is_dead"]

Counts = Mapping[tuple[str, str], int]  # (counter name, reason) -> increment
# type, message_id, body, size, created (queue time, or a monotonic reading plus ``shift``),
# and the wall clock at track() when edgetrack stamped the timestamp (None: the app gave it)
Row = tuple[str, str, str, int, float, float | None]
Settled = tuple[QueuedEvent, str, str]  # an event done for a lane: counter name, reason

_TRIM_TO = 0.99  # trim a little below a cap, so a full queue does not trim on every commit

# Multi-row INSERTs of fixed sizes (largest first): one GIL release a statement, not one a row
# as executemany(), and few cached statements (~0.25 MB each). SQLite < 3.32: 999 parameters.
_CHUNKS = (128, 64, 32, 16, 8, 4, 2, 1) if sqlite3.sqlite_version_info < (3, 32) else (256, 128, 32, 8, 2, 1)
_VALUES = "INSERT INTO events (type, message_id, body, size, created, wall) VALUES "


def _insert_statements(shift: float) -> dict[int, str]:
    """The multi-row INSERTs; ``shift`` is added to ``created`` by SQLite itself (the writer's
    rows carry monotonic readings), so the rows need no rebuilding in Python."""
    one = f"(?,?,?,?,?+{shift!r},?)" if shift else "(?,?,?,?,?,?)"
    return {n: _VALUES + ",".join([one] * n) for n in _CHUNKS}


_INSERT = _insert_statements(0.0)


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


def _close_all_of(inode: tuple[int, int] | None) -> None:
    """Close every connection of this process to the file ``inode`` names, with no thread
    inside SQLite meanwhile (``forksafe.exclusive``)."""
    with forksafe.exclusive() as stores:
        for store in stores:
            if isinstance(store, SQLiteStore) and store._inode == inode and not store._lost:
                store._lost = True
                store.conn.close()


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
    """One connection to the queue file, with the file's time line for this boot."""

    def __init__(self, conn: sqlite3.Connection, path: Path, timeline: Timeline) -> None:
        self.conn = conn
        self.path = path
        self.timeline = timeline
        self._inode = _inode(path)
        self._wal_inode = _inode(path.with_name(path.name + "-wal"))
        self._lost = False  # closed because the file or its WAL was replaced under us
        self._shifted: dict[float, dict[int, str]] = {}
        forksafe.register(self)

    def now(self) -> float:
        """Queue time now (see ``store/timeline.py``)."""
        return self.timeline.now()

    def still_there(self) -> bool:
        """False when the file or its WAL was deleted or replaced since it was opened: writes
        through this connection would go to a file nobody will read again.

        Finding that out closes every connection this process has to the file (their shared
        WAL index describes the lost WAL; SQLite rebuilds it only when the process opens the
        file afresh), so each owner reopens and carries on with the new file.
        """
        if self._lost:
            return False
        there = self._inode is not None and _inode(self.path) == self._inode
        if there and self._wal_inode is not None:
            there = _inode(self.path.with_name(self.path.name + "-wal")) == self._wal_inode
        if not there:
            _close_all_of(self._inode)
        return there

    def _note_wal(self) -> None:
        """After a write: remember the WAL's identity (it exists from the first write on, and
        SQLite keeps it while any connection is open)."""
        if self._wal_inode is None:
            self._wal_inode = _inode(self.path.with_name(self.path.name + "-wal"))

    def count(self, lane: str, name: str, reason: str = "", n: int = 1) -> None:
        """Add to a counter (e.g. lane "*" for whole-queue events such as a quarantined file)."""
        with self._tx() as conn:
            self._bump(conn, lane, {(name, reason): n})

    quarantine = staticmethod(quarantine)

    @classmethod
    def open(
        cls,
        path: Path | str,
        *,
        clock: Clock | None = None,
        synchronous: str = "NORMAL",
        busy_timeout: float = 5.0,
        limits: QueueLimits | None = None,
    ) -> SQLiteStore:
        """Open (creating owner-only if needed) and migrate the queue file; with ``limits``, bound
        the WAL this connection keeps (``store/space.py``)."""
        path = Path(path)
        clock = clock or SystemClock()
        ensure_private_file(path)
        with forksafe.inside():
            conn = sqlite3.connect(
                str(path), timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            try:
                conn.execute("PRAGMA auto_vacuum=INCREMENTAL")  # takes effect in a new file only
                _enable_wal(conn, busy_timeout)
                conn.execute(f"PRAGMA synchronous={synchronous}")
                if limits is not None:
                    space.set_up(conn, limits)
                conn.execute("PRAGMA foreign_keys=OFF")
                migrate(_Conn(conn))
                timeline = establish(conn, clock, record=True)
            except sqlite3.DatabaseError as exc:
                conn.close()
                raise StorageError(f"cannot use the queue file {path}: {exc}") from exc
            except BaseException:
                conn.close()
                raise
        return cls(conn, path, timeline)

    @classmethod
    def open_reader(
        cls, path: Path | str, *, clock: Clock | None = None, busy_timeout: float = 1.0
    ) -> SQLiteStore:
        """Open an existing, current queue file for reading only (``PRAGMA query_only``): no
        migration, no lane set-up, nothing recorded. A WAL reader never waits for a writer."""
        path = Path(path)
        if not path.exists():
            raise StorageError(f"no queue file at {path}")
        with forksafe.inside():
            conn = sqlite3.connect(
                str(path), timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            try:
                conn.execute("PRAGMA query_only=ON")
                check_version(conn, path)
                timeline = establish(conn, clock or SystemClock(), record=False)
            except sqlite3.DatabaseError as exc:
                conn.close()
                raise StorageError(f"cannot read the queue file {path}: {exc}") from exc
            except BaseException:
                conn.close()
                raise
        return cls(conn, path, timeline)

    def close(self) -> None:
        if self._lost:
            return
        with forksafe.inside():
            self.conn.close()

    def abandon(self) -> None:
        """Close a connection inherited across a fork (``forksafe``): no gate, no checks."""
        self.conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with forksafe.inside():
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        self._note_wal()

    # -- lanes -----------------------------------------------------------------------------

    def ensure_lanes(self, names: Iterable[str], now: float) -> None:
        """Create missing lanes (a new lane starts after the newest event already queued) and
        mark every one as seen now: a lane no client has configured for long is an orphan."""
        with self._tx() as conn:
            self._ensure_lanes(conn, names, now)

    def _ensure_lanes(self, conn: sqlite3.Connection, names: Iterable[str], now: float) -> None:
        # The first lanes of a file take every event already queued (an app that queues with
        # no destination leaves sending to whoever opens the file later); later lanes start
        # after the newest event, so a new destination does not receive old history.
        first = conn.execute("SELECT 1 FROM lanes LIMIT 1").fetchone() is None
        seq = 0 if first else self._seq(conn)
        conn.executemany(
            "INSERT INTO lanes (name, cursor, created, seen) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET seen = excluded.seen",
            [(name, seq, now, now) for name in names],
        )

    def drop_lane(self, name: str) -> int:
        """Remove a lane with its pending events, dead letters and counters; returns how many
        pending events it had (counted in the queue's ``*`` counters as ``lane_dropped``)."""
        with self._tx() as conn:
            dropped = self._drop_lane(conn, name)
        self._reclaim(everything=True)
        return dropped

    def _reclaim(self, *, everything: bool = False) -> None:
        with forksafe.inside():
            space.reclaim(self.conn, everything=everything)

    def _drop_lane(self, conn: sqlite3.Connection, name: str) -> int:
        row = conn.execute("SELECT 1 FROM lanes WHERE name = ?", (name,)).fetchone()
        if row is None:
            return 0
        pending = self._pending(conn, name)
        n, size = conn.execute(
            "SELECT count(*), coalesce(sum(size), 0) FROM events WHERE lane = ?", (name,)
        ).fetchone()
        if n:
            conn.execute("DELETE FROM events WHERE lane = ?", (name,))
            conn.execute("UPDATE totals SET events = events - ?, bytes = bytes - ? WHERE id = 1", (n, size))
        conn.execute("DELETE FROM lanes WHERE name = ?", (name,))
        conn.execute("DELETE FROM dead_letters WHERE lane = ?", (name,))
        conn.execute("DELETE FROM counters WHERE lane = ?", (name,))
        self._bump(conn, "*", {("lane_dropped", name): pending})
        if conn.execute("SELECT 1 FROM lanes LIMIT 1").fetchone() is None:
            # The last lane: what it held was for it alone (not for the next lane to open).
            conn.execute("DELETE FROM events")
            conn.execute("DELETE FROM gaps")
            conn.execute("UPDATE totals SET events = 0, bytes = 0 WHERE id = 1")
        self._delete_done(conn)
        return pending

    def drop_orphans(self, keep: Iterable[str], now: float, max_age: float) -> dict[str, int]:
        """Drop every lane not in ``keep`` that no client has configured for ``max_age``
        seconds; returns the pending events dropped per lane."""
        keep = set(keep)
        with self._tx() as conn:
            stale = [
                name
                for name, seen in conn.execute("SELECT name, coalesce(seen, created) FROM lanes").fetchall()
                if name not in keep and seen < now - max_age
            ]
            dropped = {name: self._drop_lane(conn, name) for name in stale}
        if dropped:
            self._reclaim(everything=True)
        return dropped

    def cap_waits(self, now: float, *, pauses: Mapping[str, float], backoff: float, lease: float) -> None:
        """Bring every persisted wait within its own maximum from ``now`` (on reload): a pause by
        its reason's cap (``pauses[""]`` for other reasons), a backoff, a lease."""
        default = pauses.get("", max(pauses.values(), default=backoff))
        cases = " ".join("WHEN ? THEN ?" for _ in pauses)
        limit = f"(? + CASE pause_reason {cases} ELSE ? END)" if pauses else "(? + ?)"
        args: list[Any] = [now]
        for reason, cap in pauses.items():
            args += [reason, cap]
        args.append(default)
        with self._tx() as conn:
            conn.execute(
                f"UPDATE lanes SET paused_until = min(paused_until, {limit}) WHERE paused_until > {limit}",
                args + args,
            )
            conn.execute(
                "UPDATE lanes SET next_attempt = ? + ? WHERE next_attempt > ? + ?",
                (now, backoff, now, backoff),
            )
            conn.execute(
                "UPDATE lanes SET lease_until = ? + ? WHERE lease_until > ? + ?", (now, lease, now, lease)
            )

    # -- appending -------------------------------------------------------------------------

    def append(
        self,
        rows: Sequence[Row],
        limits: QueueLimits,
        *,
        shift: float = 0.0,
        lanes: Iterable[str] = (),
        now: float = 0.0,
    ) -> dict[str, int]:
        """Insert events in one transaction, trimming the oldest past the caps.

        ``shift`` is added to each row's ``created`` (the writer's rows carry monotonic
        readings). ``lanes`` are made sure of first, in the same transaction, so a lane that
        another process dropped as an orphan exists again before these events arrive.
        Returns the number of pending events dropped per lane (normally empty).
        """
        if rows and len(rows[0]) == 5:  # (type, message_id, body, size, created): no wall time
            rows = [(*row, None) for row in rows]
        statements = self._inserts(shift)
        dropped: dict[str, int] = {}
        with self._tx() as conn:
            if lanes:
                self._ensure_lanes(conn, lanes, now)
            start, left = 0, len(rows)
            for n in _CHUNKS:
                while left >= n:
                    conn.execute(statements[n], list(chain.from_iterable(rows[start : start + n])))
                    start, left = start + n, left - n
            added = sum(row[3] for row in rows)
            total_events, total_bytes = conn.execute(
                "UPDATE totals SET events = events + ?, bytes = bytes + ? WHERE id = 1 "
                "RETURNING events, bytes",
                (len(rows), added),
            ).fetchone()
            used = space.used_bytes(conn)
            budget = space.file_budget(limits)
            if total_events > limits.max_events or total_bytes > limits.max_bytes or used > budget:
                # by the events' own bytes, or by the file's: whichever asks for more room
                overflow = max(0.0, (used - budget * _TRIM_TO) / used) if used else 0.0
                dropped = self._trim(conn, total_events, total_bytes, limits, int(total_bytes * overflow))
        if dropped:
            self._reclaim(everything=True)
        return dropped

    def make_room(self) -> bool:
        """Turn on incremental vacuum in a file made without it (the writer's first open)."""
        with forksafe.inside():
            return space.convert(self.conn)

    def _inserts(self, shift: float) -> dict[int, str]:
        if not shift:
            return _INSERT
        found = self._shifted.get(shift)
        if found is None:
            found = self._shifted[shift] = _insert_statements(shift)
        return found

    def _trim(
        self, conn: sqlite3.Connection, events: int, size: int, limits: QueueLimits, for_the_file: int = 0
    ) -> dict[str, int]:
        free_events = events - int(limits.max_events * _TRIM_TO)
        free_bytes = max(size - int(limits.max_bytes * _TRIM_TO), for_the_file)
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
        lanes = conn.execute("SELECT name, cursor FROM lanes").fetchall()
        if not lanes:  # queued for whoever opens the file later: count the drop for the queue
            self._bump(conn, "*", {("dropped", "queue_full"): len(dropped)})
            return {"*": len(dropped)}
        for name, cursor in lanes:
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
                "SELECT id, type, message_id, body, created, wall, size FROM events "
                "WHERE id > ? AND (lane IS NULL OR lane = ?) ORDER BY id LIMIT ?",
                (cursor, lane, max_events),
            ).fetchall()
            if not rows:
                return None
            events: list[QueuedEvent] = []
            used = 0
            make = QueuedEvent._make
            for row in rows:
                size = row[6]
                if events and used + size + overhead > max_bytes:
                    break
                used += size + overhead
                events.append(make(row[:6]))
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
        settled: Sequence[Settled] = (),
        counts: Counts | None = None,
        dead: Sequence[tuple[QueuedEvent, str, str]] = (),
        max_dead_letters: int = 1000,
    ) -> None:
        """Finish a claim: advance the cursor past it, record dead letters, release the lease.

        ``settled`` says what became of each event (``delivered``, ``skipped``, ``dead``, with a
        reason); only events still pending for the lane count, so a claim another owner already
        finished (after a lease takeover) is not counted twice. ``counts`` are facts about the
        requests (splits), counted as they are.
        """
        with self._tx() as conn:
            cursor = conn.execute("SELECT cursor FROM lanes WHERE name = ?", (claim.lane,)).fetchone()
            cursor = claim.hi if cursor is None else cursor[0]
            conn.execute(
                "UPDATE lanes SET cursor = max(cursor, ?), failures = 0, server_failures = 0, "
                "next_attempt = NULL, seen = max(coalesce(seen, 0), ?), "
                "lease_owner = CASE WHEN lease_owner = ? THEN NULL ELSE lease_owner END, "
                "lease_until = CASE WHEN lease_owner = ? THEN NULL ELSE lease_until END "
                "WHERE name = ?",
                (claim.hi, now, owner, owner, claim.lane),
            )
            fresh = [d for d in dead if d[0].id > cursor]
            if fresh:
                conn.executemany(
                    "INSERT INTO dead_letters (lane, event_id, type, message_id, body, created, "
                    "reason, detail, dead_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (claim.lane, e.id, e.type, e.message_id, e.body, e.created, r, d, now)
                        for e, r, d in fresh
                    ],
                )
                conn.execute(
                    "DELETE FROM dead_letters WHERE lane = ? AND id <= (SELECT id FROM "
                    "dead_letters WHERE lane = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                    (claim.lane, claim.lane, max_dead_letters),
                )
            tally: dict[tuple[str, str], int] = dict(counts or {})
            for event, name, reason in settled:
                if event.id > cursor:
                    tally[(name, reason)] = tally.get((name, reason), 0) + 1
            if tally.get(("delivered", "")):  # a success: the last error is history
                conn.execute(
                    "UPDATE lanes SET last_error = NULL, last_error_at = NULL WHERE name = ?", (claim.lane,)
                )
            self._bump(conn, claim.lane, tally)
            self._delete_done(conn)
        self._reclaim()  # what the delivered events took goes back, a slice at a time

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
