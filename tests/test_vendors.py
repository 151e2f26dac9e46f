"""Every vendor end to end: Client -> real loopback HTTP -> the emulator, including failures."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from edgetrack import Client, Timeouts
from edgetrack.destinations import BatchCom, Encharge, IntileryEvents, IntileryMobile, Parcelvoy, Segment
from edgetrack.destinations.base import BaseDestination
from edgetrack.emulator import Emulator, Fault

Factory = Callable[[Emulator, str | None], BaseDestination]

VENDORS: dict[str, Factory] = {
    "intilery_mobile": lambda e, k: IntileryMobile(k or e.write_key, endpoint=e.url),
    "intilery_events": lambda e, k: IntileryEvents(
        e.intilery_client_id,
        e.intilery_account_id,
        e.intilery_brand_id,
        k or e.intilery_token,
        endpoint=e.url,
    ),
    "parcelvoy": lambda e, k: Parcelvoy(k or e.parcelvoy_key, endpoint=e.url),
    "encharge": lambda e, k: Encharge(k or e.encharge_key, endpoint=e.url),
    "batch_com": lambda e, k: BatchCom(e.batch_api_key, k or e.batch_rest_key, endpoint=e.url),
    "segment": lambda e, k: Segment(k or e.segment_write_key, endpoint=e.url),
}
SUPPORTED = {
    "intilery_mobile": {"track", "identify", "page", "screen", "alias", "group"},
    "intilery_events": {"track", "identify", "page", "screen"},
    "parcelvoy": {"track", "identify", "page", "screen", "alias", "device"},
    "encharge": {"track", "identify", "page", "screen", "alias", "group"},
    "batch_com": {"track"},
    "segment": {"track", "identify", "page", "screen", "alias", "group"},
}


def every_call(client: Client) -> None:
    client.identify("u1", {"email": "ann@example.com", "plan": "pro"})
    client.track("u1", "Order Completed", {"revenue": 19.5, "label": "shoes"})
    client.page("u1", None, "Pricing", {"path": "/pricing"})
    client.screen("u1", name="Menu")
    client.alias("anon-1", "u1")
    client.group("u1", "acme", {"name": "Acme"})
    client.register_device("u1", "device-1", "push-token")


@pytest.mark.parametrize("vendor", sorted(VENDORS))
def test_every_call_reaches_the_vendor_or_is_counted_as_skipped(
    emulator: Emulator, tmp_path: Path, vendor: str
) -> None:
    """Each supported call arrives, accepted by the vendor's emulator; the rest are counted skipped."""
    with Client([VENDORS[vendor](emulator, None)], path=tmp_path / "q.db") as client:
        every_call(client)
        assert client.flush(10) is True
        lane = client.stats().lanes[vendor]
    calls = {"identify", "track", "page", "screen", "alias", "group", "device"}
    assert set(lane.skipped) == calls - SUPPORTED[vendor]
    assert lane.delivered == len(SUPPORTED[vendor])
    assert lane.pending == 0 and not lane.dead_lettered
    assert len(emulator.events(vendor)) == len(SUPPORTED[vendor])


@pytest.mark.parametrize("vendor", sorted(VENDORS))
def test_a_wrong_key_pauses_the_lane_and_a_fixed_key_delivers_the_backlog(
    tmp_path: Path, vendor: str
) -> None:
    """An auth failure pauses the lane, events kept; a client with the right key sends them.
    (Segment itself answers a wrong key with 200 and drops the events, which no SDK can see;
    the Segment lane is checked against a strict collector that answers 401, as RudderStack does.)"""
    with Emulator(segment_strict=True) as emulator:
        with Client([VENDORS[vendor](emulator, "wrong-key")], path=tmp_path / "q.db") as client:
            client.track("u1", "Order Completed", {"revenue": 1})
            assert client.flush(5) is False
            lane = client.stats().lanes[vendor]
        assert lane.pause_reason == "auth" and lane.pending == 1
        assert emulator.events(vendor) == []
        with Client([VENDORS[vendor](emulator, None)], path=tmp_path / "q.db") as client:
            assert client.flush(10) is True
        assert [e.get("event") or e.get("name") for e in emulator.events(vendor)] in (
            [["Order Completed"]][0],
            ["order_completed"],
        )


