"""flush() and shutdown() as users of segment-analytics-python and posthog expect: they keep
working through 429 pauses and retry backoffs that end in time, return early when waiting
cannot help, and say True only when every event was delivered."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from edgetrack import Client, QueueLimits, RetryPolicy
from edgetrack.destinations import BatchCom, IntileryMobile, Parcelvoy, Segment
from edgetrack.emulator import Emulator, Fault
from edgetrack.power import ManualPower

QUICK = RetryPolicy(startup_jitter=0.0, rate_limit_min=0.3, backoff_base=0.1)


def make(emu: Emulator, path: Path, **kwargs: object) -> Client:
    options: dict[str, object] = {"retry": QUICK, "shutdown_timeout": 2.0, **kwargs}
    return Client([IntileryMobile(emu.write_key, endpoint=emu.url)], path=path, **options)  # type: ignore[arg-type]


def test_flush_waits_out_a_429_pause_that_ends_in_time(emulator: Emulator, queue_path: Path) -> None:
    """A 429 on the first try: flush(10) waits the pause out and delivers (before: False at once)."""
    emulator.fail_next(Fault(429, headers={"Retry-After": "0"}))
    with make(emulator, queue_path) as client:
        for i in range(5):
            client.track("u", "E", {"i": i})
        assert client.flush(10) is True
    assert len(emulator.events()) == 5 and emulator.requests == 2


def test_flush_returns_when_the_pause_outlasts_its_timeout(emulator: Emulator, queue_path: Path) -> None:
    """A 429 with Retry-After: 600 and flush(30): waiting cannot help, so it returns False without
    calling the vendor again, and the events stay queued."""
    emulator.fail_next(Fault(429, headers={"Retry-After": "600"}))
    with make(emulator, queue_path) as client:
        client.track("u", "E")
        assert client.flush(30) is False
        assert client.stats().lanes["intilery_mobile"].pending == 1
    assert emulator.requests == 1


def test_flush_without_a_timeout_keeps_going_while_progress_is_possible(
    emulator: Emulator, queue_path: Path
) -> None:
    """flush() with no timeout rides through a 500, a reset and a 429, then returns True."""
    emulator.fail_next(Fault(500))
    emulator.fail_next(Fault(drop=True))
    emulator.fail_next(Fault(429))
    with make(emulator, queue_path) as client:
        for i in range(30):
            client.track("u", "E", {"i": i})
        assert client.flush() is True
    assert len(emulator.events()) == 30


@pytest.mark.parametrize("why", ["auth", "offline"])
def test_flush_without_a_timeout_returns_when_nothing_can_be_delivered_now(
    emulator: Emulator, queue_path: Path, why: str
) -> None:
    """A wrong key (a person must fix it) or no network: flush() tries once and returns False
    instead of retrying."""
    power = ManualPower()
    power.set(online=why != "offline")
    emulator.set_down(why == "offline")
    key = "wrong" if why == "auth" else emulator.write_key
    with Client(
        [IntileryMobile(key, endpoint=emulator.url)],
        path=queue_path,
        retry=QUICK,
        power=power,
        shutdown_timeout=1,
    ) as client:
        client.track("u", "E")
        assert client.flush() is False
        assert client.stats().lanes["intilery_mobile"].pending == 1
        assert emulator.requests == 1


def test_flush_without_a_timeout_gives_up_after_ten_failed_attempts(
    emulator: Emulator, queue_path: Path
) -> None:
    """A server that keeps failing: flush() returns False after segment-analytics-python's 10 retries."""
    emulator.fail_next(Fault(503), times=1000)
    retry = RetryPolicy(startup_jitter=0.0, backoff_base=0.01, backoff_cap=0.02)
    with make(emulator, queue_path, retry=retry, shutdown_timeout=0.1) as client:
        client.track("u", "E")
        assert client.flush() is False
        assert 10 <= emulator.requests <= 13


def test_flush_is_false_when_an_event_was_dead_lettered(emulator: Emulator, queue_path: Path) -> None:
    """flush() is True only when every event pending at the call was delivered: a refused event
    makes it False (before: True after all 50 were dead-lettered)."""
    emulator.fail_next(Fault(400, b'{"error": "bad event"}'))
    with make(emulator, queue_path) as client:
        client.track("u", "Refused")
        assert client.flush(10) is False
        client.track("u", "Fine")
        assert client.flush(10) is True  # the next flush is about the events since


