"""The group-commit writer: one thread turns the in-memory hand-off into SQLite transactions.

Callers append to a bounded list under a lock (microseconds); the writer takes everything
waiting, up to ``MAX_GROUP`` rows, and commits it in one transaction. Under load the groups
grow, which is where SQLite's write speed is; when idle the thread waits on a condition
with no timeout, so it never wakes the CPU.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from edgetrack.config import QueueLimits

if TYPE_CHECKING:
    from edgetrack.store.sqlite import Row, SQLiteStore

__all__ = ["Writer"]

log = logging.getLogger("edgetrack.store")

MAX_GROUP = 500
_RETRY_MIN, _RETRY_MAX = 0.05, 5.0


class Writer:
    """Owns the hand-off buffer and the writer thread."""

    def __init__(
        self,
        open_store: Callable[[], SQLiteStore],
        limits: QueueLimits,
        *,
        on_commit: Callable[[int, dict[str, int]], None],
        on_open: Callable[[], Any] | None = None,
        on_fault: Callable[[str, Exception | None], None] | None = None,
        max_buffer: int = 500,
        full_wait: float = 2.0,
    ) -> None:
        self._open_store = open_store
        self._limits = limits
        self._on_commit = on_commit
        self._on_open = on_open
        self._on_fault = on_fault
        self._max_buffer = max_buffer
        self._full_wait = full_wait
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._has_rows = threading.Condition(self._lock)
        self._progress = threading.Condition(self._lock)  # commits made, room freed
        self._buffer: list[Row] = []
        self._committed = 0  # rows ever committed, in order
        self._inflight = 0  # rows taken from the buffer, not yet committed
        self._idle = False  # the thread is (about to be) waiting for rows
        self._stopping = False
        self._stop_by: float | None = None
        self._thread: threading.Thread | None = None
        self.commits = 0
        self.errors = 0
        self.last_error: str | None = None
        self.dropped_full = 0
        self.lost_on_exit = 0
        self.failing = False  # the last write failed: callers must not wait for room

    def after_fork_in_child(self) -> None:
        """Rows in the parent's buffer are the parent's to write: start empty, with new locks."""
        self._reset()

    # -- callers ---------------------------------------------------------------------------

    def put(self, row: Row, *, durable: bool = False) -> int:
        """Queue a row for the next commit; return its sequence number, or 0 if it was refused.

        The common case takes no lock: ``list.append`` is atomic, and the lock is taken only
        to wake an idle writer. ``durable`` rows take the lock to get an exact sequence number
        to wait on. A full buffer (the disk has been failing or far slower than the app for a
        while) makes the caller wait up to ``full_wait`` seconds for room before giving up.
        """
        buffer = self._buffer
        if not durable and len(buffer) < self._max_buffer:
            buffer.append(row)
            if self._idle:
                with self._lock:
                    self._has_rows.notify()
            return 1
        with self._lock:
            if len(buffer) >= self._max_buffer and self.failing:
                self.dropped_full += 1  # the disk is failing: never make the app wait for it
                return 0
            if len(buffer) >= self._max_buffer:
                deadline = time.monotonic() + self._full_wait
                while len(buffer) >= self._max_buffer and not self._stopping:
                    left = deadline - time.monotonic()
                    if left <= 0 or not self._progress.wait(left):
                        break
                if len(buffer) >= self._max_buffer or self._stopping:
                    self.dropped_full += 1
                    return 0
            buffer.append(row)
            if self._idle:
                self._has_rows.notify()
            return self._committed + self._inflight + len(buffer)

    def wait_committed(self, seq: int | None = None, timeout: float | None = None) -> bool:
        """Wait until row ``seq`` (default: every row put before this call) is committed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            target = self._committed + self._inflight + len(self._buffer) if seq is None else seq
            while self._committed < target:
                if self._thread is None or not self._thread.is_alive():
                    return False
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._progress.wait(left)
            return True

    @property
    def committed(self) -> int:
        """Rows committed so far (comparable with the sequence numbers ``put`` returns)."""
        return self._committed

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._thread is None and not self._stopping:
                self._thread = threading.Thread(target=self._run, name="edgetrack-writer", daemon=True)
                self._thread.start()

    def stop(self, timeout: float) -> bool:
        """Commit what is buffered (trying until ``timeout``), then end the thread."""
        with self._lock:
            self._stopping = True
            self._stop_by = time.monotonic() + timeout
            self._has_rows.notify_all()
            self._progress.notify_all()
            thread = self._thread
        if thread is None:
            return True
        thread.join(max(0.0, timeout))
        return not thread.is_alive()

    # -- the thread ------------------------------------------------------------------------

    def _fault(self, kind: str, exc: Exception | None) -> None:
        if self._on_fault is not None:
            try:
                self._on_fault(kind, exc)
            except Exception:
                log.exception("edgetrack: storage fault handler failed")

    def _run(self) -> None:
        store: SQLiteStore | None = None
        delay = _RETRY_MIN
        try:
            while True:
                with self._lock:
                    self._idle = True  # set before looking, so a lock-free put cannot slip by
                    while not self._buffer and not self._stopping:
                        self._has_rows.wait()
                    self._idle = False
                    if not self._buffer:
                        return
                    group = self._buffer[:MAX_GROUP]
                    del self._buffer[: len(group)]  # not MAX_GROUP: a put may have just appended
                    self._inflight = len(group)
                try:
                    if store is not None and not store.still_there():
                        store.close()  # deleted or replaced under us: write to a new file instead
                        store = None
                        self._fault("deleted", None)
                    opened = store is None
                    if store is None:
                        store = self._open_store()
                    dropped = store.append(group, self._limits)
                    if opened and self._on_open is not None:
                        self._on_open()  # after the first commit: starting the uploaders can wait
                except Exception as exc:  # disk full, locked, corrupt: keep the rows, retry
                    with self._lock:
                        self._buffer[0:0] = group
                        self._inflight = 0
                        self.errors += 1
                        self.last_error = f"{type(exc).__name__}: {exc}"
                        give_up = self._stop_by is not None and time.monotonic() >= self._stop_by
                        if give_up:
                            self.lost_on_exit = len(self._buffer)
                            log.error(
                                "edgetrack: could not write %d queued events before shutdown: %s",
                                len(self._buffer),
                                self.last_error,
                            )
                            return
                    (log.warning if not self.failing else log.debug)(
                        "edgetrack: queue write failed, keeping the events in memory and retrying: %s",
                        self.last_error,
                    )
                    self.failing = True
                    if store is not None:
                        store.close()
                        store = None
                    if _is_corrupt(exc):
                        self._fault("corrupt", exc)
                    with self._lock:
                        self._has_rows.wait(delay)
                    delay = min(delay * 2, _RETRY_MAX)
                    continue
                delay = _RETRY_MIN
                self.failing = False
                with self._lock:
                    self._committed += len(group)
                    self._inflight = 0
                    self.commits += 1
                    self._progress.notify_all()
                try:
                    self._on_commit(len(group), dropped)
                except Exception:  # a bug in a callback must not stop the writer
                    log.exception("edgetrack: commit callback failed")
        finally:
            with self._lock:
                self._progress.notify_all()
            if store is not None:
                store.close()


def _is_corrupt(exc: BaseException) -> bool:
    """SQLite's words for a file that is not (or no longer) a usable database."""
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text or "corrupt" in text
