"""Plain data passed between the layers: queued events, HTTP requests/responses, outcomes.

Destinations turn ``QueuedEvent``s into ``Request``s and ``Response``s into ``Outcome``s;
they never open sockets, sleep or run SQL. HTTP statuses are data here, not exceptions.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = ["Limits", "Outcome", "OutcomeKind", "QueuedEvent", "Request", "Response"]


class QueuedEvent(NamedTuple):
    """One event as stored: its queue id, call type, messageId, JSON body, when it was queued
    (queue time: see ``edgetrack.store._timeline``) and the wall clock then, when edgetrack
    stamped its timestamp (None when the app gave one). A named tuple: a claim builds a
    thousand of them, and a frozen dataclass costs 3x more."""

    id: int
    type: str
    message_id: str
    body: str
    created: float
    wall: float | None = None


@dataclass(frozen=True, slots=True)
class Request:
    """An HTTP request a destination wants sent (the body already encoded and compressed)."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    events: int = 0
    before: tuple[Request, ...] = ()  # sent first, in order; each must succeed (e.g. Parcelvoy's alias)


@dataclass(frozen=True, slots=True)
class Response:
    """What came back: a status and a size-bounded body, or ``status=0`` and a transport error."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None
    elapsed: float = 0.0
    at: float = 0.0  # wall-clock time the response arrived (for HTTP-date Retry-After)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


class OutcomeKind(enum.Enum):
    """How a destination reads a response; the retry policy decides what to do with it."""

    ACK = "ack"  # delivered
    RATE_LIMITED = "rate_limited"  # 429 or vendor equivalent: pause the lane
    TOO_LARGE = "too_large"  # 413 or vendor equivalent: split the batch
    REJECTED = "rejected"  # 400/422: the events are bad (bisect, dead-letter)
    AUTH = "auth"  # 401/403/unknown key: pause the lane, keep the events
    CONFIG = "config"  # 404/405 not from the vendor: no such endpoint; pause, keep the events
    TRANSIENT = "transient"  # 408, 5xx, timeouts, connection errors: back off


@dataclass(frozen=True, slots=True)
class Outcome:
    """A destination's reading of one response."""

    kind: OutcomeKind
    detail: str = ""
    retry_after: float | None = None  # seconds, when the server said how long to wait


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-request limits of a destination: events, uncompressed body bytes, bytes per event.

    ``per_event_overhead`` is what the destination adds to each stored event when encoding
    (for example a ``sentAt`` on every item), so batches are cut before they overflow.
    """

    max_events: int
    max_bytes: int
    max_event_bytes: int
    per_event_overhead: int = 0