def test_parcelvoy_validation_error_dead_letters_only_the_bad_event(
    emulator: Emulator, tmp_path: Path
) -> None:
    """A 422 dead-letters that identify with the server's message; the rest arrive. (A timezone
    trait that is not an IANA name, the 422 the real server gives most, is kept in data instead.)"""
    refusal = b'{"status": "error", "error": "The value of `email` must be a string."}'
    emulator.fail_next(Fault(422, body=refusal), vendor="parcelvoy")
    with Client([VENDORS["parcelvoy"](emulator, None)], path=tmp_path / "q.db") as client:
        client.identify("u1", {"email": "ann@example.com"})
        client.identify("u1", {"timezone": "Mars/Olympus_Mons"})
        client.track("u1", "After")
        assert client.flush(10) is False  # not every event was delivered: one was dead-lettered
        lane = client.stats().lanes["parcelvoy"]
        (letter,) = client.dead_letters()
    assert lane.dead_lettered == {"rejected": 1} and "must be a string" in letter.detail
    identify = emulator.events("parcelvoy")[0]
    assert identify["data"] == {"timezone": "Mars/Olympus_Mons"} and "timezone" not in identify
    assert [e.get("name") for e in emulator.events("parcelvoy")[1:]] == ["After"]


def test_batch_validation_error_is_dead_lettered_with_the_code(tmp_path: Path) -> None:
    """Batch.com's 400 (code 31, a name its rules refuse) dead-letters the event with the server's reason."""
    with Emulator(batch_name_pattern=r"^ue\.[a-z0-9_]{1,30}$") as emu:
        with Client([VENDORS["batch_com"](emu, None)], path=tmp_path / "q.db") as client:
            client.track("u1", "Order Completed")
            client.track("u1", "ue.order_completed")
            assert client.flush(10) is False  # not every event was delivered: one was dead-lettered
            lane = client.stats().lanes["batch_com"]
            dead = client.dead_letters()
        assert lane.dead_lettered == {"rejected": 1} and lane.delivered == 1
        assert '"error_code": 31' in dead[0].detail or "31" in dead[0].detail


@pytest.mark.parametrize("vendor", ["intilery_events", "encharge", "segment"])
def test_scripted_validation_error_on_a_single_event_is_dead_lettered(
    emulator: Emulator, tmp_path: Path, vendor: str
) -> None:
    """A 400 on a one-event request dead-letters that event with the server's message; the lane goes on."""
    emulator.fail_next(
        Fault(400, b'{"success": false, "message": "userId must not be empty"}'), vendor=vendor
    )
    with Client([VENDORS[vendor](emulator, None)], path=tmp_path / "q.db", flush_at=1) as client:
        client.track("u1", "First")
        assert client.flush(10) is False  # not every event was delivered: one was dead-lettered
        client.track("u1", "Second")
        assert client.flush(10) is True
        lane = client.stats().lanes[vendor]
    assert lane.dead_lettered == {"rejected": 1} and lane.delivered == 1


@pytest.mark.parametrize(
    ("vendor", "settings"),
    [
        ("intilery_mobile", {"max_body": 5_000}),
        ("intilery_events", {"intilery_max_body": 5_000}),
        ("parcelvoy", {"parcelvoy_max_body": 5_000}),
        ("encharge", {"encharge_max_body": 5_000}),
        ("segment", {"segment_max_body": 5_000}),
    ],
)
def test_an_event_over_the_vendor_size_limit_is_dead_lettered(
    tmp_path: Path, vendor: str, settings: dict[str, Any]
) -> None:
    """A single event over the vendor's body limit (413, or Parcelvoy's 400) is dead-lettered as too large."""
    with Emulator(**settings) as emu:
        with Client([VENDORS[vendor](emu, None)], path=tmp_path / "q.db") as client:
            client.track("u1", "Big", {"blob": "x" * 8_000})
            client.track("u1", "Small")
            assert client.flush(10) is False  # not every event was delivered: one was dead-lettered
            lane = client.stats().lanes[vendor]
        assert sum(lane.dead_lettered.values()) == 1 and lane.delivered == 1


def test_fan_out_one_destination_down_does_not_hold_the_other(tmp_path: Path) -> None:
    """Two destinations, one hanging past its timeout: the other gets everything; the first catches up."""
    with Emulator() as emu:
        emu.fail_next(Fault(200, delay=2.0), times=50, vendor="parcelvoy")
        client = Client(
            [VENDORS["segment"](emu, None), VENDORS["parcelvoy"](emu, None)],
            path=tmp_path / "q.db",
            timeouts=Timeouts(connect=0.5, read=0.5),
        )
        for n in range(30):
            client.track("u1", "E", {"n": n})
        assert client.pipeline.wait_committed(timeout=10)  # the scheduler's flush sends what is on disk
        segment_lane = client.lanes()[0]
        ticket = segment_lane.request_flush()
        assert segment_lane.wait_flush(ticket, time.monotonic() + 5) is True  # segment's lane alone
        assert len(emu.events("segment")) == 30 and emu.events("parcelvoy") == []
        assert client.stats().lanes["parcelvoy"].pending == 30
        emu.clear_faults()
        assert client.flush(15) is True
        assert sorted(e["data"]["n"] for e in emu.events("parcelvoy")) == list(range(30))
        client.shutdown(1)


