"""Sessions: context.sessionId (ms at the session's start) on every event, sessionStart on a
session's first, a new session after the timeout, in the background, or after a reboot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edgetrack import Client, ConfigError
from edgetrack.compat import SegmentClient
from edgetrack.testing import FakeClock
from tests.conftest import query

START = 1_800_000_000.0  # FakeClock's default wall time


def sessions(path: Path) -> list[tuple[str, int | None, bool]]:
    """Each queued event's name, context.sessionId and whether it has sessionStart: true."""
    found: list[tuple[str, int | None, bool]] = []
    for (body,) in query(path, "SELECT body FROM queue ORDER BY id"):
        message: dict[str, Any] = json.loads(body)
        context = message["context"]
        assert context.get("sessionStart") in (None, True)
        name = message.get("event") or message.get("name") or message["type"]
        found.append((name, context.get("sessionId"), context.get("sessionStart", False)))
    return found


def ms(wall: float) -> int:
    return int(wall * 1000)


def client(path: Path, clock: FakeClock, **options: Any) -> Client:
    return Client(path=path, send=False, clock=clock, **options)


def test_every_event_carries_the_session_and_the_first_says_it_starts(tmp_path: Path) -> None:
    """The session id is the start time in ms; only its first event has sessionStart."""
    path = tmp_path / "q.db"
    clock = FakeClock()
    with client(path, clock) as c:
        assert c.session_id is None  # nothing tracked yet
        c.track("u", "One")
        clock.advance(10)
        c.screen("u", name="Two")
        clock.advance(10)
        c.identify("u", {"a": 1})
        assert c.session_id == ms(START)
        c.pipeline.wait_committed(timeout=10)
    assert sessions(path) == [
        ("One", ms(START), True),
        ("Two", ms(START), False),
        ("identify", ms(START), False),
    ]


def test_a_gap_longer_than_the_timeout_starts_a_new_session(tmp_path: Path) -> None:
    """More than session_timeout seconds without an event starts a new session; exactly it does not."""
    path = tmp_path / "q.db"
    clock = FakeClock()
    with client(path, clock, session_timeout=60) as c:
        c.track("u", "A")
        clock.advance(60)
        c.track("u", "B")  # exactly the timeout: the same session
        clock.advance(60.5)
        c.track("u", "C")
        c.pipeline.wait_committed(timeout=10)
    second = ms(START + 120.5)
    assert sessions(path) == [("A", ms(START), True), ("B", ms(START), False), ("C", second, True)]


def test_the_session_id_comes_from_the_wall_clock_but_timing_from_the_monotonic(tmp_path: Path) -> None:
    """A wall-clock jump neither ends the session nor starts one; the id is the wall time at start."""
    path = tmp_path / "q.db"
    clock = FakeClock()
    with client(path, clock, session_timeout=60) as c:
        c.track("u", "A")
        clock.jump(3600)  # NTP moves the wall clock by an hour: no time has passed
        c.track("u", "B")
        clock.advance(61)
        c.track("u", "C")
        c.pipeline.wait_committed(timeout=10)
    assert sessions(path) == [
        ("A", ms(START), True),
        ("B", ms(START), False),
        ("C", ms(START + 3600 + 61), True),
    ]


def test_backgrounded_longer_than_the_timeout_starts_a_new_session_on_return(tmp_path: Path) -> None:
    """Background then foreground after more than the timeout: a new session, started by Opened."""
    path = tmp_path / "q.db"
    clock = FakeClock()
    with client(path, clock, session_timeout=60) as c:
        c.app_opened()
        c.app_backgrounded()
        clock.advance(61)
        c.app_opened(from_background=True)
        c.track("u", "After")
        c.pipeline.wait_committed(timeout=10)
    assert sessions(path) == [
        ("Application Opened", ms(START), True),
        ("Application Backgrounded", ms(START), False),
        ("Application Opened", ms(START + 61), True),
        ("After", ms(START + 61), False),
    ]


def test_backgrounded_shorter_than_the_timeout_keeps_the_session(tmp_path: Path) -> None:
    """Background then foreground within the timeout: the same session."""
    path = tmp_path / "q.db"
    clock = FakeClock()
    with client(path, clock, session_timeout=60) as c:
        c.app_opened()
        c.app_backgrounded()
        clock.advance(59)
        c.app_opened(from_background=True)
        c.pipeline.wait_committed(timeout=10)
    assert [(sid, start) for _, sid, start in sessions(path)] == [
        (ms(START), True),
        (ms(START), False),
        (ms(START), False),
    ]


