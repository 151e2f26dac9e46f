"""``Pipeline``: a client's runtime. It owns the queue file, the group-commit writer, one
scheduler per destination lane, the read-only connection behind ``stats()``, and what a fork or
the interpreter's exit asks of them. ``Client`` is a façade over it.

The writer's thread starts at once (so a backlog left by the last run drains with no new
event); after its first commit, a short-lived thread builds and starts the lanes, so their
imports (``requests``) never hold up a commit or the app.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from edgetrack.store import _forksafe  # noqa: F401 - registers the at-fork hooks before any fork
from edgetrack.store._paths import default_path
from edgetrack.store._state import Changes, PendingState
from edgetrack.store._writer import Writer

if TYPE_CHECKING:
    from edgetrack.sending._flushing import Losses
    from edgetrack.sending._scheduler import Scheduler
    from edgetrack.sending._settings import PipelineSettings
    from edgetrack.sending._stats import Stats
    from edgetrack.store._appending import Row
    from edgetrack.store._dead_letters import DeadLetter
    from edgetrack.store._sqlite import SQLiteStore

__all__ = ["Pipeline"]

log = logging.getLogger(__name__)

QUEUE_FULL_EPISODE = 60.0  # seconds without a drop for room that end a "queue full" episode
_PIPELINES: weakref.WeakSet[Pipeline] = weakref.WeakSet()


class Pipeline:
    """The queue, its writer and its lanes, for one client (see the module docstring)."""

    def __init__(self, settings: PipelineSettings, *, on_open: Callable[[], object] | None = None) -> None:
        self.settings = settings
        self._on_open = on_open
        self._names = [d.name for d in settings.destinations]
        self._path = settings.path
        self._fault_lock = threading.Lock()
        self._faults_to_record: dict[tuple[str, str], int] = {}
        self._last_drop = -QUEUE_FULL_EPISODE * 2  # monotonic time of the last drop for room
        self._pending_state = PendingState()
        self._stored_state: dict[str, str] | None = None  # as the file had it at the first open
        self._writer = Writer(
            self._open_writer_store,
            settings.limits,
            on_commit=self._on_commit,
            on_open=self._start_lanes_soon,
            on_fault=self._on_writer_fault,
            lanes=self._names,
            state=self._pending_state,
            commit_window=settings.commit_window,
        )
        self._losses: Losses | None = None  # dead letters and drops as the last flush left them
        self.closed = False  # stop() was called: nothing more is queued
        self._lanes: list[Scheduler] | None = None
        self._reset()
        _PIPELINES.add(self)
        atexit.register(self._atexit)

    def _reset(self) -> None:
        """What belongs to this process alone (set again in a forked child)."""
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._started = False
        self._urgent_seq = 0
        self._reader_store: SQLiteStore | None = None
        self._reader_lock = threading.Lock()
        self._stopping = threading.Event()  # set by stop(): a flush's waits end

    def after_fork_in_child(self) -> None:
        """Fresh locks, threads and connections; the parent keeps its own."""
        self._writer.after_fork_in_child()
        for lane in self._lanes or ():
            lane.after_fork_in_child()
        self._reset()

    # -- the queue file --------------------------------------------------------------------

    @property
    def path(self) -> Path:
        """The queue file (resolved on first use; platformdirs is imported only then)."""
        if self._path is None:
            with self._lock:
                if self._path is None:
                    self._path = default_path(self.settings.app_name)
        return self._path

    def open_store(self) -> SQLiteStore:
        """A new connection to the queue file, with this client's lanes made sure of; a corrupt
        file is moved aside (once, whichever thread finds it) and a new one started."""
        from edgetrack.errors import StorageError
        from edgetrack.store._sqlite import SQLiteStore

        settings = self.settings
        synchronous = "FULL" if settings.durable else "NORMAL"

        def open_it() -> SQLiteStore:
            return SQLiteStore.open(
                self.path,
                clock=settings.clock,
                synchronous=synchronous,
                limits=settings.limits,
                key=settings.encryption_key,
            )

        try:
            store = open_it()
        except StorageError as exc:
            if exc.kind != "corrupt":
                raise
            with self._fault_lock:  # another thread may have moved it aside already
                try:
                    store = open_it()
                except StorageError:
                    self._storage_fault("corrupt", exc)
                    store = open_it()
        try:
            store.ensure_lanes(self._names, store.now())
            self._record_faults(store)
        except BaseException:
            store.close()
            raise
        return store

    def _record_faults(self, store: SQLiteStore) -> None:
        with self._fault_lock:
            faults, self._faults_to_record = self._faults_to_record, {}
        for (name, reason), n in faults.items():
            store.count("*", name, reason, n)

    def _open_writer_store(self) -> SQLiteStore:
        """The writer's connection: also where the file is set up for incremental vacuum and
        lanes nobody configures any more are dropped."""
        from edgetrack.sending._flushing import losses

        store = self.open_store()
        try:
            store.make_room()  # incremental vacuum for a file made before it (once)
            if self._losses is None:
                self._losses = losses(store)  # what flush() counts as lost starts from here
            if self._stored_state is None:
                self._stored_state = store.state()
            self._drop_orphans(store)
        except BaseException:
            store.close()
            raise
        return store

    def _drop_orphans(self, store: SQLiteStore) -> None:
        age = self.settings.orphan_lane_age
        if age is None or not self._names:  # a client with no destinations never drops a lane
            return
        for name, pending in store.drop_orphans(self._names, store.now(), age).items():
            log.warning(
                "edgetrack: dropped lane %r with %d pending events: no client has configured it for "
                "%.0f days (Client(orphan_lane_age=...))",
                name,
                pending,
                age / 86400,
            )

    def _on_writer_fault(self, kind: str, exc: Exception | None) -> None:
        with self._fault_lock:
            self._storage_fault(kind, exc)

    def _storage_fault(self, kind: str, exc: Exception | None) -> None:
        """The queue file turned out corrupt (moved aside, a fresh one started) or was deleted
        under us (reopened): logged, and counted in the new file's ``*`` counters."""
        from edgetrack.store._sqlite import SQLiteStore

        if kind == "corrupt":
            moved = SQLiteStore.quarantine(self.path, self.settings.clock.now())  # a name, not a time
            log.error(
                "edgetrack: the queue file was corrupt (%s); moved it to %s and started a new one", exc, moved
            )
            key = ("quarantined", "corrupt")
        else:
            log.error("edgetrack: the queue file %s was deleted or replaced while open; reopening", self.path)
            key = ("file_lost", kind)
        self._faults_to_record[key] = self._faults_to_record.get(key, 0) + 1

    # -- the app's state -------------------------------------------------------------------

    def stored_state(self, timeout: float = 5.0) -> dict[str, str]:
        """The app's state as the queue file had it when this client opened it; ``{}`` when the
        file cannot be read (the app goes on with a state of its own, kept in memory)."""
        if self._pid != os.getpid() or not self._started:
            self.start()
        self._writer.wait_open(timeout)
        return dict(self._stored_state or {})

    def save_state(self, changes: Changes) -> None:
        """Keep state changes in the file: with the next events' commit, or on their own soon."""
        self._pending_state.set(changes)
        self._writer.nudge()

    # -- events in -------------------------------------------------------------------------

    def put(self, row: Row, *, urgent: bool = False) -> str | None:
        """Queue a row (durably when the client is durable); None when accepted, else why not."""
        if self._pid != os.getpid() or not self._started:
            self.start()
        if self.settings.durable:
            reason = self._writer.put_durable(row, self.settings.shutdown_timeout)
            if reason is None and urgent:
                self.network_active()
            return reason
        seq = self._writer.put(row, locked=urgent)
        if not seq:
            return "the queue hand-off is full (the disk is failing or far too slow); event dropped"
        if urgent:
            self._urgent_seq = max(self._urgent_seq, seq)
        return None

    def wait_committed(self, timeout: float | None = None) -> bool:
        """Wait until every row put so far is on disk (or refused); False at the timeout."""
        return self._writer.wait_committed(timeout=timeout)

    def start(self) -> None:
        with self._lock:
            if self._pid != os.getpid():  # forked without the at-fork hook (should not happen)
                self.after_fork_in_child()
            if self._started:
                return
            # The queue's own modules load here, not in the writer's thread: its first open (and
            # so the first commit, the start of the promise that an event is on disk within a
            # few ms) then does not wait for imports competing with the app for the GIL.
            import edgetrack.store._sqlite  # noqa: F401

            self._writer.start()  # its thread starts the lanes once the queue is open
            self._started = True

    def _on_commit(self, count: int, dropped: dict[str, int]) -> None:
        if dropped:
            # Once per episode (one ends after a minute with no drop): a full queue drops at
            # nearly every commit, and each of those is counted in stats() anyway.
            now = self.settings.clock.monotonic()
            if now - self._last_drop > QUEUE_FULL_EPISODE:
                log.warning(
                    "edgetrack: the queue is full (QueueLimits); dropping the oldest events, counted "
                    "in stats() as dropped['queue_full']: %s",
                    dropped,
                )
            self._last_drop = now
        if self._urgent_seq and self._writer.committed >= self._urgent_seq:
            self._urgent_seq = 0  # an urgent event is on disk: send it, and everything pending, now
            self.network_active()
        for lane in self._lanes or ():
            lane.notify_commit(count)

    # -- the lanes -------------------------------------------------------------------------

    def _start_lanes_soon(self) -> None:
        """After the first commit: ``on_open`` and the lanes, in a thread of their own."""
        threading.Thread(target=self._opened, name="edgetrack-start", daemon=True).start()

    def _opened(self) -> None:
        if self._on_open is not None:
            try:
                self._on_open()
            except Exception:  # a bug there must not keep the lanes from starting
                log.exception("edgetrack: reading the app's state failed")
        self.lanes()

    def lanes(self) -> list[Scheduler]:
        """One scheduler per destination, built on first need and started if the client sends
        (the CLI runs their passes itself). One thread a lane: a vendor that hangs until its
        timeout never delays another vendor's uploads."""
        with self._lock:
            if self._lanes is None:
                self._lanes = self._build_lanes()
            if self.settings.send and not self.closed:
                for lane in self._lanes:
                    lane.start()
            return self._lanes

    def _build_lanes(self) -> list[Scheduler]:
        settings = self.settings
        if not settings.destinations:
            return []  # nothing to import (the scheduler, requests) while the first commits land
        from edgetrack.sending._scheduler import Scheduler

        power = settings.power
        if power == "auto":
            from edgetrack.power import default_probe

            power = default_probe()
            self.settings = settings._replace(power=power)
        return [
            Scheduler(destination, self.open_store, settings.lanes, clock=settings.clock, power=power)
            for destination in settings.destinations
        ]

    def network_active(self) -> None:
        """The radio is up anyway: pending events ride along now."""
        for lane in self._lanes or ():
            lane.radio_awake()

    def power_changed(self) -> None:
        """The power or network state changed: every lane looks again now."""
        for lane in self._lanes or ():
            lane.power_changed()

    # -- flushing and stopping -------------------------------------------------------------

    def flush(self, deadline: float | None) -> bool:
        """Send every event pending now (``edgetrack.sending._flushing``); ``deadline`` is
        ``time.monotonic()`` time. True only when every one of them was delivered."""
        from edgetrack.sending._flushing import flush_lanes

        if not self._started:
            self.start()
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not self._writer.wait_committed(timeout=left):
            return False
        if not (self.settings.send and self._names and not self.closed):
            return False
        # What counts as lost is marked when the writer opens the file, before any lane starts:
        # a lane started here first could dead-letter an event before the mark, unseen.
        self._writer.wait_open(None if deadline is None else max(0.0, deadline - time.monotonic()))
        lanes = self.lanes()
        ok, self._losses = flush_lanes(lanes, self.reading, deadline, self._stopping, self._losses)
        return ok

    def stop(self, deadline: float) -> bool:
        """Flush until ``deadline`` (``time.monotonic()``), then stop every thread, bounded by it;
        True when everything was delivered. Nothing is lost when time runs out."""
        if self.closed:
            return False
        delivered = False
        if self._started and self._pid == os.getpid():
            delivered = self.flush(deadline)
        self.closed = True
        self._stopping.set()
        self._writer.stop(max(0.0, deadline - time.monotonic()))
        for lane in self._lanes or ():
            lane.interrupt()  # tell every lane first, then wait for each in the time left
        for lane in self._lanes or ():
            lane.stop(max(0.0, deadline - time.monotonic()))
        with self._reader_lock:
            if self._reader_store is not None:
                self._reader_store.close()
                self._reader_store = None
        atexit.unregister(self._atexit)
        return delivered

    def _atexit(self) -> None:
        try:
            self.stop(time.monotonic() + self.settings.shutdown_timeout)
        except Exception:  # never make the interpreter's exit fail
            log.exception("edgetrack: shutdown at exit failed")

    # -- looking ---------------------------------------------------------------------------

    @contextmanager
    def reading(self) -> Iterator[SQLiteStore | None]:
        """The read-only connection (None while there is no file yet), under a lock: one
        connection cannot run two threads' transactions at once. It never writes, and a WAL
        reader never waits for another process's write lock."""
        from edgetrack.errors import StorageError
        from edgetrack.store._sqlite import SQLiteStore

        self._writer.wait_open(5.0)
        with self._reader_lock:
            store = self._reader_store
            if store is not None and not store.still_there():
                store.close()
                store = self._reader_store = None
            if store is None:
                try:
                    store = self._reader_store = SQLiteStore.open_reader(
                        self.path, clock=self.settings.clock, key=self.settings.encryption_key
                    )
                except StorageError:
                    log.debug("edgetrack: the queue file cannot be read yet", exc_info=True)
            yield store

    @contextmanager
    def changing(self) -> Iterator[SQLiteStore]:
        """A short-lived connection for a change (requeue, purge, drop)."""
        self._writer.wait_open(5.0)
        store = self.open_store()
        try:
            yield store
        finally:
            store.close()

    def stats(self) -> Stats:
        """Every lane in the file and the in-memory state (see ``Client.stats``)."""
        from edgetrack.sending._stats import Stats, read_stats

        with self.reading() as store:
            if store is None:
                stats = Stats(path=str(self.path), lanes={}, events_on_disk=0, bytes_on_disk=0)
            else:
                stats = read_stats(store, configured=self._names)
        writer = self._writer
        dropped = dict(stats.dropped)
        if writer.dropped_full:
            dropped["buffer_full"] = writer.dropped_full
        if writer.lost_on_exit:
            dropped["unwritten_at_exit"] = writer.lost_on_exit
        return replace(
            stats,
            buffered=writer.buffered,
            dropped=dropped,
            write_errors=writer.errors,
            last_write_error=writer.last_error,
            scheduler_wakeups=sum(lane.wakeups for lane in self._lanes or ()),
            power_updates=next((lane.power_updates for lane in self._lanes or ()), "none"),
        )

    def pending_events(self, lanes: Sequence[str] | None = None) -> int:
        """Events pending for any of ``lanes`` (default: this client's), each counted once."""
        names = self._names if lanes is None else list(lanes)
        with self.reading() as store:
            return store.pending_union(names) if store is not None and names else 0

    def dead_letters(self, lane: str | None, limit: int) -> list[DeadLetter]:
        with self.reading() as store:
            return store.dead_letters(lane, limit) if store is not None else []

    def requeue_dead_letters(self, ids: list[int] | None, lane: str | None) -> int:
        with self.changing() as store:
            count = store.requeue_dead(ids, lane=lane, now=store.now())
        for scheduler in self._lanes or ():
            scheduler.notify_commit(count)
        return count

    def purge_dead_letters(self, ids: list[int] | None, lane: str | None) -> int:
        with self.changing() as store:
            return store.purge_dead(ids, lane=lane)

    def drop_lane(self, name: str) -> int:
        with self.changing() as store:
            return store.drop_lane(name)

    def lane_names(self) -> list[str]:
        with self.reading() as store:
            return store.lane_names() if store is not None else []

    def purge_pending(self, lane: str | None) -> int:
        """Erase pending events (``lane``'s, or all): those buffered are committed first."""
        self.wait_committed(self.settings.shutdown_timeout)
        with self.changing() as store:
            return store.purge_pending(lane)

    def erase_all(self, state: Changes) -> int:
        """Erase what the file holds (events, dead letters, the app's state), leaving ``state``;
        state changes not yet written are dropped, events not yet written are erased too."""
        self.wait_committed(self.settings.shutdown_timeout)
        self._pending_state.clear()
        with self.changing() as store:
            return store.erase_all(state)


def _after_fork_in_child() -> None:
    for pipeline in list(_PIPELINES):
        pipeline.after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
