"""Load: threads and two processes tracking into one queue while it flushes, and a large backlog
drained with flat memory. CI runs the short form; the full run is

    EDGETRACK_LOAD_EVENTS=1000000 .venv/bin/python -m pytest tests/test_load.py -q -s
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from edgetrack import Client, QueueLimits
from edgetrack.destinations import IntileryMobile
from edgetrack.emulator import Emulator

pytestmark = pytest.mark.slow  # large backlogs

BACKLOG = int(os.environ.get("EDGETRACK_LOAD_EVENTS", "50000"))

PRODUCER = r"""
import sys, threading
from edgetrack import Client, RetryPolicy
from edgetrack.destinations import IntileryMobile
path, url, key, tag, per_thread = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
client = Client([IntileryMobile(key, endpoint=url)], path=path, retry=RetryPolicy(startup_jitter=0.0))
def work(t):
    for n in range(per_thread):
        assert client.track(f"{tag}-{t}", "E", {"n": n})[0]
threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
[t.start() for t in threads]; [t.join() for t in threads]
print("flushed", client.flush(60), flush=True)
client.shutdown(10)
"""


def test_two_processes_and_threads_share_one_queue_while_it_flushes(tmp_path: Path) -> None:
    """2 processes x 4 threads track into one file while both flush: every event arrives, once."""
    path = tmp_path / "q.db"
    per_thread = 2_000
    with Emulator() as emu:
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", PRODUCER, str(path), emu.url, emu.write_key, tag, str(per_thread)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for tag in ("p1", "p2")
        ]
        for proc in procs:
            out, _ = proc.communicate(timeout=120)
            assert proc.returncode == 0 and "flushed" in out
        with Client([IntileryMobile(emu.write_key, endpoint=emu.url)], path=path) as client:
            assert client.flush(30) is True
        events = emu.events()
    ids = Counter(e["messageId"] for e in events)
    assert len(ids) == 2 * 4 * per_thread
    duplicates = sum(n - 1 for n in ids.values())
    assert duplicates == 0  # leases keep the two processes off each other's batches
    for tag in ("p1", "p2"):
        for t in range(4):
            seen = [e["properties"]["n"] for e in events if e["userId"] == f"{tag}-{t}"]
            assert sorted(seen) == list(range(per_thread))
    print(json.dumps({"processes": 2, "threads": 8, "events": len(ids), "duplicates": duplicates}))


BACKLOG_CHILD = r"""
import json, sys, time
from edgetrack import Client, QueueLimits, RetryPolicy
from edgetrack.destinations import IntileryMobile

def rss_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

path, url, key, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
client = Client([IntileryMobile(key, endpoint=url)], path=path, send=False,
                limits=QueueLimits(max_events=count * 2, max_bytes=2**31 - 1))
client.track("u", "warm")
client.pipeline.wait_committed(timeout=30)
base = rss_kb()
peak = base
for n in range(count):
    client.track("u", "Backlog", {"n": n})
    if n % 10000 == 0:
        client.pipeline.wait_committed(timeout=60)
        peak = max(peak, rss_kb())
client.pipeline.wait_committed(timeout=300)
queued_rss = rss_kb()
client.shutdown(30)
start = time.monotonic()
sender = Client([IntileryMobile(key, endpoint=url)], path=path, retry=RetryPolicy(startup_jitter=0.0))
ok = sender.flush(1800)
drain_s = time.monotonic() - start
stats = sender.stats()
sender.shutdown(10)
print(json.dumps({"base_kb": base, "queued_kb": queued_rss, "peak_kb": max(peak, queued_rss, rss_kb()),
                  "drained": ok, "drain_s": round(drain_s, 1), "pending": stats.pending,
                  "delivered": stats.lanes["intilery_mobile"].delivered}), flush=True)
"""


def test_a_large_backlog_queues_and_drains_with_flat_memory(tmp_path: Path) -> None:
    """Queueing a big offline backlog grows RSS by under 10 MB, and it all drains: nothing lost."""
    path = tmp_path / "q.db"
    with Emulator(max_body=10 * 1024 * 1024) as emu:
        out = subprocess.run(
            [sys.executable, "-c", BACKLOG_CHILD, str(path), emu.url, emu.write_key, str(BACKLOG)],
            capture_output=True,
            text=True,
            timeout=3600,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        result = json.loads(out.stdout.strip().splitlines()[-1])
        received = len({e["messageId"] for e in emu.events()})
    print(json.dumps({**result, "events": BACKLOG, "received": received}))
    assert result["queued_kb"] - result["base_kb"] < 10 * 1024
    assert result["drained"] is True and result["pending"] == 0
    assert received == BACKLOG + 1


def test_the_disk_cap_is_respected_under_load(tmp_path: Path) -> None:
    """Tracking past max_bytes keeps the queue at or under the cap, dropping the oldest, counted."""
    path = tmp_path / "q.db"
    limits = QueueLimits(max_events=1_000_000, max_bytes=2_000_000)
    with Client(
        [IntileryMobile("k", endpoint="http://127.0.0.1:9")], path=path, send=False, limits=limits
    ) as c:
        for n in range(20_000):
            c.track("u", "E", {"n": n, "pad": "x" * 200})
        assert c.pipeline.wait_committed(timeout=60)
        stats = c.stats()
    assert stats.bytes_on_disk <= 2_000_000
    assert stats.lanes["intilery_mobile"].dropped["queue_full"] == 20_000 - stats.events_on_disk