def test_batch_over_the_size_limit_is_split_until_it_fits(tmp_path: Path) -> None:
    """A 413 on a 200-event Batch.com request splits it in halves until each part fits: all delivered once."""
    with Emulator(batch_max_body=6_000) as emu:
        with Client([VENDORS["batch_com"](emu, None)], path=tmp_path / "q.db") as client:
            for n in range(200):
                client.track("u1", "Viewed", {"n": n})
            assert client.flush(20) is True
            lane = client.stats().lanes["batch_com"]
        received = [e["attributes"]["n"] for e in emu.events("batch_com")]
    assert sorted(received) == list(range(200)) and len(received) == 200
    assert lane.delivered == 200 and not lane.dead_lettered


def test_one_poisoned_event_in_a_batch_is_isolated(tmp_path: Path) -> None:
    """A 400 for one bad event among 50 bisects the batch: 49 delivered, the bad one dead-lettered."""
    with Emulator(batch_name_pattern=r"^(?!poison)[a-z0-9_]{1,30}$") as emu:
        with Client([VENDORS["batch_com"](emu, None)], path=tmp_path / "q.db") as client:
            for n in range(50):
                client.track("u1", "poison" if n == 17 else "ok", {"n": n})
            assert client.flush(20) is False  # not every event was delivered: one was dead-lettered
            lane = client.stats().lanes["batch_com"]
        received = [e["attributes"]["n"] for e in emu.events("batch_com")]
        requests = emu.requests
    assert sorted(received) == [n for n in range(50) if n != 17]
    assert lane.dead_lettered == {"rejected": 1} and lane.delivered == 49
    assert requests <= 16  # a handful of extra requests, not one per event


def test_client_side_rate_limit_keeps_under_the_vendor_limit(tmp_path: Path) -> None:
    """With the destination's token bucket matching the server's, rapid requests never meet a 429."""
    with Emulator(intilery_rate=(20.0, 2)) as emu:
        dest = VENDORS["intilery_events"](emu, None)
        dest.rate_limit = (20.0, 2)
        with Client([dest], path=tmp_path / "q.db") as client:
            for n in range(8):
                client.track("u1", "E", {"n": n})
                assert client.flush(10) is True
            lane = client.stats().lanes["intilery_events"]
        assert lane.delivered == 8 and not lane.paused
        assert len(emu.events("intilery_events")) == 8


def test_dead_letters_can_be_listed_requeued_and_purged(emulator: Emulator, tmp_path: Path) -> None:
    """A refused event is listed with its reason; requeued it is delivered; purge empties the list."""
    emulator.fail_next(Fault(400, b'{"error": "bad"}'), vendor="encharge")
    with Client([VENDORS["encharge"](emulator, None)], path=tmp_path / "q.db") as client:
        client.track("u1", "First")
        client.track("u1", "Second")
        assert client.flush(10) is False  # not every event was delivered: one was dead-lettered
        (letter,) = client.dead_letters()
        assert letter.reason == "rejected" and '"bad"' in letter.detail
        assert client.requeue_dead_letters() == 1
        assert client.flush(10) is True
        assert client.dead_letters() == []
        emulator.fail_next(Fault(400, b'{"error": "bad"}'), vendor="encharge")
        client.track("u1", "Third")
        assert client.flush(10) is False  # the third was dead-lettered
        assert client.purge_dead_letters(lane="encharge") == 1 and client.dead_letters() == []
    assert [e["name"] for e in emulator.events("encharge")] == ["Second", "First"]


def test_an_auth_failure_is_reported_once(emulator: Emulator, tmp_path: Path) -> None:
    """Repeated auth failures call on_error once per episode, with the lane, kind and status."""
    seen: list[Any] = []
    dest = VENDORS["parcelvoy"](emulator, "pk_wrong")
    with Client([dest], path=tmp_path / "q.db", on_error=seen.append) as client:
        client.track("u1", "E")
        for _ in range(3):
            client.flush(2)
            store = client.pipeline.open_store()
            store.clear_pause("parcelvoy", "auth")  # let it try again at once
            store.close()
    assert [(f.lane, f.kind, f.status, f.events) for f in seen] == [("parcelvoy", "auth", 404, 1)]


