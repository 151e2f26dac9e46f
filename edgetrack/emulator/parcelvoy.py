"""Parcelvoy client API as the emulator speaks it (``docs/vendor-apis.md`` section 4).

Routes under ``/api/client/``: ``alias``, ``identify``, ``devices``, ``events`` (4.1, 4.3) and the
undocumented ``segment`` batch (4.3, ``SegmentController.ts``). The behaviour is read from the server
code (``parcelvoy/platform``: ``ClientController.ts``, ``SegmentController.ts``, ``core/validate.ts``,
``auth/AuthMiddleware.ts``, ``api.ts``):

* Body first, as koa-body runs before the routers (4.5, 4.6): over the cap (1 MiB, koa-body's
  ``jsonLimit`` default "1mb") or malformed JSON -> 400 ``{"status":"error","error":"An error
  occurred with this request."}``, not 413. A JSON scalar at the root is malformed too (co-body's
  strict mode). A body whose Content-Type is not JSON is left unparsed, ``{}`` (4.5 [INF]).
* Auth (4.2): ``Authorization: Bearer <key>`` ("Bearer " case-sensitive, as ``getBearerToken``);
  missing, not Bearer, or not ``pk_``/``sk_`` -> 401 code 1000; a ``pk_``/``sk_`` key that is not
  configured -> 404 code 6000. Secret keys work on client routes too (4.2 [INF]).
* Validation (4.3, 4.5): the schemas below are checked in Ajv's order (``allErrors``: the untyped
  ``anyOf`` first, then the type, ``required``, ``additionalProperties``, ``properties`` in schema
  order; a ``nullable`` type is checked before ``anyOf``) and the 422 body carries only the first
  error, worded as ``parseError`` does. Identify's timezone must be an IANA name (``zoneinfo``,
  case-insensitive like ``Intl.DateTimeFormat`` [INF]).
* ``/segment``: at most 1000 items (4.3 at the pinned commit); an identify without a ``context``
  crashes the server -> generic 400 (4.3 [INF from code]); nothing is recorded then.
* Success (4.4): 204, empty body. Recorded events: identify/alias/devices -> [body]; events and
  segment -> the items as sent.
* Profiles (``Profiles``): what the server's jobs then do to its users, as ``UserPatchJob``,
  ``UserRepository.aliasUser`` and ``EventPostJob`` do it. A user is found by
  ``external_id``, else by ``anonymous_id``. Identify with both ids, when only the anonymous
  user exists, puts the traits on it **without** setting its ``external_id`` (the id is never
  written by an update); only ``/alias`` sets ``external_id`` on an anonymous user, and does
  nothing when a user already has that ``external_id``. Nothing ever merges two users. An event
  goes to the user found, or to a new one. The server stores an event's time as its arrival.
"""

from __future__ import annotations

import functools
import re
import threading
import zoneinfo
from collections.abc import Callable, Collection
from typing import Any

from edgetrack.emulator.core import Reply, Route, VendorRequest

__all__ = ["Profiles", "parcelvoy_routes"]

VENDOR = "parcelvoy"
Result = tuple[Reply, list[dict[str, Any]]]
Schema = dict[str, Any]

_GENERIC = Reply.json(400, {"status": "error", "error": "An error occurred with this request."})
_AUTH = Reply.json(401, {"status": "error", "error": "Authorization error.", "code": 1000})
_NO_PROJECT = Reply.json(
    404, {"status": "error", "error": "The requested project does not exist.", "code": 6000}
)
_TZ_MESSAGE = "The timezone value must be in the IANA format."


def _s(nullable: bool = False, **extra: Any) -> Schema:
    return {"type": "string", "nullable": nullable, **extra}


def _obj(nullable: bool = True, **extra: Any) -> Schema:
    return {"type": "object", "nullable": nullable, **extra}


