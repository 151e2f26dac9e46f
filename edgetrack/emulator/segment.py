"""A generic Segment-compatible HTTP Tracking API (``docs/vendor-apis.md`` section 1).

* URLs (1.2 [DOC]): ``POST /v1/batch`` and the single calls ``/v1/identify|track|page|screen|group|alias``
  (the call's type comes from the path when the body has none).
* Auth (1.2 [DOC]): the write key as the Basic-auth user (``writeKey:``) or as ``writeKey`` in the
  body; Basic auth, when sent, is the one checked [INF].
* Size (1.2 [DOC]): over 500 KiB a batch, 32 KiB a single call, or 32 KiB an item of a batch -> 400.
  Bad JSON -> 400 (1.2 [DOC]).
* Items (1.1, 1.2 [DOC]): every item needs a known ``type`` and ``userId`` or ``anonymousId``; track
  needs ``event``, group ``groupId``, alias ``previousId``. A batch of more than 2500 items gets the
  documented 200 and nothing is recorded (1.2 [DOC]).
* Segment "returns a 200 response for all API requests except errors caused by large payloads
  and JSON errors" (1.2 [DOC]), and segment-analytics-python's own suite sends to the real API
  with the write key ``"bad_key"`` and expects no error: so by default a missing or unknown write
  key, and an invalid item, are answered 200 and not recorded (the item's siblings are).
  ``strict=True`` answers as stricter Segment-compatible collectors do (RudderStack: 401 for an
  unknown key, 400 for an invalid item), so an SDK's auth and drop paths can be exercised [INF].
* A top-level ``context``/``integrations`` is merged into each recorded item (1.2 [DOC]; the item's
  own keys win [INF]).
* Bodies: success 200 ``{"success": true}`` [INF: not documented]; errors
  ``{"success": false, "code": ..., "message": ...}`` (``code``/``message`` is what the Python SDK
  parses, 1.2 [VSDK]; ``success`` mirrors the success body [INF]).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Collection
from typing import Any

from edgetrack.emulator.core import Reply, Route, VendorRequest

__all__ = ["segment_routes"]

VENDOR = "segment"
Result = tuple[Reply, list[dict[str, Any]]]
_TYPES = ("identify", "track", "page", "screen", "group", "alias")
_NEEDS = {"track": "event", "group": "groupId", "alias": "previousId"}


def _error(status: int, code: str, message: str) -> Result:
    return Reply.json(status, {"success": False, "code": code, "message": message}), []


def _too_large(limit: int) -> Reply:
    message = f"payload is larger than {limit} bytes"
    return Reply.json(400, {"success": False, "code": "payload_too_large", "message": message})


def _basic_user(header: str | None) -> str | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return decoded.partition(":")[0]


def _check(item: Any) -> tuple[str, str] | None:
    """``(code, message)`` for an invalid item, or None."""
    if not isinstance(item, dict):
        return "invalid_request", "each message must be a JSON object"
    kind = item.get("type")
    if kind not in _TYPES:
        return "invalid_request", f"type must be one of {', '.join(_TYPES)}"
    if not item.get("userId") and not item.get("anonymousId"):
        return "no_user_anon_id", "userId or anonymousId is required"
    needed = _NEEDS.get(kind)
    if needed and (not isinstance(item.get(needed), str) or not item[needed]):
        return "invalid_request", f"{kind} needs {needed}"
    return None


def _merge(body: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """The item with the batch's ``context`` and ``integrations`` under its own keys."""
    merged = dict(item)
    for key in ("context", "integrations"):
        shared, own = body.get(key), item.get(key)
        if isinstance(shared, dict):
            merged[key] = {**shared, **own} if isinstance(own, dict) else shared if own is None else own
    return merged


class _SegmentApi:
    """The tracking API for one set of write keys: its settings and its handlers."""

    def __init__(
        self,
        write_keys: Collection[str],
        *,
        max_body: int,
        max_message: int,
        max_batch_events: int,
        strict: bool,
    ) -> None:
        self.valid = set(write_keys)
        self.max_body, self.max_message, self.max_batch_events = max_body, max_message, max_batch_events
        self.strict = strict
        self.accepted = Reply.json(200, {"success": True})

    def routes(self) -> list[Route]:
        """``/v1/batch`` and the single calls, each with its own size cap."""
        calls = "|".join(_TYPES)
        batch, single = re.compile(r"/v1/batch"), re.compile(f"/v1/(?P<type>{calls})")
        return [
            Route(VENDOR, "POST", batch, self.batch, self.max_body, _too_large(self.max_body)),
            Route(VENDOR, "POST", single, self.single, self.max_message, _too_large(self.max_message)),
        ]

    def batch(self, request: VendorRequest) -> Result:
        """``POST /v1/batch``: the valid items, merged with the batch's shared keys."""
        body = self._admit(request)
        if isinstance(body, tuple):
            return body
        items = body.get("batch")
        if not isinstance(items, list):
            return _error(400, "invalid_request", "batch must be an array")
        good = []
        for index, item in enumerate(items):
            if len(json.dumps(item).encode()) > self.max_message:
                return _error(
                    400, "payload_too_large", f"batch[{index}] is larger than {self.max_message} bytes"
                )
            problem = _check(item)
            if problem and self.strict:
                return _error(400, problem[0], f"batch[{index}]: {problem[1]}")
            if not problem:
                good.append(item)
        if len(items) > self.max_batch_events:
            return self.accepted, []  # documented: 200, events rejected
        return self.accepted, [_merge(body, item) for item in good]

    def single(self, request: VendorRequest) -> Result:
        """``POST /v1/{type}``: one call, its type taken from the path when the body has none."""
        body = self._admit(request)
        if isinstance(body, tuple):
            return body
        message = {"type": request.match.group("type"), **body}
        problem = _check(message)
        if problem:
            return _error(400, *problem) if self.strict else (self.accepted, [])
        return self.accepted, [message]

    def _admit(self, request: VendorRequest) -> dict[str, Any] | Result:
        """The JSON body of an authorised request, or the answer that turns it away."""
        body = self._parse(request)
        if isinstance(body, tuple):
            return body
        return self._authorise(request, body) or body

    def _parse(self, request: VendorRequest) -> dict[str, Any] | Result:
        if request.json_error or not isinstance(request.json, dict):
            return _error(400, "invalid_json", f"invalid JSON: {request.json_error or 'expected an object'}")
        return request.json

    def _authorise(self, request: VendorRequest, body: dict[str, Any]) -> Result | None:
        key = _basic_user(request.header("authorization"))
        if key is None:
            key = body.get("writeKey")
        if key and key in self.valid:
            return None
        if not self.strict:
            return self.accepted, []  # Segment's 200: the events go nowhere
        return _error(401, "invalid_request", "unknown write key" if key else "missing write key")


def segment_routes(
    write_keys: Collection[str],
    *,
    max_body: int = 500 * 1024,
    max_message: int = 32 * 1024,
    max_batch_events: int = 2500,
    strict: bool = False,
) -> list[Route]:
    """The tracking API for the sources whose write keys are in ``write_keys`` (see the module
    docstring for ``strict``)."""
    return _SegmentApi(
        write_keys,
        max_body=max_body,
        max_message=max_message,
        max_batch_events=max_batch_events,
        strict=strict,
    ).routes()
