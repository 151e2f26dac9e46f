"""A queue file that stays small on a phone: it shrinks after a drain, and the file, its WAL and
its shared memory together stay within QueueLimits.max_bytes."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from itertools import pairwise
from pathlib import Path

from edgetrack import Client, QueueLimits, RetryPolicy
from edgetrack.destinations import IntileryMobile
from edgetrack.emulator import Emulator

PAD = "x" * 400


def on_disk(path: Path) -> int:
    """The queue file with its -wal and -shm, in bytes."""
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


def test_the_file_shrinks_after_a_drain(emulator: Emulator, queue_path: Path) -> None:
    """30,000 events (about 15 MB) queued offline, then delivered: the file, WAL and index end
    under 1 MB (before: a drained 187k backlog left 82 MB with 0 events)."""
    destination = IntileryMobile(emulator.write_key, endpoint=emulator.url)
    with Client([destination], path=queue_path, send=False) as client:
        for i in range(30_000):
            client.track("u", "E", {"i": i, "pad": PAD})
    full = on_disk(queue_path)
    with Client([destination], path=queue_path, retry=RetryPolicy(startup_jitter=0.0)) as client:
        assert client.flush(120) is True
        assert client.stats().events_on_disk == 0
    drained = on_disk(queue_path)
    print(f"\nqueue on disk: {full / 1e6:.1f} MB with 30,000 events, {drained / 1e6:.2f} MB drained")
    assert full > 12_000_000 and drained < 1_000_000


def test_file_wal_and_index_stay_within_max_bytes(queue_path: Path) -> None:
    """4 MiB of room and 20 MB of events tracked offline: the oldest go (counted), and what the
    queue takes on disk never passes 4 MiB."""
    limits = QueueLimits(max_bytes=4 * 1024 * 1024)
    destination = IntileryMobile("k", endpoint="http://127.0.0.1:9")
    largest = 0
    with Client([destination], path=queue_path, send=False, limits=limits) as client:
        for i in range(40_000):
            client.track("u", "E", {"i": i, "pad": PAD})
            if i % 2_000 == 1_999:
                assert client.pipeline.wait_committed(timeout=30)
                largest = max(largest, on_disk(queue_path))
        lane = client.stats().lanes["intilery_mobile"]
    largest = max(largest, on_disk(queue_path))
    print(
        f"\nlargest on disk: {largest / 1e6:.2f} MB of {limits.max_bytes / 1e6:.2f} MB; "
        f"dropped {lane.dropped}"
    )
    assert lane.dropped["queue_full"] > 20_000 and lane.pending > 2_500
    assert largest <= limits.max_bytes


def test_a_full_queue_reuses_the_pages_it_trims(queue_path: Path) -> None:
    """At its cap of events the queue drops the oldest now and then; the pages they took are
    reused by the next events, not handed back (which moved as many pages from the file's end
    at every trim, only for the file to grow again: flash wear for nothing)."""
    limits = QueueLimits(max_events=2_000)
    with Client(path=queue_path, send=False, limits=limits, track_lifecycle=False) as client:
        for _ in range(25):  # 2,500 events: at the cap, trimming already
            for i in range(100):
                client.track("u", "E", {"i": i, "pad": PAD})
            assert client.pipeline.wait_committed(timeout=30)
        sizes = []
        for i in range(200):  # one commit each; a trim every 20 or so
            client.track("u", "E", {"i": i, "pad": PAD})
            assert client.pipeline.wait_committed(timeout=30)
            sizes.append(on_disk_pages(queue_path))
        assert client.stats().dropped["dropped:queue_full"] >= 600
    assert all(later >= earlier for earlier, later in pairwise(sizes))  # it never shrank


def on_disk_pages(path: Path) -> int:
    """The file's pages as SQLite sees them (its WAL included)."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return int(conn.execute("PRAGMA page_count").fetchone()[0])
