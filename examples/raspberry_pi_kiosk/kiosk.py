"""A Raspberry Pi kiosk's event logger: a start, a heartbeat a minute with the power state, a stop.

    python kiosk.py                                        # against an emulator started in-process
    python kiosk.py --config edgetrack.toml                # destinations and queue file from a config
    python kiosk.py --interval 0.5 --count 10              # ten quick heartbeats, then exit

``edgetrack-kiosk.service`` runs it under systemd (see README.md). The config file's format is in
``edgetrack.configfile`` (keys come from environment variables named by ``*_env``); without
``--config`` or ``EDGETRACK_CONFIG`` the kiosk sends to an emulator started in-process.

Offline handling is mostly the SDK's: each ``track()`` returns once its event is committed
(``durable=True`` survives a power cut too); ``LinuxPower`` reports no default route as offline,
so nothing is attempted then; the queue drains when the network returns (the heartbeat tells
the client at once), across restarts and reboots. ``edgetrack status --db PATH`` shows what
waits. SIGTERM (``systemctl stop``, shutdown) logs a last event and shuts the client down,
sending what it can within 5 seconds.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from edgetrack import Client
from edgetrack.configfile import ConfigFile, load_config
from edgetrack.destinations import IntileryMobile
from edgetrack.power import LinuxPower

log = logging.getLogger("kiosk")


def configure(path: str | None, stack: ExitStack) -> ConfigFile:
    """The config file's destinations, or an emulator started in-process with a throwaway queue."""
    if path:
        return load_config(path)
    from edgetrack.emulator import Emulator

    emulator = stack.enter_context(Emulator())
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
    log.info("no --config: sending to an emulator at %s", emulator.url)
    stack.callback(lambda: log.info("the emulator received %d events", len(emulator.events())))
    return ConfigFile(
        source=Path("<emulator>"),
        destinations=[IntileryMobile(emulator.write_key, endpoint=emulator.url)],
        path=folder / "queue.db",
        app_name="edgetrack-kiosk",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=os.environ.get("EDGETRACK_CONFIG"), help="edgetrack.toml")
    parser.add_argument("--kiosk-id", default=socket.gethostname(), help="the user id of its events")
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between heartbeats")
    parser.add_argument("--count", type=int, default=0, help="exit after this many heartbeats (0: never)")
    parser.add_argument(
        "--commit-window",
        type=float,
        default=0.0,
        help="seconds the events of a burst share one commit (spares the SD card; not durable: "
        "a power cut loses what was tracked in the last window). 0: every event durable at once",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    session = uuid.uuid4().hex[:8]  # tells this run's events from the last run's
    tracked = 0
    power = LinuxPower()  # what power="auto" picks on Linux; kept here to report its readings

    with ExitStack() as stack:
        config = configure(args.config, stack)
        client = stack.enter_context(
            Client(
                config.destinations,
                path=config.path,
                app_name=config.app_name,
                durable=not args.commit_window,
                commit_window=args.commit_window,
                power=power,
            )
        )

        def record(event: str, **properties: object) -> None:
            nonlocal tracked
            client.track(args.kiosk_id, event, {"session": session, "seq": tracked, **properties})
            tracked += 1

        record("Kiosk Started", host=socket.gethostname())
        log.info("session %s started; queue %s", session, client.path)
        beats, online = 0, None
        while not stop.wait(args.interval):
            beats += 1
            state = power.read(time.time())
            if state.online and online is False:
                # The SDK re-checks an offline network every 30 s on mains (on battery at growing
                # intervals, up to 15 minutes); telling it now starts the drain at once.
                log.info("network back: sending the backlog")
                client.power_changed()
            online = state.online
            queued = client.stats().pending
            record(
                "Kiosk Heartbeat",
                on_mains=state.on_mains,
                battery_level=state.battery_level,
                throttled=state.constrained,  # the Pi's get_throttled: under-voltage or throttling now
                online=state.online,
                queued=queued,
            )
            log.info("heartbeat %d: queued %d, online %s", beats, queued, state.online)
            if beats == args.count:
                break
        record("Kiosk Stopped", reason="signal" if stop.is_set() else "count")
        log.info("session %s stopping: tracked %d events; sending what waits", session, tracked)


if __name__ == "__main__":
    main()
