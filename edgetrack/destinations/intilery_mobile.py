"""Intilery "API For Mobile": Segment-format batches to ``/cdp/events/segment/mobile/batch``.

Wire contract: ``docs/vendor-apis.md`` section 2. The ``writeKey`` goes at the batch root (as
documented) and on every item (as Intilery's own Android and iOS SDKs send it); ``sentAt`` is
stamped at each upload attempt, at the root and on every item (the docs' example form). Bodies
are gzipped, as both vendor SDKs do. Limits are the vendor SDKs' (the server documents none).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from edgetrack.destinations.base import BaseDestination, check_endpoint, check_key, segment_batch
from edgetrack.models import Limits, Outcome, OutcomeKind, QueuedEvent, Request, Response
from edgetrack.plugins import Plugin, Timeline

__all__ = ["IntileryMobile"]

BATCH_PATH = "/cdp/events/segment/mobile/batch"


class IntileryMobile(BaseDestination):
    """Send to Intilery's mobile batch endpoint with the tag's write key."""

    def __init__(
        self,
        write_key: str,
        *,
        endpoint: str = "https://events.intilery.com",
        name: str = "intilery_mobile",
        max_events: int = 100,
        max_bytes: int = 475_000,
        allow_http: bool = False,
        plugins: Iterable[Plugin] = (),
    ) -> None:
        self._write_key = check_key("IntileryMobile", "write_key", write_key)
        self.endpoint = check_endpoint("IntileryMobile", endpoint, allow_http=allow_http)
        self.name = name
        self.plugins = Timeline(plugins, destination=True)
        self.url = self.endpoint + BATCH_PATH
        overhead = len(self._item_fields("2000-01-01T00:00:00.000Z")) + 1
        self.limits = Limits(
            max_events=max_events,
            max_bytes=max_bytes - 200,  # room for the batch's root fields
            max_event_bytes=32_000,
            per_event_overhead=overhead,
        )

    def _item_fields(self, sent_at: str) -> str:
        return f'"sentAt":{json.dumps(sent_at)},"writeKey":{json.dumps(self._write_key)}'

    def encode(self, events: Sequence[QueuedEvent], *, sent_at: str) -> Request:
        fields = self._item_fields(sent_at)
        return segment_batch(self.url, events, fields, fields, {})

    def interpret(self, response: Response) -> Outcome:
        # The mobile endpoint documents no statuses; a 400 that blames the write key is a
        # configuration problem (pause and keep the events), not a bad event to dead-letter.
        if response.status == 400 and b"writekey" in response.body.lower():
            return Outcome(OutcomeKind.AUTH, response.body[:500].decode("utf-8", "replace"))
        return super().interpret(response)
