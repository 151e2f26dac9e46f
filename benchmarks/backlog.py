"""Backlog benchmark: one million events queued offline, then drained; memory and drain time.

    .venv/bin/python benchmarks/backlog.py [--quick]      # also writes results/backlog.json

edgetrack, in a child process that does nothing else (the sink in another):

1. offline: ``Client([Segment(KEY, endpoint=sink, allow_http=True)], path=tmp, send=False,
   limits=QueueLimits(max_events=2N, max_bytes=2**31-1))`` (the default caps, 200,000 events and
   64 MB, would drop the oldest past them, counted) tracks N events back to back (1,000,000;
   ``--quick`` 100,000), the benchmark's usual call. At 10k, 100k and N events queued (``--quick``:
   10k, 50k, 100k) it waits until they are committed and reads ``VmRSS``: RSS as the backlog grows.
   ``shutdown()``.
2. back online, as an app restarting with the backlog on disk: a new ``Client`` on the same file,
   ``send=True`` (defaults otherwise: gzip, 100 events / 475,000 B a request), ``flush(1800)``: the
   time to drain (until the sink counted every event, which ``flush()`` returning means) and the CPU
   seconds (user + sys) it took.
3. the queue's size on disk (the file with its ``-wal`` and ``-shm``) with the backlog queued and
   after the drain: the file gives back what the drained events took (incremental vacuum).

A thread samples ``/proc/self/status`` ``VmRSS`` every 20 ms throughout: the peak while queueing and the
peak while draining; ``ru_maxrss`` (the kernel's exact peak over the whole child) is reported too. The
target is judged on the larger of the drain's sampled peak and ``ru_maxrss`` (strict: ``ru_maxrss``
also covers the offline phase).

For comparison, segment-analytics-python in its own child: ``Client(KEY, host=<a loopback port that
refuses connections>, max_queue_size=N+1000)`` (its default ``max_queue_size`` is 10,000: past that it
drops new events, so holding this backlog at all needs the option), same N calls, ``VmRSS`` at the
same backlog sizes. Its consumer thread holds one batch of 100 in its retry loop; every other event
waits in its in-memory queue (the queue size is reported), which is all it has: it keeps nothing on
disk, so a restart loses the backlog. It is not drained (it would retry its batch for minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sink import Sink
from systems import make, rss_kb

HERE = Path(__file__).resolve().parent
SIZES = {False: (10_000, 100_000, 1_000_000), True: (10_000, 50_000, 100_000)}


class Sampler(threading.Thread):
    """Peak ``VmRSS`` (KiB) per phase, read every ``interval`` seconds."""

    def __init__(self, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.interval, self.phase, self.peaks = interval, "start", {"start": rss_kb()}
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            rss = rss_kb()
            if rss > self.peaks.get(self.phase, 0):
                self.peaks[self.phase] = rss

    def enter(self, phase: str) -> None:
        self.phase = phase
        self.peaks[phase] = rss_kb()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def _events(url: str) -> int:
    with urllib.request.urlopen(url + "/_stats", timeout=30) as resp:
        return int(json.load(resp)["segment"]["events"])


def _on_disk(folder: str) -> int:
    """Bytes of every queue file (with -wal and -shm) in ``folder``."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*.db*") if p.is_file())


