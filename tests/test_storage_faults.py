"""Storage faults: the app keeps running, the cause is logged and counted, nothing queued is lost
that the fault did not itself destroy."""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from edgetrack import Client, RetryPolicy
from edgetrack.destinations import IntileryMobile
from edgetrack.emulator import Emulator
from tests.conftest import query

pytestmark = pytest.mark.slow  # disk full and locked files, with subprocesses


def make(emu: Emulator, path: Path) -> Client:
    return Client(
        [IntileryMobile(emu.write_key, endpoint=emu.url)], path=path, retry=RetryPolicy(startup_jitter=0.0)
    )


def test_a_corrupt_queue_file_is_quarantined_and_a_fresh_queue_started(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Garbage in place of the queue: moved aside as .corrupt-<time>, counted, and tracking goes on."""
    path = tmp_path / "queue.db"
    path.write_bytes(b"this is not a database" * 500)
    with caplog.at_level(logging.ERROR, logger="edgetrack"), make(emulator, path) as client:
        assert client.track("u", "After")[0] is True
        assert client.flush(10) is True
        dropped = client.stats().dropped
    assert dropped == {"quarantined:corrupt": 1}
    assert [p.name.split(".corrupt-")[0] for p in tmp_path.glob("queue.db.corrupt-*")] == ["queue.db"]
    assert [e["event"] for e in emulator.events()] == ["After"]
    assert "corrupt" in caplog.text


def test_a_queue_file_deleted_under_a_running_client_is_recreated(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """File deleted while the app runs: the next write notices, reopens, counts it; later events arrive."""
    path = tmp_path / "queue.db"
    with caplog.at_level(logging.ERROR, logger="edgetrack"), make(emulator, path) as client:
        client.track("u", "Before")
        assert client.flush(10)
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        client.track("u", "After")
        assert client.flush(10) is True
        dropped = client.stats().dropped
    assert [e["event"] for e in emulator.events()] == ["Before", "After"]
    assert dropped.get("file_lost:deleted") == 1 and path.exists()
    assert "deleted" in caplog.text


def test_a_database_locked_by_another_process_delays_but_loses_nothing(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Another process holds an exclusive lock past the busy timeout: track() keeps returning; all arrive."""
    path = tmp_path / "queue.db"
    with make(emulator, path) as client:
        client.track("u", "Warm")
        assert client.flush(10)
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                textwrap.dedent(f"""
                import sqlite3, sys, time
                conn = sqlite3.connect({str(path)!r}, isolation_level=None)
                conn.execute("BEGIN EXCLUSIVE")
                print("locked", flush=True)
                time.sleep(6.5)
                conn.execute("COMMIT")
            """),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        returned = [client.track("u", "During", {"n": n})[0] for n in range(50)]
        holder.wait(20)
        holder.stdout.close()
        assert all(returned)
        assert client.flush(20) is True
        assert client.stats().write_errors >= 1
    assert [e["properties"].get("n") for e in emulator.events()[1:]] == list(range(50))


def test_an_unwritable_location_keeps_the_app_running(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A queue path that cannot be created (read-only file system): calls return, the error is logged."""
    path = Path("/proc/edgetrack-test/queue.db")  # /proc refuses new files, as a read-only mount does
    with caplog.at_level(logging.WARNING, logger="edgetrack"):
        client = Client([], path=path, send=False)
        ok, _ = client.track("u", "E")
        time.sleep(0.2)
        assert ok is True  # accepted into memory; the writer keeps retrying
        stats = client.stats()
        assert stats.write_errors >= 1 and "edgetrack-test" in (stats.last_write_error or "")
        client.shutdown(timeout=0.5)
    assert "queue write failed" in caplog.text


DISK_FULL = r"""
import os, resource, signal, sys, time, json
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
from edgetrack import Client
path = sys.argv[1]
client = Client([], path=path, send=False)
client.track("u", "Before")
assert client.pipeline.wait_committed(timeout=5)
size = os.path.getsize(path) + os.path.getsize(path + "-wal")
resource.setrlimit(resource.RLIMIT_FSIZE, (size, resource.RLIM_INFINITY))  # the disk is full now
accepted = sum(client.track("u", "Full", {"pad": "x" * 2000})[0] for _ in range(200))
time.sleep(0.5)
failing = client.stats().write_errors > 0
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))  # space again
done = client.pipeline.wait_committed(timeout=15)
print(json.dumps({"accepted": accepted, "failing": failing, "done": done,
                  "errors": client.stats().write_errors}), flush=True)
