"""When to upload: a pure function of the lane's backlog, the time and the power state.

No I/O and no clock reads: the scheduler passes ``now`` and what the power probe last said,
so the whole policy can be replayed in simulated time (tests, ``benchmarks/energy.py``).

======================================  ==============================================
state                                   upload when
======================================  ==============================================
mains, charging, or unknown             ``flush_at`` pending, or the oldest has waited
                                        ``flush_interval``
battery                                 ``battery_flush_at`` pending, or the oldest has
                                        waited ``battery_max_delay``
power-save, low battery, metered,       the oldest has waited ``saver_max_delay``
constrained (e.g. Pi under-voltage)
offline                                 never (the scheduler probes the network instead)
radio already awake / urgent event      now, taking every pending event along
======================================  ==============================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from edgetrack.config import positive

__all__ = ["FlushPolicy", "Mode", "PowerLike"]

#: The power mode a policy reads off a power state.
Mode = Literal["offline", "saver", "battery", "mains"]


class PowerLike(Protocol):
    """What the policy reads of a power state (``edgetrack.power.PowerState`` has it)."""

    @property
    def on_battery(self) -> bool: ...

    @property
    def low_battery(self) -> bool: ...

    @property
    def power_save(self) -> bool: ...

    @property
    def constrained(self) -> bool: ...

    @property
    def metered(self) -> bool: ...

    @property
    def online(self) -> bool | None: ...


@dataclass(frozen=True)
class FlushPolicy:
    """Upload thresholds per power state (see the module's table).

    Mains defaults (20 events / 30 s) are the mobile SDKs', so moving an app over does not
    change how fresh its data is there; the battery and saver delays are what the energy
    benchmark (``benchmarks/energy.py``) weighs against radio energy.
    """

    flush_at: int = 20
    flush_interval: float = 30.0
    battery_flush_at: int = 100
    battery_max_delay: float = 15 * 60.0
    saver_max_delay: float = 60 * 60.0

    def __post_init__(self) -> None:
        positive("flush_at", self.flush_at, integer=True)
        positive("flush_interval", self.flush_interval)
        positive("FlushPolicy.battery_flush_at", self.battery_flush_at, integer=True)
        positive("FlushPolicy.battery_max_delay", self.battery_max_delay)
        positive("FlushPolicy.saver_max_delay", self.saver_max_delay)

    @staticmethod
    def mode(power: PowerLike | None) -> Mode:
        """``"offline"``, ``"saver"``, ``"battery"`` or ``"mains"`` (unknown power counts as mains)."""
        if power is None:
            return "mains"
        if power.online is False:
            return "offline"
        if power.power_save or power.low_battery or power.metered or power.constrained:
            return "saver"
        return "battery" if power.on_battery else "mains"

    def threshold(self, power: PowerLike | None) -> int | None:
        """The pending count that makes a lane due at once in this state (None: only its delay)."""
        mode = self.mode(power)
        return {"mains": self.flush_at, "battery": self.battery_flush_at}.get(mode)

    def due_at(
        self,
        *,
        pending: int,
        oldest_created: float | None,
        now: float,
        power: PowerLike | None = None,
        radio_awake: bool = False,
    ) -> float | None:
        """The time the lane should upload (``<= now`` means now), or None for "not until
        something changes" (nothing pending, or offline)."""
        if pending <= 0 or oldest_created is None:
            return None
        mode = self.mode(power)
        if mode == "offline":
            return None
        if radio_awake:
            return now  # the radio is up anyway: ride along for free
        if mode == "mains":
            return now if pending >= self.flush_at else oldest_created + self.flush_interval
        if mode == "battery":
            return now if pending >= self.battery_flush_at else oldest_created + self.battery_max_delay
        return oldest_created + self.saver_max_delay
