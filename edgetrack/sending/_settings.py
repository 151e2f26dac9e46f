"""What a ``Pipeline`` and its lanes are built from: immutable, checked by ``Client``.

Named tuples rather than dataclasses: they are built on the path to an app's first ``track()``,
and a named tuple's class costs a tenth of a frozen dataclass's to create."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple

from edgetrack.config import QueueLimits, Timeouts
from edgetrack.policy import FlushPolicy
from edgetrack.protocols import Clock, Destination, Sender

if TYPE_CHECKING:
    from edgetrack.power import PowerProbe, PowerState
    from edgetrack.retry import RetryPolicy
    from edgetrack.sending._delivery import DeliveryFailure

__all__ = ["LaneSettings", "PipelineSettings"]


class LaneSettings(NamedTuple):
    """What every lane's scheduler shares (the destination is each lane's own). ``retry``: None
    means ``RetryPolicy()`` (made in the lanes' thread: ``edgetrack.retry`` is not imported on
    the app's path)."""

    policy: FlushPolicy
    retry: RetryPolicy | None
    timeouts: Timeouts
    make_sender: Callable[[], Sender]
    on_error: Callable[[DeliveryFailure], None] | None = None
    lease: float = 120.0
    max_dead_letters: int = 1000
    rng: random.Random | None = None
    on_power: Callable[[PowerState], None] | None = None  # a new reading (the network context)


class PipelineSettings(NamedTuple):
    """A client's queue and lanes: where, how durable, how large, and how they send."""

    destinations: Sequence[Destination]
    path: Path | None
    app_name: str
    limits: QueueLimits
    lanes: LaneSettings
    clock: Clock
    power: PowerProbe | Literal["auto"] | None  # "auto": the platform's probe; None: always mains
    durable: bool = False
    send: bool = True
    shutdown_timeout: float = 5.0
    orphan_lane_age: float | None = 30 * 86400.0
    encryption_key: str | None = None  # SQLCipher's key for the queue file (None: not encrypted)
    commit_window: float = 0.0  # seconds the writer holds a commit open for more events
