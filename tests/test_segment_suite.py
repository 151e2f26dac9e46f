"""segment-analytics-python's own tests of its calls and module, run against edgetrack.

``tests/segment_suite.py`` runs the installed package's ``test_client.py`` and
``test_module.py`` with edgetrack standing in for ``segment.analytics`` (a constructor shim
points each client at the emulator). Every test passes except the ones below, each for the
reason given; the set is checked both ways, so a difference that goes away, or a new one,
fails this test. Segment 2.4 itself passes 35 of the 40: its five ``test_advanced_*`` expect
a timestamp format its own code no longer writes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # segment-analytics-python's own suite

HERE = Path(__file__).parent

# test -> why edgetrack differs from segment-analytics-python there
DIFFERENCES = {
    **dict.fromkeys(
        [f"TestClient.test_advanced_{call}" for call in ("group", "identify", "page", "screen", "track")],
        "the test expects '2014-09-03T00:00:00+00:00' (Segment 2.4 itself writes '...00.000+00:00', and "
        "fails it too); edgetrack writes UTC with milliseconds and Z, the Segment spec's form, and names "
        "itself, not analytics-python, in context.library",
    ),
    **dict.fromkeys(
        [
            "TestClient.test_overflow",
            "TestClient.test_queue_full_returns_false",
            "TestClient.test_queue_full_does_not_raise",
        ],
        "a full queue: Segment refuses the newest event (False); edgetrack keeps it and drops the oldest, "
        "counted in stats().dropped['queue_full'] (the newest data is what analytics needs most)",
    ),
    **dict.fromkeys(
        [
            "TestClient.test_default_timeout_15",
            "TestClient.test_user_defined_timeout",
            "TestClient.test_synchronous",
            "TestClient.test_flush",
            "TestClient.test_shutdown",
        ],
        "inspects Segment's in-memory queue.Queue and consumer threads (client.queue, client.consumers), "
        "which edgetrack does not have: its queue is the SQLite file, sent by one thread per destination",
    ),
    **dict.fromkeys(
        ["TestClient.test_proxies", "TestClient.test_user_defined_upload_size"],
        "mocks Segment's own modules (segment.analytics.request._session, segment.analytics.consumer.post)",
    ),
}


def test_segment_analytics_python_suite_passes_but_for_the_documented_differences(tmp_path: Path) -> None:
    """Segment's call and module tests pass against edgetrack, except the listed differences."""
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")}
    result = subprocess.run(
        [sys.executable, str(HERE / "segment_suite.py")],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    ran, failed = outcome["ran"], outcome["failed"]
    print(
        f"\nsegment-analytics-python's suite against edgetrack: {len(ran) - len(failed)} of {len(ran)} pass"
    )
    assert len(ran) >= 40
    unexpected = {name: why for name, why in failed.items() if name not in DIFFERENCES}
    assert unexpected == {}
    assert sorted(failed) == sorted(DIFFERENCES)  # a listed difference that went away must be unlisted
