"""``edgetrack demo``: a kiosk session against the local emulator, with an outage and a restart.

1. the kiosk opens and tracks taps and screens while online;
2. the network drops: events keep being tracked and stay queued on disk;
3. the kiosk app restarts while still offline (a new Client opens the same queue file);
4. the network returns: the backlog drains;
5. a summary compares what was tracked with what the emulator received: lost must be 0.
"""

from __future__ import annotations

import logging
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from edgetrack.client import Client
from edgetrack.destinations import IntileryMobile
from edgetrack.emulator import Emulator

__all__ = ["run_demo"]

SCREENS = ["Welcome", "Menu", "Product", "Basket", "Checkout", "Thanks"]


def _session(client: Client, rng: random.Random, events: int, tracked: list[str]) -> None:
    for n in range(events):
        if n % 10 == 0:
            _, msg = client.screen("kiosk-7", None, rng.choice(SCREENS), {"visit": n // 10})
        else:
            _, msg = client.track(
                "kiosk-7", "Button Tapped", {"button": rng.choice(["add", "remove", "pay"]), "n": n}
            )
        tracked.append(msg["messageId"])
        if n % 20 == 19:
            time.sleep(0.05)  # a person taps a few times a second, not a thousand


def run_demo(
    *,
    events_per_phase: int = 120,
    out: Callable[[str], None] = print,
    folder: Path | None = None,
) -> dict[str, int]:
    """Run the scripted session; return the summary counts."""
    # The demo is the app here, so it may decide: the progress lines already show the
    # outage, so the library's warnings about it are not printed twice.
    logger = logging.getLogger("edgetrack")
    quiet = logging.NullHandler()
    logger.addHandler(quiet)
    propagate, logger.propagate = logger.propagate, False
    try:
        return _run(events_per_phase, out, folder)
    finally:
        logger.removeHandler(quiet)
        logger.propagate = propagate


@dataclass
class _Demo:
    """What the phases share: the emulator, the queue file, the progress output and every tracked id."""

    emu: Emulator
    path: Path
    out: Callable[[str], None]
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    tracked: list[str] = field(default_factory=list)

    def open_kiosk(self) -> Client:
        """A kiosk app's client on the shared queue file."""
        destination = IntileryMobile(self.emu.write_key, endpoint=self.emu.url)
        return Client([destination], path=self.path, app_name="edgetrack-demo", flush_interval=1.0)

    def use(self, kiosk: Client, events: int) -> None:
        """Customers tap and browse for ``events`` events."""
        _session(kiosk, self.rng, events, self.tracked)

    def show(self, label: str, kiosk: Client) -> None:
        """One progress line: tracked, queued, delivered and requests so far."""
        stats = kiosk.stats()
        self.out(
            f"  {label:<34} tracked {len(self.tracked):>4} | queued {stats.pending:>4} | "
            f"delivered {len(self.emu.events()):>4} | requests {self.emu.requests:>3}"
        )


def _run(events_per_phase: int, out: Callable[[str], None], folder: Path | None) -> dict[str, int]:
    with tempfile.TemporaryDirectory() as tmp, Emulator() as emu:
        demo = _Demo(emu, (folder or Path(tmp)) / "kiosk-queue.db", out)
        out(f"edgetrack demo: emulator at {emu.url}, queue file {demo.path}")
        kiosk = _online(demo, events_per_phase)
        _network_drops(demo, kiosk, events_per_phase)
        kiosk = _restart_offline(demo, kiosk, events_per_phase // 2)
        _network_returns(demo, kiosk, events_per_phase // 2)
        summary = _tally(emu, demo.tracked)
    _print_summary(summary, out)
    return summary


def _online(demo: _Demo, events: int) -> Client:
    """Phase 1: the kiosk opens and delivers while online."""
    demo.out("1. kiosk opens, online")
    kiosk = demo.open_kiosk()
    demo.use(kiosk, events)
    kiosk.flush(10)
    demo.show("after the first customers", kiosk)
    return kiosk


def _network_drops(demo: _Demo, kiosk: Client, events: int) -> None:
    """Phase 2: offline, the events keep being tracked and stay queued."""
    demo.out("2. network drops (the emulator resets every connection)")
    demo.emu.set_down(True)
    demo.use(kiosk, events)
    kiosk.flush(2)  # tries once, fails, keeps everything
    demo.show("offline, still tracking", kiosk)


def _restart_offline(demo: _Demo, kiosk: Client, events: int) -> Client:
    """Phase 3: the app restarts while offline; the new client opens the same queue file."""
    demo.out("3. kiosk app restarts, still offline")
    kiosk.shutdown(timeout=1.0)
    kiosk = demo.open_kiosk()
    demo.show("after the restart", kiosk)
    demo.use(kiosk, events)
    demo.show("tracking again, offline", kiosk)
    return kiosk


def _network_returns(demo: _Demo, kiosk: Client, events: int) -> None:
    """Phase 4: back online, the backlog drains; the kiosk then shuts down."""
    demo.out("4. network returns")
    demo.emu.set_down(False)
    demo.use(kiosk, events)
    delivered_all = kiosk.flush(30)
    demo.show("backlog drained" if delivered_all else "still draining", kiosk)
    kiosk.shutdown(timeout=5.0)


def _tally(emu: Emulator, tracked: list[str]) -> dict[str, int]:
    """What was tracked against what the emulator received."""
    received = [e["messageId"] for e in emu.events()]
    unique = set(received)
    return {
        "tracked": len(tracked),
        "delivered": len(unique & set(tracked)),
        "lost": len(set(tracked) - unique),
        "duplicates": len(received) - len(unique),
        "requests": emu.requests,
    }


def _print_summary(summary: dict[str, int], out: Callable[[str], None]) -> None:
    """Phase 5: the summary lines."""
    out("5. summary")
    out(
        f"  tracked {summary['tracked']}, delivered {summary['delivered']}, "
        f"lost {summary['lost']}, duplicates {summary['duplicates']} (same messageId), "
        f"requests {summary['requests']} ({summary['tracked'] / max(1, summary['requests']):.0f} "
        "events per request)"
    )
