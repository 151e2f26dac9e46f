"""Enqueue benchmark: ``track()`` rate, latency and start-up of edgetrack and the anchors, side by side.

    .venv/bin/python benchmarks/enqueue.py [--quick]      # also writes results/enqueue.json

Systems (configured as ``systems.py`` says; all in this process, the sink in its own):

* ``edgetrack``: a fresh ``Client`` with the ``Segment`` destination at the loopback sink, temp queue
  file, defaults (``track()`` returns once the event is handed to the group-commit writer; it is on
  disk within one commit window, WAL + ``synchronous=NORMAL``, and survives a crash or ``kill -9``);
  ``RetryPolicy(startup_jitter=0.0)`` so its scheduler uploads during the timed calls as a running app's
  would (by default a fresh client holds its first automatic upload back 0-10 s; see ``systems.py``).
* ``segment``: segment-analytics-python, ``send=True``, ``host=`` the sink, ``max_queue_size=N+1000``
  (drops nothing), defaults otherwise (``upload_size=100``, ``upload_interval=0.5`` s, no gzip): its
  consumer thread uploads while we measure, as edgetrack's writer and uploader do. In memory only.
* ``posthog``: posthog-python, ``host=`` the sink (its ``POST /batch/``), ``max_queue_size=N+1000``,
  defaults otherwise (``flush_at=100``, ``flush_interval=5`` s, no gzip). In memory only.
* ``persist-queue``: ``SQLiteQueue(auto_commit=True)`` (its durable default: WAL, ``synchronous=FULL``,
  one transaction a ``put()``, pickle), ``put()`` of edgetrack's envelope dict with a fresh
  ``messageId``. Durable when ``put()`` returns; each ``put()`` waits for an fsync, so it gets
  ``min(N, 10,000)`` calls a round (a rate per call all the same).
* ``SQLite limit``: what one connection can do at best with the same rows: ``json.dumps`` of
  edgetrack's envelope (fresh ``messageId`` each) + one ``executemany`` in one transaction, WAL,
  ``synchronous=NORMAL``; no per-call API, no thread hand-off. Timed from the first dump to ``COMMIT``.

Every SDK client is fresh and warmed up (threads started, one event tracked and flushed) before it is
timed. Measured:

1. ``track()`` calls/s over N back-to-back calls (50,000; ``--quick`` 5,000), median of R interleaved
   rounds (5; ``--quick`` 3): every system once a round, in turn, so drifts in the shared machine's speed
   hit every column alike. Also for edgetrack: N / time until every event is committed to its queue file,
   and the rate with ``send=False`` (enqueue only: no uploader thread competing for the GIL; for
   reference, as the SQLite limit has no uploader either).
2. p50/p99 of single calls (``perf_counter_ns``) while another thread calls the system's ``flush()`` in
   a loop (5 ms apart), so uploads (or persist-queue's consumer) run meanwhile: N/5 calls per system in
   all (persist-queue: at most 5,000), split over the R rounds and pooled; back to back ("burst") and
   paced ~1 ms apart ("paced").
3. Start-up: a fresh interpreter gets the parent's ``time.time()`` in argv and prints the time elapsed
   when done: edgetrack = import + ``Client`` (temp path, one ``Segment`` to a loopback URL) + first
   ``track()`` returned; the anchors = ``import segment.analytics``, ``import posthog``, ``import
   persistqueue`` alone, and segment's import + ``Client`` + ``track``. Median of 7, order alternating.

The machine is small and shared: read the ratios, not the absolute figures. Targets are judged by
``run_all.py`` (the combined table), not here.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sink import Sink
from systems import LABELS, SINK_VENDOR, System, envelope, make

HERE = Path(__file__).resolve().parent
SDKS = ("edgetrack", "segment", "posthog", "persistqueue")
PQ_CALLS, PQ_LATENCY_CALLS = 10_000, 5_000

START = "import os, sys, time\nt0 = float(sys.argv[1])\n{}\nprint(time.time() - t0, flush=True)\nos._exit(0)"
STARTUPS = {
    "edgetrack": START.format(
        "import edgetrack\nfrom edgetrack.destinations import Segment\nc = edgetrack.Client("
        "[Segment('k', endpoint='http://127.0.0.1:9', allow_http=True)], path=sys.argv[2])\n"
        "c.track('user-1', 'App Opened', {'n': 1})"
    ),
    "segment_import": START.format("import segment.analytics"),
    "segment_first_track": START.format(
        "from segment.analytics.client import Client\n"
        "Client('k', host='http://127.0.0.1:9', send=True).track('user-1', 'App Opened', {'n': 1})"
    ),
    "posthog_import": START.format("import posthog"),
    "persistqueue_import": START.format("import persistqueue"),
}


def warm(sdk: str, url: str, folder: str, n: int) -> System:
    if sdk == "edgetrack_offline":  # enqueue only: no scheduler thread, no uploads
        system = make("edgetrack", url, folder, n, send=False)
    else:
        system = make(sdk, url, folder, n)
    system.track()
    system.flush()
    return system


def rate_round(sdk: str, sink: Sink, n: int) -> dict[str, Any]:
    if sdk == "persistqueue":
        n = min(n, PQ_CALLS)
    vendor = SINK_VENDOR.get(sdk)
    with tempfile.TemporaryDirectory() as folder:
        system = warm(sdk, sink.url, folder, n)
        track = system.track
        before = sink.counts()
        start = time.perf_counter()
        accepted = sum(track() for _ in range(n))
        tracked = time.perf_counter()
        result: dict[str, Any] = {"n": n, "rate": n / (tracked - start), "accepted": accepted}
        if vendor:
            result["during"] = sink.counts()[vendor]["events"] - before[vendor]["events"]
        if sdk.startswith("edgetrack"):  # every event in the queue file (no public call waits for that)
            system.client.pipeline.wait_committed(timeout=120)
            result["committed"] = n / (time.perf_counter() - start)
        system.flush()
        if vendor:
            result["flushed"] = n / (time.perf_counter() - start)
            result["delivered"] = sink.counts()[vendor]["events"] - before[vendor]["events"]
        system.close()
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


def latency_run(sdk: str, url: str, n: int, pace: float) -> list[int]:
    """Time each of ``n`` calls (ns) while another thread calls ``flush()`` in a loop."""
    stop, samples, clock = threading.Event(), [], time.perf_counter_ns
    with tempfile.TemporaryDirectory() as folder:
        system = warm(sdk, url, folder, n)
        track, flush = system.track, system.flush

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
        thread.join(120)
        system.close()
    return samples


def percentiles(samples: list[int]) -> dict[str, float]:
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": q[49] / 1e6, "p99": q[98] / 1e6, "max": max(samples) / 1e6, "calls": len(samples)}


def startup(code: str, folder: str) -> float:
    """One cold start, as an installed app has it: with bytecode caches (pip writes them for the
    anchors at install; PYTHONDONTWRITEBYTECODE, set on some machines, would make every start
    of an editable install compile edgetrack from source instead)."""
    argv = [sys.executable, "-c", code, repr(time.time()), str(Path(folder) / "q.db")]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return float(subprocess.check_output(argv, text=True, timeout=60, env=env))


def measure(sink: Sink, n: int, rounds: int, starts: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        template = envelope(sink.url, folder)
    size = len(json.dumps(template, separators=(",", ":"), default=str))
    runs: dict[str, list[dict[str, Any]]] = {sdk: [] for sdk in SDKS}
    sqlite_rates = []
    runs["edgetrack_offline"] = []
    for _ in range(rounds):
        for sdk in (*SDKS, "edgetrack_offline"):
            runs[sdk].append(rate_round(sdk, sink, n))
        sqlite_rates.append(sqlite_round(n, template))
    samples: dict[str, list[int]] = {}
    for r in range(rounds):
        for mode, pace in (("burst", 0.0), ("paced", 0.001)):
            for sdk in SDKS[:: 1 if r % 2 else -1]:
                calls = min(n // 5, PQ_LATENCY_CALLS) if sdk == "persistqueue" else n // 5
                samples.setdefault(f"{sdk}_{mode}", []).extend(
                    latency_run(sdk, sink.url, calls // rounds, pace)
                )
    times: dict[str, list[float]] = {name: [] for name in STARTUPS}
    with tempfile.TemporaryDirectory() as folder:
        for name in STARTUPS:  # a first, unmeasured start writes the bytecode caches
            startup(STARTUPS[name], f"{folder}/{name}-warm")
        for i in range(starts):
            for name in list(STARTUPS)[:: 1 if i % 2 else -1]:
                times[name].append(startup(STARTUPS[name], f"{folder}/{name}{i}"))
    res: dict[str, Any] = {
        "n": n,
        "rounds": rounds,
        "startup_runs": starts,
        "edgetrack_event_json_bytes": size,
    }
    res.update(python=sys.version.split()[0], sqlite=sqlite3.sqlite_version)
    res["median"] = {sdk: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for sdk, rs in runs.items()}
    res["sqlite_limit"] = statistics.median(sqlite_rates)
    res["latency_ms"] = {key: percentiles(s) for key, s in samples.items()}
    res["startup_ms"] = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    res["raw"] = {"rounds": runs, "sqlite": sqlite_rates, "startup_s": times}
    return res


def report(res: dict[str, Any]) -> None:
    med, lat, start = res["median"], res["latency_ms"], res["startup_ms"]
    cols = [*SDKS, "sqlite"]
    rows = [["metric", *(LABELS[c] for c in cols)]]
    rates = {**{sdk: med[sdk]["rate"] for sdk in SDKS}, "sqlite": res["sqlite_limit"]}
    rows.append(["track() calls/s", *(f"{rates[c]:,.0f}" for c in cols)])
    rows.append(["all committed to disk, events/s", f"{med['edgetrack']['committed']:,.0f}", "", "", "", ""])
    rows.append(["edgetrack send=False: calls/s", f"{med['edgetrack_offline']['rate']:,.0f}", "", "", "", ""])
    rows.append(
        [
            "N / time to flush() done, /s",
            *(f"{med[s]['flushed']:,.0f}" if "flushed" in med[s] else "" for s in SDKS),
            "",
        ]
    )
    for mode in ("burst", "paced"):
        for q in ("p50", "p99"):
            rows.append(
                [f"track() {q} ms, flushing, {mode}", *(f"{lat[f'{s}_{mode}'][q]:.3f}" for s in SDKS), ""]
            )
    rows.append(
        [
            "start-up to first track(), ms",
            f"{start['edgetrack']:.0f}",
            f"{start['segment_first_track']:.0f}",
            "",
            "",
            "",
        ]
    )
    rows.append(["start-up: import alone, ms", "", *(f"{start[f'{s}_import']:.0f}" for s in SDKS[1:]), ""])
    print(
        f"N={res['n']:,} (persist-queue {min(res['n'], PQ_CALLS):,}), "
        f"median of {res['rounds']} interleaved rounds"
    )
    w = [max(len(r[i]) for r in rows) for i in range(len(cols) + 1)]
    for r in rows:
        print(f"{r[0]:<{w[0]}}  " + "  ".join(f"{c:>{w[i + 1]}}" for i, c in enumerate(r[1:])))
    rr = res["raw"]["rounds"]
    lost = {k: [r["accepted"] - r["delivered"] for r in rr[k]] for k in SDKS if "delivered" in rr[k][0]}
    print(f"accepted but not delivered after flush(), per round: {lost}")
    res["table"] = rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="5,000 events instead of 50,000 (a smoke test)")
    args = parser.parse_args()
    with Sink() as sink:
        res = measure(sink, 5_000 if args.quick else 50_000, 3 if args.quick else 5, 7)
    res["quick"] = args.quick
    report(res)
    out = HERE / "results" / "enqueue.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
