"""The scheduler and flush policy in simulated time: a FakeClock and a RecordingSender, no threads."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgetrack import FlushPolicy, QueueLimits, RetryPolicy, Timeouts
from edgetrack.destinations import IntileryMobile
from edgetrack.envelope import Call, MessageBuilder
from edgetrack.models import Response
from edgetrack.power import PowerProbe
from edgetrack.sending import LaneSettings, Scheduler
from edgetrack.store import SQLiteStore
from edgetrack.testing import FakeClock, RecordingSender, decode_request

LIMITS = QueueLimits()


class Rig:
    """A store, one scheduler per destination and a recording sender sharing one fake clock."""

    def __init__(
        self,
        path: Path,
        destinations: list[object],
        sender: RecordingSender,
        *,
        clock: FakeClock | None = None,
        jitter: float = 0.0,
        seed: int = 1,
        retry: RetryPolicy | None = None,
        power: PowerProbe | None = None,
    ) -> None:
        self.clock = clock or FakeClock()
        self.sender = sender
        self.path = path
        names = [d.name for d in destinations]  # type: ignore[attr-defined]

        def open_store() -> SQLiteStore:
            store = SQLiteStore.open(path, clock=self.clock)
            store.ensure_lanes(names, store.now())
            return store

        self.store = open_store()
        settings = LaneSettings(
            policy=FlushPolicy(),
            retry=retry or RetryPolicy(startup_jitter=jitter),
            timeouts=Timeouts(),
            make_sender=lambda: sender,
            rng=random.Random(seed),
        )
        self.schedulers = [
            Scheduler(destination, open_store, settings, clock=self.clock, power=power)  # type: ignore[arg-type]
            for destination in destinations
        ]
        self.scheduler = self.schedulers[0]
        self.builder = MessageBuilder(
            context={"library": {"name": "edgetrack", "version": "test"}},
            anonymous_id=None,
            max_event_bytes=32_000,
        )

    def run_once(self, *, force: bool = False) -> None:
        for scheduler in self.schedulers:
            scheduler.run_once(force=force)

    def close(self) -> None:
        """Close the rig's connection and every scheduler's (they open their own)."""
        for scheduler in self.schedulers:
            scheduler.stop(0.0)
        self.store.close()

    def track(self, n: int, kind: str = "track", **props: object) -> list[str]:
        rows, ids = [], []
        for i in range(n):
            fields = {"event": "Tapped", "properties": {"i": i, **props}} if kind == "track" else {}
            msg, body, size = self.builder.build(Call(kind, fields, user_id="u1"), at=self.clock.now())
            rows.append((kind, msg["messageId"], body, size, self.store.now()))
            ids.append(msg["messageId"])
        self.store.append(rows, LIMITS)
        return ids

    def lane(self, name: str = "intilery_mobile") -> object:
        return self.store.lane_states(self.store.now(), names=(name,))[0]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path / "q.db", [IntileryMobile("key", endpoint="http://127.0.0.1:9")], RecordingSender())
    yield r
    r.close()
    r.scheduler.stop(1)


def test_idle_queue_sends_nothing_and_sets_no_deadline(rig: Rig) -> None:
    """With nothing pending, a pass sends nothing and asks for no wake-up at all."""
    assert rig.scheduler.run_once() == (None, True)
    assert rig.sender.requests == []


def test_below_flush_at_waits_until_flush_interval(rig: Rig) -> None:
    """19 events wait; the deadline is the oldest event's time plus flush_interval (30 s)."""
    start = rig.clock.now()
    rig.track(19)
    deadline, empty = rig.scheduler.run_once()
    assert rig.sender.requests == [] and not empty
    assert deadline == pytest.approx(start + 30.0)
    rig.clock.advance(29.9)
    rig.scheduler.run_once()
    assert rig.sender.requests == []
    rig.clock.advance(0.1)
    assert rig.scheduler.run_once() == (None, True)
    assert len(rig.sender.events()) == 19


def test_flush_at_sends_at_once_and_takes_every_pending_event(rig: Rig) -> None:
    """Reaching flush_at (20) uploads now, in batches within the destination's 100-event limit."""
    rig.track(250)
    assert rig.scheduler.run_once() == (None, True)
    sizes = [len(decode_request(r)["batch"]) for r in rig.sender.requests]
    assert sizes == [100, 100, 50]


