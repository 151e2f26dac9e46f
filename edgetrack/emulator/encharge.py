"""Encharge Ingest API as the emulator speaks it (``docs/vendor-apis.md`` section 5, from the
vendor's Ingest API page and its Postman collection).

* URLs (5.1): ``POST /v1/`` [DOC] and ``POST /v1`` (the docs' curl examples [DOC]) with the key in
  ``X-Encharge-Token``; ``POST /v1/{writeKey}`` with the key in the path (the docs' CORS hint
  [DOC]). On the path route the path key is the one checked, and a header is ignored [INF].
  Any configured key is accepted (write key or API key, 5.1 [INF]).
* Auth errors: a missing **or unknown** key -> 401 ``{"error": "Missing Encharge write key."}``. The
  text is the one third-party report (5.4 [3P]); the status, and using it for unknown keys too, are
  [INF] (Encharge documents no errors).
* Body (5.2): one JSON object. Plain events need ``name`` (Segment's ``event`` is accepted instead,
  5.3 [INF]) and a ``user`` object with ``email`` or ``userId`` (string or number: the docs' tags
  example sends ``"userId": 123``); ``properties`` must be an object when given. Failures -> 400
  ``{"error": ...}`` (5.4 [INF], messages [INF]).
* Special events (the docs' "Special Events" [DOC]; 5.3 [3P]): ``type: "alias"`` needs a previous id
  (``previousUserId`` or ``previousEmail``) and the matching new one (``user.userId``, or a root
  ``userId`` as the Segment destination sends it [3P], / ``user.email``); ``type: "group"`` needs a
  non-empty ``objectType`` and a ``properties`` object, ``user`` is optional. Neither needs ``name``.
* Success (5.4): 200, ``Content-Type: text/plain``, empty body (the Postman collection [3P]).
* No size limit is published: the cap is a setting (1 MiB by default, 413 from the core) [INF].
  No rate limit is published (5.5), so there is none.
* Recorded events: ``[body]`` as received.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from edgetrack.emulator.core import Reply, Route, VendorRequest

__all__ = ["encharge_routes"]

VENDOR = "encharge"
Result = tuple[Reply, list[dict[str, Any]]]
_MISSING_KEY = "Missing Encharge write key."


def _error(status: int, message: str) -> Result:
    return Reply.json(status, {"error": message}), []


def _has(value: Any) -> bool:
    """A usable identifier: a non-empty string, or a number (not a bool)."""
    if isinstance(value, str):
        return bool(value.strip())
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check(body: dict[str, Any]) -> str | None:
    """The 400 message for one ingest body, or None when it is valid."""
    user = body.get("user")
    if user is not None and not isinstance(user, dict):
        return "user must be an object"
    user = user or {}
    kind = body.get("type")
    if kind == "alias":
        new_id = user.get("userId", body.get("userId"))
        if _has(body.get("previousUserId")) and _has(new_id):
            return None
        if _has(body.get("previousEmail")) and _has(user.get("email")):
            return None
        return "alias needs previousUserId and user.userId, or previousEmail and user.email"
    if kind == "group":
        if not isinstance(body.get("objectType"), str) or not body["objectType"].strip():
            return "group needs objectType"
        if not isinstance(body.get("properties"), dict):
            return "group needs a properties object"
        return None
    name = body.get("name", body.get("event"))
    if not isinstance(name, str) or not name.strip():
        return "Missing event name."
    if not body.get("user"):
        return "Missing user."
    if not _has(user.get("email")) and not _has(user.get("userId")):
        return "user.email or user.userId is required."
    if "properties" in body and not isinstance(body["properties"], dict):
        return "properties must be an object"
    return None


def encharge_routes(keys: Collection[str], *, max_body: int = 1024 * 1024) -> list[Route]:
    """Ingest routes accepting any key in ``keys`` (header or path)."""
    valid = set(keys)

    def handle(request: VendorRequest) -> Result:
        groups = request.match.groupdict()
        key = groups.get("key") if "key" in groups else request.header("x-encharge-token")
        if not key or key not in valid:
            return _error(401, _MISSING_KEY)
        body = request.json
        if request.json_error or not isinstance(body, dict):
            return _error(400, f"Invalid JSON body: {request.json_error or 'expected an object'}")
        problem = _check(body)
        if problem:
            return _error(400, problem)
        return Reply(200, b"", {"Content-Type": "text/plain"}), [body]

    return [
        Route(VENDOR, "POST", re.compile(r"/v1/?"), handle, max_body),
        Route(VENDOR, "POST", re.compile(r"/v1/(?P<key>[^/]+)"), handle, max_body),
    ]
