"""Fault benchmark: one scripted run of server trouble, edgetrack side by side with segment-analytics-python.

    .venv/bin/python benchmarks/faults.py [--quick]       # also writes results/faults.json

Both SDKs send to the emulator's Segment-compatible ``POST /v1/batch`` (vendor ``segment``): edgetrack
through ``destinations.Segment(emu.segment_write_key, endpoint=emu.url)``, segment through its own
``Client(write_key=emu.segment_write_key, host=emu.url)``. Both authenticate with Basic auth (the write
key as the user; they also put ``writeKey`` in the body), which the emulator checks. Each SDK has its own
fresh emulator and runs in its own process; the two processes run at the same time to keep the run short
(both spend nearly all of it waiting on the faults, not computing). Options are each SDK's defaults
except: segment ``max_queue_size`` = N + 1,000 so its in-memory queue never drops, and ``on_error`` on
both to count what they report. Segment's defaults that matter here: ``max_retries=10`` (backoff 0, 0.5,
1, 2, ... s capped at 60 s, so about 3 minutes of retries before a batch is dropped), ``upload_size=100``,
``upload_interval=0.5``, no gzip, and 400/413 are not retried (the batch is dropped). edgetrack's: 429
pauses the lane for max(5 s, ``Retry-After``); 413 and 400 on several events split the batch in halves.

The event stream is the same for both: N ``track()`` calls (2,000; ``--quick`` 800) with ``properties.n``
= 0..N-1, counted at the emulator by ``n`` (segment makes its own ``messageId``s). Phases, in order:

0. warm-up: 10 % of N, paced over 1 s; ends when all of them have arrived (edgetrack's first upload
   after a start waits a random 0 to 10 s, ``RetryPolicy.startup_jitter``; segment's within 0.5 s).
1. 429 storm: the next S requests (20; ``--quick`` 6) answer 429, alternating ``Retry-After: 1`` and no
   header (the first has the header); 20 % of N are tracked over 2 s. The phase ends when the S-th 429
   has been answered (so it lasts as long as the SDK takes to make S requests).
2. 413: the next request answers ``413`` (a scripted ``Fault(413)``; the emulator's own oversize answer is
   Segment's 400), armed while the storm's backlog waits, so it hits a full batch; 15 % of N are tracked
   at once. Ends when the 413 has been answered.
3. poisoned event: the emulator is started with ``segment_max_message=4096`` (a collector whose per-event
   limit is 4 KiB instead of Segment's 32 KiB), and one event (in the middle of a burst of 15 % of N) has
   a 6,000-character property: about 6 KB, under both SDKs' own 32 KB check, so both accept it, and the
   emulator answers 400 ``batch[i] is larger than 4096 bytes`` to exactly the batches that contain it.
   It can never be delivered; it is counted apart from the others. Ends 1 s after the first 400.
4. outage: ``emu.set_down(True)`` (every connection closed without an answer) for a *10-minute outage
   shrunk to 10 s of real time* (``--quick`` 4 s); 20 % of N are tracked, paced, while it is down. The
   shrinking is not neutral: segment survives 10 s with a few retries, but a real 10 minutes is longer
   than its ~3 minutes of retries, after which it drops the batch in hand (read from its code, not run).
5. tail: the last 20 % of N, paced over 1 s, with the server healthy.

Then a bounded drain: edgetrack ``client.flush(D)`` then ``shutdown(5)``; segment ``client.flush()`` in a
thread joined for D s, then ``client.join()`` (the rest of its ``shutdown()``, which would otherwise wait
on ``flush()`` forever) bounded by 20 s. D = 60 s (``--quick`` 30 s). Counted at the emulator: delivered
(unique ``n``), lost (tracked, not poisoned, never delivered), duplicated (deliveries beyond the first),
requests (every request, answered or not, by answer), when the last new event arrived, and wall time
from the first ``track()`` to the end of the drain. "Given up on, as the SDK reports it": edgetrack's
dead letters (``stats().lanes["segment"].dead_lettered``); segment's ``on_error`` events (it calls
``on_error`` with a batch only when it drops it). edgetrack's own ``on_error`` (once per failure episode,
for events it keeps and retries) is in the JSON. A phase that does not end within its timeout is marked
"(timed out)" and its faults are cleared.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
EVENT = "Fault Probe"
MAX_MESSAGE = 4096  # the emulator's per-event limit in this run (Segment's own is 32 KiB)
POISON_BYTES = 6000
SDKS = ("edgetrack", "segment")
CONFIG = {
    False: {"n": 2000, "storm": 20, "outage": 10.0, "drain": 60.0},
    True: {"n": 800, "storm": 6, "outage": 4.0, "drain": 30.0},
}
Track = Callable[[int, dict[str, Any]], object]


class Collect(logging.Handler):
    """Keep the SDKs' warnings (both log every failure) out of the table, and in the results."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count: Counter[str] = Counter()
        self.first: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.count[record.name] += 1
        if len(self.first) < 20:
            self.first.append(f"{record.name}: {record.getMessage()[:200]}")


