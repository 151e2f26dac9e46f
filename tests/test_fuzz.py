"""Property-based tests of the public API (hypothesis) over real loopback HTTP to the emulator.

Every generated call is either accepted and delivered byte-exact (the JSON the emulator received
equals the JSON of the message ``track()`` returned, taken when the call returned), or refused
with an ``EventTypeError`` / ``EventValueError`` that says what is wrong and leaves the queue as it
was. Background threads never raise (``threading.excepthook``) nor log at ERROR.

``EDGETRACK_FUZZ_EXAMPLES=5000 pytest tests/test_fuzz.py`` runs a long campaign; the default is
small enough for CI.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import logging
import math
import os
import re
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgetrack import Client, EdgetrackError, EventTypeError, EventValueError, RetryPolicy
from edgetrack.destinations import BatchCom, Encharge, IntileryMobile
from edgetrack.emulator import Emulator
from edgetrack.envelope import queued_form

pytestmark = pytest.mark.slow  # property-based: hundreds of generated cases

EXAMPLES = int(os.environ.get("EDGETRACK_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # no .hypothesis/ folder in the work tree; failures print their example
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
FAST = RetryPolicy(startup_jitter=0.0, backoff_base=0.05, backoff_cap=0.2)
LANE = "intilery_mobile"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
MAX_EVENT_BYTES = 32_000


class Color(enum.Enum):
    RED = "red"
    ONE = 1


class Level(enum.IntEnum):
    LOW = 1


class Huge(int):
    """An int with more digits than ``str()`` allows, with a repr that hypothesis can print."""

    def __repr__(self) -> str:
        return "Huge(10**5000)"


# -- the oracle: what the README says a value becomes ------------------------------------------


def _documented(value: object) -> object:
    """datetime -> ISO UTC with ms (naive read as UTC), date -> ISO, Decimal -> number,
    UUID -> str, Enum -> its value; anything else cannot be sent."""
    if isinstance(value, dt.datetime):
        aware = value.replace(tzinfo=dt.timezone.utc) if value.utcoffset() is None else value
        utc = aware.astimezone(dt.timezone.utc)
        return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("non-finite Decimal")
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(type(value).__name__)


def _json_names(value: object, depth: int = 0) -> None:
    """The README's shape rules: no more than 100 levels of nesting, and no two keys of one
    object that JSON would write the same (``{1: "a", "1": "b"}``)."""
    if depth > 100:
        raise ValueError("nested more than 100 levels")
    if isinstance(value, dict):
        names = [
            json.dumps({key: 0})[1:-4]
            for key in value
            if isinstance(key, (str, int, float, bool)) or key is None
        ]
        if len(set(names)) < len(names):
            raise ValueError("two keys are one in JSON")
        items: list[object] = list(value.values())
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        return
    for item in items:
        _json_names(item, depth + 1)


def oracle_json(value: object) -> str:
    """The JSON the README promises for ``value``; raises when it promises a refusal."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, default=_documented)
    text.encode("utf-8")  # lone surrogates cannot be sent
    _json_names(value)
    return text


def oracle_ok(value: object) -> bool:
    try:
        oracle_json(value)
    except (TypeError, ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        return False
    return True


# -- strategies --------------------------------------------------------------------------------

ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=12)  # lone surrogates included
HUGE_TEXT = st.builds(
    lambda n, ch: ch * n,
    st.integers(min_value=10_000, max_value=40_000),
    st.sampled_from(["x", "é", "€", "😀", '"', "\\", "\x00"]),
)
VERY_HUGE_TEXT = st.builds(lambda n: "y" * n, st.sampled_from([1_000_000, 5_000_000]))
ZONES = st.builds(
    dt.timezone,
    st.timedeltas(
        min_value=dt.timedelta(hours=-23, minutes=-59), max_value=dt.timedelta(hours=23, minutes=59)
    ),
)
# Years 1900-2100: pre-1000 years and the datetime range's edges are separate tests below.
DATETIMES = st.datetimes(
    min_value=dt.datetime(1900, 1, 2),
    max_value=dt.datetime(2100, 12, 30),
    timezones=st.one_of(st.none(), ZONES),
)

LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.builds(lambda: Huge(10**5000)),  # more digits than int -> str allows
    st.floats(),  # NaN and infinities included
    ANY_TEXT,
    HUGE_TEXT,
    st.binary(max_size=6),
    st.builds(bytearray, st.binary(max_size=4)),
    st.binary(max_size=4).map(lambda raw: memoryview(raw)),
    st.sets(st.integers(), max_size=3),
    st.frozensets(st.integers(), max_size=3),
    st.decimals(),  # NaN, sNaN, Infinity and 1E+400 included
    st.complex_numbers(max_magnitude=10),
    DATETIMES,
    st.dates(min_value=dt.date(1900, 1, 1)),
    st.uuids(),
    st.sampled_from(list(Color) + list(Level)),
    st.builds(object),
)
KEYS = st.one_of(
    ANY_TEXT,
    st.integers(),
    st.floats(),  # nan / inf keys cannot be sent; finite ones become their repr
    st.booleans(),
    st.none(),
    st.sampled_from([Level.LOW, Color.RED]),
    st.binary(max_size=3),
    st.tuples(st.integers()),
    st.frozensets(st.integers(), max_size=2),
)


def _nested(depth: int, kind: str) -> object:
    value: object = "bottom"
    for _ in range(depth):
        value = [value] if kind == "list" else {"k": value}
    return value


DEEP = st.builds(
    _nested,
    st.sampled_from([1, 2, 50, 300, 2_000, 20_000, 200_000]),
    st.sampled_from(["list", "dict"]),
)


def _with_cycle(container: dict[Any, Any] | list[Any], where: str) -> object:
    if isinstance(container, dict):
        container[where] = container
    else:
        container.append(container)
    return {"outer": [container]}


def _children(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(KEYS, inner, max_size=4),
    )


