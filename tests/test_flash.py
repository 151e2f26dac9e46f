"""Flash wear: what a commit writes, read from SQLite's own write-ahead log, not from timing.

Each WAL frame is one page written (24-byte header, then the page; the last frame of a
transaction carries its commit mark). A commit of one small event writes the events table's
page it appends to, and nothing else, except when that page is full: then the new leaf, its
parent, the file's header page and the auto-vacuum pointer map. Before, every commit also wrote
AUTOINCREMENT's ``sqlite_sequence`` row and the ``totals`` row: three pages where one will do;
and a page was SQLite's default 4 KiB, where 1 KiB lets four commits share one page of the OS.
"""

from __future__ import annotations

import json
import sqlite3
import struct
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from edgetrack import Client, ConfigError, QueueLimits
from edgetrack.destinations import IntileryMobile
from edgetrack.emulator import Emulator
from edgetrack.envelope import queued_form as form
from edgetrack.store import SCHEMA_VERSION, SQLiteStore
from edgetrack.testing import FakeClock

PROPS = {"product": "Espresso", "cart_size": 3, "price": 2.5, "sku": "ESP-001"}
WAL_HEADER, FRAME_HEADER = 32, 24


def wal(path: Path) -> list[tuple[int, bool]]:
    """Every frame in ``path``'s WAL, in order: its page number and whether it ends a commit."""
    data = (path.parent / (path.name + "-wal")).read_bytes()
    if len(data) < WAL_HEADER:
        return []
    page_size = struct.unpack(">I", data[8:12])[0]
    found, offset = [], WAL_HEADER
    while offset + FRAME_HEADER + page_size <= len(data):
        page, commit = struct.unpack(">II", data[offset : offset + 8])
        found.append((page, commit != 0))
        offset += FRAME_HEADER + page_size
    return found


def frames(path: Path) -> list[int]:
    return [page for page, _ in wal(path)]


def bookkeeping_pages(path: Path) -> set[int]:
    """The root pages of the small tables a commit used to write: totals, sqlite_sequence,
    lanes, counters and the app's state (each fits in its root page here)."""
    names = ("totals", "sqlite_sequence", "lanes", "counters", "state", "meta")
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        rows = conn.execute(
            f"SELECT rootpage FROM sqlite_master WHERE name IN ({','.join('?' * len(names))})", names
        ).fetchall()
    return {int(root) for (root,) in rows}


@pytest.fixture
def quiet(tmp_path: Path) -> Iterator[tuple[Client, Path, FakeClock]]:
    """A client that only queues (no lane writes), sessions on, a step of the clock per event."""
    clock = FakeClock()
    path = tmp_path / "q.db"
    client = Client(path=path, send=False, clock=clock, track_lifecycle=False)
    for _ in range(2):  # a session's first event has a context of its own; the next ones share one
        client.track("u", "Warm up", PROPS)
        assert client.pipeline.wait_committed(5)
    yield client, path, clock
    client.shutdown(timeout=2)


def commits(path: Path, before: int) -> list[list[int]]:
    """The pages each commit after the first ``before`` frames wrote, commit by commit."""
    found: list[list[int]] = []
    pages: list[int] = []
    for page, commit in wal(path)[before:]:
        pages.append(page)
        if commit:
            found.append(pages)
            pages = []
    return found


def page_size(path: Path) -> int:
    return int(struct.unpack(">I", (path.parent / (path.name + "-wal")).read_bytes()[8:12])[0])


