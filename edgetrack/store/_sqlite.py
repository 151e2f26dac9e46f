"""``SQLiteStore``: the queue file through one SQLite connection, the one ``QueueStore``.

One ``SQLiteStore`` is one connection; each thread that needs the queue opens its own. Every
change is one ``BEGIN IMMEDIATE`` transaction, so two processes sharing the file serialise on
SQLite's lock (WAL lets readers such as the CLI go on meanwhile). The class is the interface in
one place; the SQL is in modules by responsibility (``_appending``, ``_delivering``, ``_lanes``,
``_reading``, ``_dead_letters``), each a set of functions of a connection.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import cast

from edgetrack.config import QueueLimits
from edgetrack.errors import StorageError
from edgetrack.models import QueuedEvent
from edgetrack.protocols import Clock, SystemClock
from edgetrack.store import (
    _appending as appending,
)
from edgetrack.store import (
    _cipher as cipher,
)
from edgetrack.store import (
    _dead_letters as dead_letters,
)
from edgetrack.store import (
    _delivering as delivering,
)
from edgetrack.store import (
    _erasing as erasing,
)
from edgetrack.store import (
    _forksafe as forksafe,
)
from edgetrack.store import (
    _lanes as lanes,
)
from edgetrack.store import (
    _reading as reading,
)
from edgetrack.store import (
    _space as space,
)
from edgetrack.store import (
    _state as app_state,
)
from edgetrack.store._appending import Row, Rows
from edgetrack.store._dead_letters import DeadLetter
from edgetrack.store._delivering import Claim, Dead, Failure, Settled
from edgetrack.store._paths import ensure_private_file, quarantine
from edgetrack.store._reading import LaneState
from edgetrack.store._schema import check_version, migrate
from edgetrack.store._sql import Counts, bump
from edgetrack.store._state import Changes
from edgetrack.store._timeline import Timeline, establish

__all__ = ["Claim", "DeadLetter", "Failure", "LaneState", "Row", "SQLiteStore", "Settled", "classify"]

_INSERT = appending.insert_statements(0.0)


def classify(exc: BaseException) -> str:
    """SQLite's words for what is wrong with a file: ``locked``, ``corrupt`` or ``other``."""
    text = str(exc).lower()
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return "corrupt"
    if "locked" in text or "busy" in text:
        return "locked"
    return "other"


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
    deadline = time.monotonic() + patience
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except cipher.database_errors() as exc:
            if not cipher.is_busy(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _storage_error(what: str, path: Path, key: str | None, exc: BaseException) -> StorageError:
    """A ``StorageError`` for ``exc``; a file that is not a database to this key (a wrong key,
    or an encrypted file opened without one) is of kind ``key``, never ``corrupt``: it is not
    moved aside."""
    kind = classify(exc)
    if kind == "corrupt" and "not a database" in str(exc).lower():
        if key is not None:
            return StorageError(
                f"{what}: it does not open with this encryption_key (a wrong key, or a file that is not "
                "encrypted); nothing was changed",
                "key",
            )
        if cipher.looks_encrypted(path):
            return StorageError(
                f"{what}: it is encrypted; pass its encryption_key (EDGETRACK_KEY for the CLI)", "key"
            )
    return StorageError(f"{what}: {exc}", kind)


class SQLiteStore:
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

    # -- opening and closing ---------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: Path | str,
        *,
        clock: Clock | None = None,
        synchronous: str = "NORMAL",
        busy_timeout: float = 5.0,
        limits: QueueLimits | None = None,
        key: str | None = None,
    ) -> SQLiteStore:
        """Open (creating owner-only if needed) and migrate the queue file; with ``limits``, bound
        the WAL this connection keeps (``_space``); with ``key``, through SQLCipher (``_cipher``)."""
        path = Path(path)
        ensure_private_file(path)

        def set_up(conn: sqlite3.Connection) -> Timeline:
            if key is None:  # SQLCipher's page size is its own setting, fixed with the key
                conn.execute(f"PRAGMA page_size={space.PAGE_SIZE}")  # in a new file only
            conn.execute("PRAGMA auto_vacuum=INCREMENTAL")  # in a new file only
            _enable_wal(conn, busy_timeout)
            conn.execute(f"PRAGMA synchronous={synchronous}")
            conn.execute(f"PRAGMA secure_delete={space.SECURE_DELETE}")
            if limits is not None:
                space.set_up(conn, limits)
            migrate(conn)
            return establish(conn, clock or SystemClock(), record=True)

        return cls._connected(path, busy_timeout, key, set_up, "cannot use the queue file")

    @classmethod
    def open_reader(
        cls,
        path: Path | str,
        *,
        clock: Clock | None = None,
        busy_timeout: float = 1.0,
        key: str | None = None,
    ) -> SQLiteStore:
        """Open an existing, current queue file for reading only (``PRAGMA query_only``): no
        migration, no lane set-up, nothing recorded. A WAL reader never waits for a writer."""
        path = Path(path)
        if not path.exists():
            raise StorageError(f"no queue file at {path}", "missing")

        def set_up(conn: sqlite3.Connection) -> Timeline:
            conn.execute("PRAGMA query_only=ON")
            check_version(conn, path)
            return establish(conn, clock or SystemClock(), record=False)

        return cls._connected(path, busy_timeout, key, set_up, "cannot read the queue file")

    @classmethod
    def _connected(
        cls,
        path: Path,
        busy_timeout: float,
        key: str | None,
        set_up: Callable[[sqlite3.Connection], Timeline],
        failing: str,
    ) -> SQLiteStore:
        """A connection to ``path`` made ready by ``set_up``, or a ``StorageError`` that says what
        is wrong (the connection closed)."""
        with forksafe.inside():
            conn = cipher.connect(str(path), busy_timeout, key)
            try:
                timeline = set_up(conn)
            except cipher.database_errors() as exc:
                conn.close()
                raise _storage_error(f"{failing} {path}", path, key, exc) from exc
            except BaseException:
                conn.close()
                raise
        return cls(conn, path, timeline)

    @staticmethod
    def check(path: Path, busy_timeout: float, key: str | None = None) -> None:
        """Raise ``StorageError`` (with its ``kind``) unless ``path`` is an edgetrack queue file;
        reads only (``mode=ro``), so a file named by mistake is never created or changed."""
        if not path.exists():
            raise StorageError(f"no queue file at {path}", "missing")
        try:
            conn = cipher.connect(f"{path.resolve().as_uri()}?mode=ro", busy_timeout, key, uri=True)
        except cipher.database_errors() as exc:
            raise _storage_error(f"cannot open {path}", path, key, exc) from exc
        try:
            query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name IN ('meta', 'events', 'lanes')"
            if len(conn.execute(query).fetchall()) != 3:
                raise StorageError(f"{path} is a SQLite file but not an edgetrack queue file", "foreign")
        except cipher.database_errors() as exc:
            raise _storage_error(f"cannot read the queue file {path}", path, key, exc) from exc
        finally:
            conn.close()

    def close(self) -> None:
        if self._lost:
            return
        with forksafe.inside():
            self.conn.close()

    def abandon(self) -> None:
        """Close a connection inherited across a fork (``_forksafe``): no gate, no checks."""
        self.conn.close()

    quarantine = staticmethod(quarantine)

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
        if self._wal_inode is None:  # the WAL exists from the first write on: remember which it is
            self._wal_inode = _inode(self.path.with_name(self.path.name + "-wal"))

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with forksafe.inside():
            yield self.conn

    # -- the file --------------------------------------------------------------------------

    def now(self) -> float:
        """Queue time now (see ``_timeline``)."""
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

    def make_room(self) -> bool:
        """Turn on incremental vacuum in a file made without it (the writer's first open)."""
        with self._read() as conn:
            return space.convert(conn)

    def _reclaim(self, *, everything: bool = False) -> None:
        with self._read() as conn:
            space.reclaim(conn, everything=everything)

    def count(self, lane: str, name: str, reason: str = "", n: int = 1) -> None:
        """Add to a counter (e.g. lane "*" for whole-queue events such as a quarantined file)."""
        with self._tx() as conn:
            bump(conn, lane, {(name, reason): n})

    # -- lanes -----------------------------------------------------------------------------

    def ensure_lanes(self, names: Iterable[str], now: float) -> None:
        with self._tx() as conn:
            lanes.ensure_lanes(conn, names, now)

    def drop_lane(self, name: str) -> int:
        with self._tx() as conn:
            dropped = lanes.drop_lane(conn, name)
        self._reclaim(everything=True)
        return dropped

    def drop_orphans(self, keep: Iterable[str], now: float, max_age: float) -> dict[str, int]:
        """Drop every lane not in ``keep`` that no client has configured for ``max_age``
        seconds; returns the pending events dropped per lane."""
        with self._tx() as conn:
            dropped = {
                name: lanes.drop_lane(conn, name) for name in lanes.stale_lanes(conn, keep, now, max_age)
            }
        if dropped:
            self._reclaim(everything=True)
        return dropped

    def cap_waits(self, now: float, *, pauses: Mapping[str, float], backoff: float, lease: float) -> None:
        with self._tx() as conn:
            lanes.cap_waits(conn, now, pauses, backoff, lease)

    def clear_pause(self, lane: str, reason: str) -> None:
        with self._tx() as conn:
            lanes.clear_pause(conn, lane, reason)

    # -- appending -------------------------------------------------------------------------

    def append(
        self,
        rows: Rows,
        limits: QueueLimits,
        *,
        shift: float = 0.0,
        lanes: Iterable[str] = (),
        now: float = 0.0,
        state: Changes | None = None,
    ) -> dict[str, int]:
        """Insert events in one transaction, trimming the oldest past the caps; returns the
        events dropped per lane (normally none). ``shift`` is added to each row's ``created``
        (the writer's rows carry monotonic readings); ``lanes`` are made sure of first, in the
        same transaction (a lane another process dropped exists again before these events);
        ``state`` changes are saved in it too (an identify commits with the user it names)."""
        full = cast("Sequence[Row]", rows)
        if rows and len(rows[0]) == 5:  # (type, message_id, body, size, created): no wall time
            full = [(row[0], row[1], row[2], row[3], row[4], None) for row in rows]
        statements = _INSERT if not shift else self._shifted.get(shift) or self._shift(shift)
        with self._tx() as conn:
            if state:
                app_state.save(conn, state)
            dropped = appending.append(conn, full, statements, limits, lanes, now, shift)
        if dropped:
            with self._read() as conn:
                space.reclaim_over(conn, space.file_budget(limits))
        return dropped

    def _shift(self, shift: float) -> dict[int, str]:
        found = self._shifted[shift] = appending.insert_statements(shift)
        return found

    # -- erasing ---------------------------------------------------------------------------

    def purge_pending(self, lane: str | None = None) -> int:
        """Erase the events pending for ``lane`` (for every lane: None); returns how many."""
        with self._tx() as conn:
            erased = erasing.purge_pending(conn, lane)
        self._reclaim(everything=True)
        return erased

    def erase_all(self, state: Changes | None = None) -> int:
        """Erase the pending events, the dead letters and the app's state (then set ``state``,
        in the same transaction), and scrub the file and its WAL of them; returns the events
        erased."""
        with self._tx() as conn:
            erased = erasing.erase_all(conn)
            if state:
                app_state.save(conn, state)
        with self._read() as conn:
            erasing.scrub(conn)
        return erased

    # -- the app's state -------------------------------------------------------------------

    def state(self) -> dict[str, str]:
        """The app's state kept in the file (``_state``)."""
        with self._read() as conn:
            return app_state.load(conn)

    def save_state(self, changes: Changes) -> None:
        with self._tx() as conn:
            app_state.save(conn, changes)

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
        """Lease the lane's oldest pending events, within the request limits; None when nothing
        is pending or another live owner holds the lane's lease."""
        with self._tx() as conn:
            return delivering.claim(conn, lane, owner, now, lease, (max_events, max_bytes, overhead))

    def complete(
        self,
        claim: Claim,
        owner: str,
        now: float,
        *,
        settled: Sequence[Settled] = (),
        counts: Counts | None = None,
        dead: Sequence[Dead] = (),
        max_dead_letters: int = 1000,
    ) -> None:
        """Finish a claim: the cursor past it, dead letters kept, the lease released. ``settled``
        says what became of each event (``delivered``, ``skipped``, ``dead``, with a reason);
        only events still pending for the lane count. ``counts`` (splits) count as they are."""
        with self._tx() as conn:
            delivering.complete(conn, claim, owner, now, settled, counts, dead, max_dead_letters)
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
        failure = Failure(error, next_attempt, paused_until, pause_reason, count_failure, server_failure)
        with self._tx() as conn:
            delivering.fail(conn, lane, owner, now, failure, counts)

    # -- reading ---------------------------------------------------------------------------

    def lane_states(self, now: float, names: Sequence[str] | None = None) -> list[LaneState]:
        with self._read() as conn:
            return reading.lane_states(conn, now, names)

    def pending_union(self, names: Sequence[str]) -> int:
        with self._read() as conn:
            return reading.pending_union(conn, names)

    def lane_names(self) -> list[str]:
        with self._read() as conn:
            return reading.lane_names(conn)

    def newest_id(self) -> int:
        """The id of the newest event ever queued (ids are never reused)."""
        with self._read() as conn:
            return reading.newest_id(conn)

    def counters(self) -> dict[str, dict[tuple[str, str], int]]:
        with self._read() as conn:
            return reading.counters(conn)

    def totals(self) -> tuple[int, int]:
        with self._read() as conn:
            return reading.totals(conn)

    def peek(
        self, lane: str | None = None, limit: int = 20, *, after: int = 0, newest: bool = False
    ) -> list[QueuedEvent]:
        """Events still pending for ``lane`` (or any lane): oldest first from id ``after`` on, or
        newest first with ``newest=True`` (what ``edgetrack tail`` shows)."""
        with self._read() as conn:
            return reading.peek(conn, lane, limit, after, newest)

    # -- dead letters ----------------------------------------------------------------------

    def dead_letters(self, lane: str | None = None, limit: int = 100, *, after: int = 0) -> list[DeadLetter]:
        """Dead letters (all, or one lane's), oldest first, from dead-letter id ``after`` on."""
        with self._read() as conn:
            return dead_letters.listed(conn, lane, limit, after)

    def dead_letter_mark(self) -> int:
        """The newest dead letter's id (0 for none): a mark for ``dead_letters_since``."""
        with self._read() as conn:
            return dead_letters.mark(conn)

    def dead_letters_since(self, mark: int, *, upto: int) -> int:
        """Dead letters made after ``mark`` of events queued with ids up to ``upto``."""
        with self._read() as conn:
            return dead_letters.since(conn, mark, upto)

    def count_dead(self, ids: Sequence[int] | None = None, *, lane: str | None = None) -> int:
        with self._read() as conn:
            return dead_letters.count(conn, ids, lane)

    def unknown_dead(self, ids: Sequence[int]) -> list[int]:
        with self._read() as conn:
            return dead_letters.unknown(conn, ids)

    def dead_letter_ids(self, limit: int = 20) -> list[int]:
        with self._read() as conn:
            return dead_letters.ids(conn, limit)

    def dead_letter_count(self) -> int:
        return self.count_dead()

    def requeue_dead(
        self, ids: Sequence[int] | None = None, *, lane: str | None = None, now: float | None = None
    ) -> int:
        """Put dead letters back in their own lane's queue (only that lane sends them again);
        with ``now`` their age starts again (one that had expired is not expired again at once)."""
        with self._tx() as conn:
            return dead_letters.requeue(conn, ids, lane, now)

    def purge_dead(self, ids: Sequence[int] | None = None, *, lane: str | None = None) -> int:
        with self._tx() as conn:
            purged = dead_letters.purge(conn, ids, lane)
        self._reclaim()
        return purged
