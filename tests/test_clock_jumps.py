"""Wall clocks that lie: forward and backward jumps, reboots with a stale clock, and clocks set
long after the events were tracked. Time is driven through ``Client(clock=FakeClock())``; no
real clock is changed. Every event must arrive, none may expire or wait because of a jump."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest

from edgetrack import Client, QueueLimits, RetryPolicy
from edgetrack.destinations import BatchCom, IntileryMobile
from edgetrack.emulator import Emulator, Fault
from edgetrack.store import RELEASED, SQLiteStore
from edgetrack.testing import FakeClock, RecordingSender
from tests.test_scheduler import Rig

DAY = 86400.0
T0 = RELEASED + 40 * DAY  # a wall clock that is plausibly right


def _epoch(iso: str) -> float:
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


def mobile(emu: Emulator, path: Path, clock: FakeClock, **kwargs: object) -> Client:
    return Client(
        [IntileryMobile(emu.write_key, endpoint=emu.url)],
        path=path,
        clock=clock,
        retry=RetryPolicy(startup_jitter=0.0),
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("jump", [8 * DAY, 30 * DAY, "from 1970"])
def test_a_forward_jump_expires_nothing(emulator: Emulator, queue_path: Path, jump: object) -> None:
    """50 events 0.1 s old, then the wall clock jumps forward (8 days, 30 days, or from near 1970
    to today): all 50 are delivered and none is dead-lettered as max_age."""
    clock = FakeClock(86400.0 * 3 if jump == "from 1970" else T0)
    with mobile(emulator, queue_path, clock, send=True) as client:
        for i in range(50):
            client.track("u1", "Tapped", {"i": i})
        assert client.pipeline.wait_committed(timeout=10)
        clock.advance(0.1)
        if jump == "from 1970":
            clock.set_wall(T0)
        else:
            clock.jump(float(jump))  # type: ignore[arg-type]
        assert client.flush(10) is True
        lane = client.stats().lanes["intilery_mobile"]
    assert len(emulator.events()) == 50
    assert lane.dead_lettered == {} and lane.delivered == 50


def test_a_forward_jump_on_the_batch_lane_keeps_events_younger_than_24_hours(
    emulator: Emulator, queue_path: Path
) -> None:
    """A device clock two days behind, then NTP sets it: Batch.com's 24-hour rule reads the
    corrected time, so none of 10 events is dead-lettered, and each is sent with the time it
    really happened (the emulator, like the real API, checks it against its own clock)."""
    clock = FakeClock(time.time() - 2 * DAY)
    batch = BatchCom(emulator.batch_api_key, emulator.batch_rest_key, endpoint=emulator.url)
    with Client(
        [batch], path=queue_path, clock=clock, retry=RetryPolicy(startup_jitter=0.0), send=False
    ) as client:
        for i in range(10):
            client.track(f"u{i}", "Added to Cart")
    clock.advance(30.0)
    clock.set_wall(time.time())  # the same boot: the monotonic age is known
    with Client([batch], path=queue_path, clock=clock, retry=RetryPolicy(startup_jitter=0.0)) as client:
        assert client.flush(10) is True
        lane = client.stats().lanes["batch_com"]
    assert lane.dead_lettered == {} and lane.delivered == 10
    sent = [e for r in emulator.received for user in r.body for e in user["events"]]
    assert len(sent) == 10
    expected = clock.now() - 30.0
    assert all(abs(_epoch(e["time"] + "Z") - expected) < 1.5 for e in sent)


def test_requeued_dead_letters_are_sent_not_expired_again(
    emulator: Emulator, queue_path: Path, clock: FakeClock
) -> None:
    """Events that really outlived max_age are dead-lettered; requeued, their age starts again."""
    with mobile(emulator, queue_path, clock) as client:
        for i in range(5):
            client.track("u1", "Tapped", {"i": i})
        assert client.pipeline.wait_committed(timeout=10)
        clock.advance(8 * DAY)  # time really passed (monotonic too): older than max_age (7 days)
        client.flush(10)
        assert [d.reason for d in client.dead_letters()] == ["max_age"] * 5
        assert client.requeue_dead_letters() == 5
        assert client.flush(10) is True
    assert len(emulator.events()) == 5


def test_a_backward_jump_after_start_does_not_hold_the_start_up_delay(tmp_path: Path) -> None:
    """The first upload waits a random 0-10 s after start; the wall clock going back 30 days
    meanwhile does not turn that into 30 days."""
    rig = Rig(
        tmp_path / "q.db", [IntileryMobile("k", endpoint="http://127.0.0.1:9")], RecordingSender(), jitter=10
    )
    rig.track(25)
    rig.scheduler.run_once()  # sets the start-up delay
    rig.clock.jump(-30 * DAY)
    rig.clock.advance(10.5)
    rig.scheduler.run_once()
    assert len(rig.sender.events()) == 25
    rig.close()


def test_events_queued_while_the_clock_was_ahead_become_due_after_a_restart(
    emulator: Emulator, queue_path: Path
) -> None:
    """Events tracked while the wall clock was 30 days ahead, then the clock corrected and the
    app restarted: they are due after the flush interval, and stats() shows their real age."""
    clock = FakeClock(T0 + 30 * DAY)
    with mobile(emulator, queue_path, clock, send=False) as client:
        for i in range(40):
            client.track("u1", "Tapped", {"i": i})
    clock.set_wall(T0)  # NTP corrects the clock; the same boot
    clock.advance(5.0)
    rig = Rig(
        queue_path,
        [IntileryMobile(emulator.write_key, endpoint=emulator.url)],
        RecordingSender(),
        clock=clock,
    )
    assert rig.lane().oldest_created is not None  # type: ignore[attr-defined]
    assert rig.store.now() - rig.lane().oldest_created == pytest.approx(5.0)  # type: ignore[attr-defined]
    rig.scheduler.run_once()
    assert len(rig.sender.events()) == 40  # 40 >= flush_at: due at once, not in 30 days
    rig.close()
    with mobile(emulator, queue_path, clock) as client:
        stats = client.stats()
    assert stats.lanes["intilery_mobile"].pending == 0


def test_a_reboot_with_a_stale_clock_neither_stalls_nor_expires(emulator: Emulator, queue_path: Path) -> None:
    """A Raspberry Pi without a real-time clock reboots into 1970 with events queued: the
    queue's time line resumes where it left off (the time it was off counts as zero), so the
    events are neither in the future nor expired, and become due after the flush interval."""
    clock = FakeClock(T0)
    with mobile(emulator, queue_path, clock, send=False) as client:
        for i in range(10):
            client.track("u1", "Tapped", {"i": i})
    clock.reboot(downtime=8 * DAY, wall=100.0)
    rig = Rig(
        queue_path,
        [IntileryMobile(emulator.write_key, endpoint=emulator.url)],
        RecordingSender(),
        clock=clock,
    )
    rig.scheduler.run_once()
    assert rig.sender.requests == []  # 10 < flush_at: they wait for the flush interval...
    clock.advance(30.0)
    rig.scheduler.run_once()
    assert len(rig.sender.events()) == 10  # ...and no longer
    assert rig.store.counters()["intilery_mobile"].get(("dead", "max_age")) is None
    rig.close()


def test_a_pause_is_bounded_relative_to_now_after_a_backward_jump(
    emulator: Emulator, queue_path: Path, clock: FakeClock
) -> None:
    """A 429 with Retry-After: 5, then the clock back 30 days: the lane waits 5 s, in this
    process and after a restart, not 30 days."""
    emulator.fail_next(Fault(429, headers={"Retry-After": "5"}))
    with mobile(emulator, queue_path, clock) as client:
        client.track("u1", "Tapped")
        client.flush(5)
        clock.jump(-30 * DAY)
        lane = client.stats().lanes["intilery_mobile"]
        assert lane.pause_reason == "rate_limited"
        assert lane.paused_until is not None and 0 < lane.paused_until - clock.now() <= 5.0
    with _opened(queue_path, clock) as store:
        state = store.lane_states(store.now())[0]
        assert state.paused_until is not None and state.paused_until - store.now() <= 5.0
    clock.advance(5.0)
    with mobile(emulator, queue_path, clock) as client:
        assert client.flush(10) is True
    assert len(emulator.events()) == 1


def test_persisted_waits_are_capped_by_their_own_maximum_on_reload(
    queue_path: Path, clock: FakeClock
) -> None:
    """A pause, backoff or lease written far into the future (an old version's wall time, a
    file copied from another device) is brought within its maximum when a client opens it."""
    with _opened(queue_path, clock) as store:
        store.ensure_lanes(["a", "b"], store.now())
        now = store.now()
        store.fail("a", "x", now, error="e", paused_until=now + 30 * DAY, pause_reason="rate_limited")
        store.fail("b", "x", now, error="e", next_attempt=now + 30 * DAY)
    rig = Rig(
        queue_path,
        [IntileryMobile("k", endpoint="http://127.0.0.1:9", name="a")],
        RecordingSender(),
        clock=clock,
    )
    rig.scheduler.run_once()
    rig_b = Rig(
        queue_path,
        [IntileryMobile("k", endpoint="http://127.0.0.1:9", name="b")],
        RecordingSender(),
        clock=clock,
    )
    rig_b.scheduler.run_once()
    states = {s.name: s for s in rig.store.lane_states(rig.store.now())}
    retry = RetryPolicy()
    assert states["a"].paused_until is not None
    assert states["a"].paused_until - rig.store.now() <= retry.rate_limit_cap
    assert states["b"].next_attempt is not None
    assert states["b"].next_attempt - rig.store.now() <= retry.backoff_cap
    rig.close()
    rig_b.close()


def test_timestamps_from_a_wrong_clock_are_corrected_when_the_clock_is_set(
    emulator: Emulator, queue_path: Path
) -> None:
    """Tracked while the clock read 1970, sent after NTP set it: the event carries the time it
    really happened (now minus its monotonic age); sentAt is the device's time at sending; a
    timestamp the app gave is sent as it was."""
    clock = FakeClock(1000.0)
    given = "2026-12-01T10:00:00.000Z"
    with mobile(emulator, queue_path, clock, send=False) as client:
        assert client.stats().clock_trusted is False
        client.track("u1", "Stamped by us")
        client.track("u1", "Stamped by the app", timestamp=given)
        assert client.pipeline.wait_committed(timeout=10)
        clock.advance(20.0)
        clock.set_wall(T0)
        assert client.stats().clock_trusted is True
    with mobile(emulator, queue_path, clock) as client:
        assert client.flush(10) is True
    ours, theirs = emulator.events()
    assert _epoch(ours["timestamp"]) == pytest.approx(T0 - 20.0, abs=0.01)
    assert theirs["timestamp"] == given
    (request,) = emulator.received
    assert _epoch(request.body["sentAt"]) == pytest.approx(T0, abs=1.0)


def test_a_timestamp_that_crossed_a_reboot_with_a_wrong_clock_is_sent_as_it_was(
    emulator: Emulator, queue_path: Path
) -> None:
    """The monotonic age is lost with a reboot: an event tracked at a wrong wall time before it
    is sent with that time (sentAt lets a server correct the skew), never dropped."""
    clock = FakeClock(1000.0)
    with mobile(emulator, queue_path, clock, send=False) as client:
        client.track("u1", "Before the reboot")
    clock.reboot(downtime=60.0, wall=T0)
    with mobile(emulator, queue_path, clock) as client:
        assert client.flush(10) is True
    (event,) = emulator.events()
    assert _epoch(event["timestamp"]) == pytest.approx(1000.0, abs=0.01)


def test_stats_says_when_the_clock_cannot_be_trusted(queue_path: Path) -> None:
    """A device whose clock reads before this release is flagged in stats()."""
    clock = FakeClock(RELEASED - DAY)
    with Client(path=queue_path, clock=clock, send=False) as client:
        client.track("u1", "Tapped")
        assert client.stats().clock_trusted is False
        clock.set_wall(RELEASED + DAY)
        assert client.stats().clock_trusted is True


def test_stored_times_do_not_move_with_the_wall_clock(queue_path: Path, clock: FakeClock) -> None:
    """What the queue stores is queue time: jumping the wall clock changes no stored age."""
    with _opened(queue_path, clock) as store:
        store.ensure_lanes(["a"], store.now())
        store.append(
            [("track", "m1", json.dumps({"type": "track"}), 16, store.now(), clock.now())], QueueLimits()
        )
        before = store.now() - store.lane_states(store.now())[0].oldest_created  # type: ignore[operator]
        clock.jump(-365 * DAY)
        after = store.now() - store.lane_states(store.now())[0].oldest_created  # type: ignore[operator]
    assert before == after


# -- helpers -------------------------------------------------------------------------------


class _opened:  # a context manager, like open()
    def __init__(self, path: Path, clock: FakeClock) -> None:
        self.store = SQLiteStore.open(path, clock=clock)

    def __enter__(self) -> SQLiteStore:
        return self.store

    def __exit__(self, *exc: object) -> None:
        self.store.close()
