"""A sensor logger with no network for days, then a drain; exits 1 if any reading was lost.

    python examples/offline_logger.py                      # 3 days offline, against an in-process emulator
    python examples/offline_logger.py --days 5 --every 1   # a reading a minute for 5 days (7,200)

Days pass in a second: the client runs on a simulated clock (``edgetrack.testing.FakeClock``),
so event times, ages and the 7-day ``RetryPolicy.max_age`` are those of the simulated days.
``ManualPower`` stands in for the device's network state, as ``LinuxPower`` reports it from
the routing table: while it says offline nothing is attempted and every reading waits on disk;
when the network returns the scheduler wakes and drains the backlog in batches.

Readings go to Intilery when ``INTILERY_WRITE_KEY`` is set (``INTILERY_ENDPOINT`` for another
host, such as the URL ``edgetrack serve`` prints); otherwise to an emulator started in-process.
Readings older than ``max_age`` when the network returns are expired (counted, not lost): keep
``--days`` under 7 to see every one delivered.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from edgetrack import Client
from edgetrack.destinations import IntileryMobile
from edgetrack.power import ManualPower, PowerState
from edgetrack.testing import FakeClock

DAY = 86400.0


def intilery(stack: ExitStack) -> IntileryMobile:
    """Intilery with a key from the environment, else an emulator started in-process."""
    key = os.environ.get("INTILERY_WRITE_KEY")
    if key:
        return IntileryMobile(
            key, endpoint=os.environ.get("INTILERY_ENDPOINT", "https://events.intilery.com")
        )
    from edgetrack.emulator import Emulator

    emulator = stack.enter_context(Emulator())
    return IntileryMobile(emulator.write_key, endpoint=emulator.url)


def reading(n: int, at: float) -> dict[str, float | int]:
    """A plausible greenhouse sensor: a daily temperature cycle and a slow humidity drift."""
    hour = (at % DAY) / 3600
    return {
        "seq": n,
        "temperature_c": round(18 + 6 * math.sin((hour - 9) / 24 * 2 * math.pi), 2),
        "humidity_pct": round(55 + 10 * math.sin(n / 500), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=3.0, help="how long the device is offline")
    parser.add_argument("--every", type=float, default=10.0, help="minutes between readings")
    parser.add_argument("--sensor", default="greenhouse-3", help="the user id of the readings")
    parser.add_argument("--db", type=Path, help="the queue file (default: a temporary one)")
    args = parser.parse_args(argv)

    # The simulated days end now, so the readings carry plausible timestamps.
    clock = FakeClock(time.time() - args.days * DAY)
    network = ManualPower(PowerState(on_mains=True, battery_level=None, online=False, source="manual"))
    with ExitStack() as stack:
        destination = intilery(stack)
        path = args.db or Path(stack.enter_context(tempfile.TemporaryDirectory())) / "queue.db"
        # durable=True: each reading is on disk, synced, before track() returns, so a logger
        # whose battery runs flat loses nothing either.
        client = Client(
            [destination], path=path, app_name="offline-logger", durable=True, clock=clock, power=network
        )
        stack.enter_context(client)
        lane = destination.name
        before = client.stats().lanes[lane]  # a reused --db carries the counts of earlier runs

        readings = int(args.days * DAY / (args.every * 60))
        for n in range(readings):
            client.track(args.sensor, "Reading Taken", reading(n, clock.now()))
            clock.advance(args.every * 60)
        offline = client.stats().lanes[lane]
        print(
            f"{args.days:g} days offline: {readings} readings tracked, {offline.pending} queued, "
            f"{offline.delivered - before.delivered} delivered"
        )

        network.set(online=True)  # the scheduler hears of it at once and starts draining
        client.flush(timeout=60)  # False when some readings expired: not every one was delivered
        after = client.stats().lanes[lane]
        drained = after.pending == 0
        delivered = after.delivered - before.delivered
        expired = after.dead_lettered.get("max_age", 0) - before.dead_lettered.get("max_age", 0)
        lost = before.pending + readings - delivered - expired
        print(
            f"network back: {delivered} delivered, {after.pending} queued, {expired} expired "
            f"(older than 7 days), lost {lost}{'' if drained else ' (the drain timed out)'}"
        )
    return 1 if lost or not drained else 0


if __name__ == "__main__":
    sys.exit(main())
