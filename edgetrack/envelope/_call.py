"""``Call``: one tracking call's arguments, checked and carried inward as one frozen value.

The six calls keep segment-analytics-python's wide public signatures (``Client.track`` and
friends); each builds its own fields here and hands one ``Call`` on. This is the seam where the
event's timeline begins: validation, then the envelope (``MessageBuilder.build``), then the
plugins and the queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from edgetrack.errors import EventTypeError, EventValueError

__all__ = [
    "Call",
    "Result",
    "alias_fields",
    "device_fields",
    "group_fields",
    "identify_fields",
    "mapping",
    "optional_id",
    "track_fields",
    "view_fields",
]


#: What a call returns: ``(True, message)`` once the event is queued (the message dict, as
#: segment-analytics-python returns it), or ``(False, reason)`` with a sentence saying why not.
Result = tuple[bool, Any]


class Call(NamedTuple):
    """A tracking call: its kind, its own fields and the arguments every call shares (a tuple:
    immutable, and built in a fraction of a frozen dataclass's time on the ``track()`` path)."""

    kind: str
    fields: dict[str, Any]
    user_id: object = None
    anonymous_id: object = None
    context: object = None
    timestamp: object = None
    integrations: object = None
    message_id: object = None
    urgent: bool = False  # flush=True: send it, and everything pending, now


def mapping(name: str, value: object) -> dict[str, Any]:
    """``value`` as a dict ({} for None); a TypeError naming ``name`` otherwise."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    if isinstance(value, Mapping):
        return dict(value)
    raise EventTypeError(f"{name} must be a dict (or None), not {type(value).__name__}")


def optional_id(name: str, value: object) -> str | None:
    """An id as it goes on the wire: a str (numbers and UUIDs are turned into one, as
    segment-analytics-python does); None for None or ""."""
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        from uuid import UUID  # rare: kept off the import of edgetrack

        if not isinstance(value, UUID):
            raise EventTypeError(f"{name} must be a str or a number, not {type(value).__name__}")
    return str(value)


def _required_id(call: str, name: str, value: object) -> str:
    found = optional_id(name, value)
    if found is None:
        raise EventValueError(f"{call}() needs {name}: pass the id as a str")
    return found


def track_fields(event: object, properties: object) -> dict[str, Any]:
    if not isinstance(event, str) or not event.strip():
        if event is None or isinstance(event, str):
            raise EventValueError("track() needs an event name: pass event='Song Played'")
        raise EventTypeError(f"event must be a str, not {type(event).__name__}")
    return {"event": event, "properties": mapping("properties", properties)}


def identify_fields(traits: object) -> dict[str, Any]:
    return {"traits": mapping("traits", traits)}


def view_fields(category: object, name: object, properties: object) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for arg, value in (("name", name), ("category", category)):
        if value is not None:
            if not isinstance(value, str):
                raise EventTypeError(f"{arg} must be a str, not {type(value).__name__}")
            fields[arg] = value
    fields["properties"] = mapping("properties", properties)
    return fields


def alias_fields(previous_id: object, user_id: object) -> dict[str, Any]:
    _required_id("alias", "user_id", user_id)
    return {"previousId": _required_id("alias", "previous_id", previous_id)}


def group_fields(group_id: object, traits: object) -> dict[str, Any]:
    return {"groupId": _required_id("group", "group_id", group_id), "traits": mapping("traits", traits)}


def device_fields(
    device_id: object, token: object, details: Mapping[str, object], context: Mapping[str, Any]
) -> dict[str, Any]:
    """A push device for ``register_device()``: missing details from what the client knows (the
    OS from the context, the machine type, the app version)."""
    import platform  # register_device() is rare: kept off the import of edgetrack

    if not isinstance(device_id, str) or not device_id:
        raise EventValueError("register_device() needs device_id: a str that names this device")
    if token is not None and not isinstance(token, str):
        raise EventTypeError(f"token must be a str (the push token) or None, not {type(token).__name__}")
    system = context.get("os", {})
    version = details.get("app_version") or "unknown"
    device = {
        "device_id": device_id,
        "token": token,
        "os": details.get("os_name") or str(system.get("name", platform.system())),
        "os_version": details.get("os_version") or str(system.get("version", platform.release())),
        "model": details.get("model") or platform.machine() or "unknown",
        "app_build": details.get("app_build") or version,
        "app_version": version,
    }
    for key, value in device.items():
        if value is not None and not isinstance(value, str):
            raise EventTypeError(f"{key} must be a str, not {type(value).__name__}")
    return {"device": device}
