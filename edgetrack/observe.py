"""Looking at a client's queue: ``stats()``, the dead-letter API and ``drop_lane()``. Mixed into
``Client``.

``stats()`` and ``dead_letters()`` read through a read-only connection of their own
(``PRAGMA query_only``), never the writer's or a scheduler's: they never write, and a WAL
reader never waits for another process's write lock. One lock makes them safe from any number
of threads. Changes (requeue, purge, drop) open a short-lived connection of their own.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edgetrack.lanestats import Stats
    from edgetrack.protocols import Clock, Destination
    from edgetrack.scheduler import Scheduler
    from edgetrack.store.sqlite import DeadLetter, SQLiteStore
    from edgetrack.store.writer import Writer

__all__ = ["Observe"]

log = logging.getLogger("edgetrack")


class Observe:
    """``stats()``, ``dead_letters()``, ``requeue_dead_letters()``, ``purge_dead_letters()``,
    ``drop_lane()``."""

    _reader_store: SQLiteStore | None
    _reader_lock: threading.Lock
    _pid: int
    _schedulers: list[Scheduler] | None
    _writer: Writer
    clock: Clock
    destinations: Sequence[Destination]

    @property
    def path(self) -> Path:
        raise NotImplementedError

    def _open_store(self) -> SQLiteStore:
        raise NotImplementedError

    # -- dead letters and lanes ------------------------------------------------------------

    def dead_letters(self, lane: str | None = None, limit: int = 100) -> list[DeadLetter]:
        """Events a lane gave up on (refused, too large, expired), oldest first, with the reason."""
        with self._reading() as store:
            return store.dead_letters(lane, limit) if store is not None else []

    def requeue_dead_letters(self, ids: list[int] | None = None, *, lane: str | None = None) -> int:
        """Queue dead letters again (all, these ids, or one lane's) for their own lane only; their
        age starts again, so an event that had expired is not expired again at once."""
        with self._changing() as store:
            count = store.requeue_dead(ids, lane=lane, now=store.now())
        for scheduler in self._schedulers or ():
            scheduler.notify_commit(count)
        return count

    def purge_dead_letters(self, ids: list[int] | None = None, *, lane: str | None = None) -> int:
        """Delete dead letters (all, these ids, or one lane's); returns how many."""
        with self._changing() as store:
            return store.purge_dead(ids, lane=lane)

    def drop_lane(self, name: str) -> int:
        """Remove a lane nobody sends any more (see ``stats().orphans``) with its pending events;
        returns how many were dropped. A lane this client sends cannot be dropped."""
        from edgetrack.errors import ConfigError

        if name in {d.name for d in self.destinations}:
            raise ConfigError(
                f"lane {name!r} is one of this client's destinations; remove it from the client first"
            )
        with self._changing() as store:
            dropped = store.drop_lane(name)
        log.warning("edgetrack: dropped lane %r with %d pending events", name, dropped)
        return dropped

    @contextmanager
    def _changing(self) -> Iterator[SQLiteStore]:
        self._writer.wait_open(5.0)
        store = self._open_store()
        try:
            yield store
        finally:
            store.close()

    @contextmanager
    def _reading(self) -> Iterator[SQLiteStore | None]:
        """The read-only connection (None while the queue file does not exist yet), under the
        lock: one connection cannot run two threads' transactions at once."""
        from edgetrack.errors import StorageError
        from edgetrack.store.sqlite import SQLiteStore

        self._writer.wait_open(5.0)
        with self._reader_lock:
            store = self._reader_store
            if store is not None and (not store.still_there() or self._pid != os.getpid()):
                store.close()
                store = self._reader_store = None
            if store is None:
                try:
                    store = self._reader_store = SQLiteStore.open_reader(self.path, clock=self.clock)
                except StorageError:
                    log.debug("edgetrack: the queue file cannot be read yet", exc_info=True)
            yield store

    # -- observing -------------------------------------------------------------------------

    def pending_events(self, lanes: Sequence[str] | None = None) -> int:
        """Events pending for any of ``lanes`` (default: this client's), each counted once."""
        names = [d.name for d in self.destinations] if lanes is None else list(lanes)
        with self._reading() as store:
            return store.pending_union(names) if store is not None and names else 0

    def stats(self) -> Stats:
        """Every lane in the queue file (its backlog, state and counters, orphans flagged) plus
        the in-memory state. Never writes, never waits for another process's write lock."""
        from edgetrack.lanestats import Stats, read_stats

        configured = [d.name for d in self.destinations]
        with self._reading() as store:
            if store is None:
                stats = Stats(path=str(self.path), lanes={}, events_on_disk=0, bytes_on_disk=0)
            else:
                stats = read_stats(store, configured=configured)
        dropped = dict(stats.dropped)
        if self._writer.dropped_full:
            dropped["buffer_full"] = self._writer.dropped_full
        if self._writer.lost_on_exit:
            dropped["unwritten_at_exit"] = self._writer.lost_on_exit
        from dataclasses import replace

        return replace(
            stats,
            buffered=self._writer.buffered,
            dropped=dropped,
            write_errors=self._writer.errors,
            last_write_error=self._writer.last_error,
            scheduler_wakeups=sum(scheduler.wakeups for scheduler in self._schedulers or ()),
        )
