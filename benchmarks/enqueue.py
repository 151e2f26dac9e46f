"""Enqueue benchmark: edgetrack's ``track()`` next to segment-analytics-python's, in one run.

    .venv/bin/python benchmarks/enqueue.py [--quick]

What it measures (each SDK with a fresh client; the same event: user id, event name and the
same small ``properties`` dict; each SDK adds its own envelope, whose JSON size is printed):

1. ``track()`` calls/s for N back-to-back calls (50,000; ``--quick`` 5,000), median of 3
   rounds. edgetrack writes to a fresh temp queue file and uploads to its real destination
   (``IntileryMobile``) at the emulator; segment runs with ``send=True`` and ``host=`` the same
   loopback sink, so both have their background threads doing real work (a queue big enough
   that segment drops nothing). Also: segment with ``send=False`` (in-memory only, for
   reference), and the "SQLite limit": ``json.dumps`` + one ``executemany`` of the same rows in
   one transaction (WAL, ``synchronous=NORMAL``). "all delivered" is N / time until the sink
   has every event (edgetrack: ``flush()``; segment: ``flush()``, which includes its 0.5 s
   upload interval once).
2. p50/p99 of single ``track()`` calls (``perf_counter_ns``) while another thread calls
   ``flush()`` in a loop and the sink is receiving uploads: back to back ("burst"), and paced
   at ~1,000 calls/s ("paced") as an app would call it.
3. Start-up: a fresh subprocess gets ``time.time()`` from the parent in argv and prints how long
   after that its first ``track()`` returned (edgetrack: import, ``Client`` with a temp path and
   one ``IntileryMobile`` destination, one ``track``), then ``os._exit(0)``; versus a subprocess
   that only does ``import segment.analytics``. Median of 7, alternating.

The sink (the edgetrack emulator plus a Segment ``/v1/batch`` route) runs in a child process,
as a real server would, so its request parsing does not compete for this process's GIL.
The machine is small and shared: read the ratios, not the absolute figures.
Results are also written to ``benchmarks/results/enqueue.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
KEY = "bench-write-key"
USER, EVENT = "user-4711", "Product Added"
PROPS: dict[str, Any] = {"sku": "sku-1042", "price": 3.4, "qty": 2, "list": "home"}
Track = Callable[[], object]

EDGE_START = """import os, sys, time
t0 = float(sys.argv[1])
import edgetrack
from edgetrack.destinations import IntileryMobile
c = edgetrack.Client([IntileryMobile("k", endpoint="http://127.0.0.1:9", allow_http=True)], path=sys.argv[2])
c.track("user-1", "App Opened", {"n": 1})
print(time.time() - t0, flush=True)
os._exit(0)
"""
SEG_IMPORT = """import os, sys, time
t0 = float(sys.argv[1])
import segment.analytics
print(time.time() - t0, flush=True)
os._exit(0)
"""
SEG_START = SEG_IMPORT.replace(
    "import segment.analytics\n",
    "from segment.analytics.client import Client\n"
    "Client('k', host='http://127.0.0.1:9', send=True).track('user-1', 'App Opened', {'n': 1})\n",
)


def serve_sink() -> None:
    """Child process: the emulator's Intilery routes plus Segment's batch route, counting events."""
    from edgetrack.emulator.core import Reply, Route, Server, VendorRequest
    from edgetrack.emulator.intilery import intilery_mobile_routes

    counts = {"intilery_mobile": 0, "segment": 0}
    lock = threading.Lock()

    def segment_batch(req: VendorRequest) -> tuple[Reply, list[dict[str, Any]]]:
        body = req.json if isinstance(req.json, dict) else {}
        if not isinstance(body.get("batch"), list) or body.get("writeKey") != KEY:
            return Reply.json(400, {"code": "invalid_request", "message": "bad batch"}), []
        return Reply.json(200, {"success": True}), body["batch"]

    def stats(req: VendorRequest) -> tuple[Reply, list[dict[str, Any]]]:
        with lock:
            return Reply.json(200, dict(counts)), []

    def on_request(vendor: str, status: int, events: int) -> None:
        with lock:
            if 200 <= status < 300 and vendor in counts:
                counts[vendor] += events
        server.reset()  # keep nothing: the counts are all the benchmark reads

    routes = [
        *intilery_mobile_routes([KEY]),
        Route("segment", "POST", re.compile(r"/v1/batch"), segment_batch),
        Route("stats", "GET", re.compile(r"/_stats"), stats),
    ]
    server = Server(routes, on_request=on_request).start()
    print(server.url, flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    server.stop()


def sink_counts(url: str) -> dict[str, int]:
    with urllib.request.urlopen(url + "/_stats", timeout=10) as resp:
        return dict(json.load(resp))


def new_edgetrack(url: str, folder: str) -> tuple[Any, Track, Callable[[], object]]:
    from edgetrack import Client
    from edgetrack.destinations import IntileryMobile

    client = Client([IntileryMobile(KEY, endpoint=url, allow_http=True)], path=Path(folder) / "queue.db")
    client.track(USER, EVENT, PROPS)
    assert client.flush(30), "edgetrack warm-up flush failed"
    return client, lambda: client.track(USER, EVENT, PROPS), lambda: client.flush(30)


def new_segment(url: str, n: int, send: bool = True) -> tuple[Any, Track, Callable[[], object]]:
    from segment.analytics.client import Client as SegmentClient

    client = SegmentClient(KEY, host=url, send=send, max_queue_size=n + 1_000)
    client.track(USER, EVENT, PROPS)
    client.flush()
    return client, lambda: client.track(USER, EVENT, PROPS), client.flush


def rate_round(sdk: str, url: str, n: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        if sdk == "edgetrack":
            client, track, flush = new_edgetrack(url, folder)
        else:
            client, track, flush = new_segment(url, n, send=sdk == "segment")
        before = sink_counts(url)
        start = time.perf_counter()
        accepted = sum(bool(track()[0]) for _ in range(n))  # type: ignore[index]
        tracked = time.perf_counter()
        flush()
        done = time.perf_counter()
        key = "intilery_mobile" if sdk == "edgetrack" else "segment"
        delivered = sink_counts(url)[key] - before[key]
        client.shutdown()
    return {"rate": n / (tracked - start), "e2e": n / (done - start), "accepted": accepted,
            "delivered": delivered}


def sqlite_round(n: int, template: dict[str, Any]) -> float:
    ids = [str(uuid.uuid4()) for _ in range(n)]
    with tempfile.TemporaryDirectory() as folder:
        conn = sqlite3.connect(Path(folder) / "raw.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT, "
                     "message_id TEXT, body TEXT, size INTEGER, created REAL)")
        dumps, now = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode, time.time()
        start = time.perf_counter()
        bodies = [dumps({**template, "messageId": mid}) for mid in ids]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO events (type, message_id, body, size, created) VALUES (?,?,?,?,?)",
                         [("track", mid, b, len(b), now) for mid, b in zip(ids, bodies, strict=True)])
        conn.execute("COMMIT")
        elapsed = time.perf_counter() - start
        conn.close()
    return n / elapsed


def latencies(track: Track, flush: Callable[[], object], n: int, pace: float) -> dict[str, float]:
    stop = threading.Event()

    def flusher() -> None:
        while not stop.is_set():
            flush()
            time.sleep(0.005)

    thread = threading.Thread(target=flusher, daemon=True)
    thread.start()
    samples = []
    clock = time.perf_counter_ns
    for _ in range(n):
        t = clock()
        track()
        samples.append(clock() - t)
        if pace:
            time.sleep(pace)
    stop.set()
    thread.join(60)
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50_ms": q[49] / 1e6, "p99_ms": q[98] / 1e6, "max_ms": max(samples) / 1e6}


def latency_run(sdk: str, url: str, n: int, pace: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        client, track, flush = new_edgetrack(url, folder) if sdk == "edgetrack" else new_segment(url, n)
        result = latencies(track, flush, n, pace)
        client.shutdown()
    return result


def startup(code: str, folder: str) -> float:
    out = subprocess.run([sys.executable, "-c", code, repr(time.time()), str(Path(folder) / "q.db")],
                         check=True, capture_output=True, text=True, timeout=60)
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="5,000 events instead of 50,000")
    parser.add_argument("--sink", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        serve_sink()
        return
    n = 5_000 if args.quick else 50_000
    n_lat, rounds, starts = n // 5, 3, 7
    sink = subprocess.Popen([sys.executable, __file__, "--sink"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert sink.stdout is not None and sink.stdin is not None
    url = sink.stdout.readline().strip()
    try:
        with tempfile.TemporaryDirectory() as folder:
            edge_client, _, _ = new_edgetrack(url, folder)
            edge_msg = edge_client.track(USER, EVENT, PROPS)[1]
            edge_client.shutdown()
        seg_msg = new_segment(url, 10, send=False)[0].track(USER, EVENT, PROPS)[1]
        sizes = {"edgetrack": len(json.dumps(edge_msg, separators=(",", ":"))),
                 "segment": len(json.dumps(seg_msg, separators=(",", ":"), default=str))}
        runs: dict[str, list[dict[str, Any]]] = {"edgetrack": [], "segment": [], "segment_nosend": []}
        sqlite_rates = []
        for _ in range(rounds):
            for sdk in runs:
                runs[sdk].append(rate_round(sdk, url, n))
            sqlite_rates.append(sqlite_round(n, edge_msg))
        lat = {f"{sdk}_{mode}": latency_run(sdk, url, n_lat, pace)
               for mode, pace in (("burst", 0.0), ("paced", 0.001)) for sdk in ("edgetrack", "segment")}
        times: dict[str, list[float]] = {"edgetrack": [], "segment_import": [], "segment_first_track": []}
        with tempfile.TemporaryDirectory() as folder:
            for i in range(starts):
                for name, code in (("edgetrack", EDGE_START), ("segment_import", SEG_IMPORT),
                                   ("segment_first_track", SEG_START))[:: 1 if i % 2 else -1]:
                    times[name].append(startup(code, f"{folder}/{name}{i}"))
    finally:
        sink.stdin.close()
        sink.wait(10)

    def med(sdk: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[sdk])

    e_rate, s_rate, sq_rate = med("edgetrack", "rate"), med("segment", "rate"), statistics.median(sqlite_rates)
    start_ms = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    rows: list[tuple[str, str, str, str]] = [
        ("event JSON size, bytes", f"{sizes['edgetrack']}", f"{sizes['segment']}", ""),
        ("track() calls/s (segment send=True)", f"{e_rate:,.0f}", f"{s_rate:,.0f}", f"{e_rate / s_rate:.2f}x"),
        ("track() calls/s vs segment send=False", f"{e_rate:,.0f}", f"{med('segment_nosend', 'rate'):,.0f}",
         f"{e_rate / med('segment_nosend', 'rate'):.2f}x"),
        ("track() calls/s vs SQLite limit", f"{e_rate:,.0f}", f"{sq_rate:,.0f} (sqlite)", f"{e_rate / sq_rate:.2f}x"),
        ("all delivered to sink, events/s", f"{med('edgetrack', 'e2e'):,.0f}", f"{med('segment', 'e2e'):,.0f}",
         f"{med('edgetrack', 'e2e') / med('segment', 'e2e'):.2f}x"),
    ]
    for mode in ("burst", "paced"):
        for q in ("p50_ms", "p99_ms"):
            e, s = lat[f"edgetrack_{mode}"][q], lat[f"segment_{mode}"][q]
            rows.append((f"track() {q[:3]} ms, {mode}, flushing", f"{e:.3f}", f"{s:.3f}", f"{e / s:.2f}x"))
    e_start = start_ms["edgetrack"]
    rows.append(("start-up to first track(), ms", f"{e_start:.0f}",
                 f"{start_ms['segment_first_track']:.0f}", f"{e_start / start_ms['segment_first_track']:.2f}x"))
    rows.append(("  vs `import segment.analytics`, ms", f"{e_start:.0f}", f"{start_ms['segment_import']:.0f}",
                 f"{e_start / start_ms['segment_import']:.2f}x"))
    widths = [max(len(r[i]) for r in [("metric", "edgetrack", "segment", "ratio"), *rows]) for i in range(4)]
    print(f"edgetrack vs segment-analytics-python 2.4 (segment: send=True to the loopback sink), "
          f"N={n:,}, {rounds} rounds (median); latency over {n_lat:,} calls; start-up median of {starts}")
    for r in [("metric", "edgetrack", "segment", "ratio"), *rows]:
        print("  ".join([r[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True))]))
    p99 = lat["edgetrack_burst"]["p99_ms"]
    targets = {
        "track() rate >= 3x segment's": e_rate >= 3 * s_rate,
        "track() p99 < 0.5 ms while flushing (burst)": p99 < 0.5,
        "track() p99 < 0.5 ms while flushing (paced)": lat["edgetrack_paced"]["p99_ms"] < 0.5,
        "start-up <= 0.5x `import segment.analytics`": e_start <= 0.5 * start_ms["segment_import"],
        "track() rate >= 0.5x SQLite limit": e_rate >= 0.5 * sq_rate,
    }
    for name, ok in targets.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    lost = {sdk: [r["accepted"] - r["delivered"] for r in runs[sdk]] for sdk in ("edgetrack", "segment")}
    print(f"delivered check (accepted - delivered per round): {lost}")
    out = HERE / "results" / "enqueue.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({
        "n": n, "quick": args.quick, "rounds": rounds, "latency_calls": n_lat, "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version, "segment_mode": "send=True, host=loopback sink", "sizes": sizes,
        "rates": {"edgetrack": e_rate, "segment": s_rate, "segment_send_false": med("segment_nosend", "rate"),
                  "sqlite_limit": sq_rate},
        "delivered_per_s": {"edgetrack": med("edgetrack", "e2e"), "segment": med("segment", "e2e")},
        "rounds_raw": runs, "sqlite_raw": sqlite_rates, "latency_ms": lat, "startup_ms": start_ms,
        "startup_raw_s": times, "targets": targets, "table": rows,
    }, indent=2) + "\n")
    print(f"wrote {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
