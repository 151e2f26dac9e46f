"""Sessions, as RudderStack's and Amplitude's SDKs keep them: an id (milliseconds since the
epoch at the session's start) on every event's ``context.sessionId``, and ``sessionStart: true``
on a session's first event.

A session ends after ``timeout`` seconds without an event, or in the background. Both are
measured on the monotonic clock; a session is continued after a restart within the timeout in
the same boot (a new boot starts a new session: the time between cannot be known). The id is
the one value read from the wall clock, as it is a timestamp.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from edgetrack.protocols import Clock
from edgetrack.store._state import Changes

__all__ = ["DEFAULT_TIMEOUT", "Session"]

DEFAULT_TIMEOUT = 300.0  # five minutes, as analytics-android's and Amplitude's default
# Seconds of activity between two saves of the last activity time (which ride with an event's
# commit): once a minute, not once a second, so a steady trickle of events does not write the
# state page with each of them (flash wear). It is also saved when the app goes to the
# background and at shutdown; after a crash a restart may count the session as up to a minute
# older than it was.
SAVE_EVERY = 60.0
SESSION_ID, SESSION_BOOT, SESSION_LAST = "session.id", "session.boot", "session.last"


class Session:
    """The current session; ``touch()`` on every event says which one it belongs to."""

    def __init__(self, clock: Clock, timeout: float, save: Callable[[Changes], None]) -> None:
        self._clock = clock
        self.timeout = timeout
        self._save = save
        self._lock = threading.Lock()
        self.id: int | None = None
        self._last = 0.0  # monotonic time of the last event
        self._saved = 0.0  # the last activity time saved
        self._background: float | None = None  # monotonic time the app went to the background
        self._fresh = False  # the next event is the session's first

    def restore(self, stored: Mapping[str, str]) -> None:
        """Continue the stored session if it is from this boot and has not timed out."""
        try:
            session_id, last = int(stored[SESSION_ID]), float(stored[SESSION_LAST])
        except (KeyError, ValueError):
            return
        if stored.get(SESSION_BOOT) != self._clock.boot_id():
            return
        now = self._clock.monotonic()
        with self._lock:
            if self.id is None and 0 <= now - last <= self.timeout:
                self.id, self._last, self._saved = session_id, last, last

    def touch(self, mono: float) -> tuple[int, bool]:
        """The session an event at monotonic time ``mono`` belongs to, and whether it is the
        session's first event (a new session starts when the last one has timed out)."""
        if self.id is None or mono - self._last > self.timeout or self._background is not None:
            with self._lock:
                if self._stale(mono):  # another thread may have started one meanwhile
                    self._begin(None, mono)
        self._last = mono
        first = False
        if self._fresh:  # the session's first event: exactly one caller gets sessionStart
            with self._lock:
                first, self._fresh = self._fresh, False
        if mono - self._saved >= SAVE_EVERY:
            self._saved = mono
            self._save({SESSION_LAST: repr(mono)})  # rides with this event's commit
        return self.id or 0, first

    def _stale(self, mono: float) -> bool:
        away = self._background
        return (
            self.id is None
            or mono - self._last > self.timeout
            or (away is not None and mono - away > self.timeout)
        )

    def start(self, session_id: int | None = None) -> int:
        """Start a new session now (``session_id``: one of the app's, else the time in ms)."""
        with self._lock:
            return self._begin(session_id, self._clock.monotonic())

    def _begin(self, session_id: int | None, mono: float) -> int:
        """With the lock held: a new session, saved."""
        self.id = session_id if session_id is not None else int(self._clock.now() * 1000)
        self._last = self._saved = mono
        self._background = None
        self._fresh = True
        self._save({SESSION_ID: str(self.id), SESSION_BOOT: self._clock.boot_id(), SESSION_LAST: repr(mono)})
        return self.id

    def end(self) -> None:
        """End the session: the next event starts a new one."""
        with self._lock:
            self.id = None
            self._save({SESSION_ID: None, SESSION_LAST: None})

    def backgrounded(self) -> None:
        self._background = self._clock.monotonic()
        self.save_last()

    def save_last(self) -> None:
        """Save the last activity time now (going to the background, shutting down)."""
        with self._lock:
            if self.id is not None and self._saved != self._last:
                self._saved = self._last
                self._save({SESSION_LAST: repr(self._last)})

    def foregrounded(self) -> None:
        """Back in the foreground: a new session if the app was away longer than the timeout."""
        mono = self._clock.monotonic()
        with self._lock:
            if self._background is not None and mono - self._background > self.timeout:
                self._begin(None, mono)
            self._background = None
