"""The smallest complete use of edgetrack, against the built-in emulator.

    python examples/quickstart.py

Replace the emulator's URL and key with your real write key (and drop ``endpoint=``) to
send to Intilery.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from edgetrack import Client
from edgetrack.destinations import IntileryMobile
from edgetrack.emulator import Emulator


def main() -> None:
    with Emulator() as emu, tempfile.TemporaryDirectory() as folder:
        destination = IntileryMobile(emu.write_key, endpoint=emu.url)
        with Client([destination], path=Path(folder) / "queue.db", app_name="quickstart") as client:
            client.identify("user-42", {"email": "ann@example.com"})
            client.track("user-42", "Order Completed", {"revenue": 19.99, "currency": "EUR"})
            client.screen("user-42", name="Thanks")
            delivered = client.flush(timeout=10)
            lane = client.stats().lanes["intilery_mobile"]
        print(f"delivered all: {delivered}; lane delivered {lane.delivered}, pending {lane.pending}")
        for event in emu.events():
            print(f"  {event['type']:<9} {event.get('event') or event.get('name') or ''}")


if __name__ == "__main__":
    main()
