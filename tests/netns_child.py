"""Run inside a network namespace of its own (``unshare --net``, started by ``test_netlink.py``).

Starts the emulator on the namespace's loopback and a ``Client`` with the platform's default
probe, tracks events while the namespace has no default route (offline), then brings a network
up (a veth pair and a default route, as DHCP would), takes it away, and brings it back, printing
one JSON line of what it saw. The namespace starts with nothing, so only the test's own changes
reach the netlink listener.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgetrack import Client
from edgetrack.destinations import IntileryMobile
from edgetrack.emulator import Emulator
from edgetrack.retry import RetryPolicy
from edgetrack.sending import Scheduler


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def wait_for(condition: Any, timeout: float) -> float | None:
    """Seconds until ``condition()`` held, or None at the timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(0.01)
    return None


def switches(names: set[str]) -> int:
    total = 0
    for thread in threading.enumerate():
        if thread.name in names or thread.name.startswith("edgetrack-scheduler"):
            status = Path(f"/proc/self/task/{thread.native_id}/status").read_text()
            total += sum(int(line.split()[1]) for line in status.splitlines() if "ctxt_switches" in line)
    return total


def main() -> None:
    ip("link", "set", "lo", "up")
    for name in ("all", "default"):  # no IPv6 autoconfiguration: its late changes are not ours
        Path(f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6").write_text("1")
    seen: dict[str, Any] = {}
    with Emulator() as emulator, tempfile.TemporaryDirectory() as folder:
        client = Client(
            [IntileryMobile(emulator.write_key, endpoint=emulator.url)],
            path=Path(folder) / "q.db",
            flush_at=1,  # every event is due at once while online: what is measured is the push
            retry=RetryPolicy(startup_jitter=0.0),  # a fleet's spread start would delay the first
            track_lifecycle=False,
        )
        with client:
            client.track("u", "Offline 1")
            client.pipeline.wait_committed(5)
            pushed = wait_for(lambda: client.stats().power_updates not in ("none", "polling"), 10)
            seen["listening"] = pushed is not None
            seen["power_updates"] = client.stats().power_updates
            for i in range(2, 6):
                client.track("u", f"Offline {i}")
            client.pipeline.wait_committed(5)
            lane = client.lanes()[0]
            wait_for(asleep(lane), 10)  # the lane has looked, seen no default route, and sleeps
            seen["sent_while_offline"] = len(emulator.events())
            seen["offline_wait_s"] = _next_attempt_in(client)
            seen["lane_offline"] = client.lanes()[0].offline

            # the network comes: a link and a default route, as a DHCP client would add them
            ip("link", "add", "et0", "type", "veth", "peer", "name", "et1")
            ip("link", "set", "et1", "up")
            ip("link", "set", "et0", "up")
            ip("addr", "add", "10.77.0.2/24", "dev", "et0")
            ip("route", "add", "default", "via", "10.77.0.1", "dev", "et0")
            seen["first_back_s"] = wait_for(lambda: len(emulator.events()) >= 5, 20)

            # it goes, events wait; it comes back, they go
            ip("route", "del", "default")
            wait_for(lambda: lane.offline, 10)
            client.track("u", "Offline again")
            client.pipeline.wait_committed(5)
            wait_for(asleep(lane), 10)  # it looked at the new event, and sleeps until told
            seen["sent_while_offline_again"] = len(emulator.events()) - 5
            ip("route", "add", "default", "via", "10.77.0.1", "dev", "et0")
            seen["second_back_s"] = wait_for(lambda: len(emulator.events()) >= 6, 20)

            # idle: nothing pending, nothing changing: no thread of edgetrack's wakes
            names = {"edgetrack-writer", "edgetrack-netlink"}
            seen["threads"] = sorted(t.name for t in threading.enumerate() if t.name.startswith("edgetrack"))
            before, settled = switches(names), False
            for _ in range(40):
                time.sleep(0.05)
                now = switches(names)
                settled, before = now == before, now
                if settled:
                    break
            time.sleep(0.5)  # the idle window measured (not a wait for something to happen)
            seen["idle_switches"] = switches(names) - before if settled else None
            seen["delivered"] = [event["event"] for event in emulator.events()]
    json.dump(seen, sys.stdout)
    print()


def asleep(lane: Scheduler) -> Callable[[], bool]:
    """Whether the lane is offline with events pending and sleeps until told (no timer look)."""
    return lambda: lane.offline and (lane.wakes_in or 0) > 3000


def _next_attempt_in(client: Client) -> float | None:
    """Seconds until the lane looks again on its own, if it set a time at all."""
    return client.lanes()[0].wakes_in


if __name__ == "__main__":
    main()
