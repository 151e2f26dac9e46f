"""Plugins: the caller's timeline (before, enrichment, after), destination plugins per lane at send
time, failures that never break the app or the event, and the built-ins Sample, Redact, DropEvents."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgetrack import Client, ConfigError
from edgetrack.destinations import IntileryMobile, Parcelvoy
from edgetrack.emulator import Emulator
from edgetrack.plugins import BeforeSend, DropEvents, Kind, Redact, Sample
from edgetrack.testing import FakeClock
from tests.conftest import query

Event = dict[str, Any]


class Recorder:
    """A plugin of any kind that notes what it saw and applies ``change`` (None: keep the event)."""

    def __init__(
        self, kind: Kind, name: str, seen: list[str], change: Callable[[Event], Event | None] | None = None
    ) -> None:
        self.kind = kind
        self.name = name
        self.seen = seen
        self.events: list[Event] = []
        self.change = change

    def process(self, event: Event) -> Event | None:
        self.seen.append(self.name)
        self.events.append(json.loads(json.dumps(event, default=str)))
        return self.change(event) if self.change is not None else event


class Returns:
    """A plugin that returns ``value`` whatever the event (or raises it, when it is an exception)."""

    kind: Kind = "before"

    def __init__(self, value: object, name: str = "Odd") -> None:
        self.value = value
        self.name = name

    def process(self, event: Event) -> Any:
        if isinstance(self.value, BaseException):
            raise self.value
        return self.value


class MutatesThenRaises:
    """Changes the event in place, deep down, then raises."""

    kind: Kind = "enrichment"

    def process(self, event: Event) -> Event:
        event["properties"]["secret"] = "leaked"
        event["properties"]["nested"]["level"] = "changed"
        event["context"]["traits"]["address"]["city"] = "changed"
        event["context"]["app"]["name"] = "changed"
        raise RuntimeError("half way through")


def queued(path: Path) -> list[Event]:
    return [json.loads(body) for (body,) in query(path, "SELECT body FROM queue ORDER BY id")]


def rows(path: Path) -> int:
    return int(query(path, "SELECT COUNT(*) FROM events")[0][0])


def queue_only(path: Path, **options: Any) -> Client:
    return Client(path=path, send=False, clock=FakeClock(), **options)


def set_property(key: str, value: object) -> Callable[[Event], Event]:
    def change(event: Event) -> Event:
        event["properties"] = {**event.get("properties", {}), key: value}
        return event

    return change


def test_before_plugins_run_before_enrichment_whatever_the_order_added(tmp_path: Path) -> None:
    """Enrichment plugins see what before plugins did, even when added first."""
    path = tmp_path / "q.db"
    seen: list[str] = []
    enrich = Recorder("enrichment", "Enrich", seen, set_property("enriched", True))
    before = Recorder("before", "Before", seen, set_property("before", True))
    with queue_only(path) as c:
        c.add(enrich)
        c.add(before)
        assert c.track("u", "E")[0]
        c.pipeline.wait_committed(timeout=10)
    assert seen == ["Before", "Enrich"]
    assert enrich.events[0]["properties"] == {"before": True}
    assert queued(path)[0]["properties"] == {"before": True, "enriched": True}


def test_after_plugins_see_the_queued_message(tmp_path: Path) -> None:
    """An after plugin gets the message as queued (enrichment included), once it is queued."""
    path = tmp_path / "q.db"
    seen: list[str] = []
    after = Recorder("after", "After", seen)
    with queue_only(path, plugins=[after, Recorder("enrichment", "Enrich", seen, set_property("x", 1))]) as c:
        ok, msg = c.track("u", "E", {"a": 1})
        assert ok and isinstance(msg, dict)
        c.pipeline.wait_committed(timeout=10)
    assert seen == ["Enrich", "After"]
    (body,) = queued(path)
    (saw,) = after.events
    assert saw["messageId"] == body["messageId"] == msg["messageId"]
    assert saw["properties"] == body["properties"] == {"a": 1, "x": 1}
    assert saw["context"] == body["context"]


def test_none_drops_the_event_and_counts_it(tmp_path: Path) -> None:
    """A plugin returning None drops the event: (False, reason naming it), counted, nothing queued."""
    path = tmp_path / "q.db"
    with queue_only(path) as c:
        c.add(Recorder("before", "Gate", [], lambda event: None))
        assert c.track("u", "E") == (False, "dropped by plugin 'Gate'")
        assert c.identify("u", {"a": 1}) == (False, "dropped by plugin 'Gate'")
        c.pipeline.wait_committed(timeout=10)
        assert c.stats().dropped["plugin:Gate"] == 2
        assert c.user_id is None  # a dropped identify is not remembered either
    assert rows(path) == 0


def test_a_plugin_without_a_name_is_named_by_its_class(tmp_path: Path) -> None:
    """A plugin with no name attribute is counted under its class name."""

    class Nameless:
        kind: Kind = "before"

        def process(self, event: Event) -> Event | None:
            return None

    with queue_only(tmp_path / "q.db") as c:
        c.add(Nameless())
        assert c.track("u", "E") == (False, "dropped by plugin 'Nameless'")
        assert c.stats().dropped == {"plugin:Nameless": 1}


def test_remove_takes_a_plugin_out(tmp_path: Path) -> None:
    """remove() returns True and the plugin no longer runs; removing it again returns False."""
    path = tmp_path / "q.db"
    gate = Recorder("before", "Gate", [], lambda event: None)
    with queue_only(path) as c:
        c.add(gate)
        assert c.track("u", "Dropped")[0] is False
        assert c.remove(gate) is True
        assert c.remove(gate) is False
        assert c.track("u", "Kept")[0] is True
        c.pipeline.wait_committed(timeout=10)
    assert [m["event"] for m in queued(path)] == ["Kept"]


def test_before_send_changes_or_drops(tmp_path: Path) -> None:
    """Client(before_send=fn) runs fn on each event: its changes are queued, None drops."""
    path = tmp_path / "q.db"

    def scrub(event: Event) -> Event | None:
        if event.get("event") == "Secret":
            return None
        event["properties"]["scrubbed"] = True
        return event

    with queue_only(path, before_send=scrub) as c:
        assert c.track("u", "Secret") == (False, "dropped by plugin 'scrub'")
        assert c.track("u", "Public", {"a": 1})[0]
        c.pipeline.wait_committed(timeout=10)
        assert c.stats().dropped == {"plugin:scrub": 1}
    (body,) = queued(path)
    assert (body["event"], body["properties"]) == ("Public", {"a": 1, "scrubbed": True})


def test_a_plugin_that_raises_is_logged_once_counted_and_left_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A raising plugin is logged once, counted per event, and each event is queued as if it were
    not there, even though it changed the event in place first; other plugins still apply."""
    path = tmp_path / "q.db"
    traits = {"address": {"city": "Paris"}}
    with queue_only(path) as c, caplog.at_level(logging.WARNING, logger="edgetrack"):
        c.identify("u", traits)
        c.add(MutatesThenRaises())
        c.add(Recorder("before", "Tag", [], set_property("tag", 1)))
        for i in range(3):
            properties: dict[str, Any] = {"i": i, "nested": {"level": "original"}}
            assert c.track(event="E", properties=properties)[0] is True
            assert properties == {"i": i, "nested": {"level": "original"}}  # the caller's dict is untouched
        c.pipeline.wait_committed(timeout=10)
        assert c.stats().plugin_errors == {"MutatesThenRaises": 3}
        assert c.traits == traits
    tracks = [m for m in queued(path) if m["type"] == "track"]
    assert [m["properties"] for m in tracks] == [
        {"i": i, "nested": {"level": "original"}, "tag": 1} for i in range(3)
    ]
    for message in tracks:
        assert message["context"]["traits"] == {"address": {"city": "Paris"}}
        assert message["context"]["app"]["name"] == "edgetrack"
    warnings = [r for r in caplog.records if "MutatesThenRaises" in r.getMessage()]
    assert len(warnings) == 1
    assert "RuntimeError" in warnings[0].getMessage()


