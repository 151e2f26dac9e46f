"""edgetrack: durable, battery-aware event tracking for phones, kiosks and edge devices.

import edgetrack
from edgetrack.destinations import IntileryMobile

client = edgetrack.Client([IntileryMobile("<write key>")])
client.track("user-1", "Order Completed", {"revenue": 9.5})
"""

from __future__ import annotations

from edgetrack._default import (
    alias,
    configure,
    default_client,
    flush,
    group,
    identify,
    page,
    screen,
    shutdown,
    stats,
    track,
)
from edgetrack._version import __version__
from edgetrack.client import Client
from edgetrack.config import QueueLimits, Timeouts
from edgetrack.delivery import DeliveryFailure
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
from edgetrack.stats import LaneStats, Stats

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
    "page",
    "screen",
    "shutdown",
    "stats",
    "track",
]
