"""Plugin benchmark: what 0, 1 and 3 plugins cost a ``track()`` call, against what their own code costs.

    .venv/bin/python benchmarks/plugins.py [--quick]      # also writes results/plugins.json

Each configuration runs in a fresh process (a ``Client(send=False)`` on a temp queue file, so no
uploader competes for the GIL; sessions on, lifecycle off), N back-to-back ``track()`` calls
(20,000; ``--quick`` 5,000), best of R rounds (5; ``--quick`` 3), timed with the process's CPU
time and the wall clock:

* ``0 plugins``: the plain call.
* ``1 plugin``: one ``before`` plugin that adds a property (``event["properties"]["ab"] = "b"``).
* ``3 plugins``: that one, an ``enrichment`` plugin that stamps the screen, and an ``after`` plugin
  that counts what was queued.

"Own code" is the same plugins' ``process()`` called N times on a message of the same shape, in the
same process, with nothing else: what the plugins cost by themselves. The overhead per plugin is
``(CPU with k plugins - CPU with 0 - own code of the k) / k``: what edgetrack adds to run a plugin
(the timeline, encoding the changed message instead of splicing the pre-encoded parts).
segment-analytics-python's ``track()`` rate (``send=False``, the same N) is measured in the same run,
so the ratio against it can be compared with the enqueue benchmark's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROPS = {"product": "Espresso", "cart_size": 3, "price": 2.5}


class AddVariant:
    kind = "before"

    def process(self, event: dict[str, Any]) -> dict[str, Any]:
        event["properties"]["ab"] = "b"
        return event


class StampScreen:
    kind = "enrichment"

    def process(self, event: dict[str, Any]) -> dict[str, Any]:
        event["properties"]["screen"] = "shop"
        return event


class CountQueued:
    kind = "after"

    def __init__(self) -> None:
        self.seen = 0

    def process(self, event: dict[str, Any]) -> dict[str, Any]:
        self.seen += 1
        return event


def plugins(count: int) -> list[Any]:
    return [AddVariant(), StampScreen(), CountQueued()][:count]


def run_edgetrack(count: int, n: int, rounds: int) -> dict[str, float]:
    """In this process: the best round of n calls with ``count`` plugins, and their own code's cost."""
    from edgetrack import Client

    with tempfile.TemporaryDirectory() as folder:
        client = Client(send=False, path=Path(folder) / "q.db", power=None, track_lifecycle=False)
        for plugin in plugins(count):
            client.add(plugin)
        client.track("u", "Warm up", dict(PROPS))
        best_cpu = best_wall = float("inf")
        for _ in range(rounds):
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(n):
                client.track("user-42", "Product Added", dict(PROPS))
            best_cpu = min(best_cpu, time.process_time() - cpu)
            best_wall = min(best_wall, time.perf_counter() - wall)
            client.pipeline.wait_committed(60)
        message = client.track("user-42", "Product Added", dict(PROPS))[1]
        client.shutdown()
    own = float("inf")
    for _ in range(rounds):
        cpu = time.process_time()
        for _ in range(n):
            event = {**message, "properties": dict(PROPS)}
            for plugin in plugins(count):
                plugin.process(event)
        own = min(own, time.process_time() - cpu)
    copy = float("inf")  # the dict copies above are the loop's, not the plugins': take them out
    for _ in range(rounds):
        cpu = time.process_time()
        for _ in range(n):
            event = {**message, "properties": dict(PROPS)}
        copy = min(copy, time.process_time() - cpu)
    own_us = max(0.0, own - copy) / n * 1e6 if count else 0.0
    return {"calls_per_s": n / best_wall, "cpu_us": best_cpu / n * 1e6, "own_us": own_us}


def run_segment(n: int, rounds: int) -> dict[str, float]:
    import segment.analytics as analytics

    client = analytics.Client("bench", send=False, max_queue_size=n * rounds + 1000)
    client.track("u", "Warm up", dict(PROPS))
    best = float("inf")
    for _ in range(rounds):
        wall = time.perf_counter()
        for _ in range(n):
            client.track("user-42", "Product Added", dict(PROPS))
        best = min(best, time.perf_counter() - wall)
    client.shutdown()
    return {"calls_per_s": n / best}


def child(system: str, count: int, n: int, rounds: int) -> dict[str, float]:
    argv = [sys.executable, __file__, "--child", system, str(count), str(n), str(rounds)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        system, count, n, rounds = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
        found = run_edgetrack(count, n, rounds) if system == "edgetrack" else run_segment(n, rounds)
        print(json.dumps(found))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n, rounds = (5_000, 3) if args.quick else (20_000, 5)
    results: dict[str, Any] = {"n": n, "rounds": rounds}
    samples: dict[str, list[dict[str, float]]] = {"0": [], "1": [], "3": [], "segment": []}
    for _ in range(3):  # alternate the configurations: the machine's drifts hit each alike
        for count in (0, 1, 3):
            samples[str(count)].append(child("edgetrack", count, n, rounds))
        samples["segment"].append(child("segment", 0, n, rounds))
    for key, runs in samples.items():
        results[key] = {name: statistics.median(run[name] for run in runs) for name in runs[0]}
    base = results["0"]["cpu_us"]
    for count in ("1", "3"):
        row = results[count]
        row["overhead_us_per_plugin"] = (row["cpu_us"] - base - row["own_us"]) / int(count)
        row["ratio_vs_segment"] = row["calls_per_s"] / results["segment"]["calls_per_s"]
    results["0"]["ratio_vs_segment"] = results["0"]["calls_per_s"] / results["segment"]["calls_per_s"]
    print(f"N={n} track() calls (send=False), best of {rounds} rounds, median of 3 processes each")
    print(
        f"{'configuration':<14}{'calls/s':>10}{'CPU us/call':>13}{'plugins own us':>16}"
        f"{'overhead us/plugin':>20}{'vs segment':>12}"
    )
    for key in ("0", "1", "3"):
        row = results[key]
        print(
            f"{key + ' plugins':<14}{row['calls_per_s']:>10,.0f}{row['cpu_us']:>13.2f}"
            f"{row.get('own_us', 0.0):>16.2f}{row.get('overhead_us_per_plugin', 0.0):>20.2f}"
            f"{row['ratio_vs_segment']:>11.2f}x"
        )
    print(f"{'segment':<14}{results['segment']['calls_per_s']:>10,.0f}")
    out = HERE / "results" / "plugins.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
