"""The queue store contract, run against every store implementation, plus SQLite file specifics.

The contract tests take the ``store`` / ``open_store`` fixtures, typed as ``QueueStore`` (so
mypy holds them to the protocol), and run once per entry of ``STORES`` (as huey runs its storage
tests on each backend). The tests at the end open ``SQLiteStore`` itself: its file on disk."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edgetrack import QueueLimits, StorageError
from edgetrack.store import SCHEMA_VERSION, Claim, QueueStore, SQLiteStore

LIMITS = QueueLimits()
T0 = 1_700_000_000.0
LEASE = 30.0

OpenStore = Callable[[Path], QueueStore]
STORES = [pytest.param(SQLiteStore.open, id="sqlite")]


def rows(start: int, count: int) -> list[tuple[str, str, str, int, float]]:
    """Rows numbered ``start`` .. ``start + count - 1``; the body says the number."""
    out = []
    for n in range(start, start + count):
        body = json.dumps({"n": n})
        out.append(("track", f"m{n}", body, len(body), T0 + n))
    return out


def numbers(events: object) -> list[int]:
    return [json.loads(e.body)["n"] for e in events]  # type: ignore[attr-defined]


@pytest.fixture(params=STORES)
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., QueueStore]]:
    opened: list[QueueStore] = []

    def _open(path: Path | None = None) -> QueueStore:
        opener: OpenStore = request.param
        store = opener(path or tmp_path / "queue.db")
        opened.append(store)
        return store

    yield _open
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[..., QueueStore]) -> QueueStore:
    return open_store()


def claim(
    store: QueueStore,
    lane: str,
    *,
    owner: str = "w1",
    now: float = T0,
    max_events: int = 100,
    max_bytes: int = 1_000_000,
    overhead: int = 1,
) -> Claim | None:
    return store.claim(
        lane, owner, now, lease=LEASE, max_events=max_events, max_bytes=max_bytes, overhead=overhead
    )


def deliver(store: QueueStore, lane: str, *, now: float = T0, max_events: int = 100) -> list[int]:
    """Claim and complete one batch; return the numbers delivered."""
    got = claim(store, lane, now=now, max_events=max_events)
    assert got is not None
    store.complete(got, "w1", now, counts={("sent", ""): len(got.events)})
    return numbers(got.events)


def pending(store: QueueStore, now: float = T0) -> dict[str, int]:
    return {state.name: state.pending for state in store.lane_states(now)}


# -- lanes and claims ---------------------------------------------------------------------------


def test_new_lane_starts_after_existing_events(store: QueueStore) -> None:
    """A lane added later sees only events appended after it was created."""
    store.ensure_lanes(["a"], T0)
    store.append(rows(1, 3), LIMITS)
    store.ensure_lanes(["a", "b"], T0)
    assert claim(store, "b") is None
    store.append(rows(4, 2), LIMITS)
    assert pending(store) == {"a": 5, "b": 2}
    assert deliver(store, "b") == [4, 5]
    assert deliver(store, "a") == [1, 2, 3, 4, 5]


def test_ensure_lanes_keeps_existing_cursors(store: QueueStore) -> None:
    """ensure_lanes on an existing lane does not move its cursor."""
    store.ensure_lanes(["a"], T0)
    store.append(rows(1, 2), LIMITS)
    store.ensure_lanes(["a"], T0 + 1)
    assert deliver(store, "a") == [1, 2]


def test_claim_returns_oldest_first_up_to_max_events(store: QueueStore) -> None:
    """claim() leases the oldest pending events in order, at most max_events of them."""
    store.ensure_lanes(["a"], T0)
    store.append(rows(1, 5), LIMITS)
    got = claim(store, "a", max_events=3)
    assert got is not None
    assert got.lane == "a"
    assert numbers(got.events) == [1, 2, 3]
    assert [e.message_id for e in got.events] == ["m1", "m2", "m3"]
    assert [e.created for e in got.events] == [T0 + 1, T0 + 2, T0 + 3]
    assert got.hi == got.events[-1].id


def test_claim_stays_within_max_bytes(store: QueueStore) -> None:
    """claim() stops before the events' sizes plus per-event overhead would pass max_bytes."""
    store.ensure_lanes(["a"], T0)
    store.append(rows(1, 5), LIMITS)
    size = rows(1, 1)[0][3]
    got = claim(store, "a", max_bytes=3 * (size + 2) + 1, overhead=2)
    assert got is not None
    assert numbers(got.events) == [1, 2, 3]


