"""Golden tests: the seed pages' example requests, reproduced by the matching client calls.

Compared as parsed JSON, ignoring what the SDK generates (messageId, sentAt) and the context
it adds on its own (library); everything else must be exactly the vendor's example.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from edgetrack.destinations import BatchCom, Encharge, IntileryEvents, IntileryMobile, Parcelvoy, Segment
from edgetrack.destinations.base import BaseDestination
from edgetrack.envelope import Call, MessageBuilder
from edgetrack.models import QueuedEvent, Response
from edgetrack.testing import decode_request

LIB = {"name": "edgetrack", "version": "test"}
SENT_AT = "2024-05-02T10:00:00.000Z"
NOW = dt.datetime(2024, 5, 2, 10, 0, tzinfo=dt.timezone.utc).timestamp()


def queued(kind: str, fields: dict[str, Any], **kwargs: Any) -> QueuedEvent:
    builder = MessageBuilder(context={"library": LIB}, anonymous_id=None, max_event_bytes=32_000)
    msg, body, _ = builder.build(Call(kind, fields, **kwargs), at=NOW)
    return QueuedEvent(1, kind, msg["messageId"], body, NOW)


def strip(value: Any) -> Any:
    """Drop generated fields (messageId, sentAt) and the library context, recursively."""
    if isinstance(value, list):
        return [strip(v) for v in value]
    if isinstance(value, dict):
        out = {k: strip(v) for k, v in value.items() if k not in ("messageId", "sentAt", "library")}
        if out.get("context") == {}:
            del out["context"]
        return out
    return value


def sent(dest: BaseDestination, *events: QueuedEvent) -> tuple[str, Any]:
    request = dest.encode(list(events), sent_at=SENT_AT)
    return request.url, strip(decode_request(request))


INTILERY_IDENTIFY = {
    "userId": "ABC/123",
    "event": "identify",
    "traits": {
        "marketingPreferences": {
            "channels": [
                {"channel": c, "subscribed": True} for c in ("email", "sms", "whatsapp", "facebook", "push")
            ]
        },
        "clientReference": "ABC/123",
        "email": "email@example.com",
        "title": "Mr",
        "firstName": "Fred",
        "lastName": "Flintsonte",
        "phone": "+44123456789",
        "address": {
            "houseNumberOrName": "56",
            "addressLine1": "A Road",
            "addressLine2": "Chester",
            "addressLine3": "Cheshire",
            "postalCode": "CH1ABC",
        },
    },
    "context": {"ip": "24.5.68.47"},
    "timestamp": "2019-11-18T13:30:11.444Z",
}
PAGE_CONTEXT = {
    "page": {
        "path": "/simplygosimplygo-pure-inulin/p-19868604-44086200",
        "referrer": "",
        "search": "",
        "title": "Simplygo/simplygo-pure-inulin | Fruugo",
        "url": "https://www.fruugo.co.uk/simplygosimplygo-pure-inulin/p-19868604-44086200",
    },
    "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_4) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/78.0.3904.108 Safari/537.36",
}
INTILERY_TRACK = {
    "userId": "ABC/123",
    "event": "Product Added",
    "context": PAGE_CONTEXT,
    "properties": {
        "name": "Simplygo/simplygo-pure-inulin",
        "product_id": "p-19868604-44086200",
        "price": "£11.99",
        "cart_id": "1234",
        "image_url": "https://img.fruugo.com/product/3/55/98531553_max.jpg",
        "quantity": "1",
        "url": "https://www.fruugo.co.uk/simplygosimplygo-pure-inulin/p-19868604-44086200",
    },
    "timestamp": "2019-11-28T14:31:58.596Z",
}
INTILERY_PAGE = {
    "event": "page",
    "userId": "ABC/123",
    "anonymousId": "14834fb6-e82e-47f9-a7e0-892c45064d89",
    "context": PAGE_CONTEXT,
    "properties": dict(PAGE_CONTEXT["page"]),  # type: ignore[arg-type]
    "timestamp": "2019-11-28T14:50:16.519Z",
}


def intilery() -> IntileryEvents:
    return IntileryEvents("Hea", "hea", "hea", "1234abcd", endpoint="https://tracking.intilery.com")


def test_intilery_identify_matches_the_seed() -> None:
    """identify(user_id, traits, context, timestamp) is the seed's identify request, to /v1/identify."""
    event = queued(
        "identify",
        {"traits": INTILERY_IDENTIFY["traits"]},
        user_id="ABC/123",
        context={"ip": "24.5.68.47"},
        timestamp="2019-11-18T13:30:11.444Z",
    )
    url, body = sent(intilery(), event)
    assert url == "https://tracking.intilery.com/track/hea/hea/HEA/v1/identify"
    assert body == INTILERY_IDENTIFY


