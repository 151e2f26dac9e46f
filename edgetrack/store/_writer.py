"""The group-commit writer: one thread turns the in-memory hand-off into SQLite transactions.

Callers append to a bounded list (microseconds, no lock in the common case); the writer takes
everything waiting, up to ``MAX_GROUP`` rows, and commits it in one transaction. Under load
the groups grow, which is where SQLite's write speed is; when idle the thread waits on a
condition with no timeout, so it never wakes the CPU.

A failed commit (disk full, file locked or corrupt) keeps ordinary rows in memory and tries
again; a ``durable`` row is never kept for later: its caller learns at once that it was not
written, and the row is gone, so an app that retries never sends the event twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from edgetrack._worker import Worker
from edgetrack.config import QueueLimits
from edgetrack.store._state import PendingState

if TYPE_CHECKING:
    from edgetrack.store._sqlite import Row, SQLiteStore

__all__ = ["Writer"]

log = logging.getLogger(__name__)

MAX_GROUP = 500
_RETRY_MIN, _RETRY_MAX = 0.05, 5.0
#: The writer re-affirms its lanes this often (queue time): a lane another process dropped
#: as an orphan exists again before this client's next events arrive.
LANE_REFRESH = 86400.0


class _Ticket:
    """A durable row's fate: None while pending, then True (committed) or False (not written)."""

    __slots__ = ("committed", "reason")

    def __init__(self) -> None:
        self.committed: bool | None = None
        self.reason = ""