def test_one_event_a_commit_writes_one_small_page(quiet: tuple[Client, Path, FakeClock]) -> None:
    client, path, clock = quiet
    before = len(frames(path))
    for _ in range(30):
        clock.advance(1.0)  # one event a second: the session's last activity is saved once a minute
        client.track("user-1234", "Product Added", PROPS)
        assert client.pipeline.wait_committed(5)
    found = commits(path, before)
    assert len(found) == 30
    assert not {page for pages in found for page in pages} & bookkeeping_pages(path)  # no totals, sequence...
    assert page_size(path) == 1024  # four commits to one 4 KiB page of the OS's cache
    # A commit writes the leaf it appends to; when that leaf is full, the new leaf, its parent,
    # the file's header page (page 1) and the auto-vacuum pointer map (page 2) instead (and once,
    # when the table's first leaf fills, the two leaves its root becomes the parent of).
    assert all(len(pages) == 1 or (len(pages) <= 6 and {1, 2} < set(pages)) for pages in found)
    assert sum(len(pages) == 1 for pages in found) >= 15  # a leaf holds at least three events
    # The target, read from the WAL: at most 1.25x one 4 KiB page (and its frame header) a commit.
    wal_bytes = sum(len(pages) for pages in found) * (page_size(path) + FRAME_HEADER)
    assert wal_bytes <= 30 * 1.25 * (4096 + FRAME_HEADER)


def test_a_burst_shares_its_pages(quiet: tuple[Client, Path, FakeClock]) -> None:
    client, path, _ = quiet
    before = len(frames(path))
    for _ in range(400):
        client.track("user-1234", "Product Added", PROPS)
    assert client.pipeline.wait_committed(10)
    written = len(frames(path)[before:]) * (page_size(path) + FRAME_HEADER)
    assert written <= 400 * 1024  # at most 1 KB an event (the target)
    assert written <= 400 * 300 * 2.5  # an event's row (its context kept once) is under 300 bytes


def zeroed_frames(path: Path, before: int) -> int:
    """How many of the frames after the first ``before`` hold a page of nothing but zeros."""
    data = (path.parent / (path.name + "-wal")).read_bytes()
    size = page_size(path)
    offset = WAL_HEADER + before * (FRAME_HEADER + size)
    found = 0
    while offset + FRAME_HEADER + size <= len(data):
        found += not any(data[offset + FRAME_HEADER : offset + FRAME_HEADER + size])
        offset += FRAME_HEADER + size
    return found


def test_a_delivery_writes_no_pages_of_zeros(emulator: Emulator, tmp_path: Path) -> None:
    """Deleting what was delivered frees pages; SQLite's secure_delete=ON (the default of some
    builds, Debian's among them) writes each freed page again, as zeros: wear for nothing."""
    path = tmp_path / "q.db"
    destination = IntileryMobile(emulator.write_key, endpoint=emulator.url)
    options = {"flush_at": 1000, "flush_interval": 3600, "track_lifecycle": False}
    with Client([destination], path=path, **options) as client:  # type: ignore[arg-type]
        for i in range(300):
            client.track("u", "E", {**PROPS, "i": i})
        assert client.pipeline.wait_committed(5)
        before = len(frames(path))  # none sent yet: not due before flush()
        assert client.flush(10) is True
        assert client.stats().events_on_disk == 0
        assert len(frames(path)) > before  # the delivery wrote (and the WAL was not reset)
        assert zeroed_frames(path, before) == 0


def test_ids_are_never_reused_once_the_queue_has_drained(emulator: Emulator, tmp_path: Path) -> None:
    """Without AUTOINCREMENT, SQLite would give the next event the id of the last one delivered
    and deleted: the lane's cursor would skip it. The ids go on from the newest ever queued."""
    path = tmp_path / "q.db"
    with Client([IntileryMobile(emulator.write_key, endpoint=emulator.url)], path=path) as client:
        for round_ in range(3):
            for i in range(5):
                client.track("u", f"Round {round_} event {i}")
            assert client.flush(10) is True
            assert client.stats().events_on_disk == 0  # delivered and deleted: the table is empty
    expected = [f"Round {r} event {i}" for r in range(3) for i in range(5)]
    assert [e["event"] for e in emulator.events()] == expected


def test_ids_go_on_after_the_last_lane_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    limits = QueueLimits()
    with closing(SQLiteStore.open(path)) as store:
        store.ensure_lanes(["a"], now=0.0)
        store.append([("track", f"m{n}", "{}", 2, float(n)) for n in range(5)], limits)
        newest = store.newest_id()
        assert store.drop_lane("a") == 5
        assert store.totals() == (0, 0)
        store.ensure_lanes(["b"], now=10.0)
        store.append([("track", "m5", "{}", 2, 5.0)], limits)
        assert store.newest_id() == newest + 1
        assert store.totals() == (1, 2)