def test_intilery_track_matches_the_seed() -> None:
    """track(...) is the seed's "Product Added" request, to /v1/track, with the auth-token header."""
    event = queued(
        "track",
        {"event": "Product Added", "properties": INTILERY_TRACK["properties"]},
        user_id="ABC/123",
        context=PAGE_CONTEXT,
        timestamp="2019-11-28T14:31:58.596Z",
    )
    request = intilery().encode([event], sent_at=SENT_AT)
    assert request.url.endswith("/v1/track") and request.headers["auth-token"] == "1234abcd"
    assert strip(decode_request(request)) == INTILERY_TRACK


def test_intilery_page_matches_the_seed() -> None:
    """page(...) with user and anonymous ids is the seed's page request, to /v1/page."""
    event = queued(
        "page",
        {"properties": INTILERY_PAGE["properties"]},
        user_id="ABC/123",
        anonymous_id="14834fb6-e82e-47f9-a7e0-892c45064d89",
        context=PAGE_CONTEXT,
        timestamp="2019-11-28T14:50:16.519Z",
    )
    url, body = sent(intilery(), event)
    assert url.endswith("/v1/page") and body == INTILERY_PAGE


def test_intilery_several_events_go_to_batch() -> None:
    """Two or more events go in one /v1/batch request, each with its action in "event"."""
    a = queued(
        "identify",
        {"traits": {"email": "jake@yahoo.com"}},
        user_id="019mr8mf4r",
        timestamp="2012-12-02T00:30:08.276Z",
    )
    b = queued(
        "track",
        {"event": "Song Played", "properties": {"name": "Fallin for You"}},
        user_id="019mr8mf4r",
        timestamp="2012-12-02T00:30:12.984Z",
    )
    url, body = sent(intilery(), a, b)
    assert url.endswith("/v1/batch")
    assert body == {
        "batch": [
            {
                "event": "identify",
                "userId": "019mr8mf4r",
                "traits": {"email": "jake@yahoo.com"},
                "timestamp": "2012-12-02T00:30:08.276Z",
            },
            {
                "event": "Song Played",
                "userId": "019mr8mf4r",
                "properties": {"name": "Fallin for You"},
                "timestamp": "2012-12-02T00:30:12.984Z",
            },
        ]
    }


def test_intilery_mobile_batch_shape() -> None:
    """The mobile batch has writeKey at the root and per item, and the docs' screen items."""
    a = queued(
        "screen",
        {"name": "Home", "properties": {"Feed Type": "private"}},
        user_id="u",
        timestamp="2021-08-11T12:58:23.062Z",
    )
    request = IntileryMobile("WK").encode([a], sent_at=SENT_AT)
    body = decode_request(request)
    assert body["writeKey"] == "WK" and body["sentAt"] == SENT_AT
    assert strip(body)["batch"] == [
        {
            "type": "screen",
            "name": "Home",
            "properties": {"Feed Type": "private"},
            "timestamp": "2021-08-11T12:58:23.062Z",
            "userId": "u",
            "writeKey": "WK",
        }
    ]


def parcelvoy() -> Parcelvoy:
    return Parcelvoy("pk_token_here")


