"""The vendor emulators over raw loopback HTTP: statuses, bodies, auth, validation and limits per vendor."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from edgetrack.emulator import Emulator
from edgetrack.emulator.core import Limiter

INTILERY = "/track/acme/acme/ACME/v1/"
NOW = datetime(2026, 11, 20, 12, 0, 0, tzinfo=timezone.utc)


def post(
    emu: Emulator,
    path: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
    gzipped: bool = False,
) -> requests.Response:
    data = raw if raw is not None else json.dumps(body).encode()
    sent = {"Content-Type": "application/json", **(headers or {})}
    if gzipped:
        data = gzip.compress(data)
        sent["Content-Encoding"] = "gzip"
    return requests.post(emu.url + path, data=data, headers=sent, timeout=5)


def intilery(emu: Emulator, action: str, body: Any, **kwargs: Any) -> requests.Response:
    headers = {"auth-token": emu.intilery_token, **kwargs.pop("headers", {})}
    return post(emu, INTILERY + action, body, headers=headers, **kwargs)


def parcelvoy(emu: Emulator, route: str, body: Any, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {emu.parcelvoy_key}", **kwargs.pop("headers", {})}
    return post(emu, "/api/client/" + route, body, headers=headers, **kwargs)


def encharge(emu: Emulator, body: Any, **kwargs: Any) -> requests.Response:
    headers = {"X-Encharge-Token": emu.encharge_key, **kwargs.pop("headers", {})}
    return post(emu, "/v1/", body, headers=headers, **kwargs)


def batch(emu: Emulator, body: Any, user: str | None = None, **kwargs: Any) -> requests.Response:
    path = f"/1.0/{emu.batch_api_key}/events/users" + (f"/{user}" if user else "")
    headers = {"X-Authorization": emu.batch_rest_key, **kwargs.pop("headers", {})}
    return post(emu, path, body, headers=headers, **kwargs)


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def segment(emu: Emulator, body: Any, path: str = "/v1/batch", **kwargs: Any) -> requests.Response:
    headers = {**basic(emu.segment_write_key), **kwargs.pop("headers", {})}
    return post(emu, path, body, headers=headers, **kwargs)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


@pytest.fixture
def clocked() -> Iterator[Emulator]:
    with Emulator(batch_now=NOW.timestamp) as emu:
        yield emu


TRACK = {"userId": "u1", "event": "Song Played", "properties": {"name": "Fallin"}}


# -- core --------------------------------------------------------------------------------------


def test_token_bucket_spends_burst_then_refills_at_rate() -> None:
    """A bucket starts full, refuses once empty, and refills at ``rate`` tokens per second."""
    now = [0.0]
    bucket = Limiter(2.0, 3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5
    assert [bucket.take(), bucket.take()] == [True, False]
    now[0] += 100.0
    assert sum(bucket.take() for _ in range(10)) == 3


@pytest.mark.parametrize(
    ("send", "status"),
    [
        (lambda e: intilery(e, "track", TRACK, gzipped=True), 200),
        (lambda e: parcelvoy(e, "events", [{"external_id": "x", "name": "n"}], gzipped=True), 204),
        (lambda e: encharge(e, {"name": "n", "user": {"email": "a@b.c"}}, gzipped=True), 200),
        (lambda e: batch(e, [{"id": "u", "events": [{"name": "ue.n"}]}], gzipped=True), 201),
        (
            lambda e: segment(e, {"batch": [{"type": "track", "event": "n", "userId": "u"}]}, gzipped=True),
            200,
        ),
    ],
    ids=["intilery_events", "parcelvoy", "encharge", "batch_com", "segment"],
)
def test_every_vendor_accepts_gzip_bodies(emulator: Emulator, send: Any, status: int) -> None:
    """Every vendor inflates a ``Content-Encoding: gzip`` body and accepts it."""
    assert send(emulator).status_code == status
    assert len(emulator.events()) == 1


# -- Intilery Event API ------------------------------------------------------------------------


def test_intilery_track_returns_success_and_event_id(emulator: Emulator) -> None:
    """A valid track gets 200 ``{"success": true, "eventId": <uuid>}`` and is recorded."""
    response = intilery(emulator, "track", TRACK)
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and uuid.UUID(body["eventId"])
    assert emulator.events("intilery_events") == [TRACK]


def test_intilery_identify_page_screen_shapes(emulator: Emulator) -> None:
    """identify needs event "identify" and traits, page needs event "page", screen may omit event."""
    ok = {
        "userId": "u",
        "event": "identify",
        "traits": {"email": "a@b.c"},
        "timestamp": "2019-11-18T13:30:11.444Z",
    }
    assert intilery(emulator, "identify", ok).status_code == 200
    assert intilery(emulator, "page", {"anonymousId": "a", "event": "page"}).status_code == 200
    assert intilery(emulator, "screen", {"userId": "u", "name": "Home"}).status_code == 200
    no_traits = intilery(emulator, "identify", {"userId": "u", "event": "identify"})
    assert (no_traits.status_code, no_traits.json()) == (
        400,
        {"success": False, "message": "traits must be an object"},
    )
    assert (
        intilery(emulator, "page", {"userId": "u", "event": "Viewed"}).json()["message"]
        == 'event must be "page"'
    )
    assert len(emulator.events("intilery_events")) == 3


def test_intilery_validation_errors_are_400_success_false(emulator: Emulator) -> None:
    """No user id, no event name, a bad timestamp or bad JSON: 400 ``{"success": false, "message"}``."""
    no_user = intilery(emulator, "track", {"event": "E"})
    assert (no_user.status_code, no_user.json()) == (
        400,
        {"success": False, "message": "userId must not be empty"},
    )
    assert intilery(emulator, "track", {"userId": "u"}).json()["message"] == "event must not be empty"
    assert intilery(emulator, "track", {**TRACK, "timestamp": "yesterday"}).status_code == 400
    bad_json = intilery(emulator, "track", None, raw=b"{nope")
    assert bad_json.status_code == 400 and bad_json.json()["success"] is False
    assert intilery(emulator, "track", TRACK, headers={"Content-Type": "text/plain"}).status_code == 400
    assert emulator.events() == []


def test_intilery_auth_failures_are_403(emulator: Emulator) -> None:
    """No ``auth-token`` is 403 "No Token Supplied"; a wrong token or brand is 403 "Token Not Authorised"."""
    missing = post(emulator, INTILERY + "track", TRACK)
    assert (missing.status_code, missing.json()) == (403, {"success": False, "message": "No Token Supplied"})
    wrong = intilery(emulator, "track", TRACK, headers={"auth-token": "nope"})
    assert (wrong.status_code, wrong.json()) == (403, {"success": False, "message": "Token Not Authorised"})
    other_brand = post(
        emulator, "/track/acme/acme/OTHER/v1/track", TRACK, headers={"auth-token": "emulator-intilery-token"}
    )
    assert other_brand.status_code == 403 and other_brand.json()["message"] == "Token Not Authorised"


@pytest.mark.parametrize("path", ["/track/ACME/acme/ACME", "/track/acme/Acme/ACME", "/track/acme/acme/acme"])
def test_intilery_path_case_rules(emulator: Emulator, path: str) -> None:
    """clientId/accountId must be lower case, BRANDID upper case; a wrong case is 403 Token Not Authorised."""
    response = post(emulator, path + "/v1/track", TRACK, headers={"auth-token": emulator.intilery_token})
    assert (response.status_code, response.json()["message"]) == (403, "Token Not Authorised")


def test_intilery_unknown_action_has_no_route(emulator: Emulator) -> None:
    """Only identify|track|page|screen|batch exist; another action is a 404."""
    assert intilery(emulator, "alias", TRACK).status_code == 404


def test_intilery_batch_records_items_with_shared_context(emulator: Emulator) -> None:
    """/v1/batch records each item, with the top-level context merged in (the item's keys win)."""
    body = {
        "batch": [
            {"event": "identify", "userId": "u", "traits": {"email": "j@y.com"}},
            {"event": "Song Played", "userId": "u", "context": {"ip": "1.2.3.4"}},
        ],
        "context": {"device": {"type": "phone"}, "ip": "0.0.0.0"},
    }
    response = intilery(emulator, "batch", body)
    assert response.status_code == 200 and response.json()["success"] is True
    first, second = emulator.events("intilery_events")
    assert first["context"] == {"device": {"type": "phone"}, "ip": "0.0.0.0"}
    assert second["context"] == {"device": {"type": "phone"}, "ip": "1.2.3.4"}


def test_intilery_batch_item_validation(emulator: Emulator) -> None:
    """Every batch item needs an event; an identify item needs traits; an empty batch is refused."""
    no_event = intilery(emulator, "batch", {"batch": [{"userId": "u"}]})
    assert (no_event.status_code, no_event.json()["message"]) == (400, "batch[0]: event must not be empty")
    no_traits = intilery(emulator, "batch", {"batch": [TRACK, {"event": "identify", "userId": "u"}]})
    assert no_traits.json()["message"] == "batch[1]: traits must be an object"
    assert intilery(emulator, "batch", {"batch": []}).status_code == 400
    assert emulator.events() == []


def test_intilery_size_limits_are_413() -> None:
    """A request over the configured size, or a batch item over the item size, is 413."""
    with Emulator(intilery_max_body=2000, intilery_max_item=500) as emu:
        big = intilery(emu, "track", {**TRACK, "properties": {"x": "y" * 3000}})
        assert (big.status_code, big.json()) == (413, {"success": False, "message": "Request too large"})
        item = {**TRACK, "properties": {"x": "y" * 600}}
        assert intilery(emu, "batch", {"batch": [item]}).status_code == 413
        assert intilery(emu, "track", item).status_code == 200


def test_intilery_rate_limit_is_429() -> None:
    """Past the token bucket's burst (with a negligible refill rate) requests get 429."""
    with Emulator(intilery_rate=(0.001, 2)) as emu:
        statuses = [intilery(emu, "track", TRACK).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        assert intilery(emu, "track", TRACK).json() == {"success": False, "message": "Rate limit exceeded"}


# -- Parcelvoy ---------------------------------------------------------------------------------


def test_parcelvoy_success_is_204_empty(emulator: Emulator) -> None:
    """alias, identify, devices and events answer 204 with an empty body and are recorded as sent."""
    identify = {"external_id": "E", "email": "a@b.c", "timezone": "America/Chicago", "data": {"plan": "pro"}}
    device = {
        "external_id": "E",
        "device_id": "d",
        "os": "iOS",
        "model": "m",
        "app_build": "1",
        "app_version": "1",
    }
    events = [
        {"external_id": "E", "name": "Purchased", "data": {"price": 49.99}},
        {"anonymous_id": "A", "name": "x"},
    ]
    for route, body in [
        ("alias", {"anonymous_id": "A", "external_id": "E"}),
        ("identify", identify),
        ("devices", device),
        ("events", events),
    ]:
        response = parcelvoy(emulator, route, body)
        assert (response.status_code, response.content) == (204, b"")
    recorded = emulator.events("parcelvoy")
    assert recorded[1] == identify and recorded[3:] == events


def test_parcelvoy_auth_401_and_404(emulator: Emulator) -> None:
    """No/malformed bearer or a non-pk_/sk_ token is 401 code 1000; an unknown key is 404 code 6000."""
    body = [{"external_id": "E", "name": "n"}]
    unauthorised = {"status": "error", "error": "Authorization error.", "code": 1000}
    for headers in [
        {},
        {"Authorization": "bearer " + emulator.parcelvoy_key},
        {"Authorization": "Bearer jwt"},
    ]:
        response = post(emulator, "/api/client/events", body, headers=headers)
        assert (response.status_code, response.json()) == (401, unauthorised)
    unknown = parcelvoy(emulator, "events", body, headers={"Authorization": "Bearer pk_unknown"})
    missing = {"status": "error", "error": "The requested project does not exist.", "code": 6000}
    assert (unknown.status_code, unknown.json()) == (404, missing)
    assert (
        parcelvoy(emulator, "events", body, headers={"Authorization": "Bearer sk_unknown"}).status_code == 404
    )


@pytest.mark.parametrize(
    ("route", "body", "message"),
    [
        ("alias", {}, "Must have required property 'external_id'"),
        ("alias", {"external_id": "E"}, "Must have required property 'anonymous_id'"),
        ("alias", {"external_id": "E", "anonymous_id": 5}, "The value of `anonymous_id` must be a string."),
        ("identify", {"email": "a@b.c"}, "Must have required property 'anonymous_id'"),
        ("identify", [], "The value of `` must be a object."),
        ("identify", {"external_id": "E", "name": "x"}, "Must NOT have additional properties"),
        (
            "identify",
            {"external_id": "E", "timezone": "Mars/Base"},
            "The timezone value must be in the IANA format.",
        ),
        ("identify", {"external_id": "E", "data": []}, "The value of `data` must be a object."),
        ("devices", {"external_id": "E"}, "Must have required property 'device_id'"),
        ("events", [], "Must NOT have fewer than 1 items"),
        ("events", {"name": "x"}, "The value of `` must be a array."),
        ("events", [{"external_id": "E"}], "Must have required property 'name'"),
        ("events", [{"name": "n"}], "Must have required property 'anonymous_id'"),
        ("events", [{"name": "n", "external_id": "E"}, 5], "The value of `1` must be a object."),
        (
            "events",
            [{"name": "n", "external_id": "E", "data": "x"}],
            "The value of `0/data` must be a object.",
        ),
        ("segment", [{"userId": "u"}], "Must have required property 'type'"),
    ],
)
def test_parcelvoy_validation_is_ajv_422(emulator: Emulator, route: str, body: Any, message: str) -> None:
    """Schema failures are 422 ``{"status": "error", "error": <first Ajv error, as parseError words it>}``."""
    response = parcelvoy(emulator, route, body)
    assert (response.status_code, response.json()) == (422, {"status": "error", "error": message})


def test_parcelvoy_identify_accepts_nulls_and_iana_timezones(emulator: Emulator) -> None:
    """Nullable fields take null, and any IANA zone name passes the timezone check."""
    body = {
        "anonymous_id": "A",
        "external_id": None,
        "email": None,
        "timezone": "Europe/London",
        "data": None,
    }
    assert parcelvoy(emulator, "identify", body).status_code == 204
    assert parcelvoy(emulator, "identify", {"external_id": "E", "timezone": "UTC"}).status_code == 204


def test_parcelvoy_malformed_or_oversized_body_is_generic_400() -> None:
    """Malformed JSON, a JSON scalar, and a body over the limit are 400 with the generic body, not 413."""
    generic = {"status": "error", "error": "An error occurred with this request."}
    with Emulator(parcelvoy_max_body=1000) as emu:
        for raw in (b"[{nope", b'"text"'):
            response = parcelvoy(emu, "events", None, raw=raw)
            assert (response.status_code, response.json()) == (400, generic)
        big = parcelvoy(emu, "events", [{"external_id": "E", "name": "n", "data": {"x": "y" * 2000}}])
        assert (big.status_code, big.json()) == (400, generic)
        unauthenticated_big = post(emu, "/api/client/events", [{"name": "y" * 2000}])
        assert unauthenticated_big.status_code == 400  # the body is read before auth
        assert emu.events() == []


def test_parcelvoy_segment_route_and_unknown_route(emulator: Emulator) -> None:
    """The undocumented /segment takes up to 1000 Segment items; an unknown client route is 404."""
    items = [
        {"type": "track", "event": "n", "userId": "u"},
        {"type": "identify", "userId": "u", "context": {}},
    ]
    assert parcelvoy(emulator, "segment", items).status_code == 204
    assert emulator.events("parcelvoy") == items
    too_many = parcelvoy(emulator, "segment", [items[0]] * 1001)
    assert too_many.json() == {"status": "error", "error": "Must NOT have more than 1000 items"}
    assert parcelvoy(emulator, "segment", [{"type": "identify", "userId": "u"}]).status_code == 400
    assert parcelvoy(emulator, "nope", {}).status_code == 404


# -- Encharge ----------------------------------------------------------------------------------

EVENT = {
    "name": "Registered user",
    "user": {"email": "jon@example.com", "userId": "1"},
    "properties": {"plan": "p"},
}


def test_encharge_success_is_200_text_plain_empty(emulator: Emulator) -> None:
    """/v1/ and /v1 with X-Encharge-Token, and /v1/{writeKey}, answer 200 text/plain with no body."""
    responses = [
        encharge(emulator, EVENT),
        post(emulator, "/v1", EVENT, headers={"X-Encharge-Token": emulator.encharge_key}),
        post(emulator, f"/v1/{emulator.encharge_key}", EVENT),
    ]
    for response in responses:
        assert response.status_code == 200 and response.content == b""
        assert response.headers["Content-Type"] == "text/plain"
    assert emulator.events("encharge") == [EVENT] * 3


def test_encharge_missing_or_unknown_key_is_401(emulator: Emulator) -> None:
    """No key, an unknown header key or unknown path key: 401 ``{"error": "Missing Encharge write key."}``."""
    expected = (401, {"error": "Missing Encharge write key."})
    for response in [
        post(emulator, "/v1/", EVENT),
        encharge(emulator, EVENT, headers={"X-Encharge-Token": "nope"}),
        post(emulator, "/v1/nope", EVENT, headers={"X-Encharge-Token": emulator.encharge_key}),
    ]:
        assert (response.status_code, response.json()) == expected


def test_encharge_validation_is_400_error(emulator: Emulator) -> None:
    """A missing name, a user without email/userId, or bad JSON is 400 ``{"error": ...}``."""
    for body in [{"user": {"email": "a@b.c"}}, {"name": "n"}, {"name": "n", "user": {"firstName": "J"}}]:
        response = encharge(emulator, body)
        assert response.status_code == 400 and isinstance(response.json()["error"], str)
    assert encharge(emulator, None, raw=b"{nope").status_code == 400
    assert emulator.events() == []


def test_encharge_accepts_segment_event_and_special_events(emulator: Emulator) -> None:
    """Segment's ``event`` stands for ``name``; alias and group bodies need no name."""
    track = {"type": "track", "event": "Test Event", "user": {"userId": 123}}
    alias = {"type": "alias", "previousUserId": "abc", "user": {"userId": "123"}}
    group = {"type": "group", "objectType": "company", "properties": {"name": "Stark", "externalId": "abc"}}
    for body in (track, alias, group):
        assert encharge(emulator, body).status_code == 200
    assert encharge(emulator, {"type": "alias", "previousUserId": "abc"}).status_code == 400
    assert encharge(emulator, {"type": "group", "properties": {}}).status_code == 400
    assert emulator.events("encharge") == [track, alias, group]


def test_encharge_size_limit_is_413() -> None:
    """A body over the configured size is 413."""
    with Emulator(encharge_max_body=500) as emu:
        assert encharge(emu, {**EVENT, "properties": {"x": "y" * 1000}}).status_code == 413


# -- Batch.com ---------------------------------------------------------------------------------


def test_batch_bulk_and_single_return_201_token(emulator: Emulator) -> None:
    """Bulk and single uploads answer 201 ``{"token": <uuid>}``; events are recorded with the user's id."""
    event = {"name": "ue.added_to_cart", "label": "shoes", "tags": ["summer"], "attributes": {"price": 59.9}}
    bulk = batch(
        emulator, [{"id": "vincent", "events": [event]}, {"id": "claire", "events": [{"name": "ue.x"}]}]
    )
    assert bulk.status_code == 201 and uuid.UUID(bulk.json()["token"])
    single = batch(emulator, {"events": [{"name": "viewed"}]}, user="user%2F42")
    assert single.status_code == 201
    assert emulator.events("batch_com") == [
        {**event, "id": "vincent"},
        {"name": "ue.x", "id": "claire"},
        {"name": "viewed", "id": "user/42"},
    ]


def test_batch_auth_failures_are_401_code_10(emulator: Emulator) -> None:
    """A wrong or missing REST key, or an unknown API key in the path, is 401 code 10."""
    body = [{"id": "u", "events": [{"name": "n"}]}]
    responses = [
        batch(emulator, body, headers={"X-Authorization": "nope"}),
        post(emulator, f"/1.0/{emulator.batch_api_key}/events/users", body),
        post(emulator, "/1.0/OTHER/events/users", body, headers={"X-Authorization": emulator.batch_rest_key}),
    ]
    for response in responses:
        assert response.status_code == 401
        assert response.json()["error_code"] == 10
        assert response.json()["error_message"].startswith("AUTHENTICATION_INVALID: ")


def test_batch_malformed_json_is_code_32(emulator: Emulator) -> None:
    """A body that is not JSON is 400 code 32 MALFORMED_JSON_BODY."""
    response = batch(emulator, None, raw=b"[{nope")
    assert response.status_code == 400 and response.json()["error_code"] == 32
    assert response.json()["error_message"].startswith("MALFORMED_JSON_BODY: ")


@pytest.mark.parametrize(
    ("event", "code"),
    [
        ({}, 30),
        ({"name": "Added To Cart"}, 31),
        ({"name": "n" * 31}, 31),
        ({"name": "n", "label": "l" * 201}, 31),
        ({"name": "n", "tags": ["t"] * 11}, 31),
        ({"name": "n", "tags": ["t" * 65]}, 31),
        ({"name": "n", "attributes": {f"a{i}": i for i in range(16)}}, 31),
        ({"name": "n", "attributes": {"Bad-Name": 1}}, 31),
        ({"name": "n", "attributes": {"s": "v" * 65}}, 31),
        ({"name": "n", "attributes": {"nested": {"a": 1}}}, 31),
        ({"name": "n", "attributes": {"date(d)": "tomorrow"}}, 31),
    ],
)
def test_batch_event_validation_codes(emulator: Emulator, event: dict[str, Any], code: int) -> None:
    """A missing name is code 30 MISSING_PARAMETER; broken name/label/tags/attribute rules are code 31."""
    response = batch(emulator, [{"id": "u", "events": [event]}])
    assert (response.status_code, response.json()["error_code"]) == (400, code)
    name = {30: "MISSING_PARAMETER: ", 31: "MALFORMED_PARAMETER: "}[code]
    assert response.json()["error_message"].startswith(name)


def test_batch_accepts_documented_attribute_types(emulator: Emulator) -> None:
    """Strings, integers, floats, booleans, and date() keys with Unix seconds or a date-time are accepted."""
    attributes = {
        "s": "v" * 64, "i": 42, "f": 1.5, "b": True,
        "date(promo_starts)": 1451642400, "date(promo_ends)": "2021-01-01T04:00:00.000",
    }  # fmt: skip
    event = {"name": "ue.n", "label": "l" * 200, "tags": ["t" * 64] * 10, "attributes": attributes}
    assert batch(emulator, [{"id": "u", "events": [event]}]).status_code == 201


def test_batch_users_missing_id_or_events(emulator: Emulator) -> None:
    """A bulk entry without ``id`` or ``events`` is code 30; a bulk body that is not an array is code 31."""
    assert batch(emulator, [{"events": [{"name": "n"}]}]).json()["error_code"] == 30
    assert batch(emulator, [{"id": "u"}]).json()["error_code"] == 30
    assert batch(emulator, {"id": "u", "events": []}).json()["error_code"] == 31
    assert batch(emulator, {"events": "n"}, user="u").json()["error_code"] == 31


def test_batch_more_than_1000_events_is_code_31(emulator: Emulator) -> None:
    """More than 1000 events in total, even spread over users, is 400 code 31."""
    events = [{"name": "n"}] * 500
    ok = [{"id": "a", "events": events}, {"id": "b", "events": events}]
    assert batch(emulator, ok).status_code == 201
    over = batch(emulator, [*ok, {"id": "c", "events": [{"name": "n"}]}])
    assert (over.status_code, over.json()["error_code"]) == (400, 31)


@pytest.mark.parametrize(
    ("moment", "status"),
    [
        (NOW, 201),
        (NOW - timedelta(hours=23, minutes=59), 201),
        (NOW - timedelta(hours=24, seconds=1), 400),
        (NOW + timedelta(seconds=1), 400),
    ],
)
def test_batch_time_within_last_24_hours(clocked: Emulator, moment: datetime, status: int) -> None:
    """``time`` must fall in the 24 h before the (injected) clock and not in the future."""
    response = batch(clocked, {"events": [{"name": "n", "time": stamp(moment)}]}, user="u")
    assert response.status_code == status
    if status == 400:
        assert response.json()["error_code"] == 31


def test_batch_time_format_is_strict(clocked: Emulator) -> None:
    """``time`` must be ``YYYY-MM-ddTHH:mm:ss`` (no zone, no fraction)."""
    for text in (
        stamp(NOW) + "Z",
        stamp(NOW) + ".000",
        NOW.strftime("%Y-%m-%d %H:%M:%S"),
        "2026-02-30T00:00:00",
    ):
        assert batch(clocked, {"events": [{"name": "n", "time": text}]}, user="u").json()["error_code"] == 31


def test_batch_rate_limit_is_429_code_60() -> None:
    """With a rate set, requests past the burst get 429 code 60 TOO_MANY_REQUESTS."""
    with Emulator(batch_rate=(0.001, 1)) as emu:
        body = [{"id": "u", "events": [{"name": "n"}]}]
        assert batch(emu, body).status_code == 201
        limited = batch(emu, body)
        assert (limited.status_code, limited.json()["error_code"]) == (429, 60)
        assert limited.json()["error_message"].startswith("TOO_MANY_REQUESTS: ")


def test_batch_unknown_route_and_size_limit() -> None:
    """Another /1.0/ route is 404 code 20; a body over the configured size is 413."""
    with Emulator(batch_max_body=1000) as emu:
        nope = post(
            emu, f"/1.0/{emu.batch_api_key}/events", [], headers={"X-Authorization": emu.batch_rest_key}
        )
        assert (nope.status_code, nope.json()["error_code"]) == (404, 20)
        big = batch(emu, [{"id": "u", "events": [{"name": "n", "label": "l" * 2000}]}])
        assert big.status_code == 413


# -- Segment -----------------------------------------------------------------------------------

SEGMENT_BATCH = {
    "batch": [
        {"type": "identify", "userId": "u", "traits": {"email": "a@b.c"}},
        {"type": "track", "event": "Played", "anonymousId": "a", "context": {"ip": "1.2.3.4"}},
    ],
    "context": {"library": {"name": "edgetrack"}},
}


def test_segment_batch_with_basic_auth_is_200_success(emulator: Emulator) -> None:
    """/v1/batch with Basic auth answers 200 ``{"success": true}``; the shared context is merged in."""
    response = segment(emulator, SEGMENT_BATCH)
    assert (response.status_code, response.json()) == (200, {"success": True})
    identify, track = emulator.events("segment")
    assert identify["context"] == {"library": {"name": "edgetrack"}}
    assert track["context"] == {"library": {"name": "edgetrack"}, "ip": "1.2.3.4"}


def test_segment_write_key_in_body_and_single_calls(emulator: Emulator) -> None:
    """The write key may be in the body; /v1/track takes one message, its type from the path."""
    in_body = post(emulator, "/v1/batch", {**SEGMENT_BATCH, "writeKey": emulator.segment_write_key})
    assert in_body.status_code == 200
    single = segment(emulator, {"event": "Played", "userId": "u"}, path="/v1/track")
    assert single.status_code == 200
    assert emulator.events("segment")[-1] == {"type": "track", "event": "Played", "userId": "u"}


def test_segment_missing_or_unknown_write_key_is_200_and_goes_nowhere(emulator: Emulator) -> None:
    """As Segment documents (200 for all but size and JSON errors) and as segment-analytics-python's
    own suite relies on ("bad_key" succeeds): a missing or unknown key is 200, nothing recorded."""
    assert post(emulator, "/v1/batch", SEGMENT_BATCH).status_code == 200
    assert segment(emulator, SEGMENT_BATCH, headers=basic("nope")).status_code == 200
    assert post(emulator, "/v1/batch", {**SEGMENT_BATCH, "writeKey": "nope"}).status_code == 200
    assert emulator.events() == []


def test_segment_invalid_items_are_200_and_dropped_alone(emulator: Emulator) -> None:
    """An item without type or ids is answered 200 and dropped; its valid siblings are recorded."""
    assert segment(emulator, None, raw=b"{nope").json()["code"] == "invalid_json"
    mixed = segment(
        emulator,
        {"batch": [{"type": "track", "event": "e"}, {"type": "track", "event": "ok", "userId": "u"}]},
    )
    assert mixed.status_code == 200
    assert [e["event"] for e in emulator.events()] == ["ok"]


def test_strict_segment_compatible_collectors_answer_401_and_400() -> None:
    """segment_strict=True answers like RudderStack: 401 for a missing or unknown key, 400 for a bad item."""
    with Emulator(segment_strict=True) as emulator:
        assert post(emulator, "/v1/batch", SEGMENT_BATCH).status_code == 401
        assert segment(emulator, SEGMENT_BATCH, headers=basic("nope")).status_code == 401
        assert post(emulator, "/v1/batch", {**SEGMENT_BATCH, "writeKey": "nope"}).status_code == 401
        no_type = segment(emulator, {"batch": [{"userId": "u"}]})
        assert no_type.status_code == 400
        no_user = segment(emulator, {"batch": [{"type": "track", "event": "e"}]})
        assert (no_user.status_code, no_user.json()["code"]) == (400, "no_user_anon_id")
        assert segment(emulator, {"batch": [{"type": "track", "userId": "u"}]}).status_code == 400
        assert emulator.events() == []


def test_segment_oversize_is_400_not_413() -> None:
    """A batch over the configured size, or one item over 32 KB, is 400 (Segment's documented answer)."""
    with Emulator(segment_max_body=2000) as emu:
        big = segment(emu, {"batch": [{"type": "track", "event": "e", "userId": "u", "p": "x" * 3000}]})
        assert (big.status_code, big.json()["code"]) == (400, "payload_too_large")
    with Emulator(segment_max_message=500) as emu:
        item = {"type": "track", "event": "e", "userId": "u", "p": "x" * 600}
        assert segment(emu, {"batch": [item]}).status_code == 400
        assert segment(emu, item, path="/v1/track").status_code == 400


def test_segment_batch_over_2500_events_is_200_but_dropped(emulator: Emulator) -> None:
    """More than 2500 events in a batch gets the documented 200, and nothing is recorded."""
    items = [{"type": "track", "event": "e", "userId": "u"}] * 2501
    response = segment(emulator, {"batch": items})
    assert response.status_code == 200
    assert emulator.events("segment") == []