_EITHER_ID = [{"required": ["anonymous_id"]}, {"required": ["external_id"]}]
_ALIAS: Schema = {
    "type": "object",
    "required": ["external_id", "anonymous_id"],
    "properties": {"anonymous_id": _s(), "external_id": _s()},
}
_IDENTIFY: Schema = {
    "type": "object",
    "properties": {
        "anonymous_id": _s(True),
        "external_id": _s(True),
        "email": _s(True),
        "phone": _s(True),
        "timezone": _s(True, format="timezone"),
        "locale": _s(True),
        "data": _obj(),
    },
    "anyOf": _EITHER_ID,
    "additionalProperties": False,
}
_DEVICES: Schema = {
    "type": "object",
    "required": ["device_id", "os", "model", "app_build", "app_version"],
    "properties": {
        "anonymous_id": _s(True),
        "external_id": _s(True),
        "device_id": _s(),
        "token": _s(True),
        "os": _s(),
        "os_version": _s(),
        "model": _s(),
        "app_build": _s(),
        "app_version": _s(),
    },
    "anyOf": _EITHER_ID,
}
_USER = _obj(properties={k: _s(True) for k in ("email", "phone", "timezone", "locale")} | {"data": _obj()})
_EVENTS: Schema = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": _s(),
            "anonymous_id": _s(True),
            "external_id": _s(True),
            "data": _obj(),
            "user": _USER,
        },
        "anyOf": _EITHER_ID,
    },
}
_SEGMENT: Schema = {
    "type": "array",
    "minItems": 1,
    "maxItems": 1000,
    "items": {
        "type": "object",
        "required": ["type"],
        "properties": {
            "type": _s(),
            "event": _s(True),
            "anonymousId": _s(True),
            "userId": _s(True),
            "previousId": _s(True),
            "properties": _obj(),
            "traits": _obj(),
            "context": _obj(),
            "timestamp": _s(),
        },
        "anyOf": [{"required": ["anonymousId"]}, {"required": ["userId"]}],
    },
}
_PY_TYPES: dict[str, Any] = {"string": str, "object": dict, "array": list}


@functools.lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    # ICU (behind Intl.DateTimeFormat) rejects tzdata's "Factory" and the system's "localtime".
    return frozenset(zone.lower() for zone in zoneinfo.available_timezones()) - {"factory", "localtime"}


def _is_timezone(name: str) -> bool:
    zones = _zones()
    if zones:
        return name.lower() in zones
    try:  # no zone list on this system: ask zoneinfo directly
        zoneinfo.ZoneInfo(name)
    except (ValueError, OSError, zoneinfo.ZoneInfoNotFoundError):
        return False
    return True


def _errors(schema: Schema, data: Any, path: str = "") -> list[tuple[str, str]]:
    """Ajv-ordered ``(keyword, message)`` errors for the schema subset used here."""
    out: list[tuple[str, str]] = []
    kind = schema.get("type")
    right_type = (
        kind is None or (data is None and schema.get("nullable")) or (isinstance(data, _PY_TYPES[kind]))
    )
    typed_rules = any(
        k in schema
        for k in ("required", "properties", "additionalProperties", "items", "minItems", "maxItems", "format")
    )
    upfront = kind is not None and (schema.get("nullable") or not typed_rules)
    type_error = ("type", f"The value of `{path.replace('/', ' ', 1).strip()}` must be a {kind}.")
    if upfront and not right_type:
        out.append(type_error)
    if "anyOf" in schema:
        branches = [_errors(branch, data, path) for branch in schema["anyOf"]]
        if all(branches):
            out += [error for branch in branches for error in branch]
            out.append(("anyOf", "must match a schema in anyOf"))
    if not right_type:
        if not upfront:
            out.append(type_error)
        return out
    if isinstance(data, dict):
        missing = [key for key in schema.get("required", ()) if key not in data]
        out += [("required", f"must have required property '{key}'") for key in missing]
        known = schema.get("properties", {})
        if schema.get("additionalProperties") is False:
            extra = [key for key in data if key not in known]
            out += [("additionalProperties", "must NOT have additional properties") for _ in extra]
        for key, sub in known.items():
            if key in data:
                out += _errors(sub, data[key], f"{path}/{key}")
    elif isinstance(data, list):
        if "maxItems" in schema and len(data) > schema["maxItems"]:
            out.append(("maxItems", f"must NOT have more than {schema['maxItems']} items"))
        if "minItems" in schema and len(data) < schema["minItems"]:
            out.append(("minItems", f"must NOT have fewer than {schema['minItems']} items"))
        if "items" in schema:
            for index, item in enumerate(data):
                out += _errors(schema["items"], item, f"{path}/{index}")
    elif isinstance(data, str) and schema.get("format") == "timezone" and not _is_timezone(data):
        out.append(("errorMessage", _TZ_MESSAGE))
    return out


def _first_error(schema: Schema, data: Any) -> str | None:
    """The 422 message ``parseError`` would build from the first Ajv error, or None when valid."""
    errors = _errors(schema, data)
    if not errors:
        return None
    message = errors[0][1]
    return message[:1].upper() + message[1:]