def test_a_plugin_that_returns_a_non_dict_is_left_out(tmp_path: Path) -> None:
    """A plugin returning something that is not a dict or None is counted; the event is queued as built."""
    path = tmp_path / "q.db"
    with queue_only(path, plugins=[Returns("not an event")]) as c:
        ok, _ = c.track("u", "E", {"a": 1})
        assert ok is True
        c.pipeline.wait_committed(timeout=10)
        assert c.stats().plugin_errors == {"Odd": 1}
    (body,) = queued(path)
    assert (body["event"], body["properties"], body["userId"]) == ("E", {"a": 1}, "u")


def test_an_enrichment_that_changes_nested_context_in_place_is_queued(tmp_path: Path) -> None:
    """A plugin that redacts a nested value of context.traits in place gets that change on disk,
    and later events (after it is removed) carry the traits as remembered."""
    path = tmp_path / "q.db"

    def hide_city(event: Event) -> Event:
        event["context"]["traits"]["address"]["city"] = "hidden"
        return event

    plugin = Recorder("enrichment", "HideCity", [], hide_city)
    with queue_only(path) as c:
        c.identify("u", {"address": {"city": "Paris"}})
        c.add(plugin)
        c.track(event="Hidden")
        c.remove(plugin)
        _, returned = c.track(event="Shown")
        c.pipeline.wait_committed(timeout=10)
    assert isinstance(returned, dict)
    assert returned["context"]["traits"] == {"address": {"city": "Paris"}}
    by_name = {m.get("event"): m for m in queued(path)}
    assert by_name["Hidden"]["context"]["traits"] == {"address": {"city": "hidden"}}
    assert by_name["Shown"]["context"]["traits"] == {"address": {"city": "Paris"}}


