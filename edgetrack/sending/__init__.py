"""Getting queued events to the vendors.

``Pipeline`` is a client's runtime: the queue file, its group-commit writer and one
``Scheduler`` per destination lane. A scheduler decides when its lane uploads (the flush
policy, backoff, pauses, leases); its ``LaneDelivery`` sends a claim in small steps (triage,
send with splitting and bisecting, settle, record a failure); ``flush_lanes`` is the rule
``flush()`` waits by; ``HttpSender`` is the only code that talks HTTP (``requests``, loaded on
first use).

Names load on first use (PEP 562): importing this package imports neither ``requests`` nor the
scheduler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgetrack._lazy import lazy_exports as _lazy_exports

if TYPE_CHECKING:
    from edgetrack.sending._delivery import DeliveryFailure, LaneDelivery
    from edgetrack.sending._flushing import MAX_FAILED_PASSES, flush_lanes
    from edgetrack.sending._pipeline import Pipeline
    from edgetrack.sending._ratelimit import TokenBucket, throttle
    from edgetrack.sending._scheduler import IDLE_FLOOR, Scheduler
    from edgetrack.sending._settings import LaneSettings, PipelineSettings
    from edgetrack.sending._stats import LaneStats, Stats, read_stats
    from edgetrack.sending._transport import HttpSender

__all__ = [
    "IDLE_FLOOR",
    "MAX_FAILED_PASSES",
    "DeliveryFailure",
    "HttpSender",
    "LaneDelivery",
    "LaneSettings",
    "LaneStats",
    "Pipeline",
    "PipelineSettings",
    "Scheduler",
    "Stats",
    "TokenBucket",
    "flush_lanes",
    "read_stats",
    "throttle",
]

_WHERE = {
    "IDLE_FLOOR": "_scheduler",
    "MAX_FAILED_PASSES": "_flushing",
    "DeliveryFailure": "_delivery",
    "HttpSender": "_transport",
    "LaneDelivery": "_delivery",
    "LaneSettings": "_settings",
    "LaneStats": "_stats",
    "Pipeline": "_pipeline",
    "PipelineSettings": "_settings",
    "Scheduler": "_scheduler",
    "Stats": "_stats",
    "TokenBucket": "_ratelimit",
    "flush_lanes": "_flushing",
    "read_stats": "_stats",
    "throttle": "_ratelimit",
}

__getattr__, __dir__ = _lazy_exports(
    "edgetrack.sending", {name: "edgetrack.sending." + module for name, module in _WHERE.items()}, globals()
)
