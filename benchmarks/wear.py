"""Flash wear benchmark: bytes written to storage per event, edgetrack against an append-only file.

    .venv/bin/python benchmarks/wear.py [--quick]      # also writes results/wear.json

Bytes are the kernel's own count: ``write_bytes`` of ``/proc/self/io`` (what the process sent
to the storage layer), read before the first call and after the last commit (Linux only). Each
system and cadence runs in a fresh process on a queue file under ``/var/tmp`` (a disk, not tmpfs).
The event is small: ``track("user-1234", "Product Added", {4 properties})``, about 430 bytes of
JSON with edgetrack's context (device, os, app, session).

Systems:

* ``edgetrack``: the default client (sessions on, lifecycle off), destination unreachable
  (``127.0.0.1:9``), so nothing is deleted while tracking; its failed attempts write their
  bookkeeping too, as on a device that is offline.
* ``edgetrack offline``: the same, the network down (no default route, as the probe says): no
  upload is attempted, so what is written is the queue's own cost.
* ``edgetrack durable``: the same as ``edgetrack`` with ``durable=True`` (``synchronous=FULL``).
* ``edgetrack commit_window=1s``: the option for devices where wear matters more than the last
  second of data.
* ``append-only JSON lines``: what analytics-kotlin does (a file of events): each event's JSON
  line written and flushed to the OS at the same cadence (``os.fsync`` too in the durable
  comparison), one line per event.
* ``one page a commit``: the floor for SQLite at its default page size with one commit per
  event: one 4 KiB WAL frame (4,096 bytes and its 24-byte header), computed, not run. The queue
  file's pages are 1 KiB (``docs/wear.md``), so edgetrack goes under it.

Each client tracks two events first (a session's first event has a context of its own) and
idles 2 s (its lanes start and look once) before the count starts. Cadences: one event a second
(N=40; ``--quick`` 5), one every 20 ms (N=250; ``--quick`` 50), and
a burst of N=3,000 back to back (``--quick`` 500). Then the drain: N=3,000 events tracked
offline and delivered to the emulator, deleted as delivered, bytes per delivered event for the
whole track-deliver-delete cycle, and for the delivery alone.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROPS = {"product": "Espresso", "cart_size": 3, "price": 2.5, "sku": "ESP-001"}
FLOOR = 4096 + 24  # one WAL frame: the page and its header
SYSTEMS = [
    "edgetrack",
    "edgetrack offline",
    "edgetrack durable",
    "edgetrack commit_window=1s",
    "append-only JSON lines",
]


def written() -> int:
    with open("/proc/self/io") as io:
        for line in io:
            if line.startswith("write_bytes"):
                return int(line.split()[1])
    raise RuntimeError("no write_bytes in /proc/self/io")


def run_one(system: str, n: int, gap: float, folder: str) -> dict[str, Any]:
    """In this (fresh) process: bytes written per event for ``system`` at this cadence."""
    if system == "append-only JSON lines":
        path = Path(folder) / "events.jsonl"
        event = {"type": "track", "event": "Product Added", "userId": "user-1234", "properties": PROPS}
        line = json.dumps(event)
        with open(path, "a", encoding="utf-8") as file:
            before = written()
            for _ in range(n):
                file.write(line + "\n")
                file.flush()
                if gap:
                    time.sleep(gap)
        return {"bytes_per_event": (written() - before) / n}
    from edgetrack import Client
    from edgetrack.destinations import IntileryMobile

    options: dict[str, Any] = {"durable": system == "edgetrack durable"}
    if system == "edgetrack commit_window=1s":
        options["commit_window"] = 1.0
    if system == "edgetrack offline":
        from edgetrack.power import PowerState, StaticPower

        options["power"] = StaticPower(PowerState(on_mains=True, battery_level=None, online=False))
    client = Client(
        [IntileryMobile("key", endpoint="http://127.0.0.1:9")],
        path=Path(folder) / "q.db",
        track_lifecycle=False,
        **options,
    )
    for _ in range(2):  # the session's first event (sessionStart) has a context of its own
        client.track("user-1234", "Warm up", PROPS)
        client.pipeline.wait_committed(10)
    time.sleep(2.0)  # the lanes have started and looked once
    before = written()
    for _ in range(n):
        client.track("user-1234", "Product Added", PROPS)
        if gap:
            time.sleep(gap)
    client.pipeline.wait_committed(30)
    after = written()
    client.shutdown(timeout=1)
    return {"bytes_per_event": (after - before) / n}


def run_drain(n: int, folder: str) -> dict[str, Any]:
    """Track ``n`` offline (one commit each, as on a device), then deliver them all."""
    from edgetrack import Client
    from edgetrack.destinations import IntileryMobile
    from edgetrack.emulator import Emulator

    with Emulator() as emulator:
        path = Path(folder) / "q.db"
        destination = IntileryMobile(emulator.write_key, endpoint=emulator.url)
        client = Client([destination], path=path, send=False, track_lifecycle=False)
        before = written()
        for _ in range(n):
            client.track("user-1234", "Product Added", PROPS)
            client.pipeline.wait_committed(10)
        tracked = written()
        client.shutdown(timeout=5)
        sender = Client([destination], path=path, track_lifecycle=False)
        ok = sender.flush(120)
        delivered = written()
        sender.shutdown(timeout=5)
        return {
            "delivered": len(emulator.events()),
            "flushed": ok,
            "track_bytes_per_event": (tracked - before) / n,
            "deliver_bytes_per_event": (delivered - tracked) / n,
            "cycle_bytes_per_event": (delivered - before) / n,
        }


def child(spec: dict[str, Any]) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        spec = json.loads(args.child)
        with tempfile.TemporaryDirectory(dir="/var/tmp") as folder:
            if spec["system"] == "drain":
                result = run_drain(spec["n"], folder)
            else:
                result = run_one(spec["system"], spec["n"], spec["gap"], folder)
        print(json.dumps(result))
        return
    if not Path("/proc/self/io").exists():
        sys.exit("wear.py reads /proc/self/io (Linux)")
    cadences = {
        "1 event/s": (5 if args.quick else 40, 1.0),
        "1 event/20 ms": (50 if args.quick else 250, 0.02),
        "burst": (500 if args.quick else 3000, 0.0),
    }
    results: dict[str, Any] = {"floor_bytes_per_commit": FLOOR, "cadences": {}}
    print("bytes written to storage per event (/proc/self/io write_bytes)")
    print(f"{'cadence':16}" + "".join(f"{name:>27}" for name in SYSTEMS) + f"{'one page a commit':>19}")
    for cadence, (n, gap) in cadences.items():
        row = {system: child({"system": system, "n": n, "gap": gap}) for system in SYSTEMS}
        floor = FLOOR if gap else None
        results["cadences"][cadence] = {"n": n, "gap_s": gap, "systems": row, "floor": floor}
        cells = "".join(f"{row[s]['bytes_per_event']:>27,.0f}" for s in SYSTEMS)
        print(f"{cadence:16}{cells}{floor or '-':>19}")
    drain_n = 500 if args.quick else 3000
    drain = child({"system": "drain", "n": drain_n, "gap": 0.0})
    results["drain"] = {"n": drain_n, **drain}
    print(
        f"track-deliver-delete, {drain_n} events (one commit each): "
        f"{drain['track_bytes_per_event']:,.0f} B tracking + {drain['deliver_bytes_per_event']:,.0f} B "
        f"delivering = {drain['cycle_bytes_per_event']:,.0f} B per delivered event "
        f"({drain['delivered']} delivered)"
    )
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "wear.json").write_text(json.dumps(results, indent=2) + "\n")
    print("wrote benchmarks/results/wear.json")


if __name__ == "__main__":
    main()
