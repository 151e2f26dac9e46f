"""Parcelvoy client API: ``/api/client/{identify,alias,events,devices}`` with a Bearer key.

Contract: ``docs/vendor-apis.md`` section 4 (read from Parcelvoy's server code). Mapping:

======================  ===============================================================
call                    request
======================  ===============================================================
identify                ``POST /identify`` {external_id, anonymous_id, email, phone,
                        timezone, locale, data}: only the schema's keys (it rejects
                        others); traits other than email/phone/timezone/locale go in
                        ``data``; timezone and locale fall back to the event's context.
                        A timezone that is not an IANA name (the server would refuse the
                        whole identify with 422) is left out, or kept in ``data``.
                        With both ids, ``POST /alias`` goes first: the server's identify
                        puts the traits on an existing anonymous profile without setting
                        its external_id, so the next track by user id would make a second
                        profile; the alias links them (``UserRepository.aliasUser``)
alias                   ``POST /alias`` {anonymous_id: previous_id, external_id: user_id}
track                   ``POST /events`` [{name, external_id, anonymous_id, data}], up to
                        ``max_events`` a request (the array has no count limit; the body
                        has koa-body's 1 MB limit). The API takes no time or id for an
                        event (the server stores the time it arrives and cannot tell a
                        retried request from a new one): ``data._timestamp`` and
                        ``data._message_id`` carry the event's own
page / screen           ``POST /events`` with name "Viewed <name> Page/Screen"
device (register_device) ``POST /devices`` {device_id, token, os, os_version, model,
                        app_build, app_version, external_id, anonymous_id}
group                   not supported (counted as skipped)
======================  ===============================================================

A request never mixes endpoints; identify, alias and device go one per request, in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from edgetrack.destinations.base import (
    BaseDestination,
    check_endpoint,
    check_key,
    json_field,
    json_request,
    load,
)
from edgetrack.envelope._context import iana_zone
from edgetrack.models import Limits, Outcome, OutcomeKind, QueuedEvent, Request, Response
from edgetrack.plugins import Plugin, Timeline

__all__ = ["Parcelvoy"]

_EVENTS = {"track", "page", "screen"}
_IDENTIFY_FIELDS = ("email", "phone", "timezone", "locale")


def _ids(envelope: dict[str, Any]) -> dict[str, Any]:
    ids = {}
    if envelope.get("userId"):
        ids["external_id"] = envelope["userId"]
    if envelope.get("anonymousId"):
        ids["anonymous_id"] = envelope["anonymousId"]
    return ids


def view_name(envelope: dict[str, Any]) -> str:
    """Segment's convention for views as events: "Viewed Home Screen"."""
    noun = "Page" if envelope["type"] == "page" else "Screen"
    return f"Viewed {envelope['name']} {noun}" if envelope.get("name") else f"{noun} Viewed"


def event_item(envelope: dict[str, Any]) -> dict[str, Any]:
    if envelope["type"] == "track":
        name, data = envelope["event"], dict(envelope.get("properties") or {})
    else:
        name, data = view_name(envelope), dict(envelope.get("properties") or {})
        if envelope.get("name"):
            data.setdefault("name", envelope["name"])
    # No field of the API holds these: the server stores the arrival time and cannot
    # de-duplicate a retried request, so the event's own time and id ride in data.
    data["_timestamp"] = envelope.get("timestamp")
    data["_message_id"] = envelope.get("messageId")
    return {"name": name, **_ids(envelope), "data": data}


def identify_body(envelope: dict[str, Any]) -> dict[str, Any]:
    traits = dict(envelope.get("traits") or {})
    context = envelope.get("context") or {}
    body: dict[str, Any] = _ids(envelope)
    for field in _IDENTIFY_FIELDS:
        value = traits.pop(field, None)
        from_traits = value is not None
        if value is None and field in ("timezone", "locale"):
            value = context.get(field)
        if value is None:
            continue
        if field == "timezone" and iana_zone(str(value)) is None:
            if from_traits:  # the app's own value: kept where the server takes anything
                traits["timezone"] = value
            continue
        body[field] = str(value)
    if traits:
        body["data"] = traits
    return body


def device_body(envelope: dict[str, Any]) -> dict[str, Any]:
    return {**_ids(envelope), **envelope["device"]}


class Parcelvoy(BaseDestination):
    """Send to a Parcelvoy project's client API with a public (``pk_``) or secret key."""

    supports = frozenset({"identify", "alias", "track", "page", "screen", "device"})

    def __init__(
        self,
        api_key: str,
        *,
        endpoint: str = "https://app.parcelvoy.com",
        name: str = "parcelvoy",
        max_events: int = 500,
        max_bytes: int = 900_000,
        allow_http: bool = False,
        plugins: Iterable[Plugin] = (),
    ) -> None:
        self._auth = "Bearer " + check_key("Parcelvoy", "api_key", api_key)
        self.endpoint = check_endpoint("Parcelvoy", endpoint, allow_http=allow_http)
        self.name = name
        self.plugins = Timeline(plugins, destination=True)
        self.base = self.endpoint + "/api/client/"
        self.limits = Limits(max_events=max_events, max_bytes=max_bytes, max_event_bytes=32_000)

    def batch(self, events: Sequence[QueuedEvent]) -> int:
        if events[0].type not in _EVENTS:
            return 1
        n = 1
        while n < len(events) and events[n].type in _EVENTS:
            n += 1
        return n

    def encode(self, events: Sequence[QueuedEvent], *, sent_at: str) -> Request:
        headers = {"Authorization": self._auth}
        first = load(events[0])
        kind = first["type"]
        if kind in _EVENTS:
            items = [event_item(first)] + [event_item(load(e)) for e in events[1:]]
            return json_request(self.base + "events", items, headers, len(items))
        if kind == "identify":
            body = identify_body(first)
            request = json_request(self.base + "identify", body, headers, 1)
            if "external_id" in body and "anonymous_id" in body:
                link = {"anonymous_id": body["anonymous_id"], "external_id": body["external_id"]}
                return replace(request, before=(json_request(self.base + "alias", link, headers, 0),))
            return request
        if kind == "alias":
            body = {"anonymous_id": first["previousId"], "external_id": first["userId"]}
            return json_request(self.base + "alias", body, headers, 1)
        return json_request(self.base + "devices", device_body(first), headers, 1)

    def interpret(self, response: Response) -> Outcome:
        status = response.status
        detail = response.error or response.body[:500].decode("utf-8", "replace")
        if status == 404 and json_field(response.body, "code") == 6000:
            # Parcelvoy's own answer to an unknown or revoked key: "The requested project does
            # not exist" (code 6000). Any other 404 (Koa's "Not Found") is a wrong endpoint.
            return Outcome(OutcomeKind.AUTH, detail)
        if status == 422:
            return Outcome(OutcomeKind.REJECTED, detail)
        if status == 400:  # koa-body answers an oversized body with a generic 400, not 413
            return Outcome(OutcomeKind.TOO_LARGE, detail)
        return super().interpret(response)