def test_a_plugin_that_pseudonymises_the_user_id_does_so_once(tmp_path: Path) -> None:
    """A before_send that replaces userId gives identify and the later calls the same id; the client
    remembers the id the app gave."""
    path = tmp_path / "q.db"

    def pseudonymise(event: Event) -> Event:
        if event.get("userId"):
            event["userId"] = "p-" + event["userId"]
        return event

    with queue_only(path, before_send=pseudonymise) as c:
        c.identify("alice", {"plan": "pro"})
        c.track(event="E")
        c.alias("alice", "alice-2")
        c.track(event="F")
        c.pipeline.wait_committed(timeout=10)
        assert c.user_id == "alice-2"
    assert [(m["type"], m["userId"]) for m in queued(path)] == [
        ("identify", "p-alice"),
        ("track", "p-alice"),
        ("alias", "p-alice-2"),
        ("track", "p-alice-2"),
    ]


# Values a broken plugin may hand back: anything that is not the event (dicts without the event's
# type or messageId, or with values JSON cannot carry), or an exception it raises.
ODD = st.one_of(
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.binary(max_size=10),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.tuples(st.integers(), st.text(max_size=3)),
    st.dictionaries(st.text(max_size=8).filter(lambda k: k not in ("type", "messageId")), st.integers()),
    st.fixed_dictionaries({"type": st.sampled_from(["identify", "page", "", "TRACK"])}),
    st.fixed_dictionaries({"type": st.just("track"), "messageId": st.one_of(st.just(""), st.integers())}),
    st.just("track-shaped-but-with-a-set"),
    st.sampled_from([ValueError("bad"), KeyError("type"), RecursionError(), ZeroDivisionError()]),
)


def test_odd_plugin_results_never_reach_the_app_or_the_queue(tmp_path: Path) -> None:
    """Whatever a broken plugin returns or raises, the call succeeds and the event is queued intact."""
    path = tmp_path / "q.db"
    with queue_only(path) as c:
        counter = iter(range(1_000_000))

        @settings(
            max_examples=150,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(value=ODD)
        def check(value: object) -> None:
            plugin: Recorder | Returns
            if value == "track-shaped-but-with-a-set":
                plugin = Recorder("before", "Odd", [], lambda e: {**e, "properties": {"s": {1, 2}}})
            else:
                plugin = Returns(value)
            n = next(counter)
            errors = c.stats().plugin_errors
            c.add(plugin)
            try:
                ok, msg = c.track("u", "Odd", {"n": n, "nested": {"k": [1, 2]}})
            finally:
                c.remove(plugin)
            assert ok is True and isinstance(msg, dict)
            c.pipeline.wait_committed(timeout=10)
            (body,) = [m for m in queued(path) if m["properties"]["n"] == n]
            assert body["type"] == "track" and body["event"] == "Odd" and body["userId"] == "u"
            assert body["properties"] == {"n": n, "nested": {"k": [1, 2]}}
            assert body["messageId"] == msg["messageId"]
            assert sum(c.stats().plugin_errors.values()) == sum(errors.values()) + 1

        check()
    assert rows(path) == next(counter)


def test_plugins_are_checked_when_added(tmp_path: Path) -> None:
    """A plugin without process() or with an unknown kind is a ConfigError."""
    with queue_only(tmp_path / "q.db") as c:
        with pytest.raises(ConfigError, match="process"):
            c.add(object())  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match="kind"):
            c.add(Recorder("sometimes", "Bad", []))  # type: ignore[arg-type]
        with pytest.raises(ConfigError):
            BeforeSend("not a function")  # type: ignore[arg-type]