class Profiles:
    """The users a project ends up with (see the module docstring); ``users`` in creation order,
    each ``{"external_id", "anonymous_id", "data", "events", ...identify fields}``."""

    def __init__(self) -> None:
        self.users: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def _find(
        self, external_id: Any, anonymous_id: Any
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        anonymous = next((u for u in self.users if anonymous_id and u["anonymous_id"] == anonymous_id), None)
        external = next((u for u in self.users if external_id and u["external_id"] == external_id), None)
        return anonymous, external

    def _patch(self, body: dict[str, Any]) -> dict[str, Any]:
        external_id, anonymous_id = body.get("external_id"), body.get("anonymous_id")
        anonymous, external = self._find(external_id, anonymous_id)
        fields = {k: v for k, v in body.items() if k not in ("external_id", "anonymous_id", "data")}
        existing = external or anonymous
        if existing is None:
            user: dict[str, Any] = {
                "external_id": external_id,
                "anonymous_id": anonymous_id,
                "data": {},
                "events": [],
            }
            self.users.append(user)
            existing = user
        elif anonymous is None and anonymous_id:
            existing["anonymous_id"] = anonymous_id  # the external user takes the new anonymous id
        existing["data"].update(body.get("data") or {})
        existing.update(fields)
        return existing

    def identify(self, body: dict[str, Any]) -> None:
        with self._lock:
            self._patch(body)

    def alias(self, body: dict[str, Any]) -> None:
        with self._lock:
            previous, _ = self._find(None, body.get("anonymous_id"))
            if body.get("previous_id"):
                _, previous = self._find(body["previous_id"], None)
            _, current = self._find(body.get("external_id"), None)
            if previous is not None and current is None:
                previous["external_id"] = body["external_id"]

    def events(self, items: list[dict[str, Any]]) -> None:
        with self._lock:
            for item in items:
                anonymous, external = self._find(item.get("external_id"), item.get("anonymous_id"))
                user = external or anonymous
                if user is None or item.get("user"):
                    ids = {k: item[k] for k in ("external_id", "anonymous_id") if item.get(k)}
                    user = self._patch({**(item.get("user") or {}), **ids})
                user["events"].append({"name": item["name"], "data": item.get("data") or {}})


class _ClientApi:
    """The client API for a set of project keys: its settings and its handlers."""

    def __init__(self, keys: Collection[str], *, max_body: int, max_segment: int, profiles: Profiles) -> None:
        self.valid = set(keys)
        self.max_body = max_body
        self.segment = {**_SEGMENT, "maxItems": max_segment}
        self.effects: dict[str, Callable[[Any], None]] = {
            "identify": profiles.identify,
            "alias": profiles.alias,
            "events": profiles.events,
        }

    def routes(self) -> list[Route]:
        """One route per documented endpoint, then Koa's 404 for the rest of ``/api/client/``."""
        return [
            self._route("alias", _ALIAS),
            self._route("identify", _IDENTIFY),
            self._route("devices", _DEVICES),
            self._route("events", _EVENTS),
            self._route("segment", self.segment),
            Route(VENDOR, "POST", re.compile(r"/api/client/.*"), _unknown, self.max_body, _GENERIC),
        ]

    def _route(self, name: str, schema: Schema) -> Route:
        handle = functools.partial(self._handle, name, schema)
        return Route(VENDOR, "POST", re.compile(f"/api/client/{name}"), handle, self.max_body, _GENERIC)

    def _handle(self, name: str, schema: Schema, request: VendorRequest) -> Result:
        """``POST /api/client/{name}``: the body, the key, the schema, then the server's job."""
        body = _body(request)
        if body is None:
            return _GENERIC, []
        denied = self._authorise(request)
        if denied is not None:
            return denied, []
        problem = _first_error(schema, body)
        if problem is not None:
            return Reply.json(422, {"status": "error", "error": problem}), []
        if name == "segment" and any(
            i["type"] == "identify" and not isinstance(i.get("context"), dict) for i in body
        ):
            return _GENERIC, []
        if name in self.effects:
            self.effects[name](body)
        return Reply(204), body if isinstance(body, list) else [body]

    def _authorise(self, request: VendorRequest) -> Reply | None:
        """The 401 or 404 for a request without a configured ``pk_``/``sk_`` bearer key, or None."""
        auth = request.header("authorization") or ""
        token = auth[7:] if auth.startswith("Bearer ") else ""
        if not token.startswith(("pk_", "sk_")):
            return _AUTH
        if token not in self.valid:
            return _NO_PROJECT
        return None


def _body(request: VendorRequest) -> Any:
    """The body as koa-body parses it (a non-JSON or empty body is ``{}``), or None when malformed."""
    if "json" in (request.header("content-type") or "").lower() and request.raw.strip():
        if request.json_error or not isinstance(request.json, (dict, list)):
            return None
        return request.json
    return {}


def _unknown(request: VendorRequest) -> Result:
    return Reply(404, b"Not Found", {"Content-Type": "text/plain; charset=utf-8"}), []


def parcelvoy_routes(
    keys: Collection[str],
    *,
    max_body: int = 1024 * 1024,
    max_segment: int = 1000,
    profiles: Profiles | None = None,
) -> list[Route]:
    """The client API for the projects whose ``pk_``/``sk_`` keys are in ``keys``; what the
    server's jobs do to its users is kept in ``profiles``."""
    users = profiles if profiles is not None else Profiles()
    return _ClientApi(keys, max_body=max_body, max_segment=max_segment, profiles=users).routes()