def test_batches_stay_under_the_byte_limit(tmp_path: Path) -> None:
    """A batch is cut before its uncompressed JSON would pass the destination's max_bytes."""
    dest = IntileryMobile("key", endpoint="http://127.0.0.1:9", max_bytes=20_000)
    r = Rig(tmp_path / "q.db", [dest], RecordingSender())
    r.track(60, blob="x" * 1000)
    r.scheduler.run_once()
    import gzip

    lengths = [len(gzip.decompress(req.body)) for req in r.sender.requests]
    assert sum(len(decode_request(q)["batch"]) for q in r.sender.requests) == 60
    assert len(lengths) > 3 and max(lengths) <= 20_000
    r.close()


def test_batch_body_has_write_key_sent_at_and_the_events_in_order(rig: Rig) -> None:
    """The Intilery batch carries writeKey and sentAt at the root and on each item, in order."""
    ids = rig.track(20)
    rig.scheduler.run_once()
    (request,) = rig.sender.requests
    assert request.url == "http://127.0.0.1:9/cdp/events/segment/mobile/batch"
    assert request.headers["Content-Encoding"] == "gzip"
    body = decode_request(request)
    assert body["writeKey"] == "key" and body["sentAt"].endswith("Z")
    assert [e["messageId"] for e in body["batch"]] == ids
    assert all(e["writeKey"] == "key" and e["sentAt"] == body["sentAt"] for e in body["batch"])


def test_transient_failure_keeps_events_and_backs_off(rig: Rig) -> None:
    """A 500 keeps every event, sets a persisted next attempt, and the retry delivers them."""
    rig.sender.answer_next(Response(500))
    ids = rig.track(20)
    deadline, _ = rig.scheduler.run_once()
    lane = rig.lane()
    assert deadline is not None
    assert lane.pending == 20 and lane.failures == 1  # type: ignore[attr-defined]
    assert lane.next_attempt == deadline and deadline > rig.clock.now()  # type: ignore[attr-defined]
    rig.scheduler.run_once()
    assert len(rig.sender.requests) == 1  # not before the backoff ends
    rig.clock.set(deadline)
    rig.scheduler.run_once()
    sent = decode_request(rig.sender.requests[-1])
    assert [e["messageId"] for e in sent["batch"]] == ids
    assert sent["sentAt"] != decode_request(rig.sender.requests[0])["sentAt"]  # stamped per attempt


def test_backoff_grows_and_is_capped() -> None:
    """Backoff doubles from about a second and never passes the cap, with jitter in [50%, 100%]."""
    policy = RetryPolicy(backoff_base=1.0, backoff_cap=300.0)
    rng = random.Random(3)
    waits = [policy.backoff(n, rng) for n in range(1, 16)]
    assert 0.5 <= waits[0] <= 1.0
    assert 4.0 <= waits[3] <= 8.0
    assert all(w <= 300.0 for w in waits) and waits[-1] >= 150.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, 5.0), ("1", 5.0), ("7", 7.0), ("120", 120.0), ("99999", 3600.0)],
)
def test_429_pauses_the_lane_for_at_least_five_seconds(rig: Rig, header: str | None, expected: float) -> None:
    """A 429 pauses the lane for max(5 s, Retry-After), capped, and is not counted as a failure."""
    headers = {"Retry-After": header} if header else {}
    rig.sender.answer_next(Response(429, headers=headers, at=rig.clock.now()))
    rig.track(20)
    now = rig.clock.now()
    deadline, _ = rig.scheduler.run_once()
    lane = rig.lane()
    assert lane.paused_until == pytest.approx(now + expected)  # type: ignore[attr-defined]
    assert lane.pause_reason == "rate_limited" and lane.failures == 0  # type: ignore[attr-defined]
    assert deadline == pytest.approx(now + expected)
    rig.scheduler.run_once(force=True)  # even flush() does not hit the vendor early
    assert len(rig.sender.requests) == 1


def test_forced_pass_overrides_backoff_once(rig: Rig) -> None:
    """flush() tries a backing-off lane at once, but does not retry again in the same pass."""
    rig.sender.answer_next(Response(503), Response(503))
    rig.track(5)
    rig.scheduler.run_once(force=True)
    rig.scheduler.run_once(force=True)
    assert len(rig.sender.requests) == 2
    assert rig.scheduler.run_once(force=True) == (None, True)
    assert len(rig.sender.requests) == 3


