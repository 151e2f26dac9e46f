"""End-to-end benchmark: events delivered per second, CPU, bytes and requests, edgetrack vs the anchors.

    .venv/bin/python benchmarks/e2e.py [--quick] [--profile]    # also writes results/e2e.json

Every system sends to the same loopback sink (``sink.py``, its own process) over the same Segment-style
route where it can. edgetrack: its ``Segment`` destination, ``Segment(KEY, endpoint=sink,
allow_http=True)``, defaults otherwise (gzip; up to the destination's default ``max_events`` a
request, 1,000 when this was written, and 475,000 B; the values used are in the JSON's ``config``),
except ``RetryPolicy(startup_jitter=0.0)`` so it uploads while the calls go on, as segment's consumer
does (by default a fresh client holds its first automatic upload back a random 0-10 s).
segment-analytics-python: ``host=`` the sink, ``max_queue_size=N+1000`` so it drops nothing, defaults
otherwise (one consumer thread, ``upload_size=100``, ``upload_interval=0.5`` s, no gzip). Both post to
``POST /v1/batch``. "segment, batched like edgetrack" is the same client with ``gzip=True`` and
``upload_size`` = edgetrack's ``max_events``: same compression, same events per request, so what is
left of a difference is the code's, not the defaults'. posthog-python: ``max_queue_size=N+1000``,
defaults otherwise (``flush_at=100``, ``flush_interval=5`` s, no gzip), to its own ``POST /batch/``.

A round runs each system once, in turn, each in a fresh child process that does nothing else (so its
CPU time, ``os.times()`` user + sys of all its threads, is the SDK's alone; the sink's parsing is in
the sink's process). The child makes a client, warms it up (one event tracked and flushed: threads
started, connection open), then times N back-to-back ``track()`` calls (50,000; ``--quick`` 5,000)
followed by the SDK's own blocking ``flush()`` (edgetrack ``flush(120)``, segment ``flush()``, posthog
``flush(120)``), which returns once everything was delivered. Measured, median of 5 interleaved rounds
(``--quick`` 3):

* delivered/s: events the sink counted / time from the first ``track()`` to ``flush()`` returned;
* CPU s per 10,000 events delivered (whole child: tracking + delivery); also the part spent while
  tracking (the caller's calls, plus whatever the SDK's threads did meanwhile);
* bytes per event on the wire: request body bytes as the sink received them (``Content-Length``,
  compressed when the SDK gzips) / events; requests per 10,000 events;
* the sink's own CPU per 10,000 (its process, for reference: it shares the two cores).

edgetrack's ``track()`` returns before its event is committed (within one commit window), its
scheduler uploads while the calls go on; so do segment's and posthog's consumer threads. Nothing is
lost in any run (checked: delivered == N). ``--profile`` also runs one more edgetrack child with
``py-spy record --gil`` attached for its timed part only (a sample only from the thread holding the
GIL: where the interpreter's time goes, by thread) and writes ``results/profile-e2e-edgetrack.txt``
for whoever is optimising the SDK.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sink import Sink
from systems import LABELS, SINK_VENDOR, config, make

HERE = Path(__file__).resolve().parent
SYSTEMS = ("edgetrack", "segment", "segment_like", "posthog")


def _counts(url: str, vendor: str) -> dict[str, float]:
    with urllib.request.urlopen(url + "/_stats", timeout=30) as resp:
        stats = json.load(resp)
    return {**stats[vendor], "sink_cpu_s": stats["sink_cpu_s"]}


def child(name: str, url: str, n: int, profile_to: str | None = None) -> dict[str, Any]:
    """One system's run, in a process of its own (``profile_to``: py-spy samples the timed part)."""
    vendor = SINK_VENDOR[name]
    with tempfile.TemporaryDirectory() as folder:
        system = make(name, url, folder, n)
        system.track()
        system.flush()
        track = system.track
        spy = None
        if profile_to:
            exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
            argv = [exe, "record", "--pid", str(os.getpid()), "--threads", "--gil", "--format", "raw"]
            spy = subprocess.Popen([*argv, "-r", "200", "-o", profile_to], stdout=subprocess.DEVNULL)
            time.sleep(1.5)  # attached
        before = _counts(url, vendor)
        cpu0, t0 = os.times(), time.perf_counter()
        accepted = sum(track() for _ in range(n))
        cpu1, t1 = os.times(), time.perf_counter()
        system.flush()
        cpu2, t2 = os.times(), time.perf_counter()
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
            spy.wait(60)
        after = _counts(url, vendor)
        setup = config(system)
        system.close()
    got = {k: after[k] - before[k] for k in after}
    delivered = int(got["events"])
    cpu_all = cpu2.user + cpu2.system - cpu0.user - cpu0.system
    cpu_track = cpu1.user + cpu1.system - cpu0.user - cpu0.system
    per10k = 10_000 / max(delivered, 1)
    return {
        "n": n,
        "accepted": accepted,
        "delivered": delivered,
        "seconds": t2 - t0,
        "track_seconds": t1 - t0,
        "delivered_per_s": delivered / (t2 - t0),
        "cpu_s_per_10k": cpu_all * per10k,
        "cpu_s_per_10k_while_tracking": cpu_track * per10k,
        "bytes_per_event": got["bytes"] / max(delivered, 1),
        "requests_per_10k": got["requests"] * per10k,
        "requests": got["requests"],
        "sink_cpu_s_per_10k": got["sink_cpu_s"] * per10k,
        "config": setup,
    }


