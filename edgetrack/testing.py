"""Helpers for testing apps that use edgetrack (and for edgetrack's own tests).

``FakeClock`` drives the scheduler in simulated time (``Client(clock=...)``);
``RecordingSender`` answers requests from a script without any network
(``Client(sender=lambda: recorder)``); ``decode_request`` reads a request's JSON body;
``ManualPower`` and ``StaticPower`` set the power and network state (``Client(power=...)``).
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from edgetrack.models import Request, Response
from edgetrack.power import ManualPower, StaticPower

__all__ = ["FakeClock", "ManualPower", "RecordingSender", "StaticPower", "decode_request"]


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, when: float) -> None:
        with self._lock:
            self._now = when


def decode_request(request: Request) -> Any:
    """The JSON a request carries (gzip inflated)."""
    body = request.body
    if request.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return json.loads(body)


class RecordingSender:
    """A ``Sender`` that records requests and answers from ``responses`` (then 200s)."""

    def __init__(
        self,
        responses: Iterable[int | Response] = (),
        *,
        respond: Callable[[Request], Response] | None = None,
    ) -> None:
        self.requests: list[Request] = []
        self._script = [r if isinstance(r, Response) else Response(r) for r in responses]
        self._respond = respond
        self.closed = False

    def send(self, request: Request, *, timeout: tuple[float, float]) -> Response:
        self.requests.append(request)
        if self._script:
            return self._script.pop(0)
        if self._respond is not None:
            return self._respond(request)
        return Response(200, body=b"{}")

    def close(self) -> None:
        self.closed = True

    def events(self) -> list[dict[str, Any]]:
        """Every event in every recorded request (Segment-style ``batch`` bodies)."""
        found: list[dict[str, Any]] = []
        for request in self.requests:
            body = decode_request(request)
            found.extend(body["batch"] if isinstance(body, dict) and "batch" in body else [body])
        return found