def test_claim_takes_an_oversized_event_alone(store: QueueStore) -> None:
    """An event bigger than max_bytes is claimed on its own, so the lane cannot stall."""
    store.ensure_lanes(["a"], T0)
    store.append(rows(1, 2), LIMITS)
    got = claim(store, "a", max_bytes=1)
    assert got is not None
    assert numbers(got.events) == [1]


def test_claim_returns_none_when_nothing_is_pending(store: QueueStore) -> None:
    """claim() on an empty lane or an unknown lane returns None."""
    store.ensure_lanes(["a"], T0)
    assert claim(store, "a") is None
    store.append(rows(1, 1), LIMITS)
    assert claim(store, "nope") is None


def test_claim_respects_another_owners_live_lease(store: QueueStore) -> None:
    """While one owner's lease is live another owner gets nothing; once it expires it takes over."""
    store.ensure_lanes(["a"], T0)
    store.append(rows(1, 3), LIMITS)
    first = claim(store, "a", owner="w1", now=T0)
    assert first is not None
    assert claim(store, "a", owner="w2", now=T0 + LEASE - 1) is None
    (state,) = store.lane_states(T0 + 1)
    assert (state.lease_owner, state.in_flight) == ("w1", 3)
    taken = claim(store, "a", owner="w2", now=T0 + LEASE)
    assert taken is not None
    assert numbers(taken.events) == [1, 2, 3]
    (state,) = store.lane_states(T0 + LEASE + 1)
    assert state.lease_owner == "w2"


def test_lease_holder_can_claim_again(store: QueueStore) -> None:
    """The owner of a live lease may claim again (for example after a restart of its loop)."""
    store.ensure_lanes(["a"], T0)
    store.append(rows(1, 2), LIMITS)
    assert claim(store, "a", owner="w1") is not None
    again = claim(store, "a", owner="w1", now=T0 + 1)
    assert again is not None
    assert numbers(again.events) == [1, 2]


# -- completing ---------------------------------------------------------------------------------


def test_complete_advances_cursor_and_deletes_done_events(store: QueueStore) -> None:
    """complete() moves the lane past the claim and deletes events no lane still needs."""
    store.ensure_lanes(["a"], T0)
    store.append(rows(1, 5), LIMITS)
    total_bytes = sum(r[3] for r in rows(1, 5))
    assert store.totals() == (5, total_bytes)
    assert deliver(store, "a", max_events=3) == [1, 2, 3]
    assert store.totals() == (2, sum(r[3] for r in rows(4, 2)))
    assert numbers(store.peek("a")) == [4, 5]
    assert deliver(store, "a") == [4, 5]
    assert store.totals() == (0, 0)
    assert claim(store, "a") is None


def test_events_stay_until_every_lane_is_done(store: QueueStore) -> None:
    """An event delivered by one lane stays on disk until the other lane has it too."""
    store.ensure_lanes(["a", "b"], T0)
    store.append(rows(1, 3), LIMITS)
    deliver(store, "a")
    assert store.totals()[0] == 3
    assert deliver(store, "b", max_events=2) == [1, 2]
    assert store.totals()[0] == 1
    deliver(store, "b")
    assert store.totals() == (0, 0)


def test_complete_releases_the_lease_and_counts(store: QueueStore) -> None:
    """complete() releases the owner's lease and adds its counts to the lane's counters."""
    store.ensure_lanes(["a"], T0)
    store.append(rows(1, 2), LIMITS)
    got = claim(store, "a")
    assert got is not None
    store.complete(got, "w1", T0, counts={("sent", ""): 2})
    (state,) = store.lane_states(T0)
    assert (state.lease_owner, state.in_flight, state.pending) == (None, 0, 0)
    assert store.counters() == {"a": {("sent", ""): 2}}