def run_child(name: str, url: str, n: int, *extra: str) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--child", name, "--url", url, "--n", str(n), *extra]
    out = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=900)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def profile(url: str, n: int) -> None:
    """One more edgetrack run, its timed part under py-spy; a per-thread list of where the time went."""
    raw = HERE / "results" / "profile-e2e-edgetrack.raw"
    raw.unlink(missing_ok=True)
    try:
        run_child("edgetrack", url, n, "--profile-to", str(raw))
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"profile skipped: the profiled run failed ({exc})")
        return
    if not raw.exists():
        print("profile skipped: py-spy wrote nothing (is it installed, and may it ptrace?)")
        return
    self_time: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    inclusive: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    total: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        thread, frames = frames[0], [f for f in frames[1:] if f]
        if not frames:
            continue
        total[thread] += int(count)
        self_time[thread][frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[thread][frame] += int(count)
    everything = sum(total.values())
    lines = [
        "py-spy record --gil --threads, 200 Hz, on one more edgetrack e2e child: its timed part only",
        f"(N={n:,} track() calls, then flush()). A sample is taken only from the thread holding the GIL,",
        f"so a thread's share of the {everything} samples is its share of the time the GIL was held.",
        "C code that releases the GIL (SQLite's, zlib's, socket I/O) does not show; its callers' own",
        "Python around it does.",
    ]
    for thread, samples in total.most_common():
        lines.append(f"\n== {thread}: {samples} samples, {samples / everything:.1%} of all")
        lines.append("  self (where the time is spent):")
        lines += [f"    {c / samples:6.1%}  {f}" for f, c in self_time[thread].most_common(15)]
        lines.append("  inclusive (what it is spent under):")
        lines += [f"    {c / samples:6.1%}  {f}" for f, c in inclusive[thread].most_common(25)]
    out = HERE / "results" / "profile-e2e-edgetrack.txt"
    out.write_text("\n".join(lines) + "\n")
    raw.unlink()
    print(f"wrote {out.relative_to(HERE.parent)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="5,000 events instead of 50,000 (a smoke test)")
    parser.add_argument("--profile", action="store_true", help="also profile one edgetrack run with py-spy")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 5; --quick 3)")
    parser.add_argument("--child", choices=SYSTEMS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.url, args.n, args.profile_to)), flush=True)
        return
    n = 5_000 if args.quick else 50_000
    args.rounds = args.rounds or (3 if args.quick else 5)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in SYSTEMS}
    started = time.monotonic()
    with Sink() as sink:
        for r in range(args.rounds):
            for name in SYSTEMS[:: 1 if r % 2 == 0 else -1]:
                runs[name].append(run_child(name, sink.url, n))
        if args.profile:
            profile(sink.url, n)
    res: dict[str, Any] = {
        "n": n,
        "rounds": args.rounds,
        "quick": args.quick,
        "python": sys.version.split()[0],
    }
    res["median"] = {
        name: {k: statistics.median(r[k] for r in rs) for k in rs[0] if k != "config"}
        for name, rs in runs.items()
    }
    res["config"] = {name: rs[0]["config"] for name, rs in runs.items()}
    res["raw"] = runs
    res["wall_seconds"] = round(time.monotonic() - started, 1)
    med = res["median"]
    metrics = [
        ("delivered/s (first track() to flush() done)", "delivered_per_s", ",.0f"),
        ("CPU s per 10,000 delivered", "cpu_s_per_10k", ".3f"),
        ("  of which while tracking", "cpu_s_per_10k_while_tracking", ".3f"),
        ("bytes on the wire per event", "bytes_per_event", ".1f"),
        ("requests per 10,000 events", "requests_per_10k", ".1f"),
        ("sink's CPU s per 10,000 (other process)", "sink_cpu_s_per_10k", ".3f"),
    ]
    rows = [["metric", *(LABELS[s] for s in SYSTEMS)]]
    rows += [[label, *(format(med[s][key], fmt) for s in SYSTEMS)] for label, key, fmt in metrics]
    print(
        f"N={n:,} track() calls then flush(), each system in its own process; median of {args.rounds} rounds"
    )
    w = [max(len(r[i]) for r in rows) for i in range(len(SYSTEMS) + 1)]
    for row in rows:
        print(f"{row[0]:<{w[0]}}  " + "  ".join(f"{c:>{w[i + 1]}}" for i, c in enumerate(row[1:])))
    lost = {s: [r["accepted"] - r["delivered"] for r in rs] for s, rs in runs.items()}
    print(f"accepted but not delivered, per round: {lost}")
    res["table"] = rows
    out = HERE / "results" / "e2e.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
