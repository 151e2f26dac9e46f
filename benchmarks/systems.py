"""The systems the benchmarks compare, each behind the same small interface.

``make(name, url, folder, n)`` returns a ``System`` whose ``track()`` makes one call of the same event
(user ``USER``, event ``EVENT``, properties ``PROPS``) and returns True when the system accepted it,
``flush()`` waits until everything accepted was delivered (or consumed), ``close()`` shuts it down.
``n`` is how many calls the run will make (the in-memory SDKs get a queue big enough never to drop).

How each is configured (every benchmark's docstring repeats what matters to it):

* ``edgetrack``: ``Client([Segment(KEY, endpoint=url, allow_http=True)], path=folder/queue.db)``:
  the defaults (gzip; up to ``Segment``'s default ``max_events`` a request, 1,000 when this was written,
  and 475,000 B; ``flush_at=20``, ``flush_interval=30`` s; WAL with ``synchronous=NORMAL``: an event
  is on disk within one commit window and survives a crash or ``kill -9``; ``power="auto"``, which is
  mains here), except ``retry=RetryPolicy(startup_jitter=0.0)``: by default the first automatic upload
  after a start waits a random 0 to 10 s (so a fleet powering up together does not upload at once);
  a fresh client per run would then upload nothing while the calls are timed, which a long-running
  app past its first seconds does. Without the jitter its uploads compete with ``track()`` as
  segment's and posthog's consumer threads do. ``flush()`` is ``client.flush(120)``.
* ``segment``: segment-analytics-python ``Client(KEY, host=url, send=True, max_queue_size=n + 1000)``,
  otherwise its defaults: one consumer thread, ``upload_size=100``, ``upload_interval=0.5`` s, no
  gzip, ``max_retries=10``; its queue is in memory. ``segment_like``: the same with ``gzip=True`` and
  ``upload_size`` = edgetrack's ``Segment`` default ``max_events`` (read at run time): segment set up
  to batch and compress as edgetrack does, to tell the defaults' share of a difference from the code's.
* ``posthog``: posthog-python ``Posthog(KEY, host=url, max_queue_size=n + 1000)``, otherwise its
  defaults: one consumer thread, ``flush_at=100``, ``flush_interval=5.0`` s, no gzip, legacy
  ``/batch/`` capture; in memory. ``track()`` is ``capture(EVENT, distinct_id=USER, properties=PROPS)``.
* ``persistqueue``: persist-queue ``SQLiteQueue(folder, auto_commit=True, multithreading=True)``: its
  defaults (WAL, SQLite's default ``synchronous=FULL``, one transaction a ``put()``, pickle): durable
  when ``put()`` returns. ``track()`` is ``put()`` of edgetrack's envelope for the same call with a
  fresh ``messageId`` (persist-queue is only a queue: building the envelope is left to the app, and
  this is the least work an app could do). ``flush()`` drains it with ``get(block=False)`` (what an
  app's uploader thread would do); it delivers nothing anywhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KEY = "bench-write-key"
USER, EVENT = "user-4711", "Product Added"
PROPS: dict[str, Any] = {"sku": "sku-1042", "price": 3.4, "qty": 2, "list": "home"}
SINK_VENDOR = {"edgetrack": "segment", "segment": "segment", "segment_like": "segment", "posthog": "posthog"}
LABELS = {
    "edgetrack": "edgetrack",
    "segment": "segment",
    "segment_like": "segment, batched like edgetrack",
    "posthog": "posthog",
    "persistqueue": "persist-queue",
    "sqlite": "SQLite limit",
}


@dataclass
class System:
    name: str
    client: Any
    track: Callable[[], bool]
    flush: Callable[[], object]
    close: Callable[[], object]


def make(name: str, url: str, folder: str | Path, n: int, **options: Any) -> System:
    """A fresh system; ``options`` go to the client's constructor."""
    if name == "edgetrack":
        from edgetrack import Client, RetryPolicy
        from edgetrack.destinations import Segment

        dest = Segment(KEY, endpoint=url, allow_http=True)
        options = {"retry": RetryPolicy(startup_jitter=0.0), **options}
        et = Client([dest], path=Path(folder) / "queue.db", **options)
        return System(name, et, lambda: et.track(USER, EVENT, PROPS)[0], lambda: et.flush(120), et.shutdown)
    if name in ("segment", "segment_like"):
        from segment.analytics.client import Client as SegmentClient  # type: ignore[import-untyped]

        if name == "segment_like":
            options = {"gzip": True, "upload_size": edgetrack_batch(), **options}
        sc = SegmentClient(KEY, host=url, send=True, max_queue_size=n + 1_000, **options)
        return System(name, sc, lambda: sc.track(USER, EVENT, PROPS)[0], sc.flush, sc.shutdown)
    if name == "posthog":
        from posthog import Posthog

        ph = Posthog(KEY, host=url, max_queue_size=n + 1_000, **options)
        track = lambda: ph.capture(EVENT, distinct_id=USER, properties=PROPS) is not None  # noqa: E731
        return System(name, ph, track, lambda: ph.flush(120), ph.shutdown)
    if name == "persistqueue":
        from persistqueue import SQLiteQueue  # type: ignore[import-untyped]
        from persistqueue.exceptions import Empty  # type: ignore[import-untyped]

        template = envelope(url, folder)
        q = SQLiteQueue(str(Path(folder) / "pq"), auto_commit=True, multithreading=True, **options)

        def put() -> bool:
            q.put({**template, "messageId": str(uuid.uuid4())})
            return True

        def drain() -> int:
            taken = 0
            while True:
                try:
                    q.get(block=False)
                except Empty:
                    return taken
                taken += 1

        return System(name, q, put, drain, lambda: None)
    raise ValueError(f"unknown system {name!r}")


def edgetrack_batch() -> int:
    """Events per request of edgetrack's ``Segment`` destination with its defaults."""
    from edgetrack.destinations import Segment

    return int(Segment(KEY, endpoint="http://127.0.0.1:9", allow_http=True).limits.max_events)


def config(system: System) -> dict[str, Any]:
    """What decides the batching of ``system``, as it runs (for the results JSON)."""
    c = system.client
    if system.name == "edgetrack":
        limits = c.destinations[0].limits
        return {
            "max_events": limits.max_events,
            "max_bytes": limits.max_bytes,
            "gzip": c.destinations[0].gzip,
        }
    if system.name.startswith("segment"):
        consumer = c.consumers[0] if c.consumers else None
        return {"upload_size": getattr(consumer, "upload_size", None), "gzip": c.gzip}
    if system.name == "posthog":
        lane = getattr(c, "_analytics_lane", None)
        return {"flush_at": getattr(lane, "flush_at", None), "gzip": getattr(c, "gzip", None)}
    return {}


_ENVELOPE: dict[str, Any] = {}


def envelope(url: str, folder: str | Path) -> dict[str, Any]:
    """edgetrack's envelope for the benchmark call (made once, with a throwaway client)."""
    if not _ENVELOPE:
        from edgetrack import Client
        from edgetrack.destinations import Segment

        client = Client([Segment(KEY, endpoint=url, allow_http=True)], path=Path(folder) / "envelope.db")
        _ENVELOPE.update(client.track(USER, EVENT, PROPS)[1])
        client.shutdown(0.5)
    return dict(_ENVELOPE)


def rss_kb() -> int:
    """This process's resident set now (``VmRSS``), in KiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
