"""One background thread's lifecycle, written once: the writer and every lane's scheduler are
``Worker``s (in the shape of sentry-python's ``BackgroundWorker``).

A worker owns a daemon thread, a lock with a ``_wake`` condition on it, and a stop flag.
``start()`` starts the thread once; ``interrupt()`` raises the flag and wakes every waiter;
``stop(timeout)`` interrupts, then joins for at most ``timeout`` (and, when no thread ever ran,
releases what the worker holds at once); ``after_fork_in_child()`` forgets the parent's thread
and locks, which are not the child's. Subclasses implement ``_run()`` (the loop, which returns
when ``_stopping``), and may extend ``_reset()`` (their own state, set again after a fork) and
``_finish()`` (release what the thread held, on its way out).
"""

from __future__ import annotations

import threading

__all__ = ["Worker"]


class Worker:
    """A background thread with a start, an interrupt, a bounded stop and a fresh fork."""

    def __init__(self, name: str) -> None:
        self._thread_name = name
        self._reset()

    def _reset(self) -> None:
        """Everything the thread shares with callers, made new (at start and in a fork's child)."""
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._stopping = False

    def _run(self) -> None:  # pragma: no cover - every worker has its own loop
        raise NotImplementedError

    def _finish(self) -> None:
        """Release what the thread held (a connection, a session); runs as the thread ends."""

    def _main(self) -> None:
        try:
            self._run()
        finally:
            self._finish()

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def start(self) -> None:
        with self._lock:
            if self._thread is None and not self._stopping:
                self._thread = threading.Thread(target=self._main, name=self._thread_name, daemon=True)
                self._thread.start()

    def interrupt(self) -> None:
        """Stop at the next chance (the work in hand finishes); no join."""
        with self._lock:
            self._stopping = True
            self._wake.notify_all()
            self._interrupted()

    def _interrupted(self) -> None:
        """With the lock held, after the stop flag is raised: wake any other waiters."""

    def stop(self, timeout: float) -> bool:
        """Interrupt, then wait at most ``timeout`` seconds for the thread; True when it ended."""
        self.interrupt()
        thread = self._thread
        if thread is None:
            self._finish()
            return True
        thread.join(max(0.0, timeout))
        return not thread.is_alive()

    def after_fork_in_child(self) -> None:
        """The parent's thread does not exist here, and its locks may be held: start afresh."""
        self._reset()