def test_parcelvoy_identify_matches_the_seed() -> None:
    """identify() maps email/timezone/locale to Parcelvoy's fields and the other traits to data."""
    event = queued(
        "identify",
        {
            "traits": {
                "email": "test@test.com",
                "first_name": "John",
                "last_name": "Smith",
                "has_completed_onboarding": True,
            }
        },
        user_id="EXTERNAL_ID",
        context={"timezone": "America/Chicago", "locale": "en"},
    )
    request = parcelvoy().encode([event], sent_at=SENT_AT)
    assert request.url == "https://app.parcelvoy.com/api/client/identify"
    assert request.headers["Authorization"] == "Bearer pk_token_here"
    assert decode_request(request) == {
        "external_id": "EXTERNAL_ID",
        "email": "test@test.com",
        "timezone": "America/Chicago",
        "locale": "en",
        "data": {"first_name": "John", "last_name": "Smith", "has_completed_onboarding": True},
    }


def test_parcelvoy_alias_matches_the_seed() -> None:
    """alias(previous_id, user_id) is {anonymous_id, external_id} to /alias."""
    event = queued("alias", {"previousId": "ANONYMOUS_ID"}, user_id="EXTERNAL_ID")
    request = parcelvoy().encode([event], sent_at=SENT_AT)
    assert request.url.endswith("/api/client/alias")
    assert decode_request(request) == {"anonymous_id": "ANONYMOUS_ID", "external_id": "EXTERNAL_ID"}


def test_parcelvoy_events_match_the_seed() -> None:
    """track() events go as an array to /events with name and data (plus the event's own time
    and messageId, which the API has no field for)."""
    event = queued(
        "track",
        {"event": "Product Purchased", "properties": {"product_id": 12345, "price": 49.99, "quantity": 4}},
        user_id="EXTERNAL_ID",
    )
    envelope = json.loads(event.body)
    request = parcelvoy().encode([event, event], sent_at=SENT_AT)
    assert request.url.endswith("/api/client/events")
    properties = {"product_id": 12345, "price": 49.99, "quantity": 4}
    own = {"_timestamp": envelope["timestamp"], "_message_id": envelope["messageId"]}
    assert (
        decode_request(request)
        == [{"external_id": "EXTERNAL_ID", "name": "Product Purchased", "data": {**properties, **own}}] * 2
    )


def test_parcelvoy_device_matches_the_seed() -> None:
    """register_device() fields go to /devices as the seed shows."""
    device = {
        "device_id": "5e356e66-03aa-4926-a322-d7f5c89049c1",
        "token": "45d2e0c7bbb649679723a96d92d0fa305e356e6603aa4926a322d7f5c89",
        "os": "iOS 16.3",
        "model": "iPhone15,2",
        "app_build": "465",
        "app_version": "1.2.4",
    }
    event = queued("device", {"device": device}, user_id="EXTERNAL_ID")
    request = parcelvoy().encode([event], sent_at=SENT_AT)
    assert request.url.endswith("/api/client/devices")
    assert decode_request(request) == {"external_id": "EXTERNAL_ID", **device}


def test_parcelvoy_never_mixes_endpoints_in_one_request() -> None:
    """A run of events batches together; identify and alias go one a request."""
    t = queued("track", {"event": "A", "properties": {}}, user_id="u")
    i = queued("identify", {"traits": {}}, user_id="u")
    assert parcelvoy().batch([t, t, i, t]) == 2
    assert parcelvoy().batch([i, t]) == 1


