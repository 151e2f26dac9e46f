"""The app's state in the queue file: a small key-value table (``state``) of strings.

What the keys mean belongs to the code that keeps them (``edgetrack.app``: the user's ids and
traits, the session, the app version last seen, opt-out). Here they are written in the
caller's transaction, so a change commits with the events it goes with.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite3

__all__ = ["Changes", "PendingState", "load", "save"]

#: Keys to set (a str) or delete (None).
Changes = Mapping[str, "str | None"]


def load(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT key, value FROM state").fetchall())


def save(conn: sqlite3.Connection, changes: Changes) -> None:
    for key, value in changes.items():
        if value is None:
            conn.execute("DELETE FROM state WHERE key = ?", (key,))
        else:
            conn.execute(
                "INSERT INTO state (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )


class PendingState:
    """State changes made in memory and not yet committed; the writer takes a snapshot into
    its next transaction and, once it is committed, forgets what has not changed since."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changes: dict[str, str | None] = {}

    def __bool__(self) -> bool:
        return bool(self._changes)

    def set(self, changes: Changes) -> None:
        with self._lock:
            self._changes.update(changes)

    def snapshot(self) -> dict[str, str | None]:
        with self._lock:
            return dict(self._changes)

    def clear(self) -> None:
        with self._lock:
            self._changes.clear()

    def written(self, snapshot: Changes) -> None:
        with self._lock:
            for key, value in snapshot.items():
                if key in self._changes and self._changes[key] == value:
                    del self._changes[key]