def test_two_lanes_progress_independently(store: QueueStore) -> None:
    """Each lane has its own cursor: one lane's progress does not move the other."""
    store.ensure_lanes(["a", "b"], T0)
    store.append(rows(1, 5), LIMITS)
    assert deliver(store, "a", max_events=2) == [1, 2]
    assert pending(store) == {"a": 3, "b": 5}
    assert numbers(store.peek("b")) == [1, 2, 3, 4, 5]
    assert deliver(store, "b", max_events=4) == [1, 2, 3, 4]
    assert deliver(store, "a") == [3, 4, 5]
    assert pending(store) == {"a": 0, "b": 1}
    assert store.counters() == {"a": {("sent", ""): 5}, "b": {("sent", ""): 4}}


def test_a_lease_on_one_lane_does_not_block_another(store: QueueStore) -> None:
    """A live lease on one lane leaves other lanes claimable by other owners."""
    store.ensure_lanes(["a", "b"], T0)
    store.append(rows(1, 2), LIMITS)
    assert claim(store, "a", owner="w1") is not None
    other = claim(store, "b", owner="w2")
    assert other is not None
    assert numbers(other.events) == [1, 2]


# -- failing ------------------------------------------------------------------------------------


def test_fail_keeps_events_and_records_backoff(store: QueueStore) -> None:
    """fail() keeps the events, releases the lease and records next_attempt, pause and last_error."""
    store.ensure_lanes(["a"], T0)
    store.append(rows(1, 3), LIMITS)
    got = claim(store, "a")
    assert got is not None
    store.fail(
        "a",
        "w1",
        T0,
        error="HTTP 429",
        next_attempt=T0 + 10,
        paused_until=T0 + 60,
        pause_reason="rate_limited",
        counts={("failed", "rate_limited"): 1},
    )
    (state,) = store.lane_states(T0)
    assert state.pending == 3
    assert state.next_attempt == T0 + 10
    assert state.paused_until == T0 + 60
    assert state.pause_reason == "rate_limited"
    assert state.failures == 1
    assert state.last_error == "HTTP 429"
    assert state.lease_owner is None
    assert store.totals()[0] == 3
    assert store.counters() == {"a": {("failed", "rate_limited"): 1}}
    again = claim(store, "a", owner="w2")
    assert again is not None
    assert numbers(again.events) == [1, 2, 3]


def test_failures_accumulate_and_complete_resets_them(store: QueueStore) -> None:
    """Each counted fail() adds a failure; a later complete() clears failures and next_attempt."""
    store.ensure_lanes(["a"], T0)
    store.append(rows(1, 1), LIMITS)
    store.fail("a", "w1", T0, error="boom", next_attempt=T0 + 1)
    store.fail("a", "w1", T0 + 1, error="boom again", next_attempt=T0 + 3)
    store.fail("a", "w1", T0 + 3, error="not counted", next_attempt=T0 + 4, count_failure=False)
    (state,) = store.lane_states(T0 + 3)
    assert (state.failures, state.last_error) == (2, "not counted")
    deliver(store, "a", now=T0 + 4)
    (state,) = store.lane_states(T0 + 4)
    assert (state.failures, state.next_attempt) == (0, None)


# -- caps ---------------------------------------------------------------------------------------


def test_appending_past_max_events_drops_oldest_and_counts_per_lane(store: QueueStore) -> None:
    """Past max_events the oldest events go; each lane counts only the ones it had not yet done."""
    limits = QueueLimits(max_events=5)
    store.ensure_lanes(["a", "b"], T0)
    store.append(rows(1, 4), limits)
    assert deliver(store, "a", max_events=2) == [1, 2]
    before = pending(store)
    dropped = store.append(rows(5, 3), limits)  # 7 events now, cap 5
    events, _ = store.totals()
    assert events <= limits.max_events
    kept = numbers(store.peek("b", limit=100))
    assert kept == list(range(8 - len(kept), 8))  # the newest, in order
    assert {5, 6, 7} <= set(kept)
    after = pending(store)
    lost = {lane: before[lane] + 3 - after[lane] for lane in ("a", "b")}
    assert lost["b"] == 7 - len(kept)
    assert lost["a"] == max(0, lost["b"] - 2)
    assert dropped == {lane: n for lane, n in lost.items() if n}
    counters = store.counters()
    for lane, n in lost.items():
        assert counters.get(lane, {}).get(("dropped", "queue_full"), 0) == n


