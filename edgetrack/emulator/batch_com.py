"""Batch.com Trigger Events API (v1.0) as the emulator speaks it (``docs/vendor-apis.md`` section 6).

* URLs (6.1 [DOC]): bulk ``POST /1.0/{api_key}/events/users`` with ``[{"id", "events"}, ...]``,
  single ``POST /1.0/{api_key}/events/users/{custom_user_id}`` with ``{"events": [...]}`` (6.2 [DOC]).
  Other POSTs under ``/1.0/`` -> 404 code 20 ROUTE_NOT_FOUND (6.3 [DOC]).
* Auth (6.1): the API key in the path must be a configured one and ``X-Authorization`` a configured
  REST key, else 401 code 10 AUTHENTICATION_INVALID (6.3 [DOC]).
* Rate (6.3, 6.4): off by default (no published figure); when set, a token bucket per emulator
  answers 429 code 60 TOO_MANY_REQUESTS, checked after auth [INF: order and per-key scope].
* Body: not JSON -> 400 code 32 MALFORMED_JSON_BODY; a required field absent (``id``, ``events``,
  ``name``) -> 400 code 30 MISSING_PARAMETER; anything present but wrong -> 400 code 31
  MALFORMED_PARAMETER (6.3 [DOC]). Which code each rule gets is [INF]. An empty ``events`` array or
  bulk array is a 30 [INF].
* Limits (6.2 [DOC]): at most 1000 events per request in total (single and bulk; over -> 31);
  ``time`` ``YYYY-MM-ddTHH:mm:ss`` (UTC), not older than 24 h and not in the future, against the
  injectable ``now`` clock; ``label`` <= 200 chars; ``tags`` <= 10 strings of <= 64 chars;
  ``attributes`` <= 15; values string (<= 64 chars), integer (<= 64 digits), float or boolean;
  ``date(name)`` keys take Unix seconds or a ``YYYY-MM-ddTHH:mm:ss`` string (with optional ``.sss``,
  as the docs' example). The event-name rule ``^(ue\\.)?[a-z0-9_]{1,30}$`` and the attribute-name rule
  are the spec's conservative recommendation (6.2 [INF]: the docs state no name regex), so both are
  settings. Nulls, arrays and objects as attribute values are rejected (not documented [INF]).
* Success: 201 ``{"token": "<uuid4>"}`` (6.3 [DOC]). Errors: ``{"error_code": <int>,
  "error_message": "<NAME>: <detail>"}`` (6.3 [INF]: the body format is not documented).
* No byte limit is documented (6.4): the cap is a setting (5 MiB by default, 413 from the core) [INF].
* Recorded events: one dict per event with the custom user id added as ``"id"``.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Collection
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

from edgetrack.emulator.core import Limiter, Reply, Route, VendorRequest

__all__ = ["ATTRIBUTE_PATTERN", "NAME_PATTERN", "batch_com_routes"]

VENDOR = "batch_com"
NAME_PATTERN = r"(ue\.)?[a-z0-9_]{1,30}"
ATTRIBUTE_PATTERN = r"date\([a-z0-9_]{1,30}\)|[a-z0-9_]{1,30}"
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
_DATE_VALUE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?")
_NAMES = {1: "SERVER_ERROR", 10: "AUTHENTICATION_INVALID", 20: "ROUTE_NOT_FOUND", 30: "MISSING_PARAMETER"}
_NAMES |= {31: "MALFORMED_PARAMETER", 32: "MALFORMED_JSON_BODY", 60: "TOO_MANY_REQUESTS"}
_STATUS = {1: 500, 10: 401, 20: 404, 30: 400, 31: 400, 32: 400, 60: 429}
Result = tuple[Reply, list[dict[str, Any]]]


class _Invalid(Exception):
    def __init__(self, code: int, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


def _error(code: int, detail: str) -> Result:
    body = {"error_code": code, "error_message": f"{_NAMES[code]}: {detail}"}
    return Reply.json(_STATUS[code], body), []


def _parse_utc(text: str) -> float | None:
    try:
        moment = datetime.fromisoformat(text[:19])
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc).timestamp()


class _Validator:
    def __init__(self, name: str, attribute: str, now: Callable[[], float]) -> None:
        self.name, self.attribute, self.now = re.compile(name), re.compile(attribute), now

    def event(self, event: Any, where: str) -> None:
        if not isinstance(event, dict):
            raise _Invalid(31, f"{where} must be an object")
        if "name" not in event or event["name"] is None:
            raise _Invalid(30, f"{where}.name is required")
        name = event["name"]
        if not isinstance(name, str) or not self.name.fullmatch(name):
            raise _Invalid(31, f"{where}.name {name!r} does not match {self.name.pattern}")
        if "time" in event:
            self.time(event["time"], f"{where}.time")
        label = event.get("label")
        if label is not None and (not isinstance(label, str) or len(label) > 200):
            raise _Invalid(31, f"{where}.label must be a string of at most 200 characters")
        tags = event.get("tags")
        if tags is not None:
            if not isinstance(tags, list) or len(tags) > 10:
                raise _Invalid(31, f"{where}.tags must be an array of at most 10 tags")
            if any(not isinstance(tag, str) or len(tag) > 64 for tag in tags):
                raise _Invalid(31, f"{where}.tags must be strings of at most 64 characters")
        attributes = event.get("attributes")
        if attributes is not None:
            if not isinstance(attributes, dict) or len(attributes) > 15:
                raise _Invalid(31, f"{where}.attributes must be an object of at most 15 attributes")
            for key, value in attributes.items():
                self.value(key, value, f"{where}.attributes.{key}")

    def time(self, value: Any, where: str) -> None:
        moment = _parse_utc(value) if isinstance(value, str) and _TIME.fullmatch(value) else None
        if moment is None:
            raise _Invalid(31, f"{where} must be a YYYY-MM-ddTHH:mm:ss date-time")
        now = self.now()
        if moment > now:
            raise _Invalid(31, f"{where} is in the future")
        if moment < now - 24 * 3600:
            raise _Invalid(31, f"{where} is older than 24 hours")

    def value(self, key: str, value: Any, where: str) -> None:
        if not self.attribute.fullmatch(key):
            raise _Invalid(31, f"{where}: attribute name does not match {self.attribute.pattern}")
        if key.startswith("date("):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return
            if isinstance(value, str) and _DATE_VALUE.fullmatch(value) and _parse_utc(value) is not None:
                return
            raise _Invalid(31, f"{where} must be Unix seconds or a YYYY-MM-ddTHH:mm:ss date-time")
        if isinstance(value, str) and len(value) > 64:
            raise _Invalid(31, f"{where}: strings are limited to 64 characters")
        if isinstance(value, int) and not isinstance(value, bool) and len(str(abs(value))) > 64:
            raise _Invalid(31, f"{where}: integers are limited to 64 characters")
        if not isinstance(value, (str, int, float, bool)):
            raise _Invalid(31, f"{where} must be a string, integer, float or boolean")


def _user_events(entry: Any, where: str) -> list[Any]:
    if not isinstance(entry, dict):
        raise _Invalid(31, f"{where} must be an object")
    if "events" not in entry or entry["events"] is None:
        raise _Invalid(30, f"{where}.events is required")
    events = entry["events"]
    if not isinstance(events, list):
        raise _Invalid(31, f"{where}.events must be an array")
    if not events:
        raise _Invalid(30, f"{where}.events must hold at least one event")
    return events


class _TriggerApi:
    """The Trigger Events API for a set of apps: its settings and its handlers."""

    def __init__(
        self,
        api_keys: Collection[str],
        rest_keys: Collection[str],
        *,
        max_events: int,
        check: _Validator,
        rate: tuple[float, int] | None,
    ) -> None:
        self.apps, self.rest = set(api_keys), set(rest_keys)
        self.max_events = max_events
        self.check = check
        self.bucket = Limiter(*rate) if rate is not None else None

    def handle(self, request: VendorRequest) -> Result:
        """Bulk and single calls: the keys, the rate, the JSON, then every event."""
        if request.match.group("key") not in self.apps or request.header("x-authorization") not in self.rest:
            return _error(10, "invalid API key or REST API key")
        if self.bucket is not None and not self.bucket.take():
            return _error(60, "too many requests, wait at least 5 seconds")
        if request.json_error or not request.raw.strip():
            return _error(32, f"body is not valid JSON ({request.json_error or 'empty body'})")
        single = request.match.groupdict().get("user")
        try:
            users = self._users(request.json, single)
        except _Invalid as problem:
            return _error(problem.code, problem.detail)
        accepted = [{**event, "id": user} for user, events in users for event in events]
        return Reply.json(201, {"token": str(uuid.uuid4())}), accepted

    def not_found(self, request: VendorRequest) -> Result:
        """Any other ``POST /1.0/...``."""
        return _error(20, f"no route for POST {request.path}")

    def _users(self, body: Any, single: str | None) -> list[tuple[str, list[Any]]]:
        """``(custom user id, events)`` for each user of a valid body; raises ``_Invalid``."""
        if single is not None:
            users = [(unquote(single), _user_events(body, "body"))]
        elif not isinstance(body, list):
            raise _Invalid(31, "the bulk body must be an array of {id, events}")
        elif not body:
            raise _Invalid(30, "the bulk body must hold at least one user")
        else:
            users = [
                (_user_id(entry, f"[{i}]"), _user_events(entry, f"[{i}]")) for i, entry in enumerate(body)
            ]
        total = sum(len(events) for _, events in users)
        if total > self.max_events:
            raise _Invalid(31, f"too many events ({total} > {self.max_events})")
        for index, (_, events) in enumerate(users):
            for position, event in enumerate(events):
                self.check.event(
                    event, f"[{index}].events[{position}]" if single is None else f"events[{position}]"
                )
        return users


def batch_com_routes(
    api_keys: Collection[str],
    rest_keys: Collection[str],
    *,
    max_events: int = 1000,
    name_pattern: str = NAME_PATTERN,
    attribute_pattern: str = ATTRIBUTE_PATTERN,
    rate: tuple[float, int] | None = None,
    max_body: int = 5 * 1024 * 1024,
    now: Callable[[], float] = time.time,
) -> list[Route]:
    """The Trigger Events routes for apps whose API keys are in ``api_keys``."""
    check = _Validator(name_pattern, attribute_pattern, now)
    api = _TriggerApi(api_keys, rest_keys, max_events=max_events, check=check, rate=rate)
    base = r"/1\.0/(?P<key>[^/]+)/events/users"
    return [
        Route(VENDOR, "POST", re.compile(base), api.handle, max_body),
        Route(VENDOR, "POST", re.compile(base + r"/(?P<user>[^/]+)"), api.handle, max_body),
        Route(VENDOR, "POST", re.compile(r"/1\.0/.*"), api.not_found, max_body),
    ]


def _user_id(entry: Any, where: str) -> str:
    if not isinstance(entry, dict):
        raise _Invalid(31, f"{where} must be an object")
    if entry.get("id") is None:
        raise _Invalid(30, f"{where}.id is required")
    if not isinstance(entry["id"], str) or not entry["id"]:
        raise _Invalid(31, f"{where}.id must be a non-empty string (a Custom User ID)")
    return str(entry["id"])
