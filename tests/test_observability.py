"""Observable without noise: one WARNING per failure episode, one INFO when it ends, causes said
once, last_error with its time and cleared by a success."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from edgetrack import Client, QueueLimits, RetryPolicy
from edgetrack.destinations import IntileryMobile
from edgetrack.emulator import Emulator, Fault

QUICK = RetryPolicy(startup_jitter=0.0, backoff_base=0.05, backoff_cap=0.1)


def test_a_failure_episode_logs_one_warning_and_its_end_one_info(
    emulator: Emulator, queue_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """500s in a row, then a success: one WARNING, one INFO, nothing says "HTTP 500: HTTP 500";
    while failing, last_error carries its time; after the success it is cleared."""
    emulator.fail_next(Fault(500), times=1000)
    with caplog.at_level(logging.DEBUG, logger="edgetrack"):
        with Client(
            [IntileryMobile(emulator.write_key, endpoint=emulator.url)], path=queue_path, retry=QUICK
        ) as client:
            client.track("u", "E")
            assert client.flush(0.5) is False  # several attempts, all failed
            failing = client.stats().lanes["intilery_mobile"]
            emulator.clear_faults()
            assert client.flush(10) is True
            recovered = client.stats().lanes["intilery_mobile"]
    records = [r for r in caplog.records if r.name.startswith("edgetrack")]
    warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    infos = [r.getMessage() for r in records if r.levelno == logging.INFO]
    assert len(warnings) == 1 and "HTTP 500" in warnings[0]
    assert len(infos) == 1 and "delivering again" in infos[0]
    assert all("HTTP 500: HTTP 500" not in r.getMessage() for r in records)
    assert failing.last_error == "HTTP 500" and failing.last_error_at is not None
    assert recovered.last_error is None and recovered.last_error_at is None


def test_a_full_queue_warns_once_per_episode(queue_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Hundreds of commits that each drop the oldest events: one WARNING (before: one a commit)."""
    with caplog.at_level(logging.WARNING, logger="edgetrack"):
        destination = IntileryMobile("k", endpoint="http://127.0.0.1:9")
        with Client([destination], path=queue_path, send=False, limits=QueueLimits(max_events=20)) as client:
            for i in range(400):
                client.track("u", "E", {"i": i})
                client.pipeline.wait_committed(timeout=5)  # one commit each
            dropped = client.stats().lanes["intilery_mobile"].dropped["queue_full"]
    full = [r for r in caplog.records if "queue is full" in r.getMessage()]
    assert len(full) == 1 and dropped >= 380