# -- destination plugins ---------------------------------------------------------------------


def two_lanes(emulator: Emulator, tmp_path: Path, plugins: list[Any]) -> Client:
    return Client(
        [
            IntileryMobile(emulator.write_key, endpoint=emulator.url, plugins=plugins),
            Parcelvoy(emulator.parcelvoy_key, endpoint=emulator.url),
        ],
        path=tmp_path / "q.db",
        clock=FakeClock(),
        flush_at=10_000,
        flush_interval=10_000,
    )


def test_a_destination_plugin_drops_for_its_lane_only(emulator: Emulator, tmp_path: Path) -> None:
    """A destination plugin's None skips the event for that lane alone, counted as skipped["plugin:Name"]."""
    drop_secret = Recorder("before", "NoSecrets", [], lambda e: None if e.get("event") == "Secret" else e)
    with two_lanes(emulator, tmp_path, [drop_secret]) as c:
        c.track("u", "Secret")
        c.track("u", "Public")
        assert c.flush(10) is True
        lanes = c.stats().lanes
    assert [e["event"] for e in emulator.events("intilery_mobile")] == ["Public"]
    assert [e["name"] for e in emulator.events("parcelvoy")] == ["Secret", "Public"]
    assert lanes["intilery_mobile"].skipped == {"plugin:NoSecrets": 1}
    assert lanes["intilery_mobile"].delivered == 1
    assert lanes["parcelvoy"].skipped == {}


def test_a_destination_plugin_changes_its_lanes_payload_only(emulator: Emulator, tmp_path: Path) -> None:
    """What a destination plugin changes reaches its own vendor only; the queue keeps the original."""
    tag = Recorder("before", "Tag", [], set_property("lane", "intilery"))
    with two_lanes(emulator, tmp_path, [tag]) as c:
        c.track("u", "E", {"a": 1})
        assert c.flush(10) is True
    (intilery,) = emulator.events("intilery_mobile")
    assert intilery["properties"] == {"a": 1, "lane": "intilery"}
    (parcelvoy,) = emulator.events("parcelvoy")
    assert parcelvoy["data"]["a"] == 1
    assert "lane" not in parcelvoy["data"]


@pytest.mark.parametrize("value", [RuntimeError("boom"), "not an event", {"no": "type"}, 7])
def test_a_failing_destination_plugin_never_loses_the_event(
    emulator: Emulator, tmp_path: Path, value: object
) -> None:
    """A destination plugin that raises or returns a non-event: counted as "<lane>:<name>", and the
    event is delivered to that lane unchanged (never dead-lettered)."""
    with two_lanes(emulator, tmp_path, [Returns(value, name="Broken")]) as c:
        c.track("u", "E", {"a": 1})
        assert c.flush(10) is True
        stats = c.stats()
    (intilery,) = emulator.events("intilery_mobile")
    assert (intilery["event"], intilery["properties"]) == ("E", {"a": 1})
    assert stats.dead_letters == 0
    assert stats.plugin_errors == {"intilery_mobile:Broken": 1}


# -- built-ins ---------------------------------------------------------------------------------


def kept_users(path: Path, sample: Sample, users: list[str]) -> set[str]:
    with queue_only(path, plugins=[sample]) as c:
        return {user for user in users if c.track(user, "Sampled")[0]}


