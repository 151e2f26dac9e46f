"""The message envelope: argument validation, Segment-spec fields and JSON, done once.

Everything here runs in the caller's thread on the ``track()`` hot path, so it is plain
dict building and one ``json.dumps``; the slow walk that names the offending value runs only
after the fast path has failed.
"""

from __future__ import annotations

import datetime as _dt
import enum
import json
import math
import os
import random
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from decimal import Decimal
    from uuid import UUID

from edgetrack.envelope._call import Call, mapping, optional_id
from edgetrack.errors import EventTypeError, EventValueError

__all__ = ["Ambient", "MessageBuilder", "iso_utc", "iso_utc_from_epoch", "queued_form"]

MAX_MESSAGE_ID = 100
_VIEWS = ("page", "screen")

#: The deepest nesting of objects and arrays accepted in properties, traits, context and
#: integrations. The strictest JSON parser a vendor's collector may run is Rust's serde_json
#: (128 levels); Jackson (2.15+) stops at 1,000, Go's encoding/json at 10,000, and Python's own
#: parser at its recursion limit (about 1,000). 100 is under all of them, and far deeper than any
#: analytics property needs (Batch.com flattens one level).
MAX_DEPTH = 100
_LEAVES = frozenset((str, int, float, bool, type(None)))


def _shape_ok(value: object, depth: int = 1) -> bool:
    """Fast check (the hot path): every dict key is a str and nothing nests past MAX_DEPTH.
    False sends the call to ``_shape_problem``, which says exactly what is wrong, if anything."""
    if depth > MAX_DEPTH:
        return False
    kind = type(value)
    if kind is dict:
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str:
                return False
            if type(item) not in _LEAVES and not _shape_ok(item, depth + 1):
                return False
    elif kind is list or kind is tuple:
        for item in value:  # type: ignore[attr-defined]
            if type(item) not in _LEAVES and not _shape_ok(item, depth + 1):
                return False
    return True


def _json_key(key: object) -> object:
    """The name a dict key gets in JSON (what json.dumps writes for it)."""
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, float):
        return float.__repr__(key)
    if isinstance(key, int):
        return int.__repr__(key)
    return key


def _shape_problem(value: object, path: str, depth: int = 1) -> str | None:
    """What is wrong with ``value``'s shape (too deep, or two keys that are one in JSON)."""
    if depth > MAX_DEPTH:
        shown = path if len(path) <= 80 else path[:77] + "..."
        return f"{shown} is nested more than {MAX_DEPTH} levels deep; flatten it"
    if isinstance(value, dict):
        names: dict[object, object] = {}
        for key in value:
            name = _json_key(key)
            if name in names and isinstance(name, str):
                return (
                    f"{path} has the keys {names[name]!r} and {key!r}, which are both {name!r} in "
                    "JSON: one would hide the other; keep one"
                )
            names[name] = key
        items = [(f"[{key!r}]", item) for key, item in value.items()]
    elif isinstance(value, (list, tuple)):
        items = [(f"[{index}]", item) for index, item in enumerate(value)]
    else:
        return None
    for step, item in items:
        if type(item) not in _LEAVES:
            found = _shape_problem(item, path + step if len(path) <= 80 else path, depth + 1)
            if found:
                return found
    return None


_UTC = _dt.timezone.utc
_last_second: tuple[int, str] = (-1, "")  # replaced whole, so threads never see half of it


# A generator of edgetrack's own, seeded from os.urandom: an app that calls random.seed(42)
# must not get the same messageIds on every run (vendors de-duplicate on them and would drop
# real events). Reseeded from os.urandom in a forked child, so parent and child differ.
_ids = random.Random()
_getrandbits = _ids.getrandbits
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_ids.seed)


_UUID_MASK = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_BITS = (0x4000 << 64) | (0x8000 << 48)  # version 4, RFC 4122 variant