def wait_for(done: Callable[[], bool], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while not done():
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


def run_sdk(sdk: str, quick: bool) -> dict[str, Any]:
    """One SDK through every phase against its own emulator; what arrived, counted by ``n``."""
    from edgetrack.emulator import Emulator, Fault

    cfg = CONFIG[quick]
    n, storm = int(cfg["n"]), int(cfg["storm"])
    logs = Collect()
    logging.basicConfig(level=logging.WARNING, handlers=[logs], force=True)
    t0, wall0 = time.monotonic(), time.time()
    lock = threading.Lock()
    log: list[tuple[float, int, int]] = []  # (seconds since t0, status, events accepted)
    statuses: Counter[int] = Counter()

    def on_request(vendor: str, status: int, events: int) -> None:
        with lock:
            log.append((round(time.monotonic() - t0, 3), status, events))
            statuses[status] += 1

    def seen(status: int) -> int:
        with lock:
            return statuses[status]

    reported: dict[str, Any] = {"failures": 0, "events": 0, "errors": Counter()}
    emu = Emulator(segment_max_message=MAX_MESSAGE, on_request=on_request)
    emu.start()
    folder = tempfile.TemporaryDirectory()
    client: Any
    if sdk == "edgetrack":
        from edgetrack import Client
        from edgetrack.destinations import Segment

        def on_failure(failure: Any) -> None:
            reported["failures"] += 1
            reported["events"] += failure.events
            reported["errors"][f"{failure.kind} {failure.status}"] += 1

        client = Client(
            [Segment(emu.segment_write_key, endpoint=emu.url)],
            path=Path(folder.name) / "queue.db",
            on_error=on_failure,
        )
    else:
        from segment.analytics.client import Client as SegmentClient  # type: ignore[import-untyped]

        def on_error(error: Exception, batch: list[Any]) -> None:
            reported["failures"] += 1
            reported["events"] += len(batch)
            reported["errors"][str(error)[:120]] += 1

        client = SegmentClient(
            write_key=emu.segment_write_key, host=emu.url, max_queue_size=n + 1000, on_error=on_error
        )

    tracked: list[int] = []

    def track(i: int, extra: dict[str, Any] | None = None) -> None:
        ok = client.track(f"user-{i % 50}", EVENT, {"n": i, "phase": phase_name, **(extra or {})})[0]
        if ok:
            tracked.append(i)

    def paced(count: int, seconds: float, extra: dict[int, dict[str, Any]] | None = None) -> None:
        start = time.monotonic()
        first = len(tracked_or_skipped)
        for k in range(count):
            i = first + k
            track(i, (extra or {}).get(i))
            tracked_or_skipped.append(i)
            if seconds:
                time.sleep(max(0.0, start + seconds * (k + 1) / count - time.monotonic()))

    tracked_or_skipped: list[int] = []  # every n handed to track(), accepted or not
    phases: dict[str, dict[str, Any]] = {}
    phase_name = ""

    def phase(name: str, run: Callable[[], bool]) -> None:
        nonlocal phase_name
        phase_name = name
        start = time.monotonic()
        ok = run()
        if not ok:
            emu.clear_faults()
        phases[name] = {
            "start": round(start - t0, 3),
            "seconds": round(time.monotonic() - start, 3),
            "ended": ok,
        }

    counts = [n // 10, n // 5, n * 3 // 20, n * 3 // 20, n // 5]
    counts.append(n - sum(counts))
    poison = sum(counts[:3]) + counts[3] // 2

    def accepted() -> int:
        with lock:
            return sum(events for _, status, events in log if 200 <= status < 300)

    def warmup() -> bool:
        paced(counts[0], 1.0)
        return wait_for(lambda: accepted() >= counts[0], 20)

    def storm_phase() -> bool:
        for k in range(storm):
            headers = {"Retry-After": "1"} if k % 2 == 0 else {}
            emu.fail_next(Fault(429, headers=headers), vendor="segment")
        paced(counts[1], 2.0)
        return wait_for(lambda: seen(429) >= storm, storm * 6 + 30)

    def too_large() -> bool:
        emu.fail_next(Fault(413), vendor="segment")
        paced(counts[2], 0.0)
        return wait_for(lambda: seen(413) >= 1, 30)

    def poisoned() -> bool:
        paced(counts[3], 0.0, {poison: {"blob": "x" * POISON_BYTES}})
        ok = wait_for(lambda: seen(400) >= 1, 30)
        time.sleep(1.0)
        return ok

    def outage() -> bool:
        emu.set_down(True)
        paced(counts[4], float(cfg["outage"]))
        emu.set_down(False)
        return True

    def tail() -> bool:
        paced(counts[5], 1.0)
        return True

    for name, run in (
        ("0 warm-up", warmup),
        ("1 429 storm", storm_phase),
        ("2 413", too_large),
        ("3 poisoned event", poisoned),
        ("4 outage", outage),
        ("5 tail", tail),
    ):
        phase(name, run)
    before_drain = len({e.get("properties", {}).get("n") for e in emu.events("segment")})
    drain_start = time.monotonic()
    if sdk == "edgetrack":
        drained = bool(client.flush(float(cfg["drain"])))
        lane = client.stats().lanes["segment"]
        stats = {k: getattr(lane, k) for k in ("pending", "delivered", "retried", "dead_lettered", "paused")}
        client.shutdown(5.0)
    else:
        flusher = threading.Thread(target=client.flush, daemon=True)
        flusher.start()
        flusher.join(float(cfg["drain"]))
        drained = not flusher.is_alive()
        joiner = threading.Thread(target=client.join, daemon=True)
        joiner.start()
        joiner.join(20.0)
        stats = {"queued": client.queue.qsize()}
    end = time.monotonic()

    with lock:
        received = list(emu.received)
    arrivals: Counter[int] = Counter()
    last_new = 0.0
    for item in received:
        for event in item.events:
            number = event.get("properties", {}).get("n")
            if isinstance(number, int):
                if number not in arrivals:
                    last_new = item.at
                arrivals[number] += 1
    good = [i for i in tracked if i != poison]
    lost = sorted(set(good) - set(arrivals))
    result: dict[str, Any] = {
        "sdk": sdk,
        "handed_to_track": len(tracked_or_skipped),
        "accepted": len(tracked),
        "poison_n": poison,
        "poison_accepted": poison in tracked,
        "poison_delivered": arrivals.get(poison, 0),
        "delivered_unique": len(arrivals),
        "delivered_good": len(set(good) & set(arrivals)),
        "lost": len(lost),
        "lost_n": lost[:200],
        "lost_by_phase": dict(Counter(_phase_of(i, counts) for i in lost)),
        "duplicates": sum(c - 1 for c in arrivals.values()),
        "delivered_before_drain": before_drain,
        "drained": drained,
        "drain_seconds": round(end - drain_start, 3),
        "requests": emu.requests,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "unanswered": emu.requests - sum(statuses.values()),
        "wall_seconds": round(end - t0, 3),
        "last_new_event_at": round(last_new - wall0, 3) if last_new else None,
        "phases": phases,
        "reported": {**reported, "errors": dict(reported["errors"])},
        "log_warnings": dict(logs.count),
        "first_log_lines": logs.first,
        "request_log": log,
    }
    result["sdk_stats"] = stats
    emu.stop()
    folder.cleanup()
    return result


def _phase_of(i: int, counts: list[int]) -> str:
    edge = 0
    for index, count in enumerate(counts):
        edge += count
        if i < edge:
            return str(index)
    return "?"


def report(res: dict[str, Any]) -> None:
    e, s = res["edgetrack"], res["segment"]
    cfg = res["config"]

    def num(key: str, ratio: bool = False) -> list[str]:
        a, b = e[key], s[key]
        return [str(a), str(b), f"{a / b:.2f}x" if ratio and b else ""]

    def phase(name: str) -> list[str]:
        cells = []
        for r in (e, s):
            p = r["phases"][name]
            cells.append(f"{p['seconds']:.1f}" + ("" if p["ended"] else " (timed out)"))
        a, b = e["phases"][name]["seconds"], s["phases"][name]["seconds"]
        return [*cells, f"{a / b:.2f}x" if b >= 0.5 else ""]  # no ratio of a few milliseconds

    def codes(r: dict[str, Any]) -> str:
        parts = [f"{v}x{k}" for k, v in r["statuses"].items()]
        return " ".join([*parts, f"{r['unanswered']}xnone"])

    storm, outage = cfg["storm"], cfg["outage"]
    dead = sum((e["sdk_stats"] or {}).get("dead_lettered", {}).values())  # edgetrack: dead letters
    rows = [
        ["metric", "edgetrack", "segment", "ratio"],
        ["events tracked (accepted by track())", *num("accepted")],
        ["delivered, unique n (of the good events)", *num("delivered_good")],
        ["LOST: good events never delivered", *num("lost")],
        ["  lost, by phase", *(_by_phase(r) for r in (e, s)), ""],
        ["duplicated deliveries", *num("duplicates")],
        ["poisoned event delivered (must be 0)", *num("poison_delivered")],
        ["events given up on, as the SDK reports it", str(dead), str(s["reported"]["events"]), ""],
        ["delivered before the drain", *num("delivered_before_drain")],
        ["drain finished in its bound", *("yes" if r["drained"] else "NO" for r in (e, s)), ""],
        ["requests made", *num("requests", True)],
        ["  answers", codes(e), codes(s), ""],
        ["phase 0: warm-up tracked and delivered, s", *phase("0 warm-up")],
        [f"phase 1: {storm}x 429 answered, s", *phase("1 429 storm")],
        ["phase 2: 413 answered, s", *phase("2 413")],
        ["phase 3: poisoned batch refused (+1 s), s", *phase("3 poisoned event")],
        [f"phase 4: outage (10 min shrunk to {outage:g} s), s", *phase("4 outage")],
        ["drain, s", *(f"{r['drain_seconds']:.1f}" for r in (e, s)), ""],
        ["last new event arrived at, s", *(f"{r['last_new_event_at']:.1f}" for r in (e, s))],
        ["wall time, first track() to drain end, s", *(f"{r['wall_seconds']:.1f}" for r in (e, s))],
    ]
    rows[-1].append(f"{e['wall_seconds'] / s['wall_seconds']:.2f}x")
    rows[-2].append(f"{e['last_new_event_at'] / s['last_new_event_at']:.2f}x")
    print("edgetrack vs segment-analytics-python through 429s, a 413, a poisoned event and an outage")
    print(
        f"N={cfg['n']:,} track() calls each (1 poisoned), own emulator each, run side by side; "
        f"segment defaults (max_retries=10) + max_queue_size=N+1000"
    )
    w = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print(f"{r[0]:<{w[0]}}  {r[1]:>{w[1]}}  {r[2]:>{w[2]}}  {r[3]:>{w[3]}}")
    res["table"] = rows


def _by_phase(r: dict[str, Any]) -> str:
    parts = [f"p{k}:{v}" for k, v in sorted(r["lost_by_phase"].items())]
    return " ".join(parts) or "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--quick", action="store_true", help="800 events, 6 429s, a 4 s outage (a smoke test)"
    )
    parser.add_argument("--sdk", choices=SDKS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sdk:
        print(json.dumps(run_sdk(args.sdk, args.quick)), flush=True)
        return
    extra = ["--quick"] if args.quick else []
    children = {
        sdk: subprocess.Popen(
            [sys.executable, __file__, "--sdk", sdk, *extra], stdout=subprocess.PIPE, text=True
        )
        for sdk in SDKS
    }
    res: dict[str, Any] = {
        "quick": args.quick,
        "config": CONFIG[args.quick],
        "python": sys.version.split()[0],
    }
    try:
        for sdk, child in children.items():
            out, _ = child.communicate(timeout=400)
            if child.returncode:
                raise SystemExit(f"the {sdk} run failed (exit {child.returncode})")
            res[sdk] = json.loads(out.strip().splitlines()[-1])
    finally:
        for child in children.values():
            if child.poll() is None:
                child.kill()
    from importlib.metadata import version

    res["versions"] = {"segment-analytics-python": version("segment-analytics-python")}
    report(res)
    out = HERE / "results" / "faults.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
