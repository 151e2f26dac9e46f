"""edgetrack: durable, battery-aware event tracking for phones, kiosks and edge devices.

    import edgetrack
    from edgetrack.destinations import IntileryMobile

    client = edgetrack.Client([IntileryMobile("<write key>")])
    client.track("user-1", "Order Completed", {"revenue": 9.5})

Public names are loaded on first use (PEP 562), so ``import edgetrack`` stays cheap and the
app's path to its first ``track()`` carries no more code than it needs.

Module-level use works as with segment-analytics-python, with no ``configure()``::

    import edgetrack as analytics
    analytics.write_key = "<Segment write key>"
    analytics.track("user-1", "Signed Up")

The settings below are read when the first call builds the default client
(``edgetrack.compat.SegmentClient`` says what each does); ``configure(...)`` replaces it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgetrack._lazy import lazy_exports as _lazy_exports
from edgetrack._version import __version__

if TYPE_CHECKING:
    from edgetrack._default import (
        alias,
        configure,
        default_client,
        flush,
        group,
        identify,
        join,
        page,
        reset,
        screen,
        shutdown,
        stats,
        track,
    )
    from edgetrack.client import Client
    from edgetrack.config import QueueLimits, Timeouts
    from edgetrack.errors import (
        ConfigError,
        EdgetrackError,
        EventTypeError,
        EventValueError,
        NotConfiguredError,
        StorageError,
    )
    from edgetrack.policy import FlushPolicy
    from edgetrack.retry import RetryPolicy
    from edgetrack.sending._delivery import DeliveryFailure
    from edgetrack.sending._stats import LaneStats, Stats

__all__ = [
    "Client",
    "ConfigError",
    "DeliveryFailure",
    "EdgetrackError",
    "EventTypeError",
    "EventValueError",
    "FlushPolicy",
    "LaneStats",
    "NotConfiguredError",
    "QueueLimits",
    "RetryPolicy",
    "Stats",
    "StorageError",
    "Timeouts",
    "__version__",
    "alias",
    "configure",
    "default_client",
    "flush",
    "group",
    "identify",
    "join",
    "page",
    "reset",
    "screen",
    "shutdown",
    "stats",
    "track",
]

_DEFAULT = (
    "alias",
    "configure",
    "default_client",
    "flush",
    "group",
    "identify",
    "join",
    "page",
    "reset",
    "screen",
    "shutdown",
    "stats",
    "track",
)
_ERRORS = (
    "ConfigError",
    "EdgetrackError",
    "EventTypeError",
    "EventValueError",
    "NotConfiguredError",
    "StorageError",
)
_WHERE: dict[str, str] = {
    **dict.fromkeys(_DEFAULT, "edgetrack._default"),
    **dict.fromkeys(_ERRORS, "edgetrack.errors"),
    "Client": "edgetrack.client",
    "DeliveryFailure": "edgetrack.sending._delivery",
    "FlushPolicy": "edgetrack.policy",
    "LaneStats": "edgetrack.sending._stats",
    "QueueLimits": "edgetrack.config",
    "RetryPolicy": "edgetrack.retry",
    "Stats": "edgetrack.sending._stats",
    "Timeouts": "edgetrack.config",
}


__getattr__, __dir__ = _lazy_exports("edgetrack", _WHERE, globals())

# segment-analytics-python's module settings (edgetrack._default.SEGMENT_SETTINGS), read by
# the first module-level call
write_key: str | None = None
host: str | None = None
on_error: object = None
debug: bool = False
log_handler: object = None
send: bool = True
sync_mode: bool = False
max_queue_size: int | None = None  # None: QueueLimits' default (200,000 events on disk)
gzip: bool | None = None  # None: gzip on
timeout: float | None = None  # None: Timeouts' default (10 s connect, 30 s read)
max_retries: int | None = None  # accepted; edgetrack keeps a batch until delivered or expired
proxies: dict[str, str] | None = None