class Writer(Worker):
    """Owns the hand-off buffer and the writer thread."""

    def __init__(
        self,
        open_store: Callable[[], SQLiteStore],
        limits: QueueLimits,
        *,
        on_commit: Callable[[int, dict[str, int]], None],
        on_open: Callable[[], object] | None = None,
        on_fault: Callable[[str, Exception | None], None] | None = None,
        lanes: Sequence[str] = (),
        state: PendingState | None = None,
        max_buffer: int = 500,
        full_wait: float = 2.0,
        commit_window: float = 0.0,
    ) -> None:
        self._open_store = open_store
        self._limits = limits
        self._on_commit = on_commit
        self._on_open = on_open
        self._on_fault = on_fault
        self._lanes = tuple(lanes)
        self._state = state if state is not None else PendingState()
        self._max_buffer = max_buffer
        self._full_wait = full_wait
        self._window = commit_window
        super().__init__("edgetrack-writer")

    def _reset(self) -> None:
        super()._reset()  # the lock, ``_wake`` (rows to write), the thread, the stop flag
        self._progress = threading.Condition(self._lock)  # commits made, room freed
        self._buffer: list[Row] = []
        self._tickets: dict[int, _Ticket] = {}  # id(row) -> ticket, for durable rows only
        self._done = 0  # rows ever committed or refused, in order
        self._inflight = 0  # rows taken from the buffer, not yet committed
        self._attempts = 0  # commit attempts made (each ends in success or failure)
        self._idle = False  # the thread is (about to be) waiting for rows
        self._hurry = False  # someone waits for a commit: end the commit window now
        self._stop_by: float | None = None
        self._store: SQLiteStore | None = None
        self._refreshed = 0.0
        self._opened = False  # a store was opened and its first commit is not made yet
        self._open_tried = threading.Event()  # the thread's first open has succeeded or failed
        self.errors = 0
        self.last_error: str | None = None
        self.dropped_full = 0
        self.lost_on_exit = 0
        self.failing = False  # the last write failed: callers must not wait for room

    # -- callers ---------------------------------------------------------------------------

    def put(self, row: Row, *, locked: bool = False) -> int:
        """Queue a row for the next commit; return its sequence number (1 on the lock-free
        path), or 0 if it was refused.

        The common case takes no lock: ``list.append`` is atomic, and the lock is taken only
        to wake an idle writer. ``locked`` rows take the lock to get an exact sequence number
        to wait on. A full buffer (the disk has been failing or far slower than the app for a
        while) makes the caller wait up to ``full_wait`` seconds for room before giving up.
        """
        buffer = self._buffer
        if not locked and len(buffer) < self._max_buffer:
            buffer.append(row)
            if self._idle:
                with self._lock:
                    self._wake.notify()
            return 1
        with self._lock:
            if not self._wait_for_room():
                self.dropped_full += 1
                return 0
            buffer.append(row)
            if locked:  # urgent: not held for the commit window
                self._hurry = True
                self._wake.notify()
            elif self._idle:
                self._wake.notify()
            return self._done + self._inflight + len(buffer)

    def _wait_for_room(self) -> bool:
        """With the lock held: wait (bounded) for room in the buffer; False if there is none."""
        buffer = self._buffer
        if len(buffer) >= self._max_buffer and self.failing:
            return False  # the disk is failing: never make the app wait for it
        deadline = time.monotonic() + self._full_wait
        while len(buffer) >= self._max_buffer and not self._stopping:
            left = deadline - time.monotonic()
            if left <= 0 or not self._progress.wait(left):
                break
        return len(buffer) < self._max_buffer and not self._stopping

    def put_durable(self, row: Row, timeout: float) -> str | None:
        """Queue a row and wait for its commit: None once it is on disk, else why it is not.

        A row that is not committed is never committed later: the first failed attempt after
        it was queued refuses it, and one still waiting when ``timeout`` ends is taken back.
        """
        ticket = _Ticket()
        with self._lock:
            if self._thread is None or not self._thread.is_alive() or self._stopping:
                return "the queue's writer is not running (after shutdown?)"
            if not self._wait_for_room():
                self.dropped_full += 1
                return "the queue hand-off is full (the disk is failing or far too slow)"
            self._tickets[id(row)] = ticket
            self._buffer.append(row)
            self._hurry = True
            self._wake.notify()  # a failing writer tries again now, not after its backoff
            return self._await(ticket, row, time.monotonic() + timeout)

    def _await(self, ticket: _Ticket, row: Row, deadline: float) -> str | None:
        """With the lock held: wait for the ticket; past the deadline take the row back if it
        is still buffered (one already in a transaction is waited for: its outcome is exact)."""
        attempts = self._attempts
        while ticket.committed is None:
            if self.failing and self._attempts > attempts + 1 and self._take_back(row):
                return f"the queue file could not be written: {self.last_error}"
            left = deadline - time.monotonic()
            if left <= 0 and self._take_back(row):
                return "the queue file did not take the event in time (the disk is too slow or locked)"
            self._progress.wait(max(left, 0.05))
        return None if ticket.committed else ticket.reason

    def _take_back(self, row: Row) -> bool:
        for index in range(len(self._buffer) - 1, -1, -1):
            if self._buffer[index] is row:
                del self._buffer[index]
                del self._tickets[id(row)]
                self._progress.notify_all()
                return True
        return False

    def wait_committed(self, seq: int | None = None, timeout: float | None = None) -> bool:
        """Wait until row ``seq`` (default: every row put before this call) is written (or
        refused, for a durable row)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            target = self._done + self._inflight + len(self._buffer) if seq is None else seq
            if self._done < target:
                self._hurry = True  # a caller waits: no commit window
                self._wake.notify()
            while self._done < target:
                if self._thread is None or not self._thread.is_alive():
                    return False
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._progress.wait(left)
            return True

    def nudge(self) -> None:
        """State changed with no row to carry it: commit it soon."""
        with self._lock:
            self._wake.notify()

    @property
    def committed(self) -> int:
        """Rows written (or refused) so far, comparable with the numbers ``put`` returns."""
        return self._done

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    # -- lifecycle (``Worker``; rows in a forked parent's buffer are the parent's to write) --

    def stop(self, timeout: float) -> bool:
        """Commit what is buffered (trying until ``timeout``), then end the thread."""
        with self._lock:
            self._stop_by = time.monotonic() + timeout
        return super().stop(timeout)

    def _interrupted(self) -> None:
        self._progress.notify_all()  # callers waiting for room or a commit stop waiting

    def _finish(self) -> None:
        with self._lock:
            self._progress.notify_all()
        if self._store is not None:
            self._store.close()
            self._store = None

    # -- the thread ------------------------------------------------------------------------

    def wait_open(self, timeout: float | None) -> bool:
        """Wait until the writer thread has tried to open the queue file once (bounded by
        ``timeout``, unless it is None)."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            return self._open_tried.is_set()
        return self._open_tried.wait(timeout)

    def _open_early(self) -> None:
        """Open the file as soon as the thread starts: a backlog left by the last run starts
        draining with no new event, and the first events commit without waiting for the open."""
        try:
            self._usable_store()
        except Exception as exc:  # the first commit tries again, and reports
            log.debug("edgetrack: could not open the queue file yet: %s", exc)
            return
        finally:
            self._open_tried.set()
        with self._lock:
            idle = not self._buffer
        if idle:
            try:
                self._uploaders_may_start()
            except Exception:  # a bug in a callback must not stop the writer
                log.exception("edgetrack: starting the uploaders failed")

    def _uploaders_may_start(self) -> None:
        if self._opened and self._on_open is not None:
            self._opened = False
            self._on_open()

    def _run(self) -> None:
        delay = _RETRY_MIN
        self._open_early()
        while True:
            group = self._next_group()
            if group is None:
                return
            try:
                dropped = self._write(group)
            except Exception as exc:  # disk full, locked, corrupt: keep the rows, retry
                if self._failed(group, exc):
                    return
                with self._lock:
                    self._wake.wait(delay)
                delay = min(delay * 2, _RETRY_MAX)
                continue
            delay = _RETRY_MIN
            self._written(group, dropped)

    def _next_group(self) -> list[Row] | None:
        """Wait for rows (or state changes) and take up to ``MAX_GROUP`` rows; None when
        stopping with nothing to write."""
        with self._lock:
            self._idle = True  # set before looking, so a lock-free put cannot slip by
            while not self._buffer and not self._state and not self._stopping:
                self._wake.wait()
            self._idle = False
            if not self._buffer and not self._state:
                return None
            if self._window > 0:
                self._linger()
            self._hurry = False
            group = self._buffer[:MAX_GROUP]
            del self._buffer[: len(group)]  # not MAX_GROUP: a put may have just appended
            self._inflight = len(group)
            return group

    def _linger(self) -> None:
        """With the lock held: keep the commit window open (``commit_window`` seconds from the
        first row) so the rows of the window share one commit, and its pages are written once;
        a durable or urgent row, a caller waiting, a full group or stopping ends it early."""
        end = time.monotonic() + self._window
        while not (self._hurry or self._stopping or len(self._buffer) >= MAX_GROUP):
            left = end - time.monotonic()
            if left <= 0:
                return
            self._wake.wait(left)

    def _write(self, group: list[Row]) -> dict[str, int]:
        """Commit ``group``; if the file or its WAL vanished meanwhile, write it again to a new
        file (what went to the lost one is lost to everyone)."""
        store = self._usable_store()
        dropped = self._append(store, group)
        if not store.still_there():
            self._lost("deleted")
            dropped = self._append(self._usable_store(), group)
        return dropped

    def _append(self, store: SQLiteStore, group: list[Row]) -> dict[str, int]:
        """One transaction: the rows, and the state changes made before they were taken."""
        changes = self._state.snapshot() or None
        if not group:
            if changes:
                store.save_state(changes)
                self._state.written(changes)
            return {}
        now = store.now()
        refresh = self._lanes if now - self._refreshed >= LANE_REFRESH else ()
        shift = store.timeline.offset
        dropped = store.append(group, self._limits, shift=shift, lanes=refresh, now=now, state=changes)
        if refresh:
            self._refreshed = now
        if changes:
            self._state.written(changes)
        return dropped

    def _usable_store(self) -> SQLiteStore:
        store = self._store
        if store is not None and not store.still_there():
            self._lost("deleted")
            store = None
        if store is None:
            store = self._store = self._open_store()
            self._refreshed = store.now()  # opening made sure of the lanes
            self._opened = True
        return store

    def _lost(self, kind: str) -> None:
        """The file or its WAL was deleted or replaced under us: write to a new file instead."""
        if self._store is not None:
            self._store.close()
            self._store = None
        self._fault(kind, None)

    def _written(self, group: list[Row], dropped: dict[str, int]) -> None:
        with self._lock:
            if self._tickets:
                for row in group:
                    ticket = self._tickets.pop(id(row), None)
                    if ticket is not None:
                        ticket.committed = True
            self._done += len(group)
            self._inflight = 0
            self._attempts += 1
            if self.failing:
                log.info("edgetrack: queue writes work again")
            self.failing = False
            self._progress.notify_all()
        try:
            self._uploaders_may_start()  # after the first commit: starting them can wait
            self._on_commit(len(group), dropped)
        except Exception:  # a bug in a callback must not stop the writer
            log.exception("edgetrack: commit callback failed")

    def _failed(self, group: list[Row], exc: Exception) -> bool:
        """Keep the ordinary rows for another try and refuse the durable ones; True when
        shutdown's time is up (what is left is counted as lost)."""
        error = f"{type(exc).__name__}: {exc}"
        with self._lock:
            kept = self._refuse_durable(group, error)
            self._buffer[0:0] = kept
            self._inflight = 0
            self._attempts += 1
            self.errors += 1
            self.last_error = error
            self._progress.notify_all()
            if self._stop_by is not None and time.monotonic() >= self._stop_by:
                self.lost_on_exit = len(self._buffer)
                log.error(
                    "edgetrack: could not write %d queued events before shutdown: %s",
                    len(self._buffer),
                    error,
                )
                return True
        (log.warning if not self.failing else log.debug)(
            "edgetrack: queue write failed, keeping the events in memory and retrying: %s", error
        )
        self.failing = True
        if self._store is not None:
            self._store.close()
            self._store = None
        from edgetrack.store._sqlite import classify

        if classify(exc) == "corrupt":
            self._fault("corrupt", exc)
        return False

    def _refuse_durable(self, group: list[Row], error: str) -> list[Row]:
        if not self._tickets:
            return group
        kept = []
        for row in group:
            ticket = self._tickets.pop(id(row), None)
            if ticket is None:
                kept.append(row)
            else:
                ticket.committed, ticket.reason = False, f"the queue file could not be written: {error}"
                self._done += 1
        return kept

    def _fault(self, kind: str, exc: Exception | None) -> None:
        if self._on_fault is not None:
            try:
                self._on_fault(kind, exc)
            except Exception:
                log.exception("edgetrack: storage fault handler failed")