def fast_uuid4() -> str:
    """A random (version 4) UUID string, ~10x cheaper than ``str(uuid.uuid4())``.

    edgetrack's own Mersenne Twister, seeded from ``os.urandom`` (reseeded after fork), is plenty for
    message ids, which need uniqueness, not secrecy.
    """
    h = "%032x" % (_getrandbits(128) & _UUID_MASK | _UUID_BITS)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def iso_utc_from_epoch(t: float) -> str:
    """``2024-05-02T10:00:00.123Z`` for a POSIX time (the Segment spec's timestamp form)."""
    secs = int(t)
    global _last_second
    cached_secs, text = _last_second
    if cached_secs != secs:  # strftime once a second, not once an event
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
        _last_second = (secs, text)
    return f"{text}.{int((t - secs) * 1000):03d}Z"


def iso_utc(value: _dt.datetime) -> str:
    """ISO-8601 UTC with milliseconds; a naive datetime is read as UTC (as analytics-python users expect)."""
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=_UTC)
    else:
        try:
            value = value.astimezone(_UTC)
        except OverflowError:
            raise EventValueError(
                f"{value.isoformat()} is outside the dates that can be shown in UTC; pass a date "
                "between years 1 and 9999 in UTC"
            ) from None
    # Formatted by hand: strftime("%Y") does not zero-pad years before 1000 on every platform.
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}:"
        f"{value.second:02d}.{value.microsecond // 1000:03d}Z"
    )


def queued_form(message: Mapping[str, Any]) -> dict[str, Any]:
    """A returned message as it is queued and sent: without the top-level keys that are None
    and without an empty ``integrations`` (segment-analytics-python's return shape has them)."""
    return {k: v for k, v in message.items() if v is not None and not (k == "integrations" and v == {})}


def _decimal_and_uuid() -> tuple[type[Decimal], type[UUID]]:
    """Imported on first need: neither is on the path to the first ``track()``."""
    import decimal
    import uuid

    return decimal.Decimal, uuid.UUID


def _json_default(value: object) -> object:
    Decimal, UUID = _decimal_and_uuid()
    if isinstance(value, _dt.datetime):
        return iso_utc(value)
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("non-finite Decimal")
        return float(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):  # e.g. the read-only views of the default context
        return dict(value)
    raise TypeError(type(value).__name__)


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_json_default)
_encode = _ENCODER.encode


def _fast_encoder() -> Callable[[object], str]:
    """The C encoder ``_ENCODER`` uses, built once instead of once a call, with no cycle check
    (a cycle raises RecursionError, which the slow path then names): the same JSON for half
    the cost."""
    try:
        from json.encoder import c_encode_basestring, c_make_encoder  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - Python builds without the C accelerator
        return _encode
    if c_make_encoder is None or c_encode_basestring is None:  # pragma: no cover
        return _encode
    encoder = c_make_encoder(None, _json_default, c_encode_basestring, None, ":", ",", False, False, False)
    join = "".join

    def encode(value: object) -> str:
        return join(encoder(value, 0))

    return encode


_fast = _fast_encoder()
_string: Callable[[str], str] = json.encoder.encode_basestring


def _problem(value: object, path: str, seen: set[int], depth: int) -> str | None:
    """Find the first value JSON cannot carry and say what to change (slow path, errors only)."""
    if depth > MAX_DEPTH + 1:
        return f"{path[:80]}... is nested more than {MAX_DEPTH} levels deep; flatten it"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{path} is {value!r}, which JSON cannot carry; send None or a finite number"
    if isinstance(value, _decimal_and_uuid()[0]) and not value.is_finite():
        return f"{path} is Decimal({str(value)!r}), which JSON cannot carry; send None or a number"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return (
                f"{path} contains a lone surrogate and is not valid Unicode; "
                "decode your bytes with errors='replace' before tracking"
            )
        return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"{path} is bytes; decode it to str (or base64-encode it) before tracking"
    if isinstance(value, (set, frozenset)):
        return f"{path} is a set, which JSON cannot carry; pass a list (e.g. sorted(...))"
    if isinstance(value, (dict, list, tuple)):
        if id(value) in seen:
            return f"{path} refers back to itself (a cycle); pass a copy without the cycle"
        seen.add(id(value))
        try:
            return _container_problem(value, path, seen, depth)
        finally:
            seen.discard(id(value))
    if value is None or isinstance(value, (bool, int, float)):
        return None
    if isinstance(value, enum.Enum):
        return _problem(value.value, f"{path}.value", seen, depth + 1)
    try:
        _json_default(value)
    except (TypeError, ValueError):
        return (
            f"{path} is a {type(value).__name__}, which edgetrack cannot turn into JSON; "
            "convert it to str, int, float, bool, None, list or dict "
            "(datetime, date, Decimal, UUID and Enum are converted for you)"
        )
    return None


