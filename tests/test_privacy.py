"""Privacy: opt-out (kept across restarts), erasing on request (the bytes gone from the file and
its WAL), purging pending events from the API and the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from edgetrack import Client, ConfigError
from edgetrack.cli import main
from edgetrack.destinations import IntileryMobile, Parcelvoy
from edgetrack.emulator import Emulator, Fault
from edgetrack.testing import FakeClock
from tests.conftest import query

MARKER = "zq-private-marker-7f3c9e"


def rows(path: Path) -> int:
    return int(query(path, "SELECT COUNT(*) FROM events")[0][0])


def raw_bytes(path: Path) -> bytes:
    """The queue file and its WAL (if there is one), as bytes on disk."""
    found = path.read_bytes()
    wal = path.with_name(path.name + "-wal")
    if wal.exists():
        found += wal.read_bytes()
    return found


def queue_only(path: Path, clock: FakeClock | None = None) -> Client:
    """A client with two lanes that only queues."""
    return Client(
        [IntileryMobile("key"), Parcelvoy("pk_key")], path=path, send=False, clock=clock or FakeClock()
    )


def test_opted_out_calls_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    """While opted out every call returns (False, reason) and no row is written."""
    path = tmp_path / "q.db"
    with queue_only(path) as c:
        c.track("u", "Before")
        c.pipeline.wait_committed(timeout=10)
        before = rows(path)
        c.opt_out()
        assert c.opted_out is True
        results = [
            c.track("u", "E"),
            c.identify("u", {"a": 1}),
            c.page("u", name="P"),
            c.screen("u", name="S"),
            c.group("u", "g"),
            c.alias("u", "v"),
            c.track(event="No id"),
        ]
        c.app_opened()
        c.app_backgrounded()
        c.pipeline.wait_committed(timeout=10)
        for ok, reason in results:
            assert ok is False
            assert isinstance(reason, str) and "opt" in reason
        assert rows(path) == before


def test_opt_out_is_kept_across_restarts_until_opt_in(tmp_path: Path) -> None:
    """opt_out() is remembered by a new client on the same file; opt_in() records again."""
    path = tmp_path / "q.db"
    clock = FakeClock()
    with queue_only(path, clock) as c:
        c.opt_out()
        c.track("u", "E")  # the opt-out is saved with the next commit, or on its own soon
    with queue_only(path, clock) as c:
        assert c.opted_out is True
        assert c.track("u", "Still out")[0] is False
        c.opt_in()
        assert c.opted_out is False
        assert c.track("u", "Back")[0] is True
    with queue_only(path, clock) as c:
        assert c.opted_out is False
        c.pipeline.wait_committed(timeout=10)
    assert [b for (b,) in query(path, "SELECT body FROM queue") if "Still out" in b] == []
    assert len([b for (b,) in query(path, "SELECT body FROM queue") if '"Back"' in b]) == 1


def test_opt_out_without_a_prior_call_is_kept(tmp_path: Path) -> None:
    """opt_out() as the very first thing a client does is still on disk for the next client."""
    path = tmp_path / "q.db"
    clock = FakeClock()
    with queue_only(path, clock) as c:
        c.opt_out()
    with queue_only(path, clock) as c:
        assert c.opted_out is True


def test_opt_out_with_purge_erases_the_bytes_of_everything_about_the_user(
    emulator: Emulator, tmp_path: Path
) -> None:
    """opt_out(purge=True) erases pending events, dead letters, identity and the anonymous_id file:
    a marker tracked before appears nowhere in the file or its WAL."""
    path = tmp_path / "q.db"
    clock = FakeClock()
    destination = IntileryMobile(emulator.write_key, endpoint=emulator.url)
    with Client([destination], path=path, clock=clock, flush_at=10_000, flush_interval=10_000) as c:
        emulator.fail_next(Fault(400), vendor="intilery_mobile")
        c.track(MARKER + "-dead", "Refused", {"note": MARKER})
        c.flush(10)  # refused alone: dead-lettered with its body
        assert c.stats().dead_letters == 1
        c.identify(MARKER + "-user", {"email": MARKER + "@example.com"})
        emulator.set_down(True)
        for i in range(50):
            c.track(event="Pending", properties={"marker": MARKER, "i": i})
        c.pipeline.wait_committed(timeout=10)
        assert (tmp_path / "anonymous_id").exists()
        assert MARKER.encode() in raw_bytes(path)
        c.opt_out(purge=True)
        assert c.opted_out is True
        assert c.user_id is None and c.traits == {}
        assert MARKER not in c.anonymous_id
        assert c.stats().dead_letters == 0
        assert c.pending_events() == 0
        assert MARKER.encode() not in raw_bytes(path)
        assert not (tmp_path / "anonymous_id").exists()
        emulator.set_down(False)
    assert MARKER.encode() not in raw_bytes(path)
    with Client([destination], path=path, clock=clock, send=False) as again:
        assert again.opted_out is True
        assert again.user_id is None


def test_purge_pending_erases_all_lanes_or_one(tmp_path: Path) -> None:
    """purge_pending() erases every lane's pending events, or one lane's, counted as dropped["purged"]."""
    path = tmp_path / "q.db"
    with queue_only(path) as c:
        for i in range(3):
            c.track("u", "E", {"i": i})
        c.pipeline.wait_committed(timeout=10)
        assert c.purge_pending("parcelvoy") == 3
        lanes = c.stats().lanes
        assert lanes["parcelvoy"].pending == 0
        assert lanes["parcelvoy"].dropped.get("purged") == 3
        assert lanes["intilery_mobile"].pending == 3
        assert "purged" not in lanes["intilery_mobile"].dropped
        c.track("u", "F")
        assert c.purge_pending() == 4  # three for intilery_mobile, one for both: each counted once
        lanes = c.stats().lanes
        assert lanes["intilery_mobile"].dropped.get("purged") == 4
        assert lanes["parcelvoy"].dropped.get("purged") == 4
        assert c.pending_events() == 0
        assert rows(path) == 0
        assert c.purge_pending() == 0


def test_purge_pending_of_an_unknown_lane_is_a_config_error(tmp_path: Path) -> None:
    """purge_pending("nope") raises ConfigError naming the lanes, and erases nothing."""
    with queue_only(tmp_path / "q.db") as c:
        c.track("u", "E")
        c.pipeline.wait_committed(timeout=10)
        with pytest.raises(ConfigError, match="intilery_mobile"):
            c.purge_pending("nope")
        assert c.pending_events() == 1


def fill(path: Path, events: int) -> None:
    with queue_only(path) as c:
        for i in range(events):
            c.track("u", "E", {"i": i})


def test_cli_purge_says_nothing_to_purge_when_empty(tmp_path: Path) -> None:
    """`edgetrack purge` on a queue with nothing pending says so and exits 0."""
    path = tmp_path / "q.db"
    fill(path, 0)
    result = CliRunner().invoke(main, ["purge", "--db", str(path), "--yes"])
    assert result.exit_code == 0, result.output
    assert "nothing to purge" in result.output


def test_cli_purge_asks_first_and_erases_on_yes(tmp_path: Path) -> None:
    """`edgetrack purge` asks for confirmation; "n" keeps the events, "y" erases them."""
    path = tmp_path / "q.db"
    fill(path, 3)
    refused = CliRunner().invoke(main, ["purge", "--db", str(path)], input="n\n")
    assert refused.exit_code != 0
    assert "3 pending events" in refused.output
    assert rows(path) == 3
    accepted = CliRunner().invoke(main, ["purge", "--db", str(path)], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "purged 3 pending events" in accepted.output
    assert rows(path) == 0
    counted = query(path, "SELECT lane, n FROM counters WHERE name = 'dropped' AND reason = 'purged'")
    assert sorted(counted) == [("intilery_mobile", 3), ("parcelvoy", 3)]


def test_cli_purge_one_lane_with_yes(tmp_path: Path) -> None:
    """`edgetrack purge --lane NAME --yes` erases that lane's pending events only, without asking."""
    path = tmp_path / "q.db"
    fill(path, 2)
    result = CliRunner().invoke(main, ["purge", "--db", str(path), "--lane", "parcelvoy", "--yes"])
    assert result.exit_code == 0, result.output
    assert "purged 2 pending events" in result.output
    with queue_only(path) as c:
        lanes = c.stats().lanes
        assert lanes["parcelvoy"].pending == 0
        assert lanes["intilery_mobile"].pending == 2


def test_cli_purge_of_an_unknown_lane_lists_the_lanes(tmp_path: Path) -> None:
    """`edgetrack purge --lane nope` is an error that lists the queue's lanes."""
    path = tmp_path / "q.db"
    fill(path, 1)
    result = CliRunner().invoke(main, ["purge", "--db", str(path), "--lane", "nope", "--yes"])
    assert result.exit_code != 0
    assert "intilery_mobile" in result.output and "parcelvoy" in result.output
    assert rows(path) == 1