def test_a_restart_within_the_timeout_continues_the_session(tmp_path: Path) -> None:
    """A new client on the same file, in the same boot, within the timeout: the same session."""
    path = tmp_path / "q.db"
    clock = FakeClock()
    with client(path, clock) as c:
        c.track("u", "Before restart")
    clock.advance(120)
    with client(path, clock) as c:
        assert c.session_id == ms(START)
        c.track("u", "After restart")
        c.pipeline.wait_committed(timeout=10)
    assert sessions(path) == [("Before restart", ms(START), True), ("After restart", ms(START), False)]


def test_a_restart_after_the_timeout_starts_a_new_session(tmp_path: Path) -> None:
    """A new client after more than the timeout (same boot): a new session."""
    path = tmp_path / "q.db"
    clock = FakeClock()
    with client(path, clock) as c:
        c.track("u", "Before restart")
    clock.advance(301)
    with client(path, clock) as c:
        c.track("u", "After restart")
        c.pipeline.wait_committed(timeout=10)
    assert sessions(path)[1] == ("After restart", ms(START + 301), True)


def test_a_reboot_starts_a_new_session(tmp_path: Path) -> None:
    """After a reboot the time between cannot be known: a new session, however short the downtime."""
    path = tmp_path / "q.db"
    clock = FakeClock()
    with client(path, clock) as c:
        c.track("u", "Before reboot")
    clock.reboot(downtime=5)
    with client(path, clock) as c:
        assert c.session_id is None
        c.track("u", "After reboot")
        c.pipeline.wait_committed(timeout=10)
    assert sessions(path)[1] == ("After reboot", ms(START + 5), True)


def test_start_session_and_end_session(tmp_path: Path) -> None:
    """start_session() begins a session (the app's id or now in ms); end_session() makes the next
    event start a new one."""
    path = tmp_path / "q.db"
    clock = FakeClock()
    with client(path, clock) as c:
        c.track("u", "A")
        clock.advance(5)
        assert c.start_session(42) == 42
        assert c.session_id == 42
        c.track("u", "B")
        c.track("u", "C")
        c.end_session()
        assert c.session_id is None
        clock.advance(5)
        c.track("u", "D")
        clock.advance(5)
        assert c.start_session() == ms(START + 15)
        c.track("u", "E")
        c.pipeline.wait_committed(timeout=10)
    assert sessions(path) == [
        ("A", ms(START), True),
        ("B", 42, True),
        ("C", 42, False),
        ("D", ms(START + 10), True),
        ("E", ms(START + 15), True),
    ]


def test_an_ended_session_stays_ended_after_a_restart(tmp_path: Path) -> None:
    """end_session() is kept: a new client within the timeout starts a new session."""
    path = tmp_path / "q.db"
    clock = FakeClock()
    with client(path, clock) as c:
        c.track("u", "A")
        c.end_session()
    clock.advance(1)
    with client(path, clock) as c:
        c.track("u", "B")
        c.pipeline.wait_committed(timeout=10)
    assert sessions(path)[1] == ("B", ms(START + 1), True)


def test_no_sessions_with_a_timeout_of_none(tmp_path: Path) -> None:
    """session_timeout=None: no sessionId or sessionStart; the session calls are a ConfigError."""
    path = tmp_path / "q.db"
    with client(path, FakeClock(), session_timeout=None) as c:
        c.track("u", "A")
        c.app_backgrounded()
        c.app_opened(from_background=True)
        assert c.session_id is None
        with pytest.raises(ConfigError):
            c.start_session()
        with pytest.raises(ConfigError):
            c.end_session()
        c.pipeline.wait_committed(timeout=10)
    assert all(sid is None and not start for _, sid, start in sessions(path))


@pytest.mark.parametrize("timeout", [0, -1, "300", True])
def test_a_bad_session_timeout_is_a_config_error(tmp_path: Path, timeout: object) -> None:
    """session_timeout must be a positive number or None."""
    with pytest.raises(ConfigError, match="session_timeout"):
        Client(path=tmp_path / "q.db", send=False, session_timeout=timeout)  # type: ignore[arg-type]


def test_segment_client_keeps_no_sessions(tmp_path: Path) -> None:
    """edgetrack.compat.SegmentClient adds no session to its events by default."""
    path = tmp_path / "q.db"
    with SegmentClient("key", send=False, path=path, clock=FakeClock()) as c:
        c.track("u", "A")
        assert c.session_id is None
        c.pipeline.wait_committed(timeout=10)
    assert sessions(path) == [("A", None, False)]
