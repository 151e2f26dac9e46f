"""Intilery Event API (server-to-server): ``/track/{clientId}/{accountId}/{BRANDID}/v1/{action}``.

Contract: ``docs/vendor-apis.md`` section 3. The action name goes in ``event`` (not Segment's
``type``): ``"identify"``, the track event's own name, ``"page"`` or ``"screen"``. One event
goes to its action's URL; two or more go to ``/v1/batch`` in one request. ``timestamp`` is
always sent (the 2020 API Guide page says it is required; the current docs say optional). Path case
rules: clientId and accountId lower case, BRANDID upper case. The docs give both 1 MB and
6 MB as the request limit: the default is the safe 1 MB (``max_bytes=`` changes it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from edgetrack.destinations.base import BaseDestination, check_endpoint, check_key, json_request, load
from edgetrack.errors import ConfigError
from edgetrack.models import Limits, QueuedEvent, Request
from edgetrack.plugins import Plugin, Timeline

__all__ = ["IntileryEvents"]

_ACTIONS = {"identify": "identify", "page": "page", "screen": "screen"}


def to_item(envelope: dict[str, Any]) -> dict[str, Any]:
    """A Segment-spec envelope as an Event API item."""
    kind = envelope.pop("type")
    envelope.pop("sentAt", None)
    if kind == "track":
        return envelope  # its "event" is already the action name
    item: dict[str, Any] = {"event": _ACTIONS[kind], **envelope}
    if kind == "identify":
        item.setdefault("traits", {})
    return item


class IntileryEvents(BaseDestination):
    """Send identify / track / page / screen calls with an ``auth-token``."""

    supports = frozenset({"identify", "track", "page", "screen"})
    rate_limit = (100.0, 500)  # documented: 100 requests/s, burst 500

    def __init__(
        self,
        client_id: str,
        account_id: str,
        brand_id: str,
        auth_token: str,
        *,
        endpoint: str = "https://tracking.intilery.com",
        name: str = "intilery_events",
        max_events: int = 100,
        max_bytes: int = 1_000_000,
        allow_http: bool = False,
        plugins: Iterable[Plugin] = (),
    ) -> None:
        for arg, value in (("client_id", client_id), ("account_id", account_id), ("brand_id", brand_id)):
            check_key("IntileryEvents", arg, value)
            if not value.replace("-", "").replace("_", "").isalnum():
                raise ConfigError(f"IntileryEvents: {arg} {value!r} must be letters and digits only")
        self._token = check_key("IntileryEvents", "auth_token", auth_token)
        self.endpoint = check_endpoint("IntileryEvents", endpoint, allow_http=allow_http)
        self.name = name
        self.plugins = Timeline(plugins, destination=True)
        self.base = f"{self.endpoint}/track/{client_id.lower()}/{account_id.lower()}/{brand_id.upper()}/v1/"
        self.limits = Limits(max_events=max_events, max_bytes=max_bytes - 200, max_event_bytes=32_000)

    def encode(self, events: Sequence[QueuedEvent], *, sent_at: str) -> Request:
        headers = {"auth-token": self._token}
        items = [to_item(load(event)) for event in events]
        if len(items) == 1:
            item = items[0]
            action = item["event"] if item["event"] in ("identify", "page", "screen") else "track"
            return json_request(self.base + action, item, headers, 1)
        return json_request(self.base + "batch", {"batch": items}, headers, len(items))