def _container_problem(
    value: dict[object, object] | list[object] | tuple[object, ...], path: str, seen: set[int], depth: int
) -> str | None:
    """``_problem`` for each key and item of a dict, list or tuple."""
    if not isinstance(value, dict):
        for index, item in enumerate(value):
            found = _problem(item, f"{path}[{index}]", seen, depth + 1)
            if found:
                return found
        return None
    for key, item in value.items():
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            return f"{path} has a key of type {type(key).__name__} ({key!r}); use str keys"
        if isinstance(key, (str, float)):
            found = _problem(key, f"{path} key {key!r}", seen, depth + 1)
            if found:
                return found
        found = _problem(item, f"{path}[{key!r}]", seen, depth + 1)
        if found:
            return found
    return None


def _plain(context: Mapping[str, Any]) -> dict[str, Any]:
    """A copy two levels deep: as deep as the default context goes."""
    return {k: v.copy() if type(v) is dict else v for k, v in context.items()}


def _check_timestamp(value: object, now: float) -> str:
    if value is None:
        return iso_utc_from_epoch(now)
    if isinstance(value, _dt.datetime):
        return iso_utc(value)
    if isinstance(value, str):
        try:
            parsed = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise EventValueError(
                f"timestamp {value!r} is not ISO-8601; pass a datetime or e.g. '2024-05-02T10:00:00.000Z'"
            ) from None
        return iso_utc(parsed)
    raise EventTypeError(
        f"timestamp must be a datetime (naive is read as UTC) or an ISO-8601 str, not {type(value).__name__}"
    )


class Ambient:
    """A context that a stretch of events shares (the device, the session, the remembered
    traits), encoded once and spliced into each event's JSON."""

    __slots__ = ("_nested", "_traits", "context", "json")

    def __init__(self, context: Mapping[str, Any]) -> None:
        self.context: dict[str, Any] = _plain(context)
        self.json = ',"context":' + _encode(self.context) + "}"
        nested = [key for key, value in self.context.items() if type(value) is dict]
        self._traits = "traits" in nested  # the app's traits may nest deeper than the rest
        self._nested = [key for key in nested if key != "traits"]

    def copy(self) -> dict[str, Any]:
        """The context, copied as deep as it goes: the caller's own, safe to change."""
        own = self.context.copy()
        for key in self._nested:
            own[key] = own[key].copy()
        if self._traits:
            own["traits"] = tree_copy(own["traits"])
        return own