def test_flush_counts_a_dead_letter_made_before_the_queue_was_open(
    emulator: Emulator, queue_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restarted app's flush() called before its writer has opened the file: the lanes must not
    start (and dead-letter the backlog) before the mark of what counts as lost is taken (seen
    once on a loaded machine: True with the refused event dead-lettered)."""
    with make(emulator, queue_path, send=False) as client:
        client.track("u", "Refused")
    from edgetrack.sending._pipeline import Pipeline

    opening = Pipeline._open_writer_store

    def slow_open(self: Pipeline) -> object:
        time.sleep(0.5)  # the writer's thread is late to open the file (a loaded machine)
        return opening(self)

    monkeypatch.setattr(Pipeline, "_open_writer_store", slow_open)
    emulator.fail_next(Fault(400, b'{"error": "bad event"}'))
    with make(emulator, queue_path, flush_at=1) as client:  # the backlog is due at once
        assert client.flush(10) is False
        assert len(client.dead_letters()) == 1


def test_flush_is_false_when_events_were_dropped_for_room(emulator: Emulator, queue_path: Path) -> None:
    """Events tracked since the last flush and dropped by the queue cap: flush() says False."""
    with make(
        emulator, queue_path, limits=QueueLimits(max_events=10), flush_at=1000, flush_interval=3600
    ) as client:
        for i in range(50):
            client.track("u", "E", {"i": i})
        assert client.flush(10) is False
        dropped = client.stats().lanes["intilery_mobile"].dropped["queue_full"]
        client.track("u", "After")
        assert client.flush(10) is True
    assert dropped >= 40 and len(emulator.events()) == 50 - dropped + 1


def test_shutdown_uses_the_same_rule_within_its_bound(emulator: Emulator, queue_path: Path) -> None:
    """shutdown(timeout) waits out a short 429 pause and reports True when all was delivered."""
    emulator.fail_next(Fault(429))
    client = make(emulator, queue_path)
    client.track("u", "E")
    assert client.shutdown(10) is True
    assert len(emulator.events()) == 1


@pytest.mark.parametrize(
    "destination",
    [
        lambda emu: Segment(emu.segment_write_key, endpoint=emu.url + "/v1/batch"),
        lambda emu: IntileryMobile(emu.write_key, endpoint=emu.url + "/wrong"),
        lambda emu: Parcelvoy(emu.parcelvoy_key, endpoint=emu.url + "/api"),
        lambda emu: BatchCom(emu.batch_api_key, emu.batch_rest_key, endpoint=emu.url + "/v2"),
    ],
    ids=["segment", "intilery_mobile", "parcelvoy", "batch_com"],
)
def test_a_wrong_endpoint_pauses_the_lane_as_a_configuration_error(
    emulator: Emulator, queue_path: Path, caplog: pytest.LogCaptureFixture, destination: object
) -> None:
    """A 404 that is not the vendor's own answer (a wrong base path) keeps the events and pauses the
    lane as misconfigured, reported once with the URL path (before: 104 requests, 50 dead-lettered)."""
    dest = destination(emulator)  # type: ignore[operator]
    with caplog.at_level(logging.WARNING, logger="edgetrack"):
        with Client([dest], path=queue_path, retry=QUICK) as client:
            for i in range(50):
                client.track("u1", "Tapped", {"i": i})
            assert client.flush(10) is False
            lane = client.stats().lanes[dest.name]
    assert lane.pause_reason == "config" and lane.pending == 50 and lane.dead_lettered == {}
    assert emulator.requests == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "does not exist on the server" in warnings[0]
    assert emulator.batch_api_key not in warnings[0]


def test_the_vendors_own_unknown_key_404_stays_an_auth_pause(emulator: Emulator, queue_path: Path) -> None:
    """Parcelvoy's "project does not exist" 404 is a wrong key, not a wrong URL: reason auth."""
    with Client([Parcelvoy("pk_wrong", endpoint=emulator.url)], path=queue_path, retry=QUICK) as client:
        client.track("u1", "Tapped")
        assert client.flush(5) is False
        assert client.stats().lanes["parcelvoy"].pause_reason == "auth"
