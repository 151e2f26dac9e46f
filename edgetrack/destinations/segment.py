"""Any Segment-compatible HTTP Tracking API: ``POST {endpoint}/v1/batch``.

For Segment itself and for collectors that speak its protocol (RudderStack, Jitsu, ...).
Contract: ``docs/vendor-apis.md`` section 1.2 (500 KB and 2,500 events a batch, 32 KB an
event, write key in the body or as the Basic-auth user). Stored envelopes are joined without
re-parsing. Batches hold up to 1,000 events (analytics-python sends 100): a tenth of the
requests, so a tenth of the per-request CPU and of the radio wake-ups; 475,000 bytes still
caps each one.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence

from edgetrack.destinations.base import BaseDestination, check_endpoint, check_key, segment_batch
from edgetrack.models import Limits, QueuedEvent, Request
from edgetrack.plugins import Plugin, Timeline

__all__ = ["SEGMENT_API", "Segment"]

#: Segment's own tracking API (``endpoint=None`` means this).
SEGMENT_API = "https://api.segment.io"


class Segment(BaseDestination):
    """Send Segment-spec batches to ``{endpoint}/v1/batch`` (gzipped unless ``gzip=False``);
    ``endpoint`` is the collector's base URL, Segment's own API when None."""

    def __init__(
        self,
        write_key: str,
        *,
        endpoint: str | None = None,
        name: str = "segment",
        max_events: int = 1000,
        max_bytes: int = 475_000,
        gzip: bool = True,
        allow_http: bool = False,
        plugins: Iterable[Plugin] = (),
    ) -> None:
        self._write_key = check_key("Segment", "write_key", write_key)
        self.endpoint = check_endpoint("Segment", endpoint or SEGMENT_API, allow_http=allow_http)
        self.name = name
        self.plugins = Timeline(plugins, destination=True)
        self.url = self.endpoint + "/v1/batch"
        self.gzip = gzip
        token = base64.b64encode(f"{self._write_key}:".encode()).decode("ascii")
        self._auth = f"Basic {token}"
        self.limits = Limits(
            max_events=max_events,
            max_bytes=max_bytes - 200,
            max_event_bytes=32_000,
            per_event_overhead=len(',"sentAt":"2000-01-01T00:00:00.000Z"') + 1,
        )

    def encode(self, events: Sequence[QueuedEvent], *, sent_at: str) -> Request:
        stamp = f'"sentAt":{json.dumps(sent_at)}'
        root = stamp + ',"writeKey":' + json.dumps(self._write_key)
        auth = {"Authorization": self._auth}
        return segment_batch(self.url, events, stamp, root, auth, compress=self.gzip)
