"""Encharge Ingest API: one event per request to ``POST {endpoint}/v1`` with ``X-Encharge-Token``.

Contract: ``docs/vendor-apis.md`` section 5 (the vendor's Ingest API page). Mapping:

========  =======================================================================
call      body
========  =======================================================================
track     {name: event, user: {userId, email and other context.traits}, properties,
          sourceIp: context.ip}
identify  {name: "identify", user: {userId, **traits}} (a ``tags`` list becomes the
          documented comma-separated string)
page /    {name: "Viewed <name> Page/Screen", user, properties}
screen
alias     {type: "alias", previousUserId: previous_id, user: {userId: user_id}}
          (+ previousEmail / user.email from context.traits when given)
group     {type: "group", objectType: traits.objectType or "company",
          properties: {**traits, externalId: group_id}, user: {userId, email}}
========  =======================================================================

Encharge needs ``user.email`` or ``user.userId``: an event with neither (only an anonymous id
and no email in ``context.traits``) is counted as skipped with reason ``no_user_id``.
Empty ``properties`` are left out, as in the docs' examples.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from edgetrack.destinations.base import (
    BaseDestination,
    Verdict,
    check_endpoint,
    check_key,
    json_request,
    load,
)
from edgetrack.destinations.parcelvoy import view_name
from edgetrack.models import Limits, QueuedEvent, Request
from edgetrack.plugins import Plugin, Timeline

__all__ = ["Encharge"]


def _user(envelope: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    user: dict[str, Any] = {}
    traits = ((envelope.get("context") or {}).get("traits")) or {}
    user.update({k: v for k, v in traits.items() if k != "previousEmail"})
    user.update(extra or {})
    if envelope.get("userId"):
        user["userId"] = envelope["userId"]
    if isinstance(user.get("tags"), list):
        user["tags"] = ", ".join(str(tag) for tag in user["tags"])
    return user


def to_body(envelope: dict[str, Any]) -> dict[str, Any]:
    kind = envelope["type"]
    context = envelope.get("context") or {}
    if kind == "alias":
        body: dict[str, Any] = {"type": "alias", "previousUserId": envelope["previousId"]}
        previous_email = (context.get("traits") or {}).get("previousEmail")
        if previous_email:
            body["previousEmail"] = previous_email
        body["user"] = _user(envelope)
        return body
    if kind == "group":
        traits = dict(envelope.get("traits") or {})
        object_type = traits.pop("objectType", "company")
        user = {k: v for k, v in _user(envelope).items() if k in ("userId", "email")}
        body = {
            "type": "group",
            "objectType": object_type,
            "properties": {**traits, "externalId": envelope["groupId"]},
        }
        if user:
            body["user"] = user
        return body
    if kind == "identify":
        return {"name": "identify", "user": _user(envelope, envelope.get("traits") or {})}
    name = envelope["event"] if kind == "track" else view_name(envelope)
    body = {"name": name, "user": _user(envelope)}
    properties = envelope.get("properties") or {}
    if kind in ("page", "screen") and envelope.get("name"):
        properties = {"name": envelope["name"], **properties}
    if properties:
        body["properties"] = properties
    if context.get("ip"):
        body["sourceIp"] = context["ip"]
    return body


class Encharge(BaseDestination):
    """Send events to Encharge's Ingest API with the account's write key."""

    def __init__(
        self,
        write_key: str,
        *,
        endpoint: str = "https://ingest.encharge.io",
        name: str = "encharge",
        allow_http: bool = False,
        plugins: Iterable[Plugin] = (),
    ) -> None:
        self._key = check_key("Encharge", "write_key", write_key)
        self.endpoint = check_endpoint("Encharge", endpoint, allow_http=allow_http)
        self.name = name
        self.plugins = Timeline(plugins, destination=True)
        self.url = self.endpoint + "/v1"
        self.limits = Limits(max_events=1, max_bytes=1_000_000, max_event_bytes=32_000)

    def batch(self, events: Sequence[QueuedEvent]) -> int:
        return 1  # the API has no batch form

    def check(self, event: QueuedEvent, now: float) -> Verdict | None:
        envelope = load(event)
        if envelope["type"] in ("alias", "group"):
            return None
        user = _user(envelope, envelope.get("traits") if envelope["type"] == "identify" else None)
        if not user.get("userId") and not user.get("email"):
            return ("skipped", "no_user_id")
        return None

    def encode(self, events: Sequence[QueuedEvent], *, sent_at: str) -> Request:
        return json_request(self.url, to_body(load(events[0])), {"X-Encharge-Token": self._key}, 1)
