"""What a ``Pipeline`` and its lanes are built from: frozen, checked by ``Client``."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from edgetrack.config import QueueLimits, Timeouts
from edgetrack.policy import FlushPolicy
from edgetrack.protocols import Clock, Destination, Sender
from edgetrack.retry import RetryPolicy

if TYPE_CHECKING:
    from edgetrack.power import PowerProbe
    from edgetrack.sending._delivery import DeliveryFailure

__all__ = ["LaneSettings", "PipelineSettings"]


@dataclass(frozen=True)
class LaneSettings:
    """What every lane's scheduler shares (the destination is each lane's own)."""

    policy: FlushPolicy
    retry: RetryPolicy
    timeouts: Timeouts
    make_sender: Callable[[], Sender]
    on_error: Callable[[DeliveryFailure], None] | None = None
    lease: float = 120.0
    max_dead_letters: int = 1000
    rng: random.Random | None = None


@dataclass(frozen=True)
class PipelineSettings:
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