def tree_copy(value: Any) -> Any:
    """A copy of a JSON-shaped value deep enough to change anything in it: every dict and list
    (a tuple becomes a list, as JSON has it); the leaves (str, numbers, datetimes) are
    immutable and shared. Four times quicker than ``copy.deepcopy``, which keeps a memo."""
    kind = type(value)
    if kind is str or kind is int or kind is float or value is None or kind is bool:
        return value
    if isinstance(value, dict):
        return {key: tree_copy(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [tree_copy(item) for item in value]
    return value


class MessageBuilder:
    """Builds Segment-spec envelopes and their JSON for one client."""

    def __init__(
        self,
        *,
        context: Mapping[str, Any],
        anonymous_id: Callable[[], str] | None,
        max_event_bytes: int,
    ) -> None:
        self.ambient = Ambient(context)  # the default context, when a call has none given
        self._anonymous_id = anonymous_id
        self._max_event_bytes = max_event_bytes

    @property
    def context(self) -> dict[str, Any]:
        """The default context (a copy)."""
        return self.ambient.copy()

    def build(self, call: Call, at: float, ambient: Ambient | None = None) -> tuple[dict[str, Any], str, int]:
        """Return (message, its JSON, its size in bytes) or raise for bad arguments; ``at`` is
        the wall-clock time to stamp when the call has no ``timestamp``; ``ambient`` the
        context to add (default: the client's)."""
        ambient = ambient or self.ambient
        msg, context, integrations = self._message(call, at)
        kind = call.kind
        if context:
            msg["context"] = self._merged(ambient, context)
            body = self._dumps(kind, msg)
        else:
            body = self._spliced(kind, msg, call.fields, integrations, ambient)
            msg["context"] = ambient.copy()
        return _segment_keys(kind, msg), body, self._size(kind, msg, body)

    def message(self, call: Call, at: float, ambient: Ambient | None = None) -> dict[str, Any]:
        """The message alone, with its whole context, for plugins to change before ``encode``:
        a copy all the way down, so changing it changes neither the caller's dicts nor the
        ambient context."""
        ambient = ambient or self.ambient
        msg, context, _ = self._message(call, at)
        own = {key: tree_copy(value) for key, value in msg.items()}
        if context:  # as build() merges it (the library is always edgetrack's)
            own["context"] = tree_copy({**ambient.context, **context, "library": ambient.context["library"]})
        else:
            own["context"] = ambient.copy()
        return own

    def encode(
        self, kind: str, msg: dict[str, Any], ambient: Ambient | None = None
    ) -> tuple[dict[str, Any], str, int]:
        """``msg`` (from ``message()``, maybe changed since) as ``build`` returns it; its
        context is spliced in when it is still the ambient one."""
        ambient = ambient or self.ambient
        context = msg.pop("context", None)
        try:
            if context == ambient.context:  # the common case: splice the encoded context in
                body = _fast(msg)[:-1] + ambient.json
            else:
                if context is not None:
                    msg["context"] = context
                body = _fast(msg)
        except (TypeError, ValueError, RecursionError):
            self._dumps(kind, msg)  # raises, naming the value and what to change
            raise  # pragma: no cover - the slow path always raises where the fast one did
        finally:
            msg["context"] = context
        return _segment_keys(kind, msg), body, self._size(kind, msg, body)

    def _message(
        self, call: Call, at: float
    ) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]:
        """The message's keys but its context, checked, with the call's own context."""
        msg = self._head(call, at)
        context = None if call.context is None else mapping("context", call.context)
        integrations = None if call.integrations is None else mapping("integrations", call.integrations)
        self._check_shapes(call.kind, call.fields, context, integrations)
        msg.update(call.fields)
        if integrations:
            msg["integrations"] = integrations
        return msg, context, integrations

    @staticmethod
    def _merged(ambient: Ambient, context: dict[str, Any]) -> dict[str, Any]:
        merged = ambient.copy()
        merged.update(context)
        merged["library"] = dict(ambient.context["library"])
        return merged

    def _size(self, kind: str, msg: dict[str, Any], body: str) -> int:
        size = len(body) if body.isascii() else self._utf8_size(body, msg)
        if size > self._max_event_bytes:
            raise self._too_large(kind, msg, size)
        return size

    def _head(self, call: Call, at: float) -> dict[str, Any]:
        """The envelope's first keys: type, messageId, timestamp and the ids (checked)."""
        uid = optional_id("user_id", call.user_id)
        aid = optional_id("anonymous_id", call.anonymous_id)
        if uid is None and aid is None:
            if self._anonymous_id is None:
                raise EventValueError(
                    f"{call.kind}() needs a user_id or an anonymous_id: this client was built with "
                    "auto_anonymous_id=False, so pass one of them"
                )
            aid = self._anonymous_id()
        if call.message_id is None:
            mid = fast_uuid4()
        else:
            mid = optional_id("message_id", call.message_id) or ""
            if not mid or len(mid) > MAX_MESSAGE_ID:
                raise EventValueError(
                    f"message_id must be 1 to {MAX_MESSAGE_ID} characters (the Segment spec's "
                    f"limit), got {len(mid)}"
                )
        msg: dict[str, Any] = {
            "type": call.kind,
            "messageId": mid,
            "timestamp": _check_timestamp(call.timestamp, at),
        }
        if uid is not None:
            msg["userId"] = uid
        if aid is not None:
            msg["anonymousId"] = aid
        return msg

    def _spliced(
        self,
        kind: str,
        msg: dict[str, Any],
        fields: dict[str, Any],
        integrations: dict[str, Any] | None,
        ambient: Ambient,
    ) -> str:
        """The common case, a call with no context of its own: only the caller's values are
        encoded and the default context is spliced in. The same bytes as encoding ``msg`` whole
        (the golden tests hold it), for less."""
        parts = [
            '{"type":"',
            kind,
            '","messageId":',
            _string(msg["messageId"]),
            ',"timestamp":"',
            msg["timestamp"],
            '"',
        ]
        if "userId" in msg:
            parts += (',"userId":', _string(msg["userId"]))
        if "anonymousId" in msg:
            parts += (',"anonymousId":', _string(msg["anonymousId"]))
        try:
            for key, value in fields.items():  # our own keys: plain ASCII names
                parts += (',"', key, '":', _string(value) if type(value) is str else _fast(value))
            if integrations:
                parts += (',"integrations":', _fast(integrations))
        except (TypeError, ValueError, RecursionError):
            self._dumps(kind, msg)  # raises, naming the value and what to change
            raise  # pragma: no cover - the slow path always raises where the fast one did
        parts.append(ambient.json)
        return "".join(parts)

    def _too_large(self, kind: str, msg: dict[str, Any], size: int) -> EventValueError:
        biggest = max(
            (k for k in ("properties", "traits", "context") if k in msg),
            key=lambda k: len(self._dumps(kind, msg[k])),
            default="properties",
        )
        return EventValueError(
            f"this {kind} event is {size:,} bytes as JSON, over max_event_bytes="
            f"{self._max_event_bytes:,}; make {biggest!r} smaller (or raise the limit "
            "if every destination accepts larger events)"
        )

    @staticmethod
    def _check_shapes(kind: str, fields: dict[str, Any], context: object, integrations: object) -> None:
        """Refuse a call whose values nest too deeply or hold two keys that collide in JSON."""
        for name, value in (*fields.items(), ("context", context), ("integrations", integrations)):
            if value and type(value) is dict and not _shape_ok(value):
                problem = _shape_problem(value, name)
                if problem is not None:
                    raise EventValueError(f"{kind}(): {problem}")

    @staticmethod
    def _dumps(kind: str, value: object) -> str:
        try:
            return _encode(value)
        except (TypeError, ValueError, RecursionError) as exc:
            try:
                problem = _problem(value, "message", set(), 0)
            except RecursionError:  # the app's own stack was already deep
                problem = "a value is nested too deeply for JSON; flatten it"
            if problem is None:  # pragma: no cover - the walk mirrors the encoder
                problem = f"the message cannot be turned into JSON ({exc})"
            raise EventValueError(f"{kind}(): {_rename(problem)}") from None

    @staticmethod
    def _utf8_size(body: str, msg: dict[str, Any]) -> int:
        try:
            return len(body.encode("utf-8"))
        except UnicodeEncodeError:
            problem = _problem(msg, "message", set(), 0) or "a string is not valid Unicode"
            raise EventValueError(_rename(problem)) from None


def _segment_keys(kind: str, msg: dict[str, Any]) -> dict[str, Any]:
    """The message returned has segment-analytics-python's keys, None when absent; the queued
    JSON leaves out nulls and an empty integrations object, which the Segment spec reads the
    same way (fewer bytes on flash and on the radio)."""
    if "userId" not in msg:
        msg["userId"] = None
    if "anonymousId" not in msg:
        msg["anonymousId"] = None
    if "integrations" not in msg:
        msg["integrations"] = {}
    if kind in _VIEWS:
        msg.setdefault("name", None)
        msg.setdefault("category", None)
    return msg


_ARG_NAMES = {
    "['properties']": "properties",
    "['traits']": "traits",
    "['context']": "context",
    "['integrations']": "integrations",
}


def _rename(problem: str) -> str:
    """Say ``properties['price']`` rather than ``message['properties']['price']``."""
    for key, arg in _ARG_NAMES.items():
        prefix = "message" + key
        if problem.startswith(prefix):
            return arg + problem[len(prefix) :]
    return problem
