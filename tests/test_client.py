"""The public Client end to end over real loopback HTTP against the emulator (no mocks)."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import threading
import time
from pathlib import Path

import pytest

import edgetrack
from edgetrack import Client, ConfigError, NotConfiguredError, QueueLimits, Timeouts
from edgetrack.destinations import IntileryMobile
from edgetrack.emulator import Emulator, Fault


def make(emu: Emulator, path: Path, **kwargs: object) -> Client:
    return Client([IntileryMobile(emu.write_key, endpoint=emu.url)], path=path, **kwargs)  # type: ignore[arg-type]


def test_track_flush_delivers_every_event_over_http(emulator: Emulator, queue_path: Path) -> None:
    """Tracked events reach the emulator, gzipped, with the write key, and flush() says so."""
    with make(emulator, queue_path) as client:
        ids = [client.track(f"user-{i}", "Song Played", {"i": i})[1]["messageId"] for i in range(45)]
        assert client.flush(10) is True
        stats = client.stats()
    assert [e["messageId"] for e in emulator.events()] == ids
    (first, *_) = emulator.received
    assert first.headers["content-encoding"] == "gzip"
    assert first.body["writeKey"] == emulator.write_key
    assert stats.lanes["intilery_mobile"].delivered == 45
    assert stats.lanes["intilery_mobile"].pending == 0


def test_track_returns_segment_style_tuple(emulator: Emulator, queue_path: Path) -> None:
    """track() returns (True, message) like analytics-python, with the envelope it queued."""
    with make(emulator, queue_path, send=False) as client:
        ok, msg = client.track(42, "Signed Up", {"plan": "pro"})
    assert ok is True
    assert msg["userId"] == "42" and msg["event"] == "Signed Up" and msg["type"] == "track"


def test_every_call_type_arrives(emulator: Emulator, queue_path: Path) -> None:
    """identify, track, page, screen, alias and group all reach the Intilery mobile batch."""
    with make(emulator, queue_path) as client:
        client.identify("u1", {"email": "a@example.com"})
        client.track("u1", "Clicked")
        client.page("u1", None, "Home", {"path": "/"})
        client.screen("u1", name="Menu")
        client.alias("anon-1", "u1")
        client.group("u1", "acme", {"name": "Acme"})
        assert client.flush(10)
    types = [e["type"] for e in emulator.events()]
    assert types == ["identify", "track", "page", "screen", "alias", "group"]
    alias = emulator.events()[4]
    assert alias["previousId"] == "anon-1" and alias["userId"] == "u1"
    assert emulator.events()[5]["groupId"] == "acme"


def test_durable_call_returns_only_after_its_commit(emulator: Emulator, queue_path: Path) -> None:
    """With durable=True the row is in the file (seen by another connection) when track() returns."""
    with make(emulator, queue_path, durable=True, send=False) as client:
        _, msg = client.track("u", "Paid")
        other = sqlite3.connect(queue_path)
        found = other.execute("SELECT message_id FROM events").fetchall()
        other.close()
    assert found == [(msg["messageId"],)]


@pytest.mark.slow
def test_flush_keeps_going_through_retries_within_its_timeout(emulator: Emulator, queue_path: Path) -> None:
    """A 503 then a dropped connection: flush(10) waits out both backoffs (about 1 s, then 2 s)
    and returns True once all arrive (before, it returned False at the first failure)."""
    emulator.fail_next(Fault(503))
    emulator.fail_next(Fault(drop=True))
    with make(emulator, queue_path) as client:
        ids = [client.track("u", "E", {"n": n})[1]["messageId"] for n in range(5)]
        assert client.flush(10) is True
        retried = client.stats().lanes["intilery_mobile"].retried
    assert [e["messageId"] for e in emulator.events()] == ids
    assert retried == {"transient": 2}


def test_rate_limit_pause_survives_a_restart(emulator: Emulator, queue_path: Path) -> None:
    """A 429 with Retry-After pauses the lane; a new client on the same file still waits."""
    emulator.fail_next(Fault(429, headers={"Retry-After": "600"}))
    with make(emulator, queue_path) as client:
        client.track("u", "E")
        assert client.flush(5) is False
    requests = emulator.requests
    with make(emulator, queue_path) as client:
        lane = client.stats().lanes["intilery_mobile"]
        assert lane.pause_reason == "rate_limited" and lane.paused_until is not None
        assert lane.paused_until > time.time() + 500
        assert client.flush(1) is False
    assert emulator.requests == requests  # the restarted app did not hit the vendor early


def test_shutdown_is_bounded_when_the_server_hangs(tmp_path: Path) -> None:
    """A server that never answers cannot hold shutdown(); the events stay queued for next time."""
    with Emulator() as emu:
        emu.fail_next(Fault(200, delay=3.0))
        client = Client(
            [IntileryMobile(emu.write_key, endpoint=emu.url)],
            path=tmp_path / "q.db",
            timeouts=Timeouts(connect=0.5, read=0.5),
        )
        client.track("u", "E")
        assert client.shutdown(timeout=1.0) is False
        with make(emu, tmp_path / "q.db") as again:
            assert again.stats().lanes["intilery_mobile"].pending == 1
            assert again.flush(10) is True


def test_no_wakeups_while_idle(emulator: Emulator, queue_path: Path) -> None:
    """With nothing pending the scheduler thread sleeps: no loop passes, no context switches;
    on Linux the netlink listener (the default probe's push) is blocked in the kernel too."""
    with make(emulator, queue_path) as client:
        client.track("u", "E")
        assert client.flush(5)
        wakeups = client.stats().scheduler_wakeups
        names = {"edgetrack-writer", "edgetrack-scheduler-intilery_mobile"}
        if sys.platform.startswith("linux"):
            assert client.stats().power_updates == "netlink"
            names.add("edgetrack-netlink")
        threads = [t for t in threading.enumerate() if t.name in names]
        assert {t.name for t in threads} == names

        def switches() -> int:
            total = 0
            for t in threads:
                status = Path(f"/proc/self/task/{t.native_id}/status").read_text()
                total += sum(int(line.split()[1]) for line in status.splitlines() if "ctxt_switches" in line)
            return total

        before, settled = switches(), False
        for _ in range(40):  # let the threads finish the flush and go to sleep
            time.sleep(0.05)
            now = switches()
            settled, before = now == before, now
            if settled:
                break
        assert settled
        time.sleep(0.3)
        assert switches() == before
        assert client.stats().scheduler_wakeups == wakeups


def test_deferred_events_wake_the_scheduler_once(emulator: Emulator, queue_path: Path) -> None:
    """A few events below flush_at wake the scheduler once, to set its deadline, then it sleeps."""
    with make(emulator, queue_path, flush_interval=3600) as client:
        client.track("u", "E")
        client.pipeline.wait_committed(timeout=5)
        time.sleep(0.05)
        first = client.stats().scheduler_wakeups
        for _ in range(5):
            client.track("u", "E")
        time.sleep(0.2)
        assert client.stats().scheduler_wakeups == first <= 1
        assert client.stats().lanes["intilery_mobile"].pending == 6


def test_queue_caps_drop_oldest_and_count_it(emulator: Emulator, queue_path: Path) -> None:
    """Past max_events the oldest events are dropped first and counted per lane by reason."""
    with make(emulator, queue_path, send=False, limits=QueueLimits(max_events=100)) as client:
        for n in range(150):
            client.track("u", "E", {"n": n})
        client.pipeline.wait_committed(timeout=5)
        lane = client.stats().lanes["intilery_mobile"]
        events = client.stats().events_on_disk
    assert lane.dropped["queue_full"] >= 50
    assert events <= 100 and lane.pending == events
    store = sqlite3.connect(queue_path)
    newest = json.loads(store.execute("SELECT body FROM queue ORDER BY id DESC").fetchone()[0])
    store.close()
    assert newest["properties"]["n"] == 149


def test_many_threads_keep_per_thread_order(emulator: Emulator, queue_path: Path) -> None:
    """Eight threads tracking at once: every event arrives once, each thread's in its order."""
    with make(emulator, queue_path) as client:

        def work(t: int) -> None:
            for n in range(300):
                client.track(f"thread-{t}", "E", {"n": n})

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert client.flush(30)
    events = emulator.events()
    assert len(events) == 2400 == len({e["messageId"] for e in events})
    for t in range(8):
        seen = [e["properties"]["n"] for e in events if e["userId"] == f"thread-{t}"]
        assert seen == list(range(300))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_child_gets_fresh_threads_and_delivers(emulator: Emulator, queue_path: Path) -> None:
    """After os.fork() the child's client starts its own threads; parent and child both deliver."""
    with make(emulator, queue_path) as client:
        client.track("parent", "Before Fork")
        assert client.flush(10)
        pid = os.fork()
        if pid == 0:  # the child
            code = 1
            try:
                client.track("child", "In Child")
                code = 0 if client.flush(10) else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        client.track("parent", "After Fork")
        assert client.flush(10)
    assert os.waitstatus_to_exitcode(status) == 0
    events = sorted((e["userId"], e["event"]) for e in emulator.events())
    assert events == [("child", "In Child"), ("parent", "After Fork"), ("parent", "Before Fork")]


def test_module_level_default_client(emulator: Emulator, queue_path: Path) -> None:
    """edgetrack.configure(...) then edgetrack.track(...) works like segment.analytics."""
    edgetrack.shutdown()
    with pytest.raises(NotConfiguredError, match="configure"):
        edgetrack.track("u", "E")
    edgetrack.configure([IntileryMobile(emulator.write_key, endpoint=emulator.url)], path=queue_path)
    try:
        edgetrack.identify("u", {"name": "Ann"})
        edgetrack.track("u", "E")
        assert edgetrack.flush(10)
    finally:
        edgetrack.shutdown()
    assert [e["type"] for e in emulator.events()] == ["identify", "track"]


def test_events_after_shutdown_are_refused_not_lost(emulator: Emulator, queue_path: Path) -> None:
    """A call after shutdown() returns (False, msg) instead of pretending it was queued."""
    client = make(emulator, queue_path)
    client.shutdown()
    ok, _ = client.track("u", "E")
    assert ok is False


def test_queue_file_and_folder_are_owner_only(emulator: Emulator, tmp_path: Path) -> None:
    """The queue's folder is created 0700 and the file 0600."""
    path = tmp_path / "sub" / "q.db"
    with make(emulator, path, send=False) as client:
        client.track("u", "E")
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert path.stat().st_mode & 0o777 == 0o600


def test_install_wide_anonymous_id_is_stable(emulator: Emulator, queue_path: Path) -> None:
    """With no ids, events carry one anonymousId, kept beside the queue across restarts."""
    with make(emulator, queue_path, send=False) as client:
        first = client.track(event="Opened")[1]["anonymousId"]
    with make(emulator, queue_path, send=False) as client:
        second = client.track(event="Opened")[1]["anonymousId"]
    assert first == second and len(first) == 36


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: IntileryMobile(""), "write_key"),
        (lambda: IntileryMobile("k", endpoint="ftp://x"), "http"),
        (lambda: IntileryMobile("k", endpoint="http://example.com"), "https"),
        (lambda: Client([IntileryMobile("a"), IntileryMobile("b")]), "name="),
        (lambda: Client(["not a destination"]), "destinations"),  # type: ignore[list-item]
        (lambda: Client([], flush_at=0), "flush_at"),
    ],
)
def test_configuration_errors_say_what_to_fix(factory: object, message: str) -> None:
    """Bad configuration fails at construction, naming the option to change."""
    with pytest.raises(ConfigError, match=message):
        factory()  # type: ignore[operator]


