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
    """A clock that moves only when told to: wall time, monotonic time and the boot.

    ``advance(s)`` and ``set(when)`` make time pass (both clocks move). ``jump(s)`` moves the
    wall clock alone, as NTP or a user correcting it does; ``reboot(downtime)`` starts a new
    boot (monotonic time restarts from zero; the wall clock moves on by ``downtime``).
    """

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._mono = start
        self._boot = 1
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def boot_id(self) -> str:
        with self._lock:
            return f"fake-boot-{self._boot}"

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += seconds
            self._mono += seconds
            return self._now

    def set(self, when: float) -> None:
        """Let time pass until the wall clock reads ``when`` (monotonic time moves as much)."""
        with self._lock:
            self._mono += when - self._now
            self._now = when

    def jump(self, seconds: float) -> None:
        """Step the wall clock by ``seconds`` (either sign); monotonic time does not move."""
        with self._lock:
            self._now += seconds

    def set_wall(self, when: float) -> None:
        """Set the wall clock to ``when`` with no time passing (a clock correction)."""
        with self._lock:
            self._now = when

    def reboot(self, downtime: float = 0.0, *, wall: float | None = None) -> None:
        """A new boot after ``downtime`` seconds off; ``wall`` is what the wall clock reads then
        (default: correct), e.g. a stale time on a Raspberry Pi without a real-time clock."""
        with self._lock:
            self._boot += 1
            self._mono = 0.0
            self._now = self._now + downtime if wall is None else wall


def decode_request(request: Request) -> Any:
    """The JSON a request carries (gzip inflated)."""
    body = request.body
    if request.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return json.loads(body)


class RecordingSender:
    """A ``Sender`` that records requests and answers from ``responses`` (then ``respond``'s
    answer, or 200s); ``answer_next(...)`` scripts more answers as a test goes."""

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

    def answer_next(self, *responses: int | Response) -> None:
        """Answer the next requests with these, before anything already scripted."""
        self._script[0:0] = [r if isinstance(r, Response) else Response(r) for r in responses]

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
