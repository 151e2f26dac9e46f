"""Looking at a client's queue: ``stats()`` and the dead-letter API. Mixed into ``Client``;
both read through a connection of their own, never the writer's or a scheduler's."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edgetrack.lanestats import Stats
    from edgetrack.protocols import Clock, Destination
    from edgetrack.scheduler import Scheduler
    from edgetrack.store.sqlite import DeadLetter, SQLiteStore
    from edgetrack.store.writer import Writer

__all__ = ["Observe"]


class Observe:
    """``stats()``, ``dead_letters()``, ``requeue_dead_letters()``, ``purge_dead_letters()``."""

    _stats_store: SQLiteStore | None
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

    # -- dead letters ----------------------------------------------------------------------

    def dead_letters(self, lane: str | None = None, limit: int = 100) -> list[DeadLetter]:
        """Events a lane gave up on (refused, too large, expired), oldest first, with the reason."""
        return self._stats_connection().dead_letters(lane, limit)

    def requeue_dead_letters(self, ids: list[int] | None = None, *, lane: str | None = None) -> int:
        """Queue dead letters again (all, these ids, or one lane's) for their own lane only."""
        count = self._stats_connection().requeue_dead(ids, lane=lane)
        for scheduler in self._schedulers or ():
            scheduler.notify_commit(count)
        return count

    def purge_dead_letters(self, ids: list[int] | None = None, *, lane: str | None = None) -> int:
        """Delete dead letters (all, these ids, or one lane's); returns how many."""
        return self._stats_connection().purge_dead(ids, lane=lane)

    def _stats_connection(self) -> SQLiteStore:
        if self._stats_store is not None and not self._stats_store.still_there():
            self._stats_store.close()
            self._stats_store = None
        if self._stats_store is None or self._pid != os.getpid():
            self._stats_store = self._open_store()
        return self._stats_store

    # -- observing -------------------------------------------------------------------------

    def stats(self) -> Stats:
        """Per-lane backlog, state and counters (read from the queue file) plus in-memory state."""
        from edgetrack.lanestats import Stats, lane_stats

        store = self._stats_connection()
        now = self.clock.now()
        counts = store.counters()
        names = {d.name for d in self.destinations}
        lanes = {
            state.name: lane_stats(state, counts.get(state.name, {}), now)
            for state in store.lane_states(now)
            if state.name in names or not names
        }
        events, size = store.totals()
        dropped = {f"{name}:{reason}": n for (name, reason), n in counts.get("*", {}).items()}
        if self._writer.dropped_full:
            dropped["buffer_full"] = self._writer.dropped_full
        if self._writer.lost_on_exit:
            dropped["unwritten_at_exit"] = self._writer.lost_on_exit
        return Stats(
            path=str(self.path),
            lanes=lanes,
            events_on_disk=events,
            bytes_on_disk=size,
            buffered=self._writer.buffered,
            dropped=dropped,
            write_errors=self._writer.errors,
            last_write_error=self._writer.last_error,
            scheduler_wakeups=sum(scheduler.wakeups for scheduler in self._schedulers or ()),
        )
