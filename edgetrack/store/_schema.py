"""Queue file schema and its migrations (``meta.schema_version`` says which have run).

Events are appended once and shared by every delivery lane. A lane is a cursor: every event
id at or below ``lanes.cursor`` is done for that lane (delivered, skipped, dead-lettered or
dropped). ``events.id`` is AUTOINCREMENT, so ids are never reused and the ids above a lane's
cursor are dense: a lane's pending count is ``max id - cursor``, with no scan. (Since schema
version 4 without AUTOINCREMENT's own bookkeeping: ``_sql.seq`` says how ids stay unique.) Rows below every
lane's cursor are deleted. ``events.lane`` is NULL for an event meant for every lane, or names
the one lane a requeued dead letter is meant for; once that lane has delivered it, its id
goes into ``gaps`` (until every cursor has passed it) so the other lanes' arithmetic holds.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "migrate"]

_V1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    size INTEGER NOT NULL,
    created REAL NOT NULL,
    lane TEXT
);
CREATE INDEX IF NOT EXISTS events_lane ON events (lane, id) WHERE lane IS NOT NULL;
CREATE TABLE IF NOT EXISTS lanes (
    name TEXT PRIMARY KEY,
    cursor INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until REAL,
    lease_hi INTEGER,
    paused_until REAL,
    pause_reason TEXT,
    next_attempt REAL,
    failures INTEGER NOT NULL DEFAULT 0,
    server_failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    last_error_at REAL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    lane TEXT NOT NULL,
    name TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    n INTEGER NOT NULL,
    PRIMARY KEY (lane, name, reason)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY,
    lane TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    type TEXT NOT NULL,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    created REAL NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    dead_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_lane ON dead_letters (lane, id);
CREATE TABLE IF NOT EXISTS gaps (id INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS totals (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    events INTEGER NOT NULL,
    bytes INTEGER NOT NULL
);
INSERT OR IGNORE INTO totals (id, events, bytes) VALUES (1, 0, 0);
"""


def _v1(conn: sqlite3.Connection) -> None:
    # Statement by statement: executescript() would COMMIT the migration's transaction.
    for statement in _V1.split(";"):
        if statement.strip():
            conn.execute(statement)


def _v2(conn: sqlite3.Connection) -> None:
    """Time that survives clock jumps (see ``store/timeline.py``): ``events.wall`` is the wall
    clock at ``track()`` when edgetrack stamped the timestamp (NULL when the app gave one),
    so a timestamp taken from a wrong clock can be corrected at send time; ``lanes.seen`` is
    when a client last configured the lane (an orphan lane is one nobody has for a long time)."""
    conn.execute("ALTER TABLE events ADD COLUMN wall REAL")
    conn.execute("ALTER TABLE lanes ADD COLUMN seen REAL")
    conn.execute("UPDATE lanes SET seen = created")


def _v3(conn: sqlite3.Connection) -> None:
    """The app's state beside its queue (``store/_state.py``): who the user is, the session,
    the app version last seen, opt-out. Kept in the queue file so that it is encrypted with it,
    erased with it, and shared by the processes that share the queue."""
    conn.execute("CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


def _v4(conn: sqlite3.Connection) -> None:
    """One page written a commit, not three (flash wear): ``events`` without AUTOINCREMENT
    (its ``sqlite_sequence`` row was a page of its own; ids stay never reused, see
    ``_sql.seq``, from ``meta.id_floor`` on), and ``totals.through``: the running totals count
    the events up to that id, the tail after it is counted when read and folded in now and
    then, so an append does not write the totals page. An older file's events table is
    copied once into the new shape."""
    has_sequence = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'"
    ).fetchone()
    row = None
    if has_sequence:
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    floor = int(row[0]) if row else 0
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('id_floor', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (str(floor),),
    )
    conn.execute(
        "CREATE TABLE events_v4 (id INTEGER PRIMARY KEY, type TEXT NOT NULL, message_id TEXT NOT NULL, "
        "body TEXT NOT NULL, size INTEGER NOT NULL, created REAL NOT NULL, lane TEXT, wall REAL)"
    )
    conn.execute(
        "INSERT INTO events_v4 (id, type, message_id, body, size, created, lane, wall) "
        "SELECT id, type, message_id, body, size, created, lane, wall FROM events"
    )
    conn.execute("DROP TABLE events")
    conn.execute("ALTER TABLE events_v4 RENAME TO events")
    conn.execute("CREATE INDEX events_lane ON events (lane, id) WHERE lane IS NOT NULL")
    conn.execute("ALTER TABLE totals ADD COLUMN through INTEGER NOT NULL DEFAULT 0")
    newest = conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
    conn.execute("UPDATE totals SET through = ? WHERE id = 1", (max(newest, floor),))


