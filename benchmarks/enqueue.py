"""Enqueue benchmark: edgetrack's ``track()`` side by side with segment-analytics-python's.

    .venv/bin/python benchmarks/enqueue.py [--quick]      # also writes results/enqueue.json

Both SDKs track the same call (user id, event name, a small ``properties`` dict) and add their
own envelope (JSON sizes are printed). Each client is fresh and warmed up (threads started, one
upload done). Segment runs with ``send=True`` and ``host=`` the loopback sink, so its consumer
thread uploads while we measure, as edgetrack's writer and uploader do; its queue is big enough
to drop nothing. Segment ``send=False`` (memory only) is a reference row.

1. ``track()`` calls/s over N back-to-back calls (50,000; ``--quick`` 5,000), median of 3
   interleaved rounds (5 with ``--quick``); edgetrack has a temp queue file and its real
   destination, ``IntileryMobile``, at the emulator. "SQLite limit": ``json.dumps`` of the same
   envelope + one ``executemany`` in one transaction (WAL, ``synchronous=NORMAL``). Also: N / time
   until every event is in edgetrack's queue file; the share the sink had when the last call
   returned; N / time until ``flush()`` returned with all delivered (segment's includes one 0.5 s
   upload interval).
2. p50/p99 of single calls (``perf_counter_ns``) while a thread calls ``flush()`` in a loop and
   the sink receives uploads: N/5 calls back to back ("burst") and paced at ~1 ms ("paced").
3. Start-up: a fresh subprocess gets the parent's ``time.time()`` in argv, imports edgetrack,
   builds a ``Client`` (temp path, one ``IntileryMobile`` to a loopback URL), calls ``track``
   once, prints the time elapsed and ``os._exit(0)``s; against ``import segment.analytics`` alone,
   and segment's import + ``Client`` + ``track``. Median of 7, order alternating.

The sink (the edgetrack emulator plus a Segment ``/v1/batch`` route) runs in a child process, as
a real server would, so its parsing does not compete for our GIL. The machine is small and
shared: read the ratios, not the absolute figures. The targets are informational.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
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
SEGMENT_MODE = "send=True, host=the loopback sink, max_queue_size=N+1000 (drops nothing)"
Track = Callable[[], object]

START = "import os, sys, time\nt0 = float(sys.argv[1])\n{}\nprint(time.time() - t0, flush=True)\nos._exit(0)"
STARTUPS = {
    "edgetrack": START.format(
        "import edgetrack\nfrom edgetrack.destinations import IntileryMobile\nc = edgetrack.Client("
        "[IntileryMobile('k', endpoint='http://127.0.0.1:9', allow_http=True)], path=sys.argv[2])\n"
        "c.track('user-1', 'App Opened', {'n': 1})"
    ),
    "segment_import": START.format("import segment.analytics"),
    "segment_first_track": START.format(
        "from segment.analytics.client import Client\n"
        "Client('k', host='http://127.0.0.1:9', send=True).track('user-1', 'App Opened', {'n': 1})"
    ),
}


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

    def counted(route: Route) -> Route:  # count before replying, so a returned flush() is already counted
        def handler(req: VendorRequest) -> tuple[Reply, list[dict[str, Any]]]:
            reply, events = route.handler(req)
            with lock:
                counts[route.vendor] += len(events) if 200 <= reply.status < 300 else 0
            return reply, events

        return dataclasses.replace(route, handler=handler)

    routes = [
        *map(counted, intilery_mobile_routes([KEY])),
        counted(Route("segment", "POST", re.compile(r"/v1/batch"), segment_batch)),
        Route("stats", "GET", re.compile(r"/_stats"), stats),
    ]
    server = Server(routes)
    server.on_request = lambda *_: server.reset()  # keep nothing: the counts are all we read
    server.start()
    print(server.url, flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    server.stop()


def sink_counts(url: str) -> dict[str, int]:
    with urllib.request.urlopen(url + "/_stats", timeout=10) as resp:
        return dict(json.load(resp))


def make(sdk: str, url: str, folder: str, n: int) -> tuple[Any, Track, Callable[[], object]]:
    """A warmed-up client (threads started, first upload done), its ``track`` and its ``flush``."""
    if sdk == "edgetrack":
        from edgetrack import Client
        from edgetrack.destinations import IntileryMobile

        dest = IntileryMobile(KEY, endpoint=url, allow_http=True)
        client: Any = Client([dest], path=Path(folder) / "queue.db")
        flush: Callable[[], object] = lambda: client.flush(60)  # noqa: E731
    else:
        from segment.analytics.client import Client as SegmentClient  # type: ignore[import-untyped]

        client = SegmentClient(KEY, host=url, send=sdk == "segment", max_queue_size=n + 1_000)
        flush = client.flush
    client.track(USER, EVENT, PROPS)
    flush()
    return client, lambda: client.track(USER, EVENT, PROPS), flush


def rate_round(sdk: str, url: str, n: int) -> dict[str, Any]:
    key = "intilery_mobile" if sdk == "edgetrack" else "segment"
    with tempfile.TemporaryDirectory() as folder:
        client, track, flush = make(sdk, url, folder, n)
        before = sink_counts(url)[key]
        start = time.perf_counter()
        accepted = sum(bool(track()[0]) for _ in range(n))  # type: ignore[index]
        tracked = time.perf_counter()
        during = sink_counts(url)[key] - before
        result = {"rate": n / (tracked - start), "accepted": accepted, "during": during}
        if sdk == "edgetrack":  # when every event is in the queue file (no public call waits for just that)
            client._writer.wait_committed(timeout=60)
            result["committed"] = n / (time.perf_counter() - start)
        flush()
        result["e2e"] = n / (time.perf_counter() - start)
        result["delivered"] = sink_counts(url)[key] - before
        client.shutdown()
    return result


def sqlite_round(n: int, template: dict[str, Any]) -> float:
    ids = [str(uuid.uuid4()) for _ in range(n)]
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    with tempfile.TemporaryDirectory() as folder:
        conn = sqlite3.connect(Path(folder) / "raw.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT, "
            "message_id TEXT, body TEXT, size INTEGER, created REAL)"
        )
        start, now = time.perf_counter(), time.time()
        bodies = [dumps({**template, "messageId": mid}) for mid in ids]
        conn.execute("BEGIN IMMEDIATE")
        sql = "INSERT INTO events (type, message_id, body, size, created) VALUES (?,?,?,?,?)"
        conn.executemany(sql, [("track", m, b, len(b), now) for m, b in zip(ids, bodies, strict=True)])
        conn.execute("COMMIT")
        elapsed = time.perf_counter() - start
        conn.close()
    return n / elapsed


def latency_run(sdk: str, url: str, n: int, pace: float) -> dict[str, float]:
    """Time each of ``n`` calls while another thread calls ``flush()`` in a loop."""
    stop, samples, clock = threading.Event(), [], time.perf_counter_ns
    with tempfile.TemporaryDirectory() as folder:
        client, track, flush = make(sdk, url, folder, n)

        def flusher() -> None:
            while not stop.is_set():
                flush()
                time.sleep(0.005)

        thread = threading.Thread(target=flusher, daemon=True)
        thread.start()
        for _ in range(n):
            t = clock()
            track()
            samples.append(clock() - t)
            if pace:
                time.sleep(pace)
        stop.set()
        thread.join(60)
        client.shutdown()
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": q[49] / 1e6, "p99": q[98] / 1e6, "max": max(samples) / 1e6}


def startup(code: str, folder: str) -> float:
    argv = [sys.executable, "-c", code, repr(time.time()), str(Path(folder) / "q.db")]
    return float(subprocess.check_output(argv, text=True, timeout=60))


def measure(url: str, n: int, rounds: int, starts: int) -> dict[str, Any]:
    msgs = {}
    for sdk in ("edgetrack", "segment_nosend"):
        with tempfile.TemporaryDirectory() as folder:
            client = make(sdk, url, folder, 10)[0]
            msgs[sdk.split("_")[0]] = client.track(USER, EVENT, PROPS)[1]
            client.shutdown()
    sizes = {sdk: len(json.dumps(m, separators=(",", ":"), default=str)) for sdk, m in msgs.items()}
    runs: dict[str, list[dict[str, Any]]] = {"edgetrack": [], "segment": [], "segment_nosend": []}
    sqlite_rates = []
    for _ in range(rounds):  # interleaved, so drifts in machine speed hit every column alike
        for sdk in runs:
            runs[sdk].append(rate_round(sdk, url, n))
        sqlite_rates.append(sqlite_round(n, msgs["edgetrack"]))
    latency = {
        f"{sdk}_{mode}": latency_run(sdk, url, n // 5, pace)
        for mode, pace in (("burst", 0.0), ("paced", 0.001))
        for sdk in ("edgetrack", "segment")
    }
    times: dict[str, list[float]] = {name: [] for name in STARTUPS}
    with tempfile.TemporaryDirectory() as folder:
        for i in range(starts):
            for name in list(STARTUPS)[:: 1 if i % 2 else -1]:
                times[name].append(startup(STARTUPS[name], f"{folder}/{name}{i}"))
    res: dict[str, Any] = {"n": n, "rounds": rounds, "latency_calls": n // 5, "startup_runs": starts}
    res.update(python=sys.version.split()[0], sqlite=sqlite3.sqlite_version, event_json_bytes=sizes)
    res["median"] = {sdk: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for sdk, rs in runs.items()}
    res.update(sqlite_limit=statistics.median(sqlite_rates), latency_ms=latency)
    res["startup_ms"] = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    res["raw"] = {"rounds": runs, "sqlite": sqlite_rates, "startup_s": times}
    return res


def report(res: dict[str, Any]) -> None:
    med, lat, start = res["median"], res["latency_ms"], res["startup_ms"]
    e, s, sq = med["edgetrack"]["rate"], med["segment"]["rate"], res["sqlite_limit"]
    committed, n = med["edgetrack"]["committed"], res["n"]

    def row(label: str, a: float, b: float, fmt: str, suffix: str = "") -> list[str]:
        return [label, format(a, fmt), format(b, fmt) + suffix, f"{a / b:.2f}x"]

    def pct(sdk: str) -> float:
        return float(100 * med[sdk]["during"] / n)

    rows = [
        ["metric", "edgetrack", "segment", "ratio"],
        ["event JSON size, bytes", *(str(v) for v in res["event_json_bytes"].values()), ""],
        row("track() calls/s (segment send=True)", e, s, ",.0f"),
        row("track() calls/s vs segment send=False", e, med["segment_nosend"]["rate"], ",.0f"),
        row("track() calls/s vs SQLite limit", e, sq, ",.0f", " (sqlite)"),
        row("all N committed to disk/s vs SQLite limit", committed, sq, ",.0f", " (sqlite)"),
        row("delivered while tracking, % of N", pct("edgetrack"), pct("segment"), ".1f"),
        row("all N delivered to sink, events/s", med["edgetrack"]["e2e"], med["segment"]["e2e"], ",.0f"),
    ]
    for mode in ("burst", "paced"):
        for q in ("p50", "p99"):
            label = f"track() {q} ms while flushing, {mode}"
            rows.append(row(label, lat[f"edgetrack_{mode}"][q], lat[f"segment_{mode}"][q], ".3f"))
    rows.append(row("start-up to first track(), ms", start["edgetrack"], start["segment_first_track"], ".0f"))
    rows.append(row("start-up vs import segment, ms", start["edgetrack"], start["segment_import"], ".0f"))
    print(f"edgetrack vs segment-analytics-python; segment: {SEGMENT_MODE}")
    print(f"N={n:,}, median of {res['rounds']} rounds; latency: {n // 5:,} calls each; start-up: median of 7")
    w = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print(f"{r[0]:<{w[0]}}  {r[1]:>{w[1]}}  {r[2]:>{w[2]}}  {r[3]:>{w[3]}}")
    res["targets"] = {
        "track() rate >= 3x segment's": e >= 3 * s,
        "track() p99 < 0.5 ms while flushing (burst)": lat["edgetrack_burst"]["p99"] < 0.5,
        "track() p99 < 0.5 ms while flushing (paced)": lat["edgetrack_paced"]["p99"] < 0.5,
        "start-up <= 0.5x `import segment.analytics`": start["edgetrack"] <= 0.5 * start["segment_import"],
        "track() rate >= 0.5x SQLite limit": e >= 0.5 * sq,
    }
    for name, ok in res["targets"].items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    rr = res["raw"]["rounds"]
    lost = {k: [r["accepted"] - r["delivered"] for r in rr[k]] for k in ("edgetrack", "segment")}
    print(f"accepted but not delivered, per round: {lost}")
    res["table"] = rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="5,000 events instead of 50,000 (a smoke test)")
    parser.add_argument("--sink", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        serve_sink()
        return
    sink = subprocess.Popen(
        [sys.executable, __file__, "--sink"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert sink.stdout is not None and sink.stdin is not None
    try:
        url = sink.stdout.readline().strip()
        res = measure(url, 5_000 if args.quick else 50_000, 5 if args.quick else 3, 7)
    finally:
        sink.stdin.close()
        sink.wait(10)
    res["quick"] = args.quick
    report(res)
    out = HERE / "results" / "enqueue.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
