"""The benchmarks' counting sink: a loopback server in its own process, as a real collector would be.

    with Sink() as sink:              # starts ``python sink.py`` and reads its URL
        sink.url                      # http://127.0.0.1:PORT
        sink.counts()["segment"]      # {"events": ..., "requests": ..., "bytes": ...}

It is the edgetrack emulator's HTTP core (``edgetrack.emulator.core.Server``: HTTP/1.1 keep-alive,
``TCP_NODELAY``, gzip bodies inflated, JSON parsed) with four routes, all keyed by ``KEY``:

* ``POST /cdp/events/segment/mobile/batch`` and ``/cdp/events/segment/t``: the emulator's own
  Intilery mobile routes (edgetrack's ``IntileryMobile`` destination);
* ``POST /v1/batch``: Segment's batch API, as segment-analytics-python and edgetrack's ``Segment``
  destination send it: the write key as the Basic-auth user or ``writeKey`` in the body, a ``batch``
  array whose items need a known ``type`` and ``userId`` or ``anonymousId`` (the emulator's full
  Segment route also re-serialises every item to check its size; that is left out here so the sink
  spends as little CPU as it can: it shares the machine's two cores with the SDK being measured);
* ``POST /batch/``: PostHog's legacy capture endpoint (``posthog.request.batch_post``, the default
  ``capture_mode="v0"``): ``{"api_key", "batch": [...], "historical_migration", "sent_at"}``.

Per vendor it counts events in 2xx answers, 2xx requests and their request body bytes as sent on the
wire (``Content-Length``, before gzip inflation); counting happens before the reply is written, so an
SDK's returned ``flush()`` is already counted. ``GET /_stats`` returns the counts and the sink's own
CPU seconds. Nothing else is kept. It binds 127.0.0.1 only and stops when its stdin closes.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import os
import re
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

KEY = "bench-write-key"
VENDORS = ("intilery_mobile", "segment", "posthog")
_TYPES = {"track", "identify", "page", "screen", "group", "alias"}


def _basic_user(header: str | None) -> str | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        return base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")[0]
    except (binascii.Error, UnicodeDecodeError):
        return ""


def serve() -> None:
    """Child process: serve until stdin closes; print the URL first."""
    from edgetrack.emulator.core import Reply, Route, Server, VendorRequest
    from edgetrack.emulator.intilery import intilery_mobile_routes

    Result = tuple[Reply, list[dict[str, Any]]]
    counts = {v: {"events": 0, "requests": 0, "bytes": 0} for v in VENDORS}
    lock = threading.Lock()

    def bad(message: str, status: int = 400) -> Result:
        return Reply.json(status, {"success": False, "code": "invalid_request", "message": message}), []

    def segment_batch(req: VendorRequest) -> Result:
        body = req.json if isinstance(req.json, dict) else {}
        key = _basic_user(req.header("authorization"))
        if (key if key is not None else body.get("writeKey")) != KEY:
            return bad("missing or unknown write key", 401)
        items = body.get("batch")
        if not isinstance(items, list):
            return bad("batch must be an array")
        for item in items:
            if item.get("type") not in _TYPES or not (item.get("userId") or item.get("anonymousId")):
                return bad("each item needs a known type and userId or anonymousId")
        return Reply.json(200, {"success": True}), items

    def posthog_batch(req: VendorRequest) -> Result:
        body = req.json if isinstance(req.json, dict) else {}
        if body.get("api_key") != KEY:
            return bad("missing or unknown api_key", 401)
        items = body.get("batch")
        if not isinstance(items, list) or not all(i.get("event") and i.get("distinct_id") for i in items):
            return bad("batch must be an array of events with distinct_id")
        return Reply.json(200, {"status": 1}), items

    def stats(req: VendorRequest) -> Result:
        with lock:
            payload: dict[str, Any] = {v: dict(c) for v, c in counts.items()}
        cpu = os.times()
        payload["sink_cpu_s"] = cpu.user + cpu.system
        return Reply.json(200, payload), []

    def counted(route: Route) -> Route:
        def handler(req: VendorRequest) -> Result:
            reply, events = route.handler(req)
            if 200 <= reply.status < 300:
                size = int(req.header("content-length") or 0)
                with lock:
                    c = counts[route.vendor]
                    c["events"] += len(events)
                    c["requests"] += 1
                    c["bytes"] += size
            return reply, events

        return dataclasses.replace(route, handler=handler)

    routes = [
        *map(counted, intilery_mobile_routes([KEY])),
        counted(Route("segment", "POST", re.compile(r"/v1/batch"), segment_batch)),
        counted(Route("posthog", "POST", re.compile(r"/batch/?"), posthog_batch)),
        Route("stats", "GET", re.compile(r"/_stats"), stats),
    ]
    server = Server(routes, max_body=64 * 1024 * 1024)
    server.on_request = lambda *_: server.reset()  # keep nothing: the counts are all we read
    server.start()
    print(server.url, flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    server.stop()


class Sink:
    """The sink in a child process; a context manager."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        self.url = self._proc.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            self.close()
            raise RuntimeError(f"the sink did not start (said {self.url!r})")

    def counts(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/_stats", timeout=30) as resp:
            return dict(json.load(resp))

    def close(self) -> None:
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            self._proc.stdin.close()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(10)

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def delta(after: dict[str, Any], before: dict[str, Any], vendor: str) -> dict[str, int]:
    return {k: after[vendor][k] - before[vendor][k] for k in after[vendor]}


if __name__ == "__main__":
    serve()