def test_appending_past_max_bytes_drops_oldest(store: QueueStore) -> None:
    """Past max_bytes the oldest events go until the queue fits, and the drops are counted."""
    size = rows(1, 1)[0][3]
    limits = QueueLimits(max_bytes=4 * size, max_event_bytes=size)
    store.ensure_lanes(["a"], T0)
    store.append(rows(1, 4), limits)
    assert store.totals() == (4, 4 * size)
    store.append(rows(5, 2), limits)
    events, used = store.totals()
    assert used <= limits.max_bytes
    kept = numbers(store.peek("a"))
    assert kept == list(range(7 - events, 7))
    assert store.counters()["a"][("dropped", "queue_full")] == 6 - events


def test_a_cap_of_one_keeps_the_newest_event(store: QueueStore) -> None:
    """With max_events=1, appending a second event drops the first and keeps the new one."""
    limits = QueueLimits(max_events=1)
    store.ensure_lanes(["a"], T0)
    store.append(rows(1, 1), limits)
    store.append(rows(2, 1), limits)
    assert numbers(store.peek("a")) == [2]
    assert store.counters()["a"][("dropped", "queue_full")] == 1


# -- dead letters -------------------------------------------------------------------------------


def kill(store: QueueStore, lane: str, *, now: float = T0, max_dead_letters: int = 1000) -> list[int]:
    """Claim a lane's pending events and dead-letter all of them; return their numbers."""
    got = claim(store, lane, now=now)
    assert got is not None
    store.complete(
        got,
        "w1",
        now,
        counts={("dead", "rejected"): len(got.events)},
        dead=[(event, "rejected", f"HTTP 400 for {event.message_id}") for event in got.events],
        max_dead_letters=max_dead_letters,
    )
    return numbers(got.events)


def test_dead_letters_are_stored_and_listed(store: QueueStore) -> None:
    """complete(dead=...) moves the lane past the events and keeps them, with the reason, as dead letters."""
    store.ensure_lanes(["a", "b"], T0)
    store.append(rows(1, 2), LIMITS)
    kill(store, "a", now=T0 + 5)
    assert claim(store, "a") is None
    letters = store.dead_letters()
    assert [(d.lane, d.message_id, d.reason) for d in letters] == [
        ("a", "m1", "rejected"),
        ("a", "m2", "rejected"),
    ]
    assert letters[0].detail == "HTTP 400 for m1"
    assert json.loads(letters[0].body) == {"n": 1}
    assert letters[0].created == T0 + 1
    assert letters[0].dead_at == T0 + 5
    assert store.dead_letters(lane="b") == []
    assert store.dead_letters(lane="a", limit=1) == letters[:1]
    assert store.counters()["a"] == {("dead", "rejected"): 2}


def test_dead_letters_are_bounded_per_lane(store: QueueStore) -> None:
    """Past max_dead_letters a lane keeps only its newest dead letters; other lanes keep theirs."""
    store.ensure_lanes(["a", "b"], T0)
    store.append(rows(1, 3), LIMITS)
    kill(store, "b", max_dead_letters=2)
    assert numbers(store.dead_letters(lane="b")) == [2, 3]
    store.append(rows(4, 2), LIMITS)
    kill(store, "a", max_dead_letters=4)  # a gives up on 1..5
    assert numbers(store.dead_letters(lane="a")) == [2, 3, 4, 5]
    assert numbers(store.dead_letters(lane="b")) == [2, 3]


def test_requeued_dead_letters_go_back_to_their_own_lane_only(store: QueueStore) -> None:
    """requeue_dead() puts letters back for their lane; the other lane does not see them."""
    store.ensure_lanes(["a", "b"], T0)
    store.append(rows(1, 2), LIMITS)
    deliver(store, "b")
    kill(store, "a")
    assert store.requeue_dead(lane="a") == 2
    assert store.dead_letters() == []
    assert claim(store, "b") is None
    assert pending(store) == {"a": 2, "b": 0}
    again = claim(store, "a")
    assert again is not None
    assert numbers(again.events) == [1, 2]
    assert [e.message_id for e in again.events] == ["m1", "m2"]
    store.append(rows(3, 1), LIMITS)
    assert deliver(store, "b") == [3]


