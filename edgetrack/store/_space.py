"""Keeping the queue file small on a phone's or an SD card's storage.

``QueueLimits.max_bytes`` bounds what the queue takes on disk: the file, its WAL and its shared
memory together. Three things hold it there:

- **Incremental vacuum.** The file is created with ``auto_vacuum=INCREMENTAL`` (an older file
  is converted once, by a ``VACUUM``, the first time a writer opens it), and pages that
  deliveries free are handed back to the file system a slice at a time (``reclaim``), in the
  transactions that free them, off the ``track()`` path. Pages a trim frees are the next
  events' (the queue is at its cap): only those that keep the file over its budget go back
  (``reclaim_over``).
- **A bounded WAL.** ``journal_size_limit`` truncates the WAL after each checkpoint, and the
  automatic checkpoint runs at the same size, both ``wal_budget(limits)``: an eighth of
  ``max_bytes``, at most 4 MiB.
- **Trimming by the file's size**, not only by the events' own bytes: when the pages in use
  pass ``file_budget(limits)`` the oldest events are dropped (and counted) as when
  ``max_events`` is passed.

It also keeps what the queue *writes* small, for flash that wears out with writes (SD cards,
eMMC): a new file has 1 KiB pages (``PAGE_SIZE``), not SQLite's default 4 KiB. A commit of one
small event writes one page to the WAL, and the kernel writes files back in 4 KiB pages, so
four such commits share what one took (``benchmarks/wear.py`` measures it; ``docs/wear.md``).
An encrypted file keeps SQLCipher's own page size, and a file made before keeps its own.
Deleting what was delivered does not write zeros over the pages it frees (``SECURE_DELETE``:
SQLite's ``FAST``; some builds, Debian's among them, default to ``ON``); a deleted row is still
cleared from every page the delete writes anyway, and erasing (``_erasing``) turns it ``ON``.
"""

from __future__ import annotations

import sqlite3

from edgetrack.config import QueueLimits

__all__ = [
    "EMPTY_FILE",
    "PAGE_SIZE",
    "SECURE_DELETE",
    "SHM_BYTES",
    "convert",
    "file_budget",
    "reclaim",
    "reclaim_over",
    "set_up",
    "used_bytes",
    "wal_budget",
]

PAGE_SIZE = 1024  # a new plain file's page: one small event's commit, a quarter of a 4 KiB OS page
SECURE_DELETE = "FAST"  # clear deleted rows on the pages a delete writes, write no page for it
SHM_BYTES = 32 * 1024  # the WAL index: 32 KiB for a WAL of up to ~4,000 pages
EMPTY_FILE = 96 * 1024  # the schema's pages and a few events: no cap goes below this
RECLAIM_SLICE = 1024 * 1024  # bytes of free pages handed back per transaction
RECLAIM_AT = 256 * 1024  # bytes of free pages worth reclaiming


def _number(conn: sqlite3.Connection, pragma: str) -> int:
    """A PRAGMA's number (SQLCipher's driver gives some as text)."""
    return int(conn.execute(f"PRAGMA {pragma}").fetchone()[0])


def wal_budget(limits: QueueLimits) -> int:
    """Bytes the WAL may keep between checkpoints."""
    return min(4 * 1024 * 1024, limits.max_bytes // 8)


def file_budget(limits: QueueLimits) -> int:
    """Bytes the database file's used pages may take: ``max_bytes`` less room for the WAL twice
    over (in WAL mode the file shrinks only when a checkpoint copies the change in, so between
    two checkpoints the file keeps its old size while the WAL grows) and its index; never less
    than an almost empty queue file (``EMPTY_FILE``)."""
    return max(limits.max_bytes - 2 * wal_budget(limits) - SHM_BYTES, EMPTY_FILE)


def set_up(conn: sqlite3.Connection, limits: QueueLimits) -> None:
    """Per-connection settings that bound the WAL (run once a connection, outside transactions)."""
    page_size = _number(conn, "page_size")
    wal = wal_budget(limits)
    conn.execute(f"PRAGMA journal_size_limit={wal}")
    conn.execute(f"PRAGMA wal_autocheckpoint={max(16, wal // page_size)}")


def convert(conn: sqlite3.Connection) -> bool:
    """Turn on incremental vacuum in a file made without it (one ``VACUUM``); False when another
    connection is busy with the file (the next writer's open tries again)."""
    if _number(conn, "auto_vacuum") == 2:
        return True
    try:
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        conn.execute("VACUUM")
    except Exception as exc:  # an OperationalError of either driver (sqlite3's or SQLCipher's)
        if type(exc).__name__ != "OperationalError":
            raise
        return False
    return True


def used_bytes(conn: sqlite3.Connection) -> int:
    """Bytes of the file's pages that hold data (free pages are about to be handed back)."""
    return (_number(conn, "page_count") - _number(conn, "freelist_count")) * _number(conn, "page_size")


def reclaim(conn: sqlite3.Connection, *, everything: bool = False) -> int:
    """Hand free pages back to the file system (a slice, or all), in a transaction of its own
    (outside any other); returns how many pages were free."""
    free = _number(conn, "freelist_count")
    page_size = _number(conn, "page_size")
    if free * page_size >= RECLAIM_AT or (everything and free):
        _vacuum(conn, free if everything else min(free, RECLAIM_SLICE // page_size))
    return free


def reclaim_over(conn: sqlite3.Connection, budget: int) -> None:
    """After a trim: hand back only the free pages that keep the file over ``budget`` bytes; the
    others are reused by the next events (handing them back would move as many pages from the
    file's end, and the file would grow again)."""
    page_size = _number(conn, "page_size")
    over = -(-(_number(conn, "page_count") * page_size - budget) // page_size)  # rounded up
    _vacuum(conn, min(_number(conn, "freelist_count"), over))


def _vacuum(conn: sqlite3.Connection, pages: int) -> None:
    """Hand ``pages`` free pages back. ``executescript``, because Python's ``execute`` steps a
    statement without result columns once, and ``incremental_vacuum`` frees one page a step."""
    if pages > 0:
        conn.executescript(f"PRAGMA incremental_vacuum({pages});")