def test_write_key_is_not_stored_in_the_queue_file(emulator: Emulator, queue_path: Path) -> None:
    """Keys live only in memory: the queue file never contains the write key."""
    emulator.set_down(True)
    with make(emulator, queue_path, timeouts=Timeouts(connect=1, read=1), shutdown_timeout=1) as client:
        for _ in range(25):
            client.track("u", "E")
        client.flush(1)
    raw = b"".join(p.read_bytes() for p in queue_path.parent.iterdir() if p.is_file())
    assert emulator.write_key.encode() not in raw


class OnBattery:
    """A power probe that always says: on battery, online."""

    on_battery, low_battery, power_save, constrained, metered, online = True, False, False, False, False, True

    def read(self, now: float) -> OnBattery:
        return self


def test_on_battery_events_wait_and_an_urgent_event_takes_them_along(
    emulator: Emulator, queue_path: Path
) -> None:
    """On battery a few events stay queued; track(..., flush=True) sends it and all pending ones now."""
    with make(emulator, queue_path, power=OnBattery()) as client:
        for n in range(5):
            client.track("u", "Browse", {"n": n})
        client.pipeline.wait_committed(timeout=5)
        time.sleep(0.2)
        assert emulator.events() == []
        client.track("u", "Purchase", flush=True)
        for _ in range(100):  # the upload happens in the background: wait for it, bounded
            if len(emulator.events()) == 6:
                break
            time.sleep(0.05)
    assert [e["event"] for e in emulator.events()] == ["Browse"] * 5 + ["Purchase"]


