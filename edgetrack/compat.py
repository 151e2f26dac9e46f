"""segment-analytics-python's ``Client`` constructor, on edgetrack's durable queue.

``SegmentClient`` takes Segment's constructor arguments in Segment's order, so code written
for ``segment.analytics.Client`` moves over with an import::

    from edgetrack.compat import SegmentClient as Client
    client = Client("<write key>", on_error=on_error, gzip=True)

Module-level use needs no constructor at all: ``import edgetrack as analytics`` then
``analytics.write_key = "..."`` builds one of these on the first call (``edgetrack._default``).

What each of Segment's arguments does here:

====================================  =========================================================
argument                              here
====================================  =========================================================
``write_key``, ``host``               a ``Segment`` destination (``host`` None: Segment's API)
``send``, ``timeout``, ``proxies``    honoured (``timeout``: the read timeout of each request)
``gzip``                              honoured when given (edgetrack's default is gzip on)
``on_error(error, batch)``            called with a ``DeliveryFailure`` and an empty batch, once
                                      per failure episode
``debug``, ``log_handler``            the ``edgetrack`` logger at DEBUG with a stream handler,
                                      or the handler added, as Segment does for its logger
``max_queue_size``                    ``QueueLimits(max_events=...)``: past it the *oldest*
                                      events are dropped and counted (Segment refuses the newest)
``sync_mode``                         each call commits durably, then flushes (bounded by
                                      ``timeout``) before it returns
``upload_size``, ``upload_interval``  ``flush_at`` and ``flush_interval``
``max_retries``, ``thread``,          accepted, no effect: edgetrack never drops a batch after
``max_total_backoff_duration``,       a number of retries (it keeps it until it is delivered or
``max_rate_limit_duration``           expires), and runs one uploader per destination
``oauth_*``                           not supported: a ``ConfigError`` when given
====================================  =========================================================

Unlike ``edgetrack.Client``, it sends no lifecycle events and keeps no sessions unless given
``track_lifecycle=True`` or ``session_timeout=...`` (server code moving over sends what it did).

Any other keyword (``path``, ``power``, ...) is passed to ``edgetrack.Client``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from edgetrack.client import Client, Result
from edgetrack.config import QueueLimits, Timeouts
from edgetrack.envelope import Call
from edgetrack.errors import ConfigError

__all__ = ["MissingWriteKey", "SegmentClient"]


class MissingWriteKey(ConfigError, AssertionError):
    """No write key: a ``ConfigError`` that is also the ``AssertionError`` Segment raises."""


class SegmentClient(Client):
    """``Client`` with segment-analytics-python's constructor (see the module docstring)."""

    log = logging.getLogger("edgetrack")  # Segment's clients have their logger as ``log``: the root

    def __init__(
        self,
        write_key: str | None = None,
        host: str | None = None,
        debug: bool = False,
        max_queue_size: int | None = None,
        send: bool = True,
        on_error: Callable[..., object] | None = None,
        gzip: bool | None = None,
        max_retries: int | None = None,
        sync_mode: bool = False,
        timeout: float | None = None,
        proxies: dict[str, str] | None = None,
        thread: int | None = None,
        upload_size: int | None = None,
        upload_interval: float | None = None,
        log_handler: logging.Handler | None = None,
        oauth_client_id: str | None = None,
        oauth_client_key: str | None = None,
        oauth_key_id: str | None = None,
        oauth_auth_server: str | None = None,
        oauth_scope: str | None = None,
        max_total_backoff_duration: float | None = None,
        max_rate_limit_duration: float | None = None,
        **options: Any,
    ) -> None:
        from edgetrack.destinations import Segment

        if oauth_client_id or oauth_client_key or oauth_key_id:
            raise ConfigError("Segment's OAuth is not supported by edgetrack: use the write key")
        if not isinstance(write_key, str) or not write_key:
            raise MissingWriteKey("write_key must be the Segment source's write key (a non-empty str)")
        _logging(debug, log_handler)
        segment = Segment(write_key, endpoint=host, gzip=True if gzip is None else bool(gzip))
        # A server-side drop-in: no lifecycle events and no sessions unless asked for
        settings: dict[str, Any] = {
            "send": send,
            "proxies": proxies,
            "track_lifecycle": False,
            "session_timeout": None,
        }
        if on_error:
            settings["on_error"] = lambda failure: on_error(failure, [])
        if max_queue_size is not None:
            settings["limits"] = QueueLimits(max_events=max_queue_size)
        if timeout is not None:
            settings["timeouts"] = Timeouts(connect=min(10.0, float(timeout)), read=float(timeout))
        if upload_size is not None:
            settings["flush_at"] = upload_size
        if upload_interval is not None:
            settings["flush_interval"] = upload_interval
        if sync_mode:
            settings["durable"] = True
        super().__init__([segment], **{**settings, **options})
        self.sync_mode = bool(sync_mode)
        self._sync_timeout = float(timeout) if timeout is not None else 15.0

    def _record(self, call: Call) -> Result:
        result = super()._record(call)
        if self.sync_mode and result[0]:
            self.flush(self._sync_timeout)  # delivered, or still queued durably when time is up
        return result

    def join(self) -> None:
        """Segment's ``join()``: wait until the queue is sent (the uploads go on afterwards)."""
        self.flush()


def _logging(debug: bool, handler: logging.Handler | None) -> None:
    """What Segment's ``debug`` and ``log_handler`` do to its logger, for edgetrack's: only when
    the app asks (edgetrack never configures logging on its own)."""
    logger = logging.getLogger("edgetrack")
    if handler is not None and handler not in logger.handlers:
        logger.addHandler(handler)
    if debug:
        logger.setLevel(logging.DEBUG)
        if not logger.handlers:
            logger.addHandler(logging.StreamHandler())
