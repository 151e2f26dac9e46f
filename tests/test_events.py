"""Envelopes and argument validation, through the public ``Client`` API (``send=False``)."""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import edgetrack
from edgetrack import Client, EdgetrackError, EventTypeError, EventValueError, QueueLimits
from edgetrack.envelope import queued_form
from edgetrack.store import SQLiteStore
from edgetrack.testing import FakeClock

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
BAD_ARGUMENT = (EventValueError, EventTypeError)
NOW = 1_714_644_000.5  # 2024-05-02T10:00:00.500Z


def FixedClock() -> FakeClock:
    """A clock that says ``NOW`` until told otherwise."""
    return FakeClock(NOW)


class Color(enum.Enum):
    RED = "red"


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., Client]]:
    clients: list[Client] = []

    def make(**options: Any) -> Client:
        options.setdefault("path", tmp_path / "q.db")
        options.setdefault("send", False)
        client = Client([], **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.shutdown(timeout=5)


@pytest.fixture
def client(make_client: Callable[..., Client]) -> Client:
    return make_client()


def queued(client: Client) -> tuple[list[dict[str, Any]], tuple[int, int]]:
    """The messages committed to the client's queue file, oldest first, and the file's totals."""
    assert client.pipeline.wait_committed(timeout=5)
    store = SQLiteStore.open(client.path)
    try:
        return [json.loads(event.body) for event in store.peek(limit=10_000)], store.totals()
    finally:
        store.close()


def deep(levels: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    node = root
    for _ in range(levels):
        node["a"] = {}
        node = node["a"]
    return root


def self_cycle() -> dict[str, Any]:
    items: list[Any] = []
    items.append(items)
    return {"items": items}


# -- the envelope -------------------------------------------------------------------------------


def test_track_builds_segment_spec_envelope(make_client: Callable[..., Client]) -> None:
    """track() returns (True, msg) with type, uuid4 messageId, ms-precision UTC timestamp, ids, library."""
    client = make_client(clock=FixedClock())
    ok, msg = client.track("user-1", "Order Completed", {"revenue": 9.5})
    assert ok is True
    assert msg["type"] == "track"
    assert uuid.UUID(msg["messageId"]).version == 4
    assert msg["timestamp"] == "2024-05-02T10:00:00.500Z"
    assert msg["userId"] == "user-1"
    assert msg["anonymousId"] is None and msg["integrations"] == {}  # Segment's keys, as it returns them
    assert msg["event"] == "Order Completed"
    assert msg["properties"] == {"revenue": 9.5}
    assert msg["context"]["library"] == {"name": "edgetrack", "version": edgetrack.__version__}


def test_default_timestamp_format(client: Client) -> None:
    """Without a timestamp argument the message carries the current time as ISO-8601 UTC ending in Z."""
    _, msg = client.track("u", "E")
    assert TIMESTAMP.match(msg["timestamp"])


def test_queued_json_is_the_returned_message(client: Client) -> None:
    """What is written to the queue file is exactly the message returned to the caller."""
    _, first = client.track("u", "A", {"n": 1})
    _, second = client.identify("u", {"plan": "pro"})
    messages, _ = queued(client)
    assert messages == [queued_form(first), queued_form(second)]


def test_message_ids_are_unique(client: Client) -> None:
    """Each call gets its own messageId."""
    ids = {client.track("u", "E")[1]["messageId"] for _ in range(20)}
    assert len(ids) == 20


def test_identify_carries_traits_and_anonymous_id(client: Client) -> None:
    """identify() puts traits under 'traits' and an explicit anonymous_id under 'anonymousId'."""
    _, msg = client.identify(traits={"email": "a@example.com"}, anonymous_id="anon-1")
    assert msg["type"] == "identify"
    assert msg["traits"] == {"email": "a@example.com"}
    assert msg["anonymousId"] == "anon-1"
    assert msg["userId"] is None


def test_missing_properties_and_traits_are_empty_dicts(client: Client) -> None:
    """properties and traits default to {} (as the Segment spec expects an object)."""
    assert client.track("u", "E")[1]["properties"] == {}
    assert client.identify("u")[1]["traits"] == {}


def test_numeric_ids_are_stringified(client: Client) -> None:
    """Numeric user, anonymous, previous and group ids become strings."""
    _, msg = client.track(42, "E", anonymous_id=7)
    assert (msg["userId"], msg["anonymousId"]) == ("42", "7")
    _, alias = client.alias(1, 2)
    assert (alias["previousId"], alias["userId"]) == ("1", "2")
    _, group = client.group(3, 4)
    assert (group["userId"], group["groupId"]) == ("3", "4")


def test_bool_user_id_is_a_type_error(client: Client) -> None:
    """A bool is not accepted as a user id even though it is an int."""
    with pytest.raises(EventTypeError, match="user_id"):
        client.track(True, "E")


def test_user_context_is_merged_and_library_kept(client: Client) -> None:
    """A context argument is merged into the default context; context.library stays edgetrack's."""
    mine = {"ip": "192.0.2.1", "library": {"name": "other"}}
    _, msg = client.track("u", "E", context=mine)
    assert msg["context"]["ip"] == "192.0.2.1"
    assert msg["context"]["library"] == {"name": "edgetrack", "version": edgetrack.__version__}
    assert "os" in msg["context"]
    assert mine == {"ip": "192.0.2.1", "library": {"name": "other"}}


@pytest.mark.parametrize("first_context", [None, {"ip": "192.0.2.1"}], ids=["default", "merged"])
def test_mutating_a_returned_message_does_not_change_later_events(
    client: Client, first_context: dict[str, str] | None
) -> None:
    """The returned message is the caller's to change: editing its context leaks into no later event."""
    _, first = client.track("u", "A", context=first_context)
    first["context"]["extra"] = "leaked"
    first["context"]["library"]["name"] = "changed"
    later = [client.track("u", "B")[1], client.track("u", "C", context={"screen": "home"})[1]]
    messages, _ = queued(client)
    for msg in later + messages[1:]:
        assert "extra" not in msg["context"]
        assert msg["context"]["library"] == {"name": "edgetrack", "version": edgetrack.__version__}


# -- timestamps ---------------------------------------------------------------------------------


def test_naive_datetime_timestamp_is_read_as_utc(client: Client) -> None:
    """A naive datetime timestamp is taken as UTC and written with milliseconds and Z."""
    _, msg = client.track("u", "E", timestamp=dt.datetime(2024, 5, 2, 10, 0, 0, 123456))
    assert msg["timestamp"] == "2024-05-02T10:00:00.123Z"


def test_aware_datetime_timestamp_is_converted_to_utc(client: Client) -> None:
    """An aware datetime timestamp is converted to UTC."""
    plus_two = dt.timezone(dt.timedelta(hours=2))
    _, msg = client.track("u", "E", timestamp=dt.datetime(2024, 5, 2, 12, 30, 0, 7000, tzinfo=plus_two))
    assert msg["timestamp"] == "2024-05-02T10:30:00.007Z"


def test_iso_string_timestamp_is_normalised(client: Client) -> None:
    """An ISO-8601 string timestamp (Z or an offset) is normalised to UTC with milliseconds."""
    assert client.track("u", "E", timestamp="2024-05-02T10:00:00Z")[1]["timestamp"] == (
        "2024-05-02T10:00:00.000Z"
    )
    assert client.track("u", "E", timestamp="2024-05-02T12:00:00.250+02:00")[1]["timestamp"] == (
        "2024-05-02T10:00:00.250Z"
    )


def test_unparseable_timestamp_string_is_rejected(client: Client) -> None:
    """A str timestamp that is not ISO-8601 raises EventValueError naming timestamp."""
    with pytest.raises(EventValueError, match="timestamp"):
        client.track("u", "E", timestamp="yesterday")


# -- values converted for the caller -----------------------------------------------------------


def test_rich_property_values_are_converted(client: Client) -> None:
    """datetime, date, Decimal, UUID and Enum property values are converted to JSON values."""
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    properties = {
        "at": dt.datetime(2024, 5, 2, 10, 0, 0, 500000),
        "at_aware": dt.datetime(2024, 5, 2, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        "day": dt.date(2024, 5, 2),
        "price": Decimal("9.5"),
        "id": ident,
        "color": Color.RED,
        "nested": [{"day": dt.date(2024, 1, 1)}],
    }
    client.track("u", "E", properties)
    messages, _ = queued(client)
    assert messages[0]["properties"] == {
        "at": "2024-05-02T10:00:00.500Z",
        "at_aware": "2024-05-02T10:00:00.000Z",
        "day": "2024-05-02",
        "price": 9.5,
        "id": "12345678-1234-5678-1234-567812345678",
        "color": "red",
        "nested": [{"day": "2024-01-01"}],
    }


# -- values that cannot be queued --------------------------------------------------------------


def test_error_classes_are_value_and_type_errors() -> None:
    """EventValueError is a ValueError and EventTypeError a TypeError, both EdgetrackErrors."""
    assert issubclass(EventValueError, ValueError)
    assert issubclass(EventTypeError, TypeError)
    assert issubclass(EventValueError, EdgetrackError)
    assert issubclass(EventTypeError, EdgetrackError)


@pytest.mark.parametrize(
    ("properties", "named"),
    [
        pytest.param({"price": float("nan")}, "properties['price']", id="nan"),
        pytest.param({"price": float("inf")}, "properties['price']", id="infinity"),
        pytest.param({"price": float("-inf")}, "properties['price']", id="minus-infinity"),
        pytest.param({"price": Decimal("NaN")}, "properties['price']", id="decimal-nan"),
        pytest.param({"tags": {"a", "b"}}, "properties['tags']", id="set"),
        pytest.param({"tags": frozenset({"a"})}, "properties['tags']", id="frozenset"),
        pytest.param({"blob": b"\x00\x01"}, "properties['blob']", id="bytes"),
        pytest.param({"blob": bytearray(b"x")}, "properties['blob']", id="bytearray"),
        pytest.param({"thing": object()}, "properties['thing']", id="object"),
        pytest.param({"list": [1, {"deep": float("nan")}]}, "properties['list'][1]['deep']", id="nested"),
        pytest.param(self_cycle(), "properties['items']", id="cycle"),
        pytest.param({"name": "caf\ud800"}, "properties['name']", id="lone-surrogate"),
        pytest.param({(1, 2): "x"}, "properties", id="tuple-key"),
        pytest.param({"x": deep(5_000)}, "properties['x']", id="too-deep"),
        pytest.param({"caf\udc80": 1}, "properties", id="lone-surrogate-key"),
        pytest.param({float("nan"): 1}, "properties", id="nan-key"),
    ],
)
def test_unqueueable_property_is_rejected_naming_it(
    client: Client, properties: dict[Any, Any], named: str
) -> None:
    """A property value JSON cannot carry raises EventValueError/EventTypeError naming the argument."""
    with pytest.raises(BAD_ARGUMENT) as caught:
        client.track("u", "E", properties)
    assert named in str(caught.value)


def test_bad_trait_is_named_as_traits(client: Client) -> None:
    """A bad value in identify() traits is named traits[...], not message[...]."""
    with pytest.raises(BAD_ARGUMENT, match=re.escape("traits['age']")):
        client.identify("u", {"age": float("nan")})


def test_bad_context_value_is_named_as_context(client: Client) -> None:
    """A bad value in the context argument is named context[...]."""
    with pytest.raises(BAD_ARGUMENT, match=re.escape("context['device']")):
        client.track("u", "E", context={"device": {1, 2}})


@pytest.mark.parametrize("event", [None, "", "   "])
def test_empty_event_name_is_rejected(client: Client, event: object) -> None:
    """track() without an event name raises EventValueError."""
    with pytest.raises(EventValueError, match="event"):
        client.track("u", event)


def test_non_str_event_name_is_a_type_error(client: Client) -> None:
    """An event name that is not a str raises EventTypeError."""
    with pytest.raises(EventTypeError, match="event"):
        client.track("u", 123)


@pytest.mark.parametrize("properties", [[("a", 1)], "a=1", 5])
def test_properties_of_the_wrong_type_are_rejected(client: Client, properties: object) -> None:
    """properties that are not a dict raise EventTypeError naming properties."""
    with pytest.raises(EventTypeError, match="properties"):
        client.track("u", "E", properties)


def test_traits_of_the_wrong_type_are_rejected(client: Client) -> None:
    """traits that are not a dict raise EventTypeError naming traits."""
    with pytest.raises(EventTypeError, match="traits"):
        client.identify("u", ["email"])


def test_context_of_the_wrong_type_is_rejected(client: Client) -> None:
    """A context that is not a dict raises EventTypeError naming context."""
    with pytest.raises(EventTypeError, match="context"):
        client.track("u", "E", context="ios")


@pytest.mark.parametrize("timestamp", [1_714_644_000, 1_714_644_000.5, dt.date(2024, 5, 2)])
def test_timestamp_of_the_wrong_type_is_rejected(client: Client, timestamp: object) -> None:
    """A timestamp that is neither a datetime nor a str raises EventTypeError naming timestamp."""
    with pytest.raises(EventTypeError, match="timestamp"):
        client.track("u", "E", timestamp=timestamp)


def test_message_id_over_100_chars_is_rejected(client: Client) -> None:
    """A message_id longer than 100 characters raises EventValueError naming message_id."""
    with pytest.raises(EventValueError, match="message_id"):
        client.track("u", "E", message_id="m" * 101)


def test_message_id_of_100_chars_is_kept(client: Client) -> None:
    """A caller's message_id of up to 100 characters is used as messageId."""
    _, msg = client.track("u", "E", message_id="m" * 100)
    assert msg["messageId"] == "m" * 100


def test_event_over_max_event_bytes_is_rejected(make_client: Callable[..., Client]) -> None:
    """An event whose UTF-8 JSON exceeds max_event_bytes raises EventValueError mentioning the limit."""
    client = make_client(limits=QueueLimits(max_event_bytes=4_000))
    ok, _ = client.track("u", "E", {"text": "a" * 2_000})
    assert ok
    with pytest.raises(EventValueError, match="max_event_bytes"):
        client.track("u", "E", {"text": "é" * 2_000})  # 2,000 characters, 4,000 bytes


# -- anonymous ids ------------------------------------------------------------------------------


def test_auto_anonymous_id_is_install_wide(make_client: Callable[..., Client], tmp_path: Path) -> None:
    """With no ids an install-wide anonymousId is used, the same for two Clients on one folder."""
    first = make_client(path=tmp_path / "q.db")
    _, one = first.track(event="Opened")
    _, two = first.identify(traits={"plan": "free"})
    first.shutdown(timeout=5)
    second = make_client(path=tmp_path / "other.db")
    _, three = second.track(event="Opened")
    assert one["userId"] is None
    assert one["anonymousId"] == two["anonymousId"] == three["anonymousId"]
    assert (tmp_path / "anonymous_id").read_text().strip() == one["anonymousId"]


def test_auto_anonymous_id_differs_between_folders(
    make_client: Callable[..., Client], tmp_path: Path
) -> None:
    """Two installs (queue folders) get different anonymous ids."""
    _, one = make_client(path=tmp_path / "a" / "q.db").track(event="E")
    _, two = make_client(path=tmp_path / "b" / "q.db").track(event="E")
    assert one["anonymousId"] != two["anonymousId"]


def test_explicit_ids_win_over_auto_anonymous_id(client: Client) -> None:
    """A user_id alone is sent without an invented anonymousId."""
    _, msg = client.track("user-1", "E")
    assert msg["anonymousId"] is None


def test_no_ids_without_auto_anonymous_id_is_rejected(make_client: Callable[..., Client]) -> None:
    """With auto_anonymous_id=False a call with neither id raises EventValueError."""
    client = make_client(auto_anonymous_id=False)
    with pytest.raises(EventValueError, match="anonymous_id"):
        client.track(event="E")
    assert client.track("u", "E")[0] is True


# -- rejected calls leave the queue alone --------------------------------------------------------


def test_rejected_calls_leave_the_queue_untouched(make_client: Callable[..., Client]) -> None:
    """Bad calls between good ones raise and queue nothing; the file holds exactly the good events."""
    client = make_client(limits=QueueLimits(max_event_bytes=2_000))
    good = [client.track("u", f"Good {i}", {"i": i})[1] for i in range(3)]
    bad_calls: list[Callable[[], object]] = [
        lambda: client.track("u", "E", {"price": float("nan")}),
        lambda: client.track("u", "E", {"s": {1}}),
        lambda: client.track("u", "E", {"s": "x" * 3_000}),
        lambda: client.track("u", ""),
        lambda: client.track("u", "E", "not a dict"),
        lambda: client.track("u", "E", timestamp=123),
        lambda: client.track("u", "E", message_id="m" * 101),
        lambda: client.identify("u", {"b": b"raw"}),
        lambda: client.alias(None, "u"),
        lambda: client.group("u", None),
        lambda: client.page("u", 5),
    ]
    for call in bad_calls:
        with pytest.raises(BAD_ARGUMENT):
            call()
    good.append(client.track("u", "Good 3", {"i": 3})[1])
    messages, (events, size) = queued(client)
    assert [m["messageId"] for m in messages] == [m["messageId"] for m in good]
    assert events == 4
    assert size == sum(
        len(json.dumps(queued_form(m), ensure_ascii=False, separators=(",", ":")).encode()) for m in good
    )


# -- the other calls ----------------------------------------------------------------------------


def test_alias_fields(client: Client) -> None:
    """alias(previous_id, user_id) sends previousId and userId and no anonymousId."""
    _, msg = client.alias("anon-1", "user-1")
    assert msg["type"] == "alias"
    assert msg["previousId"] == "anon-1"
    assert msg["userId"] == "user-1"
    assert msg["anonymousId"] is None and "anonymousId" not in queued_form(msg)


@pytest.mark.parametrize(("previous_id", "user_id"), [(None, "u"), ("", "u"), ("p", None), ("p", "")])
def test_alias_needs_both_ids(client: Client, previous_id: object, user_id: object) -> None:
    """alias() without previous_id or user_id raises EventValueError."""
    with pytest.raises(EventValueError):
        client.alias(previous_id, user_id)


def test_group_fields(client: Client) -> None:
    """group(user_id, group_id, traits) sends groupId and traits."""
    _, msg = client.group("user-1", "acme", {"employees": 10})
    assert msg["type"] == "group"
    assert msg["userId"] == "user-1"
    assert msg["groupId"] == "acme"
    assert msg["traits"] == {"employees": 10}


def test_group_needs_group_id(client: Client) -> None:
    """group() without group_id raises EventValueError."""
    with pytest.raises(EventValueError, match="group_id"):
        client.group("u")


@pytest.mark.parametrize("kind", ["page", "screen"])
def test_page_and_screen_positional_order(client: Client, kind: str) -> None:
    """page/screen take segment-analytics-python's order: (user_id, category, name, properties, ...)."""
    _, msg = getattr(client, kind)("user-1", "Docs", "Home", {"path": "/"})
    assert msg["type"] == kind
    assert msg["userId"] == "user-1"
    assert msg["name"] == "Home"
    assert msg["properties"] == {"path": "/"}
    assert msg["category"] == "Docs"


@pytest.mark.parametrize("kind", ["page", "screen"])
def test_page_and_screen_without_name_or_category(client: Client, kind: str) -> None:
    """A page or screen with no name or category returns them as None and does not queue them."""
    _, msg = getattr(client, kind)("user-1")
    assert msg["name"] is None and msg["category"] is None
    assert "name" not in queued_form(msg) and "category" not in queued_form(msg)
    assert msg["properties"] == {}


@pytest.mark.parametrize("argument", ["name", "category"])
def test_page_name_and_category_must_be_str(client: Client, argument: str) -> None:
    """A page name or category that is not a str raises EventTypeError naming it."""
    with pytest.raises(EventTypeError, match=argument):
        client.page("u", **{argument: 5})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.track('u "quoted" \\ back', 'Événement \n "x"', {"k": 'v"\u2028'}, message_id='m"1'),
        lambda c: c.track(42, "E", None, anonymous_id="a\x00b", integrations={"All": False, "x\\": 1}),
        lambda c: c.identify("u", {"email": "ann@example.com", "n": [1, 2.5, None, True]}),
        lambda c: c.page("u", "Docs", "Home\t", {"path": "/"}),
        lambda c: c.screen("u", None, "Café ☕", None),
        lambda c: c.alias('old "id"', "new"),
        lambda c: c.group("u", "g", {"name": "Acme 🚀"}),
    ],
)
def test_spliced_body_is_byte_for_byte_the_json_of_the_message(client: Client, call: Any) -> None:
    """The fast path builds the body from pieces; it must equal encoding the whole message."""
    _, msg = call(client)
    assert client.pipeline.wait_committed(timeout=5)
    store = SQLiteStore.open(client.path)
    try:
        body = store.peek(limit=10)[-1].body
    finally:
        store.close()
    assert body == json.dumps(queued_form(msg), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def test_message_ids_do_not_follow_the_apps_random_seed(client: Client) -> None:
    """An app that seeds the random module does not get the same messageIds on every run."""
    import random

    random.seed(42)
    first = [client.track("u", "E")[1]["messageId"] for _ in range(2)]
    random.seed(42)
    second = [client.track("u", "E")[1]["messageId"] for _ in range(2)]
    assert set(first).isdisjoint(second)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # 3.12+ warns about fork with threads
def test_a_forked_child_makes_its_own_message_ids(client: Client) -> None:
    """Parent and child after fork() draw different messageIds."""
    import os

    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write_fd, client.track("u", "E")[1]["messageId"].encode())
        os._exit(0)
    os.close(write_fd)
    child = os.read(read_fd, 100).decode()
    os.waitpid(pid, 0)
    assert child != client.track("u", "E")[1]["messageId"]


@pytest.mark.parametrize("where", ["properties", "context", "integrations"])
def test_nesting_deeper_than_the_limit_is_refused_with_a_short_message(client: Client, where: str) -> None:
    """101 levels are refused by edgetrack's own limit (not the JSON encoder's recursion, which
    Python 3.13 no longer hits at 5,000), with a message of a few lines, not 4,000 characters."""
    from edgetrack.envelope import MAX_DEPTH

    def deep(levels: int) -> object:
        value: object = "leaf"
        for _ in range(levels):
            value = {"a": value}
        return value

    ok = client.track("u", "E", **{where: {"x": deep(MAX_DEPTH - 1)}})  # type: ignore[arg-type]
    assert ok[0] is True
    for levels in (MAX_DEPTH, 1_500, 5_000):
        with pytest.raises(EventValueError, match="nested more than 100 levels") as refused:
            client.track("u", "E", **{where: {"x": deep(levels)}})  # type: ignore[arg-type]
        assert len(str(refused.value)) < 300


def test_keys_that_collide_in_json_are_refused(client: Client) -> None:
    """{1: 'a', '1': 'b'} would become JSON with a duplicate key: refused at the call, naming both."""
    with pytest.raises(EventValueError, match="both '1' in JSON"):
        client.track("u", "E", {"n": {1: "a", "1": "b"}})
    with pytest.raises(EventValueError, match="both 'true'"):
        client.identify("u", {True: 1, "true": 2})
    ok, msg = client.track("u", "E", {7: "int key", "x": 1})  # non-str keys alone are fine
    assert ok is True and msg["properties"] == {7: "int key", "x": 1}