def test_unsupported_calls_are_counted_as_skipped(tmp_path: Path) -> None:
    """A call type the destination lacks is skipped for that lane and counted, never sent."""
    dest = IntileryMobile("key", endpoint="http://127.0.0.1:9")
    dest.supports = frozenset({"track"})
    r = Rig(tmp_path / "q.db", [dest], RecordingSender())
    r.track(3)
    r.track(2, kind="identify")
    r.scheduler.run_once(force=True)
    assert len(r.sender.events()) == 3
    counts = r.store.counters()["intilery_mobile"]
    assert counts[("skipped", "identify")] == 2 and counts[("delivered", "")] == 3
    r.close()


def test_failure_on_one_lane_does_not_hold_another(tmp_path: Path) -> None:
    """Two destinations are independent lanes: one failing does not stop the other."""
    good = IntileryMobile("good", endpoint="http://127.0.0.1:9", name="good")
    bad = IntileryMobile("bad", endpoint="http://127.0.0.1:9", name="bad")

    def respond(request: object) -> Response:
        return Response(500 if decode_request(request)["writeKey"] == "bad" else 200)  # type: ignore[arg-type]

    r = Rig(tmp_path / "q.db", [bad, good], RecordingSender(respond=respond))
    r.track(40)
    r.run_once()
    assert r.lane("good").pending == 0  # type: ignore[attr-defined]
    assert r.lane("bad").pending == 40  # type: ignore[attr-defined]
    r.close()


def test_deadline_is_capped_against_clock_jumps(rig: Rig) -> None:
    """A far-future pause (e.g. set before the wall clock jumped back) is re-checked within an hour."""
    rig.track(20)
    rig.store.fail(
        "intilery_mobile",
        "x",
        rig.clock.now(),
        error="e",
        paused_until=rig.clock.now() + 10 * 86400,
        pause_reason="rate_limited",
    )
    deadline, _ = rig.scheduler.run_once()
    assert deadline is not None and deadline <= rig.clock.now() + 3600


def test_events_older_than_max_age_are_expired_and_counted(tmp_path: Path) -> None:
    """An event that waited longer than RetryPolicy.max_age is dead-lettered as expired, not sent."""
    r = Rig(
        tmp_path / "q.db",
        [IntileryMobile("key", endpoint="http://127.0.0.1:9")],
        RecordingSender(),
        retry=RetryPolicy(startup_jitter=0.0, max_age=3600.0),
    )
    r.track(1)
    r.clock.advance(3601)
    r.track(1)
    r.scheduler.run_once(force=True)
    assert len(r.sender.events()) == 1
    counts = r.store.counters()["intilery_mobile"]
    assert counts[("dead", "max_age")] == 1 and counts[("delivered", "")] == 1
    assert [d.reason for d in r.store.dead_letters()] == ["max_age"]
    r.close()


def test_a_batch_the_server_keeps_failing_is_narrowed_then_dead_lettered(tmp_path: Path) -> None:
    """After max_attempts/2 server errors the head event goes alone; at max_attempts it is dead-lettered."""
    sender = RecordingSender(respond=lambda request: Response(500))
    r = Rig(
        tmp_path / "q.db",
        [IntileryMobile("key", endpoint="http://127.0.0.1:9")],
        sender,
        retry=RetryPolicy(startup_jitter=0.0, max_attempts=6),
    )
    r.track(5)
    for _ in range(6):
        r.scheduler.run_once(force=True)
    sizes = [len(decode_request(q)["batch"]) for q in sender.requests]
    assert sizes == [5, 5, 5, 1, 1, 1, 4]  # then the lane goes on with the rest, at full size
    assert [d.reason for d in r.store.dead_letters()] == ["max_attempts"]
    assert r.lane().pending == 4  # type: ignore[attr-defined]
    r.close()


