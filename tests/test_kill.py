"""Crash safety: a child process killed with SIGKILL loses nothing that track() had returned."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgetrack import Client
from edgetrack.destinations import IntileryMobile
from edgetrack.emulator import Emulator

pytestmark = pytest.mark.slow  # SIGKILL of subprocesses

CHILD = r"""
import json, sys, time
from edgetrack import Client
from edgetrack.destinations import IntileryMobile
path, url, key, count, durable = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1"
client = Client([IntileryMobile(key, endpoint=url)], path=path, durable=durable, flush_interval=0.05)
for n in range(count):
    ok, msg = client.track("kiosk", "Tap", {"n": n})
    assert ok
    print(msg["messageId"], flush=True)
print("DONE", flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("durable", [False, True])
def test_sigkill_after_track_returned_loses_nothing(tmp_path: Path, durable: bool) -> None:
    """Every event whose track() returned before a commit window passed is delivered after kill -9."""
    path = tmp_path / "q.db"
    with Emulator() as emu:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), emu.url, emu.write_key, "3000", "1" if durable else "0"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        returned = []
        for line in child.stdout:
            if line.strip() == "DONE":
                break
            returned.append(line.strip())
        if not durable:
            time.sleep(0.2)  # one commit window (a few ms), with a wide margin for a busy machine
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        child.stdout.close()
        assert child.returncode == -signal.SIGKILL
        sent_by_child = {e["messageId"] for e in emu.events()}
        with Client([IntileryMobile(emu.write_key, endpoint=emu.url)], path=path) as client:
            assert client.flush(30) is True
            store = client.pipeline.open_store()
            integrity = store.conn.execute("PRAGMA integrity_check").fetchone()
            store.close()
    delivered = [e["messageId"] for e in emu.events()]
    assert len(returned) == 3000
    assert set(returned) <= set(delivered)
    duplicates = len(delivered) - len(set(delivered))
    assert duplicates <= len(sent_by_child)  # only a batch in flight at the kill may come twice
    assert integrity == ("ok",)
    print(
        json.dumps(
            {
                "durable": durable,
                "returned": len(returned),
                "lost": 0,
                "delivered_before_kill": len(sent_by_child),
                "duplicates": duplicates,
            }
        )
    )
