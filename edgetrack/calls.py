"""The tracking calls, in analytics-python's shape: ``track``, ``identify``, ``page``, ``screen``,
``alias``, ``group`` and ``register_device``.

Each checks its own arguments, builds the call's fields and hands them to ``_enqueue`` (the
``Client``'s), which adds the envelope, serialises once and queues. Arguments keep
analytics-python's names and positions; ``flush=True`` marks an urgent event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edgetrack.errors import EventTypeError, EventValueError
from edgetrack.events import MessageBuilder

__all__ = ["Calls", "Result"]

#: ``(True, message)`` once the event is queued (the message dict, as segment-analytics-python
#: returns it), or ``(False, reason)`` with a sentence saying why it was not.
Result = tuple[bool, Any]


class Calls:
    """Mixed into ``Client``; see there for the queue and the delivery."""

    _builder: MessageBuilder
    _app_version: str | None

    def _enqueue(
        self,
        kind: str,
        fields: dict[str, Any],
        user_id: object,
        anonymous_id: object,
        context: object,
        timestamp: object,
        integrations: object,
        message_id: object,
        *,
        urgent: bool = False,
    ) -> Result:
        raise NotImplementedError

    # -- the calls -------------------------------------------------------------------------

    def track(
        self,
        user_id: object = None,
        event: object = None,
        properties: object = None,
        context: object = None,
        timestamp: object = None,
        anonymous_id: object = None,
        integrations: object = None,
        message_id: object = None,
        *,
        flush: bool = False,
    ) -> Result:
        """Record that ``user_id`` did ``event``; returns ``(True, message)`` once queued."""
        if not isinstance(event, str) or not event.strip():
            if event is None or isinstance(event, str):
                raise EventValueError("track() needs an event name: pass event='Song Played'")
            raise EventTypeError(f"event must be a str, not {type(event).__name__}")
        fields = {"event": event, "properties": _mapping("properties", properties)}
        return self._enqueue(
            "track", fields, user_id, anonymous_id, context, timestamp, integrations, message_id, urgent=flush
        )

    def identify(
        self,
        user_id: object = None,
        traits: object = None,
        context: object = None,
        timestamp: object = None,
        anonymous_id: object = None,
        integrations: object = None,
        message_id: object = None,
        *,
        flush: bool = False,
    ) -> Result:
        """Record who the user is and their ``traits``."""
        fields = {"traits": _mapping("traits", traits)}
        return self._enqueue(
            "identify",
            fields,
            user_id,
            anonymous_id,
            context,
            timestamp,
            integrations,
            message_id,
            urgent=flush,
        )

    def page(
        self,
        user_id: object = None,
        category: object = None,
        name: object = None,
        properties: object = None,
        context: object = None,
        timestamp: object = None,
        anonymous_id: object = None,
        integrations: object = None,
        message_id: object = None,
        *,
        flush: bool = False,
    ) -> Result:
        """Record a page view (web-style apps)."""
        return self._view(
            "page",
            user_id,
            name,
            properties,
            category,
            context,
            timestamp,
            anonymous_id,
            integrations,
            message_id,
            flush=flush,
        )

    def screen(
        self,
        user_id: object = None,
        category: object = None,
        name: object = None,
        properties: object = None,
        context: object = None,
        timestamp: object = None,
        anonymous_id: object = None,
        integrations: object = None,
        message_id: object = None,
        *,
        flush: bool = False,
    ) -> Result:
        """Record a screen view (mobile and kiosk apps)."""
        return self._view(
            "screen",
            user_id,
            name,
            properties,
            category,
            context,
            timestamp,
            anonymous_id,
            integrations,
            message_id,
            flush=flush,
        )

    def alias(
        self,
        previous_id: object = None,
        user_id: object = None,
        context: object = None,
        timestamp: object = None,
        integrations: object = None,
        message_id: object = None,
        *,
        flush: bool = False,
    ) -> Result:
        """Merge ``previous_id``'s history into ``user_id``."""
        for arg, value in (("previous_id", previous_id), ("user_id", user_id)):
            if value is None or value == "":
                raise EventValueError(f"alias() needs {arg}: pass the id as a str")
        fields = {"previousId": _require_id("previous_id", previous_id)}
        return self._enqueue(
            "alias", fields, user_id, None, context, timestamp, integrations, message_id, urgent=flush
        )

    def register_device(
        self,
        user_id: object = None,
        device_id: object = None,
        token: object = None,
        *,
        os_name: str | None = None,
        os_version: str | None = None,
        model: str | None = None,
        app_build: str | None = None,
        app_version: str | None = None,
        anonymous_id: object = None,
        context: object = None,
        timestamp: object = None,
        message_id: object = None,
        flush: bool = False,
    ) -> Result:
        """Register this device and its push token (FCM / APNs) for the user.

        Only destinations with a device API receive it (Parcelvoy's ``/devices``); for the
        others it is counted as skipped. Missing details default to what the client knows:
        the OS from the context, the machine type, and ``app_version`` of the client.
        """
        import platform

        if not isinstance(device_id, str) or not device_id:
            raise EventValueError("register_device() needs device_id: a str that names this device")
        if token is not None and not isinstance(token, str):
            raise EventTypeError(f"token must be a str (the push token) or None, not {type(token).__name__}")
        system = self._builder.context.get("os", {})
        version = app_version or self._app_version or "unknown"
        device = {
            "device_id": device_id,
            "token": token,
            "os": os_name or str(system.get("name", platform.system())),
            "os_version": os_version or str(system.get("version", platform.release())),
            "model": model or platform.machine() or "unknown",
            "app_build": app_build or version,
            "app_version": version,
        }
        for key, value in device.items():
            if value is not None and not isinstance(value, str):
                raise EventTypeError(f"{key} must be a str, not {type(value).__name__}")
        return self._enqueue(
            "device",
            {"device": device},
            user_id,
            anonymous_id,
            context,
            timestamp,
            None,
            message_id,
            urgent=flush,
        )

    def group(
        self,
        user_id: object = None,
        group_id: object = None,
        traits: object = None,
        context: object = None,
        timestamp: object = None,
        anonymous_id: object = None,
        integrations: object = None,
        message_id: object = None,
        *,
        flush: bool = False,
    ) -> Result:
        """Put the user in ``group_id`` (an account, a company) with the group's ``traits``."""
        if group_id is None or group_id == "":
            raise EventValueError("group() needs group_id: pass the group's id as a str")
        fields = {
            "groupId": _require_id("group_id", group_id),
            "traits": _mapping("traits", traits),
        }
        return self._enqueue(
            "group", fields, user_id, anonymous_id, context, timestamp, integrations, message_id, urgent=flush
        )

    def _view(
        self,
        kind: str,
        user_id: object,
        name: object,
        properties: object,
        category: object,
        context: object,
        timestamp: object,
        anonymous_id: object,
        integrations: object,
        message_id: object,
        *,
        flush: bool = False,
    ) -> Result:
        fields: dict[str, Any] = {}
        for arg, value in (("name", name), ("category", category)):
            if value is not None:
                if not isinstance(value, str):
                    raise EventTypeError(f"{arg} must be a str, not {type(value).__name__}")
                fields[arg] = value
        fields["properties"] = _mapping("properties", properties)
        return self._enqueue(
            kind, fields, user_id, anonymous_id, context, timestamp, integrations, message_id, urgent=flush
        )


def _mapping(name: str, value: object) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    if isinstance(value, Mapping):
        return dict(value)
    raise EventTypeError(f"{name} must be a dict (or None), not {type(value).__name__}")


def _require_id(name: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise EventTypeError(f"{name} must be a str or a number, not {type(value).__name__}")
    return str(value)