def test_sample_by_user_keeps_the_same_users_on_every_client(tmp_path: Path) -> None:
    """Sample(0.5) keeps every event of about half the users, and the same users on another client."""
    users = [f"user-{i}" for i in range(1000)]
    first = kept_users(tmp_path / "a.db", Sample(0.5), users)
    second = kept_users(tmp_path / "b.db", Sample(0.5), users)
    assert first == second
    assert 400 <= len(first) <= 600
    with queue_only(tmp_path / "c.db", plugins=[Sample(0.5)]) as c:  # all or none of a user's events
        for user in users[:50]:
            assert all(c.track(user, "Again", {"i": i})[0] == (user in first) for i in range(3))


def test_sample_rates_zero_and_one(tmp_path: Path) -> None:
    """Sample(0) keeps no user, Sample(1) keeps every user; a rate outside 0..1 is a ConfigError."""
    users = [f"user-{i}" for i in range(200)]
    assert kept_users(tmp_path / "none.db", Sample(0), users) == set()
    assert kept_users(tmp_path / "all.db", Sample(1), users) == set(users)
    for rate in (-0.1, 1.5, True):
        with pytest.raises(ConfigError):
            Sample(rate)


def test_sample_by_user_falls_back_to_the_anonymous_id(tmp_path: Path) -> None:
    """Without a user id, Sample keys on the anonymous id: all or none of an anonymous user's events."""
    with queue_only(tmp_path / "q.db", plugins=[Sample(0.5)]) as c:
        anonymous = [f"anon-{i}" for i in range(200)]
        kept = [a for a in anonymous if c.track(event="E", anonymous_id=a)[0]]
        assert 0 < len(kept) < len(anonymous)
        assert all(c.track(event="Again", anonymous_id=a)[0] for a in kept)


def test_redact_replaces_keys_at_any_depth_in_any_case(tmp_path: Path) -> None:
    """Redact(keys) replaces those keys' values in properties, traits and context, at any depth and case."""
    path = tmp_path / "q.db"
    with queue_only(path, plugins=[Redact(keys=["email", "Phone"])]) as c:
        c.identify("u", {"EMAIL": "a@example.com", "name": "Ada", "contact": {"phone": "555"}})
        c.track(
            "u",
            "Ordered",
            {"email": "a@example.com", "items": [{"sku": "A", "Email": "x@example.com"}], "total": 3},
            context={"extra": {"deep": {"PHONE": "555"}}},
        )
        c.pipeline.wait_committed(timeout=10)
    identify, track = queued(path)
    assert identify["traits"] == {"EMAIL": "[redacted]", "name": "Ada", "contact": {"phone": "[redacted]"}}
    assert track["properties"] == {
        "email": "[redacted]",
        "items": [{"sku": "A", "Email": "[redacted]"}],
        "total": 3,
    }
    assert track["context"]["extra"] == {"deep": {"PHONE": "[redacted]"}}
    assert "a@example.com" not in json.dumps(queued(path))


def test_redact_also_covers_the_remembered_traits_in_context(tmp_path: Path) -> None:
    """Redact applies to context.traits that the client adds from the remembered identity."""
    path = tmp_path / "q.db"
    with queue_only(path, plugins=[Redact(keys=["email"], replacement="***")]) as c:
        c.identify("u", {"email": "a@example.com", "name": "Ada"})
        c.track(event="E")
        c.pipeline.wait_committed(timeout=10)
    (track,) = [m for m in queued(path) if m["type"] == "track"]
    assert track["context"]["traits"] == {"email": "***", "name": "Ada"}


def test_drop_events_drops_by_name(tmp_path: Path) -> None:
    """DropEvents drops tracks, pages and screens of those names and keeps everything else."""
    path = tmp_path / "q.db"
    with queue_only(path, plugins=[DropEvents(["Noise", "Debug Screen"])]) as c:
        assert c.track("u", "Noise") == (False, "dropped by plugin 'DropEvents'")
        assert c.screen("u", name="Debug Screen")[0] is False
        assert c.track("u", "Signal")[0] is True
        assert c.screen("u", name="Home")[0] is True
        assert c.identify("u", {"name": "Noise"})[0] is True
        c.pipeline.wait_committed(timeout=10)
        assert c.stats().dropped == {"plugin:DropEvents": 2}
    assert [(m["type"], m.get("event") or m.get("name")) for m in queued(path)] == [
        ("track", "Signal"),
        ("screen", "Home"),
        ("identify", None),
    ]
    single = DropEvents("Noise")
    assert single.names == frozenset({"Noise"})