def edgetrack_child(url: str, sizes: tuple[int, ...]) -> dict[str, Any]:
    from edgetrack import QueueLimits

    n = sizes[-1]
    limits = QueueLimits(max_events=2 * n, max_bytes=2**31 - 1)
    sampler = Sampler()
    res: dict[str, Any] = {"n": n}
    with tempfile.TemporaryDirectory() as folder:
        offline = make("edgetrack", url, folder, n, send=False, limits=limits)
        offline.track()
        offline.client.pipeline.wait_committed(timeout=60)
        res["base_kb"] = rss_kb()
        sampler.start()
        sampler.enter("queue")
        rss_at, start, track = {}, time.perf_counter(), offline.track
        done = 0
        for size in sizes:
            for _ in range(size - done):
                track()
            done = size
            offline.client.pipeline.wait_committed(timeout=600)
            rss_at[str(size)] = rss_kb()
        res["queue_seconds"] = time.perf_counter() - start
        res["rss_at_backlog_kb"] = rss_at
        res["queued_stats"] = offline.client.stats().pending
        offline.close()
        res["disk_full_bytes"] = _on_disk(folder)
        sampler.enter("drain")
        before = _events(url)
        cpu0, t0 = os.times(), time.perf_counter()
        online = make("edgetrack", url, folder, n, limits=limits)
        res["drained"] = bool(online.client.flush(1800))
        res["drain_seconds"] = time.perf_counter() - t0
        cpu1 = os.times()
        res["drain_cpu_s"] = cpu1.user + cpu1.system - cpu0.user - cpu0.system
        res["delivered"] = _events(url) - before
        res["pending_after"] = online.client.stats().pending
        online.close()
        res["disk_drained_bytes"] = _on_disk(folder)
    sampler.stop()
    res["peak_kb"] = sampler.peaks
    res["ru_maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return res


def segment_child(sizes: tuple[int, ...]) -> dict[str, Any]:
    refuse = socket.socket()  # bound, never listening: every connection is refused at once
    refuse.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{refuse.getsockname()[1]}"
    n = sizes[-1]
    with tempfile.TemporaryDirectory() as folder:
        system = make("segment", url, folder, n)
        res: dict[str, Any] = {"n": n, "base_kb": rss_kb()}
        rss_at, done, track, start = {}, 0, system.track, time.perf_counter()
        for size in sizes:
            for _ in range(size - done):
                track()
            done = size
            rss_at[str(size)] = rss_kb()
        res["queue_seconds"] = time.perf_counter() - start
        res["rss_at_backlog_kb"] = rss_at
        res["in_memory_queue"] = system.client.queue.qsize()
    res["ru_maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return res


def run_child(args: list[str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True, timeout=1800
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="100,000 events instead of 1,000,000")
    parser.add_argument("--child", choices=("edgetrack", "segment"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = SIZES[args.quick]
    if args.child == "edgetrack":
        print(json.dumps(edgetrack_child(args.url, sizes)), flush=True)
        return
    if args.child == "segment":
        print(json.dumps(segment_child(sizes)), flush=True)
        os._exit(0)  # not segment's atexit join: its consumer would retry the refused batch for minutes
    quick = ["--quick"] if args.quick else []
    started = time.monotonic()
    with Sink() as sink:
        et = run_child(["--child", "edgetrack", "--url", sink.url, *quick])
    seg = run_child(["--child", "segment", *quick])
    res = {"quick": args.quick, "sizes": sizes, "edgetrack": et, "segment": seg}
    res["wall_seconds"] = round(time.monotonic() - started, 1)
    mb = 1 / 1024
    n = sizes[-1]
    rows = [["metric", "edgetrack", "segment"]]
    for size in sizes:
        key = str(size)
        rows.append(
            [
                f"RSS with {size:,} events queued, MB",
                f"{et['rss_at_backlog_kb'][key] * mb:.1f}",
                f"{seg['rss_at_backlog_kb'][key] * mb:.1f}",
            ]
        )
    rows.append(["RSS before queueing, MB", f"{et['base_kb'] * mb:.1f}", f"{seg['base_kb'] * mb:.1f}"])
    rows.append([f"queueing {n:,}, s", f"{et['queue_seconds']:.1f}", f"{seg['queue_seconds']:.1f}"])
    rows.append([f"drain {n:,} to the sink, s", f"{et['drain_seconds']:.1f}", "-"])
    rows.append(["drain, events/s", f"{et['delivered'] / et['drain_seconds']:,.0f}", "-"])
    rows.append(
        ["drain CPU s per 10,000", f"{et['drain_cpu_s'] * 10_000 / max(et['delivered'], 1):.3f}", "-"]
    )
    rows.append(["peak RSS while draining (sampled), MB", f"{et['peak_kb']['drain'] * mb:.1f}", "-"])
    rows.append(["peak RSS while queueing (sampled), MB", f"{et['peak_kb']['queue'] * mb:.1f}", "-"])
    rows.append([f"queue on disk with {n:,} queued, MB", f"{et['disk_full_bytes'] / 1e6:.1f}", "-"])
    rows.append(["queue on disk after the drain, MB", f"{et['disk_drained_bytes'] / 1e6:.2f}", "-"])
    rows.append(
        [
            "ru_maxrss of the whole child, MB",
            f"{et['ru_maxrss_kb'] * mb:.1f}",
            f"{seg['ru_maxrss_kb'] * mb:.1f}",
        ]
    )
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        print(f"{row[0]:<{w[0]}}  {row[1]:>{w[1]}}  {row[2]:>{w[2]}}")
    print(
        f"edgetrack delivered {et['delivered']:,} (drained: {et['drained']}, "
        f"pending after: {et['pending_after']}); "
        f"segment held {seg['in_memory_queue']:,} in memory"
    )
    res["table"] = rows
    out = HERE / "results" / "backlog.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
