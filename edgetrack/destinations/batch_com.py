"""Batch.com Trigger Events API (MEP, v1.0): bulk ``POST /1.0/{api_key}/events/users``.

Contract: ``docs/vendor-apis.md`` section 6 (the vendor's Trigger Events API pages). Only
``track`` is sent (the API takes events, not profiles); events are grouped by custom user id
(the event's ``userId``), at most 1000 a request. The mapping from a Segment-style track call:

==================  ======================================================================
Batch field         from
==================  ======================================================================
``id``              ``userId`` (an event with only an anonymous id is skipped: ``no_user_id``)
``name``            the event name lower-cased, every run of characters outside
                    ``[a-z0-9_]`` turned into ``_``, cut to 30; a caller's ``ue.`` prefix is
                    kept, none is added ("Added to Cart" -> ``added_to_cart``)
``time``            ``timestamp`` in UTC as ``YYYY-MM-ddTHH:mm:ss``, never later than
                    ``sentAt`` (the API refuses future events)
``label``           ``properties["label"]`` (a str, cut to 200)
``tags``            ``properties["tags"]`` (strs; the first 10, each cut to 64)
``attributes``      every other property, at most 15: names as for ``name`` (without
                    prefix); str values cut to 64, or sent as ``date(name)`` when they are
                    ISO-8601 date-times (``datetime`` properties arrive that way); ints,
                    floats and bools as they are; a nested object is flattened one level
                    (``trial.length`` -> ``trial_length``); lists and nulls are left out
==================  ======================================================================

Events older than 24 hours (the API's limit) are expired for this lane, counted and kept in
the dead letters with reason ``older_than_24h``, instead of failing the whole request.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from edgetrack.destinations.base import (
    BaseDestination,
    Verdict,
    check_endpoint,
    check_key,
    json_request,
    load,
)
from edgetrack.models import Limits, Outcome, OutcomeKind, QueuedEvent, Request, Response
from edgetrack.plugins import Plugin, Timeline

__all__ = ["BatchCom", "attribute_name", "event_name", "to_event"]

MAX_AGE = 24 * 3600 - 120  # two minutes of margin for the time the request takes
_SLUG = re.compile(r"[^a-z0-9_]+")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


def _slug(text: str) -> str:
    return _SLUG.sub("_", text.lower()).strip("_")[:30] or "x"


def event_name(name: str) -> str:
    prefix = "ue." if name.startswith("ue.") else ""
    return prefix + _slug(name[len(prefix) :])


def attribute_name(name: str) -> str:
    return _slug(name)


def _attributes(properties: dict[str, Any]) -> dict[str, Any]:
    flat: list[tuple[str, Any]] = []
    for key, value in properties.items():
        if key in ("label", "tags"):
            continue
        if isinstance(value, dict):
            flat.extend((f"{key}_{sub}", inner) for sub, inner in value.items())
        else:
            flat.append((str(key), value))
    attributes: dict[str, Any] = {}
    for key, value in flat:
        if len(attributes) == 15:
            break
        name = attribute_name(key)
        if isinstance(value, (bool, int, float)):
            attributes[name] = value
        elif isinstance(value, str):
            if _DATETIME.match(value):
                attributes[f"date({name})"] = value[:19]
            else:
                attributes[name] = value[:64]
    return attributes


def _epoch(iso: str) -> float:
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def to_event(envelope: dict[str, Any], sent_at: str) -> dict[str, Any]:
    properties = envelope.get("properties") or {}
    timestamp = envelope.get("timestamp") or sent_at
    event: dict[str, Any] = {"name": event_name(envelope["event"]), "time": min(timestamp, sent_at)[:19]}
    if isinstance(properties.get("label"), str):
        event["label"] = properties["label"][:200]
    attributes = _attributes(properties)
    if attributes:
        event["attributes"] = attributes
    tags = properties.get("tags")
    if isinstance(tags, list):
        kept = [str(tag)[:64] for tag in tags if isinstance(tag, (str, int, float))][:10]
        if kept:
            event["tags"] = kept
    return event


class BatchCom(BaseDestination):
    """Send track events to Batch.com, grouped by custom user id."""

    supports = frozenset({"track"})

    def __init__(
        self,
        api_key: str,
        rest_api_key: str,
        *,
        endpoint: str = "https://api.batch.com",
        name: str = "batch_com",
        max_events: int = 1000,
        max_bytes: int = 1_000_000,
        allow_http: bool = False,
        plugins: Iterable[Plugin] = (),
    ) -> None:
        api_key = self._api_key = check_key("BatchCom", "api_key", api_key)
        self._rest_key = check_key("BatchCom", "rest_api_key", rest_api_key)
        self.endpoint = check_endpoint("BatchCom", endpoint, allow_http=allow_http)
        self.name = name
        self.plugins = Timeline(plugins, destination=True)
        self.url = f"{self.endpoint}/1.0/{api_key}/events/users"
        self.limits = Limits(max_events=min(max_events, 1000), max_bytes=max_bytes, max_event_bytes=32_000)

    def __repr__(self) -> str:  # the url holds the API key
        return f"BatchCom(endpoint={self.endpoint!r}, name={self.name!r})"

    def redact(self, text: str) -> str:
        return text.replace(self._api_key, "<api_key>")

    def check(self, event: QueuedEvent, now: float) -> Verdict | None:
        envelope = load(event)
        if not envelope.get("userId"):
            return ("skipped", "no_user_id")
        if envelope.get("timestamp") and now - _epoch(envelope["timestamp"]) > MAX_AGE:
            return ("expired", "older_than_24h")
        return None

    def encode(self, events: Sequence[QueuedEvent], *, sent_at: str) -> Request:
        users: dict[str, list[dict[str, Any]]] = {}
        for event in events:
            envelope = load(event)
            users.setdefault(envelope["userId"], []).append(to_event(envelope, sent_at))
        body = [{"id": uid, "events": items} for uid, items in users.items()]
        return json_request(self.url, body, {"X-Authorization": self._rest_key}, len(events))

    def interpret(self, response: Response) -> Outcome:
        detail = response.error or response.body[:500].decode("utf-8", "replace")
        try:
            code = json.loads(response.body).get("error_code") if response.body else None
        except (ValueError, AttributeError, RecursionError):
            code = None
        if code == 60:  # TOO_MANY_REQUESTS, whatever the status: wait at least 5 s
            return Outcome(OutcomeKind.RATE_LIMITED, detail)
        if response.status == 404 and code is not None:
            # Batch's own ROUTE_NOT_FOUND (code 20): the API key in the path names no app. A 404
            # without Batch's error body comes from elsewhere (a wrong endpoint).
            return Outcome(OutcomeKind.AUTH, detail)
        return super().interpret(response)
