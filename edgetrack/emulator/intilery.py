"""Intilery "API For Mobile" as the emulator speaks it (``docs/vendor-apis.md`` section 2).

Accepts the write key at the batch root or on every item (the docs and the vendor SDKs
disagree); 400 with ``{"success": false, "message": ...}`` for bad JSON or an unknown key;
200 ``{}`` on success. The server documents no limits: the emulator's body cap (413) and any
scripted faults are settings.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from edgetrack.emulator.core import Reply, Route, VendorRequest

__all__ = ["intilery_mobile_routes"]

_TYPES = {"track", "identify", "page", "screen", "alias", "group"}


def _bad(message: str) -> tuple[Reply, list[dict[str, Any]]]:
    return Reply.json(400, {"success": False, "message": message}), []


def intilery_mobile_routes(write_keys: Collection[str]) -> list[Route]:
    keys = set(write_keys)

    def check_event(item: object, root_key: object) -> str | None:
        if not isinstance(item, dict):
            return "each batch item must be a JSON object"
        if item.get("type") not in _TYPES:
            return f"unknown type {item.get('type')!r}"
        if not item.get("userId") and not item.get("anonymousId"):
            return "userId or anonymousId is required"
        if item["type"] == "track" and not item.get("event"):
            return "track needs an event name"
        key = item.get("writeKey", root_key)
        if key not in keys:
            return "missing or unknown writeKey"
        return None

    def batch(request: VendorRequest) -> tuple[Reply, list[dict[str, Any]]]:
        body = request.json
        if request.json_error or not isinstance(body, dict):
            return _bad(f"malformed JSON: {request.json_error or 'expected an object'}")
        items = body.get("batch")
        if not isinstance(items, list):
            return _bad("batch must be an array")
        for item in items:
            problem = check_event(item, body.get("writeKey"))
            if problem:
                return _bad(problem)
        return Reply.json(200, {}), items

    def single(request: VendorRequest) -> tuple[Reply, list[dict[str, Any]]]:
        body = request.json
        if request.json_error or not isinstance(body, dict):
            return _bad(f"malformed JSON: {request.json_error or 'expected an object'}")
        problem = check_event(body, None)
        if problem:
            return _bad(problem)
        return Reply.json(200, {}), [body]

    return [
        Route("intilery_mobile", "POST", re.compile(r"/cdp/events/segment/mobile/batch"), batch),
        Route("intilery_mobile", "POST", re.compile(r"/cdp/events/segment/t"), single),
    ]