VALUES = st.recursive(LEAVES, _children, max_leaves=12)
CYCLES = st.builds(
    _with_cycle, st.dictionaries(ANY_TEXT, VALUES, max_size=2) | st.lists(VALUES, max_size=2), ANY_TEXT
)
PROPERTIES = st.one_of(
    st.dictionaries(KEYS, st.one_of(VALUES, DEEP, CYCLES), max_size=5),
    st.dictionaries(st.text(max_size=6), VALUES, max_size=5),  # mostly sendable
    st.dictionaries(st.text(max_size=4), VERY_HUGE_TEXT, min_size=1, max_size=1),
    st.none(),
    st.sampled_from([[1, 2], "a str", 3, b"bytes", ("tuple",)]),  # not a mapping at all
)
IDS = st.one_of(
    st.none(),
    ANY_TEXT,
    st.integers(),
    st.floats(),
    st.booleans(),
    st.uuids(),
    st.binary(max_size=3),
    st.just([]),
)
TIMESTAMPS = st.one_of(
    st.none(),
    DATETIMES,
    DATETIMES.map(lambda d: d.isoformat()),
    DATETIMES.map(lambda d: d.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"),
    ANY_TEXT,
    st.integers(),
    st.dates(min_value=dt.date(1900, 1, 1)),
)
SMALL_DICTS = st.one_of(st.none(), st.dictionaries(KEYS, VALUES, max_size=3), st.just("not a dict"))


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` nine times in ten, so about half the generated calls get through to delivery."""
    return st.integers(0, 9).flatmap(lambda n: bad if n == 9 else good)


GOOD_IDS = st.text(min_size=1, max_size=10) | st.integers() | st.uuids()
GOOD_DICTS = st.none() | st.dictionaries(st.text(max_size=6), VALUES, max_size=3)


@st.composite
def calls(draw: st.DrawFn) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    """A call of the public API with arbitrary arguments (register_device is not sent by this lane)."""
    kind = draw(st.sampled_from(["track", "identify", "page", "screen", "group", "alias"]))
    common = {
        "context": draw(mostly(GOOD_DICTS, SMALL_DICTS)),
        "timestamp": draw(mostly(st.none() | DATETIMES, TIMESTAMPS)),
        "integrations": draw(mostly(GOOD_DICTS, SMALL_DICTS)),
        "message_id": draw(mostly(st.none() | GOOD_IDS, IDS)),
    }
    user = draw(mostly(GOOD_IDS, IDS))
    properties = draw(mostly(GOOD_DICTS, PROPERTIES))
    if kind == "alias":
        return kind, (draw(mostly(GOOD_IDS, IDS)), user), common
    common["anonymous_id"] = draw(mostly(st.none(), IDS))
    if kind == "track":
        event = draw(mostly(st.text(min_size=1).filter(str.strip), ANY_TEXT | IDS))
        return kind, (user, event, properties), common
    if kind == "identify":
        return kind, (user, properties), common
    if kind == "group":
        return kind, (user, draw(mostly(GOOD_IDS, IDS)), properties), common
    name = draw(mostly(st.none() | st.text(max_size=8), ANY_TEXT | st.integers()))
    category = draw(mostly(st.none() | st.text(max_size=8), ANY_TEXT | st.integers()))
    return kind, (user, category, name, properties), common


# -- the harness -------------------------------------------------------------------------------


class Harness:
    """One emulator and one client for a whole hypothesis run; checks one call at a time."""

    def __init__(self, emulator: Emulator, client: Client) -> None:
        self.emulator = emulator
        self.client = client
        self.accepted = 0
        self.refused = 0

    def lane(self) -> Any:
        return self.client.stats().lanes[LANE]

    def check(self, call: Callable[[], tuple[bool, dict[str, Any]]], payload: object = None) -> bool:
        """Make the call; it must be delivered exactly as returned, or refused leaving no trace.

        ``payload`` (the properties given) is also checked against the README's promise, and
        changed after the call returns, which must not change what is delivered. True: accepted.
        """
        self.emulator.reset()
        before = self.lane()
        try:
            ok, msg = call()
        except (TypeError, ValueError) as exc:
            self.refused += 1
            assert isinstance(exc, (EventTypeError, EventValueError)) and isinstance(exc, EdgetrackError), (
                f"refused with a plain {type(exc).__name__}: {exc}"
            )
            assert str(exc).strip(), "a refusal must say what to change"
            assert self.client.flush(10) is True
            after = self.lane()
            assert (after.pending, after.delivered) == (0, before.delivered)
            assert self.client.stats().buffered == 0
            assert self.emulator.events() == []
            if payload is not None and oracle_ok(payload):  # sendable per the README: only size may refuse
                assert "max_event_bytes" in str(exc), f"refused a sendable value: {exc}"
            return False
        assert ok is True
        self.accepted += 1
        expected = json.loads(oracle_json(queued_form(msg)))  # the message as it was when the call returned
        assert TIMESTAMP.match(msg["timestamp"]), msg["timestamp"]
        if payload is not None:
            assert oracle_ok(payload), "accepted a value the README says cannot be sent"
            _scramble(payload)  # the caller changing its dict afterwards must not change the event
        assert self.client.flush(10) is True
        [delivered] = self.emulator.events(LANE)
        assert delivered.pop("writeKey") == self.emulator.write_key
        assert TIMESTAMP.match(delivered.pop("sentAt"))
        assert delivered == expected
        after = self.lane()
        assert (after.pending, after.delivered) == (0, before.delivered + 1)
        assert not after.dead_lettered and not after.dropped
        return True


def _scramble(value: object) -> None:
    if isinstance(value, dict):
        for item in list(value.values()):
            _scramble(item)
        value.clear()
        value["scrambled"] = True
    elif isinstance(value, list):
        value.clear()


@pytest.fixture
def thread_errors(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every exception that escapes any thread while the test runs."""
    seen: list[str] = []
    monkeypatch.setattr(
        threading, "excepthook", lambda args: seen.append(f"{args.thread}: {args.exc_type.__name__}")
    )
    yield seen


@pytest.fixture
def harness(tmp_path: Path, caplog: pytest.LogCaptureFixture, thread_errors: list[str]) -> Iterator[Harness]:
    caplog.set_level(logging.WARNING, logger="edgetrack")
    with Emulator() as emu:
        client = Client(
            [IntileryMobile(emu.write_key, endpoint=emu.url)], path=tmp_path / "q.db", retry=FAST, power=None
        )
        try:
            yield Harness(emu, client)
        finally:
            client.shutdown(5)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    assert thread_errors == []
    db = sqlite3.connect(tmp_path / "q.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT count(*) FROM events").fetchone() == (0,)
    finally:
        db.close()


# -- properties --------------------------------------------------------------------------------


def test_arbitrary_properties_are_delivered_exactly_or_refused_cleanly(harness: Harness) -> None:
    """track() with generated properties: delivered JSON-equal to the returned message, or a clear refusal."""

    @FUZZ
    @given(properties=PROPERTIES, user=st.text(min_size=1, max_size=8))
    def check(properties: Any, user: str) -> None:
        payload = properties if isinstance(properties, dict) else None
        harness.check(lambda: harness.client.track(user, "Fuzzed", properties), payload)

    check()
    assert harness.accepted and harness.refused


def test_arbitrary_calls_are_delivered_exactly_or_refused_cleanly(harness: Harness) -> None:
    """Every call type with generated ids, names, timestamps, contexts and integrations."""

    @FUZZ
    @given(call=calls())
    def check(call: tuple[str, tuple[Any, ...], dict[str, Any]]) -> None:
        kind, args, kwargs = call
        method = getattr(harness.client, kind)
        harness.check(lambda: method(*args, **kwargs))

    check()
    assert harness.accepted and harness.refused


def test_values_at_the_documented_edges(harness: Harness) -> None:
    """Hand-picked edges: biggest sendable string, first refused size, NaN, cycles, deep and odd keys."""
    harness.client.track("u", "First")  # a session's first event says so: one key more
    room = MAX_EVENT_BYTES - len(
        json.dumps(queued_form(harness.client.track("u", "E")[1]), separators=(",", ":"))
    )
    harness.client.flush(10)
    cycle: dict[str, Any] = {}
    cycle["me"] = [cycle]
    cases: list[tuple[object, bool]] = [
        ({"s": "x" * (room - 200)}, True),
        ({"s": "x" * (room + 10)}, False),
        ({"s": "é" * (room // 2 + 10)}, False),  # under the limit in characters, over it in bytes
        ({"n": math.nan}, False),
        ({"n": -math.inf}, False),
        ({"n": Decimal("1E+400")}, False),  # finite, but no finite float
        ({"n": 2**63, "m": -(2**63), "f": 5e-324, "g": 1.7976931348623157e308}, True),
        ({"s": "\ud800"}, False),
        ({"\udfff": 1}, False),
        ({"s": "nul\x00 and \u2028 and 😀"}, True),
        ({7: "int key", 2.5: "float key", True: "bool key", None: "none key"}, True),
        ({(1,): "tuple key"}, False),
        ({"b": b"\xff"}, False),
        ({"c": cycle}, False),
        ({"d": _nested(98, "dict")}, True),
        ({"d": _nested(100, "dict")}, False),  # edgetrack's MAX_DEPTH, under every vendor parser's
        ({"k": {1: "one", "1": "also one"}}, False),
        ({"d": _nested(100_000, "list")}, False),
        ({"t": ("a", ("b",))}, True),
        ({"when": dt.datetime(2024, 5, 2, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))}, True),
    ]
    for index, (properties, sendable) in enumerate(cases):
        accepted = harness.check(lambda p=properties: harness.client.track("u", "Edge", p), properties)  # type: ignore[misc]
        assert accepted is sendable, f"case {index}"


def test_good_and_bad_calls_from_many_threads(harness: Harness, thread_errors: list[str]) -> None:
    """Good and bad calls interleaved on 6 threads: each good one arrives once, in its thread's order."""
    bad: list[object] = [{"x": math.nan}, {"x": b"b"}, {"\ud800": 1}, [1], {"x": {1, 2}}, {"x": "z" * 40_000}]
    ids: dict[int, list[str]] = {}
    failures: list[str] = []

    def run(n: int) -> None:
        mine = ids.setdefault(n, [])
        for i in range(150):
            try:
                if i % 3 == 0:
                    harness.client.track(f"t{n}", "Bad", bad[(i // 3) % len(bad)])
                    failures.append(f"thread {n}: bad call {i} accepted")
                else:
                    mine.append(harness.client.track(f"t{n}", "Good", {"i": i, "n": n})[1]["messageId"])
            except (EventTypeError, EventValueError):
                pass
            except Exception as exc:  # anything else is a failure of the test's property
                failures.append(f"thread {n}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=run, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert harness.client.flush(30) is True
    arrived = [e["messageId"] for e in harness.emulator.events(LANE)]
    assert sorted(arrived) == sorted(m for mine in ids.values() for m in mine)  # each once
    for mine in ids.values():
        assert [m for m in arrived if m in set(mine)] == mine
    assert harness.lane().delivered == 6 * 100


# -- found by fuzzing: bugs since fixed, kept as regression tests --------------------------------


@pytest.mark.parametrize(
    "timestamp",
    [
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        dt.datetime.min.replace(tzinfo=dt.timezone(dt.timedelta(hours=1))),
    ],
    ids=["year-1-east-of-utc", "year-9999-west-of-utc", "datetime-min-aware"],
)
def test_timestamp_at_the_edge_of_datetime_is_a_value_error(tmp_path: Path, timestamp: object) -> None:
    """A timestamp that cannot be converted to UTC is refused with EventValueError, not OverflowError."""
    with Client([], path=tmp_path / "q.db", send=False, power=None) as client:
        with pytest.raises(EventValueError):
            client.track("u", "E", timestamp=timestamp)


def test_timestamp_before_year_1000_is_iso_8601_and_never_blocks_a_lane(tmp_path: Path) -> None:
    """A year-999 timestamp is queued as ISO-8601 ('0999-...'); Batch.com expires it, the next one is sent."""
    with Emulator() as emu:
        batch = BatchCom(emu.batch_api_key, emu.batch_rest_key, endpoint=emu.url)
        with Client([batch], path=tmp_path / "q.db", retry=FAST, power=None) as client:
            _, msg = client.track("u", "Old", timestamp=dt.datetime(999, 1, 1))
            client.track("u", "New")
            assert msg["timestamp"] == "0999-01-01T00:00:00.000Z"
            assert client.flush(5) is False  # not every event was delivered: one was dead-lettered
        assert [e["name"] for e in emu.events("batch_com")] == ["new"]


def test_deep_nesting_from_a_deep_call_stack_is_a_value_error(tmp_path: Path) -> None:
    """Deeply nested properties from an app already 300 frames deep are refused with EventValueError."""
    with Client([], path=tmp_path / "q.db", send=False, power=None) as client:

        def at_depth(frames: int) -> None:
            if frames:
                at_depth(frames - 1)
                return
            with pytest.raises(EventValueError):
                client.track("u", "E", {"deep": _nested(5_000, "list")})

        at_depth(300)


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.track("u", "Bad traits", context={"traits": "gold"}),
        lambda c: c.alias("anon", "u", context={"traits": ["gold"]}),
    ],
    ids=["track-traits-str", "alias-traits-list"],
)
def test_an_event_a_destination_cannot_map_never_blocks_its_lane(
    tmp_path: Path, call: Callable[[Client], object]
) -> None:
    """An accepted event Encharge cannot map is set aside (counted), and the next event is delivered."""
    with Emulator() as emu:
        with Client(
            [Encharge(emu.encharge_key, endpoint=emu.url)], path=tmp_path / "q.db", retry=FAST
        ) as client:
            call(client)
            client.track("u", "Next")
            assert client.flush(3) is False  # not every event was delivered: one was dead-lettered
        assert [e.get("name") for e in emu.events("encharge")] == ["Next"]