def _v5(conn: sqlite3.Connection) -> None:
    """The context an event shares with the others of its session (device, os, app, session,
    traits: half of a small event's JSON) is kept once, in ``contexts``, and an event's row
    holds the rest of its JSON and the context's id (``events.context``; NULL: ``body`` is the
    whole JSON). Rows half as long fill a page half as often (flash wear) and a backlog takes
    half the disk. ``queue`` is the events with their JSON whole: what every reader reads."""
    conn.execute("CREATE TABLE contexts (id INTEGER PRIMARY KEY, json TEXT NOT NULL UNIQUE)")
    conn.execute("ALTER TABLE events ADD COLUMN context INTEGER")
    conn.execute(_QUEUE_VIEW)


_EVENTS_NOW = """CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    size INTEGER NOT NULL,
    created REAL NOT NULL,
    lane TEXT,
    wall REAL,
    context INTEGER
)"""

_QUEUE_VIEW = (
    "CREATE VIEW queue AS SELECT e.id, e.type, e.message_id, "
    "CASE WHEN e.context IS NULL THEN e.body "
    "ELSE e.body || (SELECT c.json FROM contexts c WHERE c.id = e.context) END AS body, "
    "e.size, e.created, e.lane, e.wall FROM events e"
)


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1, _v2, _v3, _v4, _v5]


def _new_file(conn: sqlite3.Connection) -> None:
    """A new file's schema, as every migration leaves an old one, made at once (its events
    table is not made with AUTOINCREMENT only to be copied out of it): the first open, and so
    the first events on disk, within milliseconds. ``test_store`` holds the two equal."""
    for statement in _V1.split(";"):
        if not statement.strip():
            continue
        conn.execute(_EVENTS_NOW if "CREATE TABLE IF NOT EXISTS events" in statement else statement)
    conn.execute("ALTER TABLE lanes ADD COLUMN seen REAL")
    _v3(conn)
    conn.execute("ALTER TABLE totals ADD COLUMN through INTEGER NOT NULL DEFAULT 0")
    conn.execute("INSERT INTO meta (key, value) VALUES ('id_floor', '0')")
    conn.execute("CREATE TABLE contexts (id INTEGER PRIMARY KEY, json TEXT NOT NULL UNIQUE)")
    conn.execute(_QUEUE_VIEW)


SCHEMA_VERSION = len(MIGRATIONS)


def check_version(conn: sqlite3.Connection, path: object) -> None:
    """Raise ``StorageError`` unless the file's schema is this edgetrack's (for readers, which
    never migrate)."""
    from edgetrack.errors import StorageError

    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except Exception as exc:
        raise StorageError(f"{path} is not an edgetrack queue file ({exc})", "foreign") from exc
    found = int(row[0]) if row else 0
    if found != SCHEMA_VERSION:
        raise StorageError(
            f"the queue file {path} has schema version {found}, this edgetrack reads {SCHEMA_VERSION}; "
            "open it once with the app (or `edgetrack flush`) to migrate it, or upgrade edgetrack",
            "version",
        )


def _version(conn: sqlite3.Connection) -> int:
    has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    if not has_meta:
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema up to date in one transaction each; return the version found first.

    The version is read again inside each migration's write transaction: two processes
    opening an old file together must not both run the same migration.
    """
    found = _version(conn)
    if found > SCHEMA_VERSION:
        from edgetrack.errors import StorageError

        raise StorageError(
            f"the queue file has schema version {found}, newer than this edgetrack "
            f"({SCHEMA_VERSION}); upgrade edgetrack or point path= at another file",
            "version",
        )
    while found < SCHEMA_VERSION:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = _version(conn)
            # a new file takes every migration in one transaction: one commit before its first
            # events, not one a migration (the first events are on disk within milliseconds)
            target = SCHEMA_VERSION if version == 0 else min(version + 1, SCHEMA_VERSION)
            if version == 0:
                _new_file(conn)
            else:
                MIGRATIONS[version](conn)
            if target > version:
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(target),),
                )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        found = max(target, version)
    return found
