"""Intilery "Event API" (server to server) as the emulator speaks it (``docs/vendor-apis.md`` section 3).

``POST /track/{clientId}/{accountId}/{BRANDID}/v1/{action}``, action ``identify|track|page|screen|batch``
(3.1). What follows the spec, and what is inferred ([INF]):

* Order of checks: the body cap (413, in the core, before the handler), then the token bucket (429),
  then the ``auth-token`` header (403), then ``content-type``, JSON and the body (400). [INF: the
  order is not documented.]
* Rate: a token bucket, 100 req/s with a burst of 500 by default, shared by every action (3.4).
* Size: 1,000,000 bytes by default (3.4 says 1 MB in one place and 6 MB in another; the lower
  figure is the default, both are settings); ``/v1/batch`` items over 32 KB each are also 413 (3.4
  "32KB per call"). [INF: the status for an oversized item.]
* Auth (3.2, 3.5): no or empty ``auth-token`` -> 403 "No Token Supplied"; a token that is not
  configured, or a path whose clientId/accountId/BRANDID differ from the configured ones, -> 403
  "Token Not Authorised" (tokens are scoped to an account and brand). Path segments are compared
  case-sensitively, so the documented case rules (3.1: clientId/accountId lower case, BRANDID upper
  case) are enforced by that comparison: a wrong case is a 403, not a 404. [INF: the status for a
  wrong case; the docs only say which case to use.] An unknown action has no route (core 404).
* Content type: ``content-type`` must be ``application/json`` (3.2 "required"); otherwise 400.
  [INF: the failure status.]
* Bodies (3.3): the action name goes in ``event``; identify needs ``event == "identify"`` and a
  ``traits`` object; track needs a non-empty ``event``; page needs ``event == "page"``; screen may
  omit ``event`` (the docs example has none); every call needs ``userId`` or ``anonymousId``; the
  400 message for a missing id is the documented "userId must not be empty". ``timestamp`` is
  optional but must be ISO-8601 when present. ``properties``/``context`` must be objects.
  [INF: the other messages and the ISO-8601 check.]
* Batch (3.3): ``{"batch": [...], "context"?: {...}}``; every item needs ``event``; "identify",
  "page", "screen" select those calls, any other name is a track. The top-level ``context`` is
  merged into each recorded item (the item's own keys win [INF]). An empty batch is a 400 [INF].
* Errors: ``{"success": false, "message": ...}`` for every status (3.5 documents only the 400 body;
  [INF] for 403/413/429). Success: 200 (status [INF], 3.5) ``{"success": true, "eventId": <uuid4>}``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Collection
from typing import Any

from edgetrack.emulator.core import Limiter, Reply, Route, VendorRequest

__all__ = ["intilery_events_routes"]

VENDOR = "intilery_events"
_ISO_8601 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")
Result = tuple[Reply, list[dict[str, Any]]]


def _error(status: int, message: str) -> Result:
    return Reply.json(status, {"success": False, "message": message}), []


def _check(item: Any, action: str, *, in_batch: bool) -> str | None:
    """The 400 message for one call (``action`` = identify|track|page|screen), or None when valid."""
    if not isinstance(item, dict):
        return "each call must be a JSON object"
    event = item.get("event")
    if in_batch or event is not None or action in ("identify", "track", "page"):
        if not isinstance(event, str) or not event.strip():
            return "event must not be empty"
    if action in ("identify", "page", "screen") and event is not None and event != action:
        return f'event must be "{action}"'
    if not item.get("userId") and not item.get("anonymousId"):
        return "userId must not be empty"
    for key in ("userId", "anonymousId"):
        if key in item and item[key] is not None and not isinstance(item[key], str):
            return f"{key} must be a string"
    if action == "identify" and not isinstance(item.get("traits"), dict):
        return "traits must be an object"
    for key in ("traits", "properties", "context"):
        if key in item and not isinstance(item[key], dict):
            return f"{key} must be an object"
    timestamp = item.get("timestamp")
    if timestamp is not None and not (isinstance(timestamp, str) and _ISO_8601.fullmatch(timestamp)):
        return "timestamp must be an ISO-8601 date-time"
    return None


def _action_of(item: dict[str, Any]) -> str:
    event = item.get("event")
    return event if event in ("identify", "page", "screen") else "track"


class _EventApi:
    """The Event API for one client/account/brand: its settings and its handler."""

    pattern = re.compile(
        r"/track/(?P<client>[^/]+)/(?P<account>[^/]+)/(?P<brand>[^/]+)/v1/"
        r"(?P<action>identify|track|page|screen|batch)"
    )

    def __init__(
        self,
        scope: tuple[str, str, str],
        tokens: Collection[str],
        *,
        max_item: int | None,
        rate: tuple[float, int] | None,
    ) -> None:
        self.scope = scope
        self.valid = set(tokens)
        self.max_item = max_item
        self.bucket = Limiter(*rate) if rate is not None else None

    def handle(self, request: VendorRequest) -> Result:
        """Every action: the rate, the token, the content type, then the body."""
        if self.bucket is not None and not self.bucket.take():
            return _error(429, "Rate limit exceeded")
        token = request.header("auth-token")
        if not token:
            return _error(403, "No Token Supplied")
        if token not in self.valid or request.match.group("client", "account", "brand") != self.scope:
            return _error(403, "Token Not Authorised")
        content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return _error(400, "content-type must be application/json")
        body = request.json
        if request.json_error or not isinstance(body, dict):
            return _error(400, f"malformed JSON: {request.json_error or 'expected an object'}")
        action = request.match.group("action")
        if action == "batch":
            return self._batch(body)
        problem = _check(body, action, in_batch=False)
        return _error(400, problem) if problem else (_ok(), [body])

    def _batch(self, body: dict[str, Any]) -> Result:
        """``/v1/batch``: every item checked, the shared ``context`` merged into each."""
        items, shared = body.get("batch"), body.get("context")
        if not isinstance(items, list) or not items:
            return _error(400, "batch must be a non-empty array")
        if shared is not None and not isinstance(shared, dict):
            return _error(400, "context must be an object")
        for index, item in enumerate(items):
            problem = _check(item, _action_of(item) if isinstance(item, dict) else "track", in_batch=True)
            if problem:
                return _error(400, f"batch[{index}]: {problem}")
            if self.max_item is not None and len(json.dumps(item).encode()) > self.max_item:
                return _error(413, f"batch[{index}]: Request too large")
        if shared:
            items = [{**item, "context": {**shared, **(item.get("context") or {})}} for item in items]
        return _ok(), items


def intilery_events_routes(
    client_id: str,
    account_id: str,
    brand_id: str,
    tokens: Collection[str],
    *,
    max_body: int = 1_000_000,
    max_item: int | None = 32 * 1024,
    rate: tuple[float, int] | None = (100.0, 500),
) -> list[Route]:
    """Routes for one client/account/brand; every token in ``tokens`` is valid for that brand."""
    if client_id != client_id.lower() or account_id != account_id.lower():
        raise ValueError("Intilery clientId and accountId are lower case")
    if brand_id != brand_id.upper():
        raise ValueError("the Intilery BRANDID is upper case")
    api = _EventApi((client_id, account_id, brand_id), tokens, max_item=max_item, rate=rate)
    too_large = Reply.json(413, {"success": False, "message": "Request too large"})
    return [Route(VENDOR, "POST", api.pattern, api.handle, max_body=max_body, too_large=too_large)]


def _ok() -> Reply:
    return Reply.json(200, {"success": True, "eventId": str(uuid.uuid4())})
