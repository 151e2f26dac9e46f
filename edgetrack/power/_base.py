"""The power state, the ``PowerProbe`` plug point and the cache that platform probes share."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar, runtime_checkable

from edgetrack.errors import ConfigError

__all__ = [
    "DEFAULT_TTL",
    "LOW_BATTERY",
    "CachedProbe",
    "CachingProbe",
    "NotifyingProbe",
    "PowerProbe",
    "PowerState",
]

_log = logging.getLogger(__name__)

#: Seconds a platform probe reuses its last reading.
DEFAULT_TTL = 60.0
#: Battery fraction at or below which a device on battery counts as low.
LOW_BATTERY = 0.2

_T = TypeVar("_T")


@dataclass(frozen=True)
class PowerState:
    """What a probe knows about power and network; ``None`` means unknown.

    Unknown power (``on_mains=None``) is treated as mains by callers: a kiosk or desktop that
    reports nothing should upload promptly rather than hold data back.
    ``constrained`` flags a supply in trouble (Raspberry Pi under-voltage or throttling);
    ``source`` names the probe, with ``:error`` appended when its read failed.
    """

    on_mains: bool | None
    battery_level: float | None
    power_save: bool = False
    constrained: bool = False
    metered: bool = False
    online: bool | None = None
    source: str = "unknown"

    def __post_init__(self) -> None:
        level = self.battery_level
        if level is not None and (
            isinstance(level, bool) or not isinstance(level, (int, float)) or not 0.0 <= level <= 1.0
        ):
            raise ConfigError(f"PowerState.battery_level must be between 0 and 1 or None, got {level!r}")

    @classmethod
    def unknown(cls, source: str) -> PowerState:
        """A state that knows nothing, attributed to ``source``."""
        return cls(on_mains=None, battery_level=None, source=source)

    @property
    def on_battery(self) -> bool:
        """True only when the device is known to be running on its battery."""
        return self.on_mains is False

    @property
    def low_battery(self) -> bool:
        """On battery with a known level at or below ``LOW_BATTERY`` (20 %)."""
        return self.on_battery and self.battery_level is not None and self.battery_level <= LOW_BATTERY


@runtime_checkable
class PowerProbe(Protocol):
    """Reports the power state; cheap to call, and never raises."""

    def read(self, now: float) -> PowerState:
        """The state at ``now`` (seconds from the caller's clock); may be cached for a while."""
        ...


@runtime_checkable
class NotifyingProbe(PowerProbe, Protocol):
    """A probe that is told of changes (``ManualPower``): a scheduler subscribes and wakes at once."""

    def subscribe(self, callback: Callable[[PowerState], None]) -> Callable[[], None]:
        """Call ``callback(state)`` after each change; returns a function that unsubscribes."""
        ...


@runtime_checkable
class CachedProbe(PowerProbe, Protocol):
    """A probe that caches its readings: ``Client.power_changed()`` makes it read afresh."""

    def invalidate(self) -> None:
        """Forget the cached reading."""
        ...


class CachingProbe:
    """Base of the platform probes: caches a reading for ``ttl`` seconds and never raises.

    The cache is keyed on the ``now`` callers pass (their clock, so tests control time). A
    failed read is logged at debug on ``edgetrack.power`` and reported, and cached, as unknown.
    Subclasses set ``source`` and implement ``probe()``.
    """

    source = "unknown"

    def __init__(self, *, ttl: float = DEFAULT_TTL) -> None:
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not ttl >= 0:
            raise ConfigError(f"ttl must be a number of seconds >= 0, got {ttl!r}")
        self.ttl = float(ttl)
        self._lock = threading.Lock()
        self._state: PowerState | None = None
        self._read_at = 0.0

    def read(self, now: float) -> PowerState:
        with self._lock:
            # A clock that went backwards (``now`` before the reading) gets a fresh read.
            if self._state is not None and self._read_at <= now < self._read_at + self.ttl:
                return self._state
            try:
                state = self.probe()
            except Exception:
                _log.debug("%s power probe failed; reporting unknown", self.source, exc_info=True)
                state = PowerState.unknown(f"{self.source}:error")
            self._state, self._read_at = state, now
            return state

    def invalidate(self) -> None:
        """Forget the cached reading, so the next ``read`` asks the platform (e.g. on app resume)."""
        with self._lock:
            self._state = None

    def probe(self) -> PowerState:
        """Ask the platform now, uncached; may raise (``read`` turns that into unknown)."""
        raise NotImplementedError

    def _part(self, what: str, fn: Callable[[], _T], default: _T) -> _T:
        """``fn()``, or ``default`` if it raises: one unreadable part must not blank the others."""
        try:
            return fn()
        except Exception:
            _log.debug("%s power probe: could not read %s", self.source, what, exc_info=True)
            return default