def encharge() -> Encharge:
    return Encharge("your-write-key")


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (
            (
                "track",
                {
                    "event": "Registered user",
                    "properties": {
                        "plan": "Premium",
                        "trial": {"startDate": "2020-03-06T14:24:03.522Z", "length": 14},
                    },
                },
                {
                    "user_id": "1234567890",
                    "context": {
                        "traits": {
                            "email": "jonsnow@thenorthremembers.com",
                            "firstName": "Jon",
                            "lastName": "Snow",
                        }
                    },
                },
            ),
            {
                "name": "Registered user",
                "user": {
                    "email": "jonsnow@thenorthremembers.com",
                    "userId": "1234567890",
                    "firstName": "Jon",
                    "lastName": "Snow",
                },
                "properties": {
                    "plan": "Premium",
                    "trial": {"startDate": "2020-03-06T14:24:03.522Z", "length": 14},
                },
            },
        ),
        (
            ("track", {"event": "Created Page", "properties": {}}, {"user_id": "1234567890"}),
            {"name": "Created Page", "user": {"userId": "1234567890"}},
        ),
        (
            (
                "track",
                {
                    "event": "Form Submitted",
                    "properties": {"Message": "Hello, I'd like to order some paper."},
                },
                {
                    "anonymous_id": "a1",
                    "context": {"traits": {"email": "michael@michael-scott-paper-company.com"}},
                },
            ),
            {
                "name": "Form Submitted",
                "user": {"email": "michael@michael-scott-paper-company.com"},
                "properties": {"Message": "Hello, I'd like to order some paper."},
            },
        ),
        (
            (
                "alias",
                {"previousId": "abc"},
                {
                    "user_id": "123",
                    "context": {"traits": {"email": "aegon@targaryen.com", "previousEmail": "jon@snow.com"}},
                },
            ),
            {
                "type": "alias",
                "previousUserId": "abc",
                "previousEmail": "jon@snow.com",
                "user": {"userId": "123", "email": "aegon@targaryen.com"},
            },
        ),
        (
            (
                "group",
                {"groupId": "abc", "traits": {"name": "House Stark"}},
                {"user_id": "123", "context": {"traits": {"email": "jon@snow.com"}}},
            ),
            {
                "type": "group",
                "objectType": "company",
                "properties": {"name": "House Stark", "externalId": "abc"},
                "user": {"userId": "123", "email": "jon@snow.com"},
            },
        ),
    ],
    ids=["registered", "created-page", "form-submitted", "alias", "group"],
)
def test_encharge_matches_the_seed(call: tuple[str, dict[str, Any], dict[str, Any]], expected: Any) -> None:
    """Each Encharge seed example is produced by the matching call, one event a request."""
    kind, fields, kwargs = call
    request = encharge().encode([queued(kind, fields, **kwargs)], sent_at=SENT_AT)
    assert request.url == "https://ingest.encharge.io/v1"
    assert request.headers["X-Encharge-Token"] == "your-write-key"
    assert decode_request(request) == expected


def test_encharge_skips_events_with_no_user_id_or_email() -> None:
    """An event with only an anonymous id cannot reach Encharge: skipped with a reason."""
    event = queued("track", {"event": "E", "properties": {}}, anonymous_id="a1")
    assert encharge().check(event, NOW) == ("skipped", "no_user_id")


def batch() -> BatchCom:
    return BatchCom("BATCH_API_KEY", "REST_KEY")


def test_batch_bulk_matches_the_seed() -> None:
    """Two users' track calls become the seed's bulk body, grouped by custom user id."""
    at = dt.datetime(2024, 5, 2, 9, 30, 5, tzinfo=dt.timezone.utc)
    promo = dt.datetime(2024, 6, 12, 22, 30, 5)
    calls = [
        (
            "vincent",
            {
                "label": "shoes",
                "id": "00-00-xxx-xxx",
                "sub_category": "boots",
                "promo_ends": promo,
                "tags": ["private-sales", "summer-discount"],
            },
        ),
        (
            "claire",
            {
                "label": "glasses",
                "id": "00-00-yyy-yyy",
                "sub_category": "accessories",
                "promo_ends": promo,
                "tags": ["private-sales", "summer-discount"],
            },
        ),
    ]
    events = [
        queued("track", {"event": "ue.added_to_cart", "properties": props}, user_id=uid, timestamp=at)
        for uid, props in calls
    ]
    request = batch().encode(events, sent_at=SENT_AT)
    assert request.url == "https://api.batch.com/1.0/BATCH_API_KEY/events/users"
    assert request.headers["X-Authorization"] == "REST_KEY"
    assert decode_request(request) == [
        {
            "id": uid,
            "events": [
                {
                    "name": "ue.added_to_cart",
                    "time": "2024-05-02T09:30:05",
                    "label": props["label"],
                    "attributes": {
                        "id": props["id"],
                        "sub_category": props["sub_category"],
                        "date(promo_ends)": "2024-06-12T22:30:05",
                    },
                    "tags": ["private-sales", "summer-discount"],
                }
            ],
        }
        for uid, props in calls
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Added to Cart", "added_to_cart"),
        ("ue.added_to_cart", "ue.added_to_cart"),
        ("Checkout — Step 2!", "checkout_step_2"),
        ("x" * 40, "x" * 30),
    ],
)
def test_batch_event_names_are_made_valid(name: str, expected: str) -> None:
    """Event names become lower-case [a-z0-9_] of at most 30 characters; a ue. prefix is kept."""
    from edgetrack.destinations.batch_com import event_name

    assert event_name(name) == expected


