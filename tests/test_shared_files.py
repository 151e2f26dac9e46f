"""One queue file, several users: two clients in one process, lanes nobody sends any more,
readers beside a writer, leases taken over, and a backlog left by the last run."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgetrack import Client, ConfigError, QueueLimits, RetryPolicy
from edgetrack.cli import main
from edgetrack.destinations import IntileryMobile, Segment
from edgetrack.emulator import Emulator
from edgetrack.store import LANE_REFRESH, SQLiteStore
from edgetrack.testing import FakeClock

DAY = 86400.0


def mobile(emu: Emulator, path: Path, **kwargs: object) -> Client:
    return Client(
        [IntileryMobile(emu.write_key, endpoint=emu.url)],
        path=path,
        retry=RetryPolicy(startup_jitter=0.0),
        **kwargs,  # type: ignore[arg-type]
    )


def test_two_clients_in_one_process_never_send_the_same_batch(emulator: Emulator, queue_path: Path) -> None:
    """Two Clients on one file in one process, a slow server: every event arrives once, because
    each respects the other's lease (before, 300 events arrived 600 times)."""
    emulator.latency = 0.3
    first, second = mobile(emulator, queue_path), mobile(emulator, queue_path)
    try:
        for i in range(300):
            (first if i % 2 else second).track("u", "Tapped", {"i": i})
        flushes = [threading.Thread(target=c.flush, args=(30,)) for c in (first, second)]
        for thread in flushes:
            thread.start()
        for thread in flushes:
            thread.join()
        assert first.flush(30) and second.flush(30)
    finally:
        first.shutdown()
        second.shutdown()
    ids = Counter(e["messageId"] for e in emulator.events())
    assert len(ids) == 300 and max(ids.values()) == 1


def _lanes(emu: Emulator) -> list[IntileryMobile]:
    return [
        IntileryMobile(emu.write_key, endpoint=emu.url, name="a"),
        IntileryMobile(emu.write_key, endpoint=emu.url, name="b"),
    ]


def test_a_lane_no_longer_configured_is_listed_as_an_orphan_and_can_be_dropped(
    emulator: Emulator, queue_path: Path
) -> None:
    """After destination b is removed, stats() still lists lane b, flagged as an orphan with its
    pending events; drop_lane('b') removes it, and its events leave the disk."""
    with Client(_lanes(emulator), path=queue_path, send=False) as client:
        for i in range(200):
            client.track("u", "Tapped", {"i": i, "pad": "x" * 200})
    a_only = [IntileryMobile(emulator.write_key, endpoint=emulator.url, name="a")]
    with Client(a_only, path=queue_path, retry=RetryPolicy(startup_jitter=0.0)) as client:
        assert client.flush(10) is True
        stats = client.stats()
        assert stats.orphans == ["b"] and stats.lanes["b"].pending == 200
        assert stats.events_on_disk == 200  # lane b holds them on disk
        with pytest.raises(ConfigError):
            client.drop_lane("a")
        assert client.drop_lane("b") == 200
        after = client.stats()
    assert "b" not in after.lanes and after.events_on_disk == 0 and after.bytes_on_disk == 0
    assert after.dropped == {"lane_dropped:b": 200}