def test_totals_stay_exact_across_the_unfolded_tail(tmp_path: Path) -> None:
    """The totals row is brought up to date only now and then; what it says plus the tail is
    always the rows' own count and size, through appends, trims and deliveries."""
    path = tmp_path / "q.db"
    limits = QueueLimits(max_events=700)
    with closing(SQLiteStore.open(path)) as store:
        store.ensure_lanes(["a"], now=0.0)
        for n in range(1_000):  # one commit each: past the fold length, and trimmed at 700
            body = json.dumps({"n": n, "pad": "x" * (n % 7)})
            store.append([("track", f"m{n}", body, len(body), float(n))], limits)
            if n % 97 == 0:
                assert store.totals() == rows_on_disk(path)
        assert store.totals() == rows_on_disk(path)
        assert store.totals()[0] <= 700


def rows_on_disk(path: Path) -> tuple[int, int]:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        n, size = conn.execute("SELECT count(*), coalesce(sum(size), 0) FROM events").fetchone()
    return int(n), int(size)


def test_an_older_file_is_migrated_with_its_ids_and_totals(tmp_path: Path) -> None:
    """A file of schema 3 (AUTOINCREMENT, totals updated every commit) keeps its events, and
    ids go on after the newest it ever had, even one already deleted."""
    path = tmp_path / "old.db"
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        for statement in SCHEMA_3.split(";"):
            conn.execute(statement)
        conn.execute("INSERT INTO lanes (name, cursor, created, seen) VALUES ('a', 0, 0, 0)")
        for n in range(1, 11):
            conn.execute(
                "INSERT INTO events (type, message_id, body, size, created) VALUES ('track', ?, '{}', 2, ?)",
                (f"m{n}", float(n)),
            )
        conn.execute("DELETE FROM events WHERE id > 8")  # the newest two gone (as a trim of a purge)
        conn.execute("UPDATE totals SET events = 8, bytes = 16")
    with closing(SQLiteStore.open(path)) as store:
        assert store.totals() == (8, 16)
        store.append([("track", "m11", "{}", 2, 11.0)], QueueLimits())
        assert store.newest_id() == 11  # not 9: ids 9 and 10 were used once
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(
            SCHEMA_VERSION
        )
        table = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'events'").fetchone()[0]
        assert "AUTOINCREMENT" not in table.upper()


# A queue file as edgetrack wrote it at schema version 3 (before this change), table by table.
SCHEMA_3 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('schema_version', '3');
CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, message_id TEXT NOT NULL,
    body TEXT NOT NULL, size INTEGER NOT NULL, created REAL NOT NULL, lane TEXT, wall REAL);
CREATE INDEX events_lane ON events (lane, id) WHERE lane IS NOT NULL;
CREATE TABLE lanes (name TEXT PRIMARY KEY, cursor INTEGER NOT NULL, lease_owner TEXT, lease_until REAL,
    lease_hi INTEGER, paused_until REAL, pause_reason TEXT, next_attempt REAL,
    failures INTEGER NOT NULL DEFAULT 0, server_failures INTEGER NOT NULL DEFAULT 0, last_error TEXT,
    last_error_at REAL, created REAL NOT NULL, seen REAL);
CREATE TABLE counters (lane TEXT NOT NULL, name TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
    n INTEGER NOT NULL, PRIMARY KEY (lane, name, reason)) WITHOUT ROWID;
CREATE TABLE dead_letters (id INTEGER PRIMARY KEY, lane TEXT NOT NULL, event_id INTEGER NOT NULL,
    type TEXT NOT NULL, message_id TEXT NOT NULL, body TEXT NOT NULL, created REAL NOT NULL,
    reason TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '', dead_at REAL NOT NULL);