def test_batch_attributes_are_limited_and_typed() -> None:
    """At most 15 attributes; long strings cut to 64; nested objects flattened; lists dropped."""
    props: dict[str, object] = {f"Attr {n}": n for n in range(20)}
    props.update({"long": "y" * 100, "nested": {"a": 1}, "list": [1, 2]})
    event = queued(
        "track",
        {"event": "E", "properties": {"long": "y" * 100, "nested": {"a": 1}, "list": [1], **props}},
        user_id="u",
    )
    (user,) = decode_request(batch().encode([event], sent_at=SENT_AT))
    attributes = user["events"][0]["attributes"]
    assert len(attributes) == 15 and attributes["long"] == "y" * 64 and attributes["nested_a"] == 1
    assert "list" not in attributes


def test_batch_expires_events_older_than_a_day_and_skips_anonymous_ones() -> None:
    """Batch.com refuses events over 24 h old: expired for the lane, counted, not sent."""
    old = queued(
        "track",
        {"event": "E", "properties": {}},
        user_id="u",
        timestamp=dt.datetime.fromtimestamp(NOW - 25 * 3600, dt.timezone.utc),
    )
    fresh = queued("track", {"event": "E", "properties": {}}, user_id="u")
    anonymous = queued("track", {"event": "E", "properties": {}}, anonymous_id="a")
    assert batch().check(old, NOW) == ("expired", "older_than_24h")
    assert batch().check(fresh, NOW) is None
    assert batch().check(anonymous, NOW) == ("skipped", "no_user_id")


def test_batch_code_60_is_a_rate_limit() -> None:
    """Batch.com's code 60 means wait (at least 5 s), whatever the HTTP status."""
    body = json.dumps({"error_code": 60, "error_message": "TOO_MANY_REQUESTS"}).encode()
    assert batch().interpret(Response(429, body=body)).kind.value == "rate_limited"
    assert batch().interpret(Response(401, body=b"{}")).kind.value == "auth"
    assert batch().interpret(Response(201, body=b'{"token": "t"}')).kind.value == "ack"


def test_segment_batch_has_basic_auth_and_write_key() -> None:
    """The Segment-compatible destination posts /v1/batch with Basic auth and writeKey in the body."""
    event = queued("track", {"event": "E", "properties": {"a": 1}}, user_id="u")
    request = Segment("WK", endpoint="https://collector.example.com").encode([event], sent_at=SENT_AT)
    assert request.url == "https://collector.example.com/v1/batch"
    assert request.headers["Authorization"].startswith("Basic ")
    body = decode_request(request)
    assert body["writeKey"] == "WK" and body["batch"][0]["event"] == "E"


@pytest.mark.parametrize(
    "make",
    [
        lambda: IntileryEvents("a", "b", "c", ""),
        lambda: Parcelvoy(" "),
        lambda: Encharge(""),
        lambda: BatchCom("k", ""),
        lambda: Segment("k", endpoint="http://10.0.0.1"),
        lambda: IntileryEvents("a b", "b", "c", "t"),
    ],
)
def test_bad_configuration_fails_at_construction(make: Any) -> None:
    """Empty keys, bad ids and plain http to a non-loopback host fail when the destination is built."""
    from edgetrack import ConfigError

    with pytest.raises(ConfigError):
        make()


def test_keys_never_appear_in_repr() -> None:
    """No destination's repr shows its key (reprs end up in logs)."""
    for dest in (
        IntileryMobile("SECRET1"),
        IntileryEvents("a", "b", "c", "SECRET1"),
        Parcelvoy("SECRET1"),
        Encharge("SECRET1"),
        BatchCom("SECRET1", "SECRET1"),
        Segment("SECRET1"),
    ):
        assert "SECRET1" not in repr(dest)