def test_an_orphan_lane_is_dropped_automatically_after_its_age(
    emulator: Emulator, queue_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A lane nobody has configured for 30 days (Client(orphan_lane_age=...)) is dropped when a
    client opens the file, counted and logged; a younger orphan is kept."""
    clock = FakeClock()
    with Client(_lanes(emulator), path=queue_path, clock=clock, send=False) as client:
        for i in range(50):
            client.track("u", "Tapped", {"i": i})
    a_only = [IntileryMobile(emulator.write_key, endpoint=emulator.url, name="a")]
    clock.advance(29 * DAY)
    with Client(a_only, path=queue_path, clock=clock, send=False) as client:
        assert client.stats().orphans == ["b"]
    clock.advance(2 * DAY)
    with caplog.at_level(logging.WARNING, logger="edgetrack"):
        with Client(a_only, path=queue_path, clock=clock, send=False) as client:
            client.track("u", "After")
            assert client.pipeline.wait_committed(timeout=10)
            stats = client.stats()
    assert "b" not in stats.lanes and stats.dropped == {"lane_dropped:b": 50}
    assert "dropped lane 'b' with 50 pending events" in caplog.text


def test_a_client_that_sends_a_lane_keeps_it_even_after_another_dropped_it(
    emulator: Emulator, queue_path: Path
) -> None:
    """Lane b dropped by another client; the client that sends b writes again: b exists again
    before those events, so they are delivered to it."""
    clock = FakeClock()
    with Client(_lanes(emulator), path=queue_path, send=False, clock=clock) as client:
        client.track("u", "Before")
        assert client.pipeline.wait_committed(timeout=10)
        clock.advance(LANE_REFRESH)  # a day since the writer last affirmed its lanes
        with _store(queue_path) as store:
            store.drop_lane("b")
        client.track("u", "After")
        assert client.pipeline.wait_committed(timeout=10)
        stats = client.stats()
    assert stats.lanes["b"].pending == 1


def test_cli_lanes_drop_asks_and_drops(emulator: Emulator, queue_path: Path) -> None:
    """`edgetrack lanes drop NAME` removes an orphan after confirmation; unknown names are an error."""
    with Client(_lanes(emulator), path=queue_path, send=False) as client:
        for i in range(7):
            client.track("u", "Tapped", {"i": i})
    runner = CliRunner()
    refused = runner.invoke(main, ["lanes", "drop", "b", "--db", str(queue_path)], input="n\n")
    assert refused.exit_code == 1
    listed = runner.invoke(main, ["lanes", "list", "--db", str(queue_path)])
    assert listed.exit_code == 0 and "b" in listed.output and "7 pending" in listed.output
    unknown = runner.invoke(main, ["lanes", "drop", "zz", "--db", str(queue_path), "--yes"])
    assert unknown.exit_code != 0 and "a, b" in unknown.output
    done = runner.invoke(main, ["lanes", "drop", "b", "--db", str(queue_path)], input="y\n")
    assert done.exit_code == 0 and "7 pending events" in done.output
    status = runner.invoke(main, ["status", "--db", str(queue_path), "--json"])
    assert [lane["name"] for lane in json.loads(status.output)["lanes"]] == ["a"]


def test_stats_never_writes_and_never_waits_for_another_process_write_lock(
    emulator: Emulator, queue_path: Path
) -> None:
    """Another process holds the write lock: stats() and dead_letters() still answer (before,
    stats() ran a write transaction, waited 5 s and raised "database is locked")."""
    with mobile(emulator, queue_path, send=False) as client:
        client.track("u", "Tapped")
        assert client.pipeline.wait_committed(timeout=10)
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                textwrap.dedent(f"""
                import sqlite3, sys
                conn = sqlite3.connect({str(queue_path)!r}, isolation_level=None)
                conn.execute("BEGIN IMMEDIATE")
                print("locked", flush=True)
                sys.stdin.read()
                conn.execute("ROLLBACK")
                """),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
            # no stats() call before this one: its read-only connection opens while the lock is held
            stats = client.stats()
            assert stats.lanes["intilery_mobile"].pending == 1
            assert client.dead_letters() == []
        finally:
            holder.communicate("")


def test_stats_is_safe_from_many_threads(emulator: Emulator, queue_path: Path) -> None:
    """4 threads x 300 stats() calls while events are tracked: no error (before: "cannot start
    a transaction within a transaction")."""
    errors: list[BaseException] = []
    with mobile(emulator, queue_path, send=False) as client:

        def look() -> None:
            try:
                for _ in range(300):
                    client.stats()
            except BaseException as exc:  # pragma: no cover - what the test is looking for
                errors.append(exc)

        threads = [threading.Thread(target=look) for _ in range(4)]
        for thread in threads:
            thread.start()
        for i in range(500):
            client.track("u", "Tapped", {"i": i})
        for thread in threads:
            thread.join()
    assert errors == []


def test_delivered_counts_events_not_deliveries_after_a_lease_takeover(queue_path: Path) -> None:
    """Owner w1's lease expires while its request is slow; w2 takes the lane over and delivers;
    then w1 finishes too: 200 events are counted as delivered once (before: 300)."""
    clock = FakeClock()
    store = SQLiteStore.open(queue_path, clock=clock)
    store.ensure_lanes(["a"], store.now())
    store.append([("track", f"m{i}", "{}", 2, store.now(), None) for i in range(200)], QueueLimits())
    slow = store.claim("a", "h:1:w1", store.now(), lease=120, max_events=100, max_bytes=10**6)
    assert slow is not None
    clock.advance(121)
    taken = store.claim("a", "h:1:w2", store.now(), lease=120, max_events=200, max_bytes=10**6)
    assert taken is not None and len(taken.events) == 200
    store.complete(taken, "h:1:w2", store.now(), settled=[(e, "delivered", "") for e in taken.events])
    store.complete(slow, "h:1:w1", store.now(), settled=[(e, "delivered", "") for e in slow.events])
    assert store.counters()["a"][("delivered", "")] == 200
    store.close()


def test_a_backlog_left_by_the_last_run_drains_without_a_new_event(
    emulator: Emulator, queue_path: Path
) -> None:
    """An app restarted with events queued and nothing new to track still sends them."""
    with mobile(emulator, queue_path, send=False) as client:
        for i in range(30):
            client.track("u", "Tapped", {"i": i})
    with Client(
        [IntileryMobile(emulator.write_key, endpoint=emulator.url)],
        path=queue_path,
        retry=RetryPolicy(startup_jitter=0.0),
        flush_at=1,
    ) as client:
        assert client.stats().lanes["intilery_mobile"].pending == 30
        assert emulator.wait_for_events(30, timeout=20)  # no track(), no flush(): it drains by itself


def test_events_queued_before_any_lane_existed_go_to_the_first_lanes(
    emulator: Emulator, queue_path: Path
) -> None:
    """An app that queues with no destination (send=False, the CLI sends) loses nothing: the
    lanes that later open the queue deliver what was queued before them."""
    with Client(path=queue_path, send=False) as client:
        for i in range(5):
            client.track("u", "Queued before any lane", {"i": i})
    segment = Segment(emulator.segment_write_key, endpoint=emulator.url)
    with Client([segment], path=queue_path, retry=RetryPolicy(startup_jitter=0.0)) as client:
        assert client.flush(10) is True
    assert len(emulator.events()) == 5


class _store:  # a context manager, like open()
    def __init__(self, path: Path) -> None:
        self.store = SQLiteStore.open(path)

    def __enter__(self) -> SQLiteStore:
        return self.store

    def __exit__(self, *exc: object) -> None:
        self.store.close()
