"""Outage benchmark: how long after the network returns do queued events start going out?

    .venv/bin/python benchmarks/outage.py [--quick]      # also writes results/outage.json

Linux only, and it needs a network namespace of its own: the script runs itself again under
``unshare --net`` (as root; else ``unshare --user --map-root-user --net``), so the outages it
makes touch nothing outside. In the namespace: the emulator on loopback, a veth pair with an
address and a default route (the network), and a ``Client`` (``flush_at=1``, so an event is due as
soon as the network is there; ``startup_jitter=0``; on mains, as a kiosk). Each outage: the default
route is deleted, the lane sees it (``Scheduler.offline``), 10 events are tracked, a random 0 to
1 s passes, the route is added again, and the time until the emulator has the 10 events is taken.

Two configurations, the same script: ``push``, the default probe (``LinuxPower`` with its netlink
listener: the kernel tells it of the new route), and ``polling``, the same probe with the listener
off (what edgetrack did before: on mains it looks at the network again every 30 s while offline).
Outages: 3 each (``--quick``: 1). Reported: the median and the worst delay per configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
INSIDE = "EDGETRACK_OUTAGE_INSIDE"


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def until(condition: Any, timeout: float) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(0.005)
    return None


def measure(mode: str, outages: int, rng: random.Random) -> list[float | None]:
    from edgetrack import Client
    from edgetrack.destinations import IntileryMobile
    from edgetrack.emulator import Emulator
    from edgetrack.power import LinuxPower
    from edgetrack.retry import RetryPolicy

    class PollingLinuxPower(LinuxPower):
        def start_listening(self) -> str | None:
            return None  # as before push: read at each pass, looked at again on timers

    probe = LinuxPower() if mode == "push" else PollingLinuxPower()
    delays: list[float | None] = []
    with Emulator() as emulator, tempfile.TemporaryDirectory() as folder:
        client = Client(
            [IntileryMobile(emulator.write_key, endpoint=emulator.url)],
            path=Path(folder) / "q.db",
            power=probe,
            flush_at=1,
            retry=RetryPolicy(startup_jitter=0.0),
            track_lifecycle=False,
        )
        with client:
            client.track("u", "warm-up")
            until(lambda: len(emulator.events()) == 1, 10)
            lane = client.lanes()[0]
            assert client.stats().power_updates == ("netlink" if mode == "push" else "polling")
            for n in range(outages):
                ip("route", "del", "default")
                client.power_changed()  # the lane learns it now (the test of the return is what counts)
                until(lambda: lane.offline, 10)
                sent = len(emulator.events())
                for i in range(10):
                    client.track("u", f"outage {n} event {i}")
                client.pipeline.wait_committed(5)
                time.sleep(rng.uniform(0.0, 1.0))
                ip("route", "add", "default", "via", "10.88.0.1", "dev", "bt0")
                wanted = sent + 10
                delays.append(until(lambda: len(emulator.events()) >= wanted, 60))  # noqa: B023
    return delays


def inside(quick: bool) -> None:
    ip("link", "set", "lo", "up")
    for name in ("all", "default"):
        Path(f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6").write_text("1")
    ip("link", "add", "bt0", "type", "veth", "peer", "name", "bt1")
    ip("link", "set", "bt1", "up")
    ip("link", "set", "bt0", "up")
    ip("addr", "add", "10.88.0.2/24", "dev", "bt0")
    ip("route", "add", "default", "via", "10.88.0.1", "dev", "bt0")
    outages = 1 if quick else 3
    rng = random.Random(7)
    results = {mode: measure(mode, outages, rng) for mode in ("push", "polling")}
    json.dump(results, sys.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if os.environ.get(INSIDE):
        inside(args.quick)
        return
    if not sys.platform.startswith("linux") or not shutil.which("unshare") or not shutil.which("ip"):
        sys.exit("outage.py needs Linux with unshare and ip (util-linux, iproute2)")
    env = {**os.environ, INSIDE: "1", "PYTHONPATH": str(HERE.parent)}
    command = [sys.executable, str(Path(__file__).resolve())] + (["--quick"] if args.quick else [])
    for how in (["--net"], ["--user", "--map-root-user", "--net"]):
        child = subprocess.run(["unshare", *how, *command], capture_output=True, text=True, env=env)
        if child.returncode == 0:
            break
    else:
        sys.exit(f"outage.py could not make a network namespace: {child.stderr.strip()[-300:]}")
    delays = json.loads(child.stdout)
    summary: dict[str, Any] = {"namespace": "unshare " + " ".join(how), "delays_s": delays}
    print(f"network back -> the queued events delivered, s ({summary['namespace']})")
    for mode, values in delays.items():
        known = [v for v in values if v is not None]
        summary[mode] = {
            "median_s": statistics.median(known) if known else None,
            "max_s": max(known) if known else None,
            "outages": len(values),
            "never": len(values) - len(known),
        }
        shown = ", ".join("never" if v is None else f"{v:.2f}" for v in values)
        row = summary[mode]
        print(f"  {mode:8} median {row['median_s']:.2f}  max {row['max_s']:.2f}  [{shown}]")
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "outage.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("wrote benchmarks/results/outage.json")


if __name__ == "__main__":
    main()