def test_requeued_dead_letter_is_deleted_once_delivered(store: QueueStore) -> None:
    """Once its lane delivers a requeued dead letter nothing is left on disk or pending anywhere."""
    store.ensure_lanes(["a", "b"], T0)
    store.append(rows(1, 1), LIMITS)
    deliver(store, "b")
    kill(store, "a")
    store.requeue_dead(lane="a")
    assert deliver(store, "a") == [1]
    assert pending(store) == {"a": 0, "b": 0}
    assert store.peek() == []
    assert store.totals() == (0, 0)


def test_requeue_and_purge_by_id(store: QueueStore) -> None:
    """requeue_dead(ids) and purge_dead(ids) act on the named letters only and return how many."""
    store.ensure_lanes(["a"], T0)
    store.append(rows(1, 3), LIMITS)
    kill(store, "a")
    first, second, third = store.dead_letters()
    assert store.requeue_dead([second.id]) == 1
    assert store.purge_dead([first.id]) == 1
    assert store.dead_letters() == [third]
    assert store.requeue_dead([]) == 0
    assert store.purge_dead([]) == 0
    assert deliver(store, "a") == [2]


def test_purge_dead_removes_letters_and_leaves_the_queue(store: QueueStore) -> None:
    """purge_dead() deletes dead letters (all, or one lane's) without touching queued events."""
    store.ensure_lanes(["a", "b"], T0)
    store.append(rows(1, 2), LIMITS)
    kill(store, "a")
    kill(store, "b")
    store.append(rows(3, 1), LIMITS)
    assert store.purge_dead(lane="b") == 2
    assert [d.lane for d in store.dead_letters()] == ["a", "a"]
    assert store.purge_dead() == 2
    assert store.dead_letters() == []
    assert store.totals()[0] == 1
    assert pending(store) == {"a": 1, "b": 1}


# -- the SQLite file ----------------------------------------------------------------------------


def test_queue_file_and_folder_are_owner_only(tmp_path: Path) -> None:
    """A new queue file is created 0600 in a new 0700 folder, even under a permissive umask."""
    path = tmp_path / "data" / "queue.db"
    old_umask = os.umask(0o022)
    try:
        store = SQLiteStore.open(path)
        try:
            store.ensure_lanes(["a"], T0)
            store.append(rows(1, 1), LIMITS)
            for file in path.parent.iterdir():
                assert stat.S_IMODE(file.stat().st_mode) == 0o600, file.name
        finally:
            store.close()
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def schema_version(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
    finally:
        conn.close()


def test_migration_records_schema_version_and_reopening_is_idempotent(tmp_path: Path) -> None:
    """Opening records meta.schema_version; reopening keeps the version and the queued data."""
    path = tmp_path / "queue.db"
    store = SQLiteStore.open(path)
    store.ensure_lanes(["a"], T0)
    store.append(rows(1, 2), LIMITS)
    store.close()
    assert schema_version(path) == str(SCHEMA_VERSION)
    for _ in range(2):
        store = SQLiteStore.open(path)
        try:
            assert store.totals()[0] == 2
            assert numbers(store.peek("a")) == [1, 2]
        finally:
            store.close()
    assert schema_version(path) == str(SCHEMA_VERSION)


def test_newer_schema_version_raises_storage_error(tmp_path: Path) -> None:
    """A file written by a newer edgetrack raises StorageError and is left as it was."""
    path = tmp_path / "queue.db"
    SQLiteStore.open(path).close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    conn.close()
    with pytest.raises(StorageError, match="schema version"):
        SQLiteStore.open(path)
    assert schema_version(path) == str(SCHEMA_VERSION + 1)


def test_corrupt_file_raises_storage_error(tmp_path: Path) -> None:
    """A file that is not an SQLite database raises StorageError, not a raw sqlite3 error."""
    path = tmp_path / "queue.db"
    path.write_bytes(b"this is not an sqlite database " * 200)
    with pytest.raises(StorageError):
        SQLiteStore.open(path)