def test_network_errors_never_count_toward_giving_up(tmp_path: Path) -> None:
    """An offline device (connection errors) keeps its events however many attempts fail."""
    sender = RecordingSender(respond=lambda request: Response(0, error="ConnectionError: refused"))
    r = Rig(
        tmp_path / "q.db",
        [IntileryMobile("key", endpoint="http://127.0.0.1:9")],
        sender,
        retry=RetryPolicy(startup_jitter=0.0, max_attempts=2),
    )
    r.track(3)
    for _ in range(10):
        r.scheduler.run_once(force=True)
    assert r.store.dead_letters() == [] and r.lane().pending == 3  # type: ignore[attr-defined]
    assert all(len(decode_request(q)["batch"]) == 3 for q in sender.requests)
    r.close()


def test_a_fleet_starting_together_spreads_its_first_uploads(tmp_path: Path) -> None:
    """100 kiosks powering up with a backlog do not all upload in the same second (start-up jitter)."""
    clock = FakeClock()
    first_upload: list[float] = []
    for n in range(100):
        sender = RecordingSender()
        r = Rig(
            tmp_path / f"q{n}.db",
            [IntileryMobile("key", endpoint="http://127.0.0.1:9")],
            sender,
            clock=clock,
            jitter=10.0,
            seed=n,
        )
        r.track(25)
        start = clock.now()
        for second in range(12):
            clock.set(start + second)
            r.scheduler.run_once()
            if sender.requests:
                first_upload.append(second)
                break
        r.close()
    assert len(first_upload) == 100
    per_second = [first_upload.count(s) for s in range(12)]
    assert max(per_second) <= 20  # without jitter all 100 would land in second 0
    assert len([s for s in per_second if s]) >= 8


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    """The bucket lets `burst` requests through at once, then one every 1/rate seconds."""
    from edgetrack.sending import TokenBucket

    bucket = TokenBucket(10.0, 3, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.1)
    assert bucket.take(0.1) == 0.0
    assert bucket.wait_time(100.0) == 0.0 and bucket.take(100.0) == 0.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [("7", 7.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 60.0), ("garbage", None), (None, None)],
)
def test_retry_after_is_read_as_seconds_or_http_date(header: str | None, expected: float | None) -> None:
    """Retry-After may be delta-seconds or an HTTP-date (relative to when the response came)."""
    import email.utils

    from edgetrack.retry import parse_retry_after

    now = email.utils.parsedate_to_datetime("Wed, 21 Oct 2015 07:27:00 GMT").timestamp()
    assert parse_retry_after(header, now) == expected


@pytest.mark.parametrize(
    ("kind", "retry_after", "action", "low", "high"),
    [
        ("ack", None, "ack", 0.0, 0.0),
        ("rate_limited", None, "pause", 5.0, 5.0),
        ("rate_limited", 30.0, "pause", 30.0, 30.0),
        ("rate_limited", 1e9, "pause", 3600.0, 3600.0),
        ("auth", None, "pause", 120.0, 120.0),
        ("transient", None, "backoff", 1.0, 2.0),
        ("rejected", None, "backoff", 1.0, 2.0),
    ],
)
def test_retry_policy_table(
    kind: str, retry_after: float | None, action: str, low: float, high: float
) -> None:
    """The policy maps each outcome (2nd failure) to ack / pause / backoff with the documented waits."""
    from edgetrack.models import Outcome, OutcomeKind

    decision = RetryPolicy().decide(Outcome(OutcomeKind(kind), "", retry_after), 2, random.Random(0))
    assert decision.action == action and low <= decision.delay <= high


def test_a_mapped_body_over_max_bytes_is_split_before_it_is_sent(tmp_path: Path) -> None:
    """If a destination's encoded body is over its max_bytes, the batch is halved without a request."""

    class Padded(IntileryMobile):
        def encode(self, events, *, sent_at):  # type: ignore[no-untyped-def]
            request = super().encode(events, sent_at=sent_at)
            return type(request)(
                request.method,
                request.url,
                request.headers,
                request.body + b" " * (400 * len(events)),
                events=len(events),
            )

    dest = Padded("key", endpoint="http://127.0.0.1:9", max_bytes=2_000)
    r = Rig(tmp_path / "q.db", [dest], RecordingSender())
    r.track(4)
    r.scheduler.run_once(force=True)
    assert [q.events for q in r.sender.requests] == [2, 2]
    assert r.store.counters()["intilery_mobile"][("split", "too_large")] == 1
    r.close()
