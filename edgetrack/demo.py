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


def _run(events_per_phase: int, out: Callable[[str], None], folder: Path | None) -> dict[str, int]:
    rng = random.Random(7)
    tracked: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, Emulator() as emu:
        path = (folder or Path(tmp)) / "kiosk-queue.db"

        def client() -> Client:
            destination = IntileryMobile(emu.write_key, endpoint=emu.url)
            return Client([destination], path=path, app_name="edgetrack-demo", flush_interval=1.0)

        def show(label: str, c: Client) -> None:
            stats = c.stats()
            out(
                f"  {label:<34} tracked {len(tracked):>4} | queued {stats.pending:>4} | "
                f"delivered {len(emu.events()):>4} | requests {emu.requests:>3}"
            )

        out(f"edgetrack demo: emulator at {emu.url}, queue file {path}")
        out("1. kiosk opens, online")
        kiosk = client()
        _session(kiosk, rng, events_per_phase, tracked)
        kiosk.flush(10)
        show("after the first customers", kiosk)

        out("2. network drops (the emulator resets every connection)")
        emu.set_down(True)
        _session(kiosk, rng, events_per_phase, tracked)
        kiosk.flush(2)  # tries once, fails, keeps everything
        show("offline, still tracking", kiosk)

        out("3. kiosk app restarts, still offline")
        kiosk.shutdown(timeout=1.0)
        kiosk = client()
        show("after the restart", kiosk)
        _session(kiosk, rng, events_per_phase // 2, tracked)
        show("tracking again, offline", kiosk)

        out("4. network returns")
        emu.set_down(False)
        _session(kiosk, rng, events_per_phase // 2, tracked)
        delivered_all = kiosk.flush(30)
        show("backlog drained" if delivered_all else "still draining", kiosk)
        kiosk.shutdown(timeout=5.0)

        received = [e["messageId"] for e in emu.events()]
        unique = set(received)
        summary = {
            "tracked": len(tracked),
            "delivered": len(unique & set(tracked)),
            "lost": len(set(tracked) - unique),
            "duplicates": len(received) - len(unique),
            "requests": emu.requests,
        }
    out("5. summary")
    out(
        f"  tracked {summary['tracked']}, delivered {summary['delivered']}, "
        f"lost {summary['lost']}, duplicates {summary['duplicates']} (same messageId), "
        f"requests {summary['requests']} ({summary['tracked'] / max(1, summary['requests']):.0f} "
        "events per request)"
    )
    return summary