def test_a_mapped_body_over_the_byte_limit_is_split_before_sending(
    emulator: Emulator, tmp_path: Path
) -> None:
    """No request body is ever over the destination's max_bytes: batches are cut before sending."""
    dest = BatchCom(emulator.batch_api_key, emulator.batch_rest_key, endpoint=emulator.url, max_bytes=3_000)
    seen: list[Any] = []
    with Client([dest], path=tmp_path / "q.db", on_error=seen.append) as client:
        for n in range(60):
            client.track("u1", "Viewed", {"n": n, "page": "p" * 20})
        assert client.flush(10) is True
        lane = client.stats().lanes["batch_com"]
    assert lane.delivered == 60 and not lane.dead_lettered
    assert len(emulator.received) > 1
    assert max(len(json.dumps(r.body, separators=(",", ":"))) for r in emulator.received) <= 3_000
    assert len(emulator.events("batch_com")) == 60 and seen == []


def test_each_dead_letter_is_passed_to_on_error(emulator: Emulator, tmp_path: Path) -> None:
    """on_error hears of every dead-lettered event (kind "dead_lettered"), not only the first."""
    seen: list[Any] = []
    emulator.fail_next(Fault(400, b'{"error": "bad"}'), times=2, vendor="encharge")
    with Client([VENDORS["encharge"](emulator, None)], path=tmp_path / "q.db", on_error=seen.append) as c:
        c.track("u1", "A")
        c.track("u1", "B")
        c.track("u1", "C")
        assert c.flush(10) is False  # not every event was delivered: one was dead-lettered
    assert [(f.kind, f.status) for f in seen] == [("dead_lettered", 400), ("dead_lettered", 400)]


def test_parcelvoy_identify_links_an_anonymous_profile_to_the_user(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Events as an anonymous visitor, then identify(user_id, anonymous_id=...), then track(user_id):
    one Parcelvoy profile, with the traits and every event (the real server's identify alone would
    leave the anonymous profile without the external_id, and the track would make a second one)."""
    with Client([VENDORS["parcelvoy"](emulator, None)], path=tmp_path / "q.db") as client:
        client.track(anonymous_id="anon-1", event="Browsed")
        client.identify("user-1", {"email": "ann@example.com"}, anonymous_id="anon-1")
        client.track("user-1", "Bought")
        assert client.flush(10) is True
    (user,) = emulator.parcelvoy_profiles.users
    assert user["external_id"] == "user-1" and user["anonymous_id"] == "anon-1"
    assert user["email"] == "ann@example.com"
    assert [e["name"] for e in user["events"]] == ["Browsed", "Bought"]


def test_parcelvoy_events_keep_their_own_time_and_id_in_data(emulator: Emulator, tmp_path: Path) -> None:
    """Parcelvoy's /events has no field for an event's time or messageId: they ride in data."""
    with Client([VENDORS["parcelvoy"](emulator, None)], path=tmp_path / "q.db") as client:
        _, msg = client.track("u1", "Bought", {"sku": "A1"})
        assert client.flush(10) is True
    (event,) = emulator.events("parcelvoy")
    assert event["data"] == {"sku": "A1", "_timestamp": msg["timestamp"], "_message_id": msg["messageId"]}


@pytest.mark.parametrize("tz", ["CET-1CEST,M3.5.0,M10.5.0/3", ":/etc/localtime", "Mars/Olympus_Mons_9"])
def test_parcelvoy_identify_never_sends_a_timezone_that_is_not_an_iana_name(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tz: str
) -> None:
    """A POSIX TZ rule or a path in TZ (common on embedded Linux) is resolved to the real zone or
    left out: the identify is delivered, not refused with 422 and dead-lettered."""
    monkeypatch.setenv("TZ", tz)
    with Client([VENDORS["parcelvoy"](emulator, None)], path=tmp_path / "q.db") as client:
        client.identify("u1", {"email": "ann@example.com"})
        assert client.flush(10) is True
        assert client.stats().lanes["parcelvoy"].dead_lettered == {}
    (identify,) = emulator.events("parcelvoy")
    assert "timezone" not in identify or "/" in identify["timezone"] or identify["timezone"] == "UTC"