def test_network_active_sends_pending_events_on_battery(emulator: Emulator, queue_path: Path) -> None:
    """client.network_active() lets pending events ride along with the app's own network use."""
    with make(emulator, queue_path, power=OnBattery()) as client:
        client.track("u", "Browse")
        client.pipeline.wait_committed(timeout=5)
        time.sleep(0.2)
        assert emulator.events() == []
        client.network_active()
        for _ in range(100):
            if emulator.events():
                break
            time.sleep(0.05)
    assert [e["event"] for e in emulator.events()] == ["Browse"]


def test_offline_then_back_online_resumes_at_once(emulator: Emulator, queue_path: Path) -> None:
    """With the app reporting offline nothing is attempted; reporting online sends at once."""
    from edgetrack.power import ManualPower

    power = ManualPower()
    power.set(on_mains=True, online=False)
    from edgetrack import RetryPolicy

    with make(emulator, queue_path, power=power, retry=RetryPolicy(startup_jitter=0.0)) as client:
        for n in range(25):
            client.track("u", "E", {"n": n})
        client.pipeline.wait_committed(timeout=5)
        time.sleep(0.2)
        assert emulator.requests == 0
        power.set(online=True)
        for _ in range(100):
            if len(emulator.events()) == 25:
                break
            time.sleep(0.05)
    assert len(emulator.events()) == 25


def test_client_with_a_write_key_sends_to_segment(emulator: Emulator, queue_path: Path) -> None:
    """Client(write_key=..., host=...) builds a Segment destination, as Segment's Client does;
    Client("<key>", host=...) works positionally too."""
    for client in (
        Client(write_key=emulator.segment_write_key, host=emulator.url, path=queue_path),
        Client(emulator.segment_write_key, host=emulator.url, path=queue_path),
    ):
        with client:
            assert [d.name for d in client.destinations] == ["segment"]
            client.track("u1", "Signed Up")
            assert client.flush(10) is True
    assert [e["event"] for e in emulator.events("segment")] == ["Signed Up", "Signed Up"]


def test_a_sending_client_needs_a_destination(queue_path: Path) -> None:
    """Client() that would send to nobody fails at once, saying what to pass; send=False is fine."""
    with pytest.raises(ConfigError, match="needs a destination"):
        Client(path=queue_path)
    Client(path=queue_path, send=False).shutdown()