CREATE INDEX dead_letters_lane ON dead_letters (lane, id);
CREATE TABLE gaps (id INTEGER PRIMARY KEY);
CREATE TABLE totals (id INTEGER PRIMARY KEY CHECK (id = 1), events INTEGER NOT NULL, bytes INTEGER NOT NULL);
INSERT INTO totals (id, events, bytes) VALUES (1, 0, 0);
CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL)
"""


def test_a_commit_window_makes_one_commit_of_what_it_holds(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    options = {"send": False, "track_lifecycle": False, "session_timeout": None}
    with Client(path=path, commit_window=30.0, **options) as client:  # type: ignore[arg-type]
        client.track("u", "Warm up")
        assert client.pipeline.wait_committed(5)  # a caller waiting ends the window at once
        before = len(frames(path))
        for i in range(10):
            client.track("u", f"E{i}")
        time.sleep(0.2)  # the writer holds them (30 s window): nothing written yet
        assert len(frames(path)) == before
        assert client.pipeline.wait_committed(5)  # flush(), shutdown() and durable calls end it
        new = wal(path)[before:]
        assert sum(commit for _, commit in new) == 1  # ten events, one commit
        assert client.track("u", "Urgent", flush=True)[0]
        assert client.pipeline.wait_committed(5)


def test_durable_calls_are_not_held_by_the_window(tmp_path: Path) -> None:
    with Client(
        path=tmp_path / "q.db", send=False, durable=True, commit_window=30.0, track_lifecycle=False
    ) as client:
        ok, _ = client.track("u", "Durable")  # returns after its commit, well before 30 s
        assert ok is True
        assert client.stats().events_on_disk == 1


@pytest.mark.parametrize("window", [-1, 61, "1", True])
def test_a_bad_commit_window_says_what_to_change(tmp_path: Path, window: object) -> None:
    with pytest.raises(ConfigError, match="commit_window must be a number of seconds from 0 to 60"):
        Client(path=tmp_path / "q.db", send=False, commit_window=window)  # type: ignore[arg-type]


def test_events_of_a_session_keep_their_context_once_and_read_back_whole(tmp_path: Path) -> None:
    """The context (device, os, app, session) is half a small event's JSON: kept once for the
    events that share it, joined back on every read, byte for byte."""
    path = tmp_path / "q.db"
    tricky = {"note": 'a value that says ,"context":{"x":1} inside it', "n": 1}
    with Client(path=path, send=False, track_lifecycle=False) as client:
        sent = [client.track("u", f"E{i}", PROPS if i % 2 else tricky)[1] for i in range(50)]
    with closing(SQLiteStore.open(path)) as store:
        queued = store.peek(None, limit=100)
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        contexts = conn.execute("SELECT count(*) FROM contexts").fetchone()[0]
        shared = conn.execute("SELECT count(*) FROM events WHERE context IS NOT NULL").fetchone()[0]
        stored = conn.execute("SELECT max(length(body)) FROM events").fetchone()[0]
    assert contexts == 2 and shared == 50  # the session's first (sessionStart), then all the others
    assert [json.loads(event.body) for event in queued] == [queued_form(message) for message in sent]
    assert stored < min(len(event.body) for event in queued) * 0.75  # each row holds well under it


def queued_form(message: object) -> object:
    """What the queue holds of a returned message (its nulls left out, as edgetrack queues it)."""
    assert isinstance(message, dict)
    return json.loads(json.dumps(form(message), default=str))


def test_a_new_file_has_the_schema_an_old_one_is_migrated_to(tmp_path: Path) -> None:
    """A new file is made in one step (no AUTOINCREMENT table made only to be copied); it must
    be what the migrations make of an old file, column for column."""

    def shape(path: Path) -> dict[str, object]:
        with closing(sqlite3.connect(path)) as conn:
            names = [
                row[0]
                for row in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
            ]
            indexes = sorted(
                (row[0], row[1])
                for row in conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'")
            )
            columns = {
                name: [tuple(r[1:]) for r in conn.execute(f"PRAGMA table_info({name})")]
                for name in names
                if name != "sqlite_sequence"
            }
        return {"columns": columns, "indexes": indexes}

    new, old = tmp_path / "new.db", tmp_path / "old.db"
    SQLiteStore.open(new).close()
    with closing(sqlite3.connect(old, isolation_level=None)) as conn:
        for statement in SCHEMA_3.split(";"):
            conn.execute(statement)
    SQLiteStore.open(old).close()
    assert shape(new) == shape(old)