client.shutdown(timeout=2)
"""


def test_a_full_disk_keeps_events_in_memory_until_space_returns(tmp_path: Path) -> None:
    """With no room (a file-size limit) writes fail and are retried; when space returns all are committed."""
    import json

    path = tmp_path / "queue.db"
    out = subprocess.run(
        [sys.executable, "-c", DISK_FULL, str(path)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["failing"] is True and result["errors"] >= 1
    assert result["done"] is True and result["accepted"] == 200
    rows = query(path, "SELECT count(*) FROM events WHERE type = 'track'")[0][0]
    assert rows == 201


def _run_child(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=120
    )


def test_a_deleted_wal_is_noticed_and_durable_calls_after_it_survive_kill_9(tmp_path: Path) -> None:
    """The -wal file deleted under a running durable client: the writer notices (like a deleted
    queue file), every connection of the process reopens, and every durable call that returned
    True afterwards is in the file after kill -9 (before: 200 returned True, 0-108 were there)."""
    path = tmp_path / "queue.db"
    result = _run_child(f"""
        import os, signal
        from edgetrack import Client, RetryPolicy
        from edgetrack.destinations import IntileryMobile
        from edgetrack.emulator import Emulator
        emu = Emulator().start()
        client = Client(  # a lane's connection and the stats reader are open too
            [IntileryMobile(emu.write_key, endpoint=emu.url)], path={str(path)!r}, durable=True,
            retry=RetryPolicy(startup_jitter=0), flush_at=1000, flush_interval=3600,
        )
        for i in range(10):
            assert client.track("u", "Before")[0]
        assert client.flush(10) and client.stats().pending == 0
        os.unlink({str(path)!r} + "-wal")
        ok = sum(client.track("u", "After", {{"i": i}})[0] for i in range(200))
        print(ok, client.stats().dropped, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    returned, dropped = result.stdout.split(" ", 1)
    conn = sqlite3.connect(path)
    after = conn.execute("SELECT count(*) FROM queue WHERE body LIKE '%\"After\"%'").fetchone()[0]
    integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    conn.close()
    assert int(returned) == 200 and after == 200 and integrity == "ok"
    assert "file_lost:deleted" in dropped


def test_a_durable_call_that_cannot_commit_returns_false_and_is_never_committed_later(tmp_path: Path) -> None:
    """Disk full (a file-size limit no write fits under): each durable call returns
    (False, reason) after one failed attempt, and those events are not committed once space
    returns, so an app that retries never sends them twice."""
    path = tmp_path / "queue.db"
    result = _run_child(f"""
        import json, resource, signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        from edgetrack import Client
        client = Client(path={str(path)!r}, send=False, durable=True)
        assert client.track("u", "Warm", {{"pad": "x" * 2000}})[0]
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, hard))  # the disk is full: no write succeeds
        refused = []
        for i in range(5):
            ok, reason = client.track("u", "Refused", {{"i": i}})
            refused.append((ok, reason))
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # space returns
        ok_after = client.track("u", "After")[0]
        client.shutdown()
        print(json.dumps({{"refused": refused, "after": ok_after}}))
    """)
    assert result.returncode == 0, result.stderr[-2000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert all(ok is False for ok, _ in outcome["refused"]), outcome
    assert all("could not be written" in reason for _, reason in outcome["refused"]), outcome
    assert outcome["after"] is True
    conn = sqlite3.connect(path)
    names = [json.loads(b)["event"] for (b,) in conn.execute("SELECT body FROM queue ORDER BY id")]
    conn.close()
    assert names == ["Warm", "After"]
