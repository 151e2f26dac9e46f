"""Encryption at rest: the queue file through SQLCipher (``pip install edgetrack[encrypted]``,
the ``sqlcipher3-binary`` package) when the client has an ``encryption_key``, else Python's own
``sqlite3``. SQLCipher encrypts every page, the WAL's included, with AES-256.

A file that does not open with the key given (a wrong key, or an encrypted file opened without
one) is never taken for a corrupt one: it is refused with a ``StorageError`` of kind ``key``
and left where it is.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import ModuleType
from typing import cast

from edgetrack.errors import ConfigError

__all__ = ["SQLITE_HEADER", "check_available", "connect", "database_errors", "is_busy", "looks_encrypted"]

SQLITE_HEADER = b"SQLite format 3\x00"
_loaded: list[ModuleType] = []  # sqlcipher3's dbapi2 once it is imported


def check_available() -> None:
    """A ``ConfigError`` that says what to install when SQLCipher is not there."""
    import importlib.util

    if importlib.util.find_spec("sqlcipher3") is None:
        raise ConfigError(
            "encryption_key needs SQLCipher: pip install 'edgetrack[encrypted]' "
            "(the sqlcipher3-binary package)"
        )


def _sqlcipher() -> ModuleType:
    if not _loaded:
        check_available()
        from sqlcipher3 import dbapi2  # type: ignore[import-untyped, import-not-found, unused-ignore]

        _loaded.append(dbapi2)
    return _loaded[0]


def connect(target: str, busy_timeout: float, key: str | None, *, uri: bool = False) -> sqlite3.Connection:
    """A connection to ``target`` (a path, or a ``file:`` URI), keyed when ``key`` is given."""
    if key is None:
        return sqlite3.connect(
            target, timeout=busy_timeout, isolation_level=None, check_same_thread=False, uri=uri
        )
    conn = _sqlcipher().connect(
        target, timeout=busy_timeout, isolation_level=None, check_same_thread=False, uri=uri
    )
    conn.execute("PRAGMA cipher_log_level = NONE")  # a wrong key is our StorageError, not stderr noise
    conn.execute("PRAGMA key = '" + key.replace("'", "''") + "'")
    return cast(sqlite3.Connection, conn)


def database_errors() -> tuple[type[Exception], ...]:
    """The ``DatabaseError`` classes of every driver in use."""
    return (sqlite3.DatabaseError, *(module.DatabaseError for module in _loaded))


def is_busy(exc: BaseException) -> bool:
    """A "database is locked" from either driver."""
    return isinstance(exc, database_errors()) and "locked" in str(exc)


def looks_encrypted(path: Path) -> bool:
    """A file of whole pages that does not start with SQLite's header: SQLCipher's."""
    try:
        with open(path, "rb") as file:
            head = file.read(len(SQLITE_HEADER))
        size = path.stat().st_size
    except OSError:
        return False
    return size > 0 and size % 1024 == 0 and head != SQLITE_HEADER
