"""The power state, the ``PowerProbe`` plug point and the cache that platform probes share."""

from __future__ import annotations

import logging
import os
import threading
import time
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
    "PushingProbe",
]

_log = logging.getLogger(__name__)

#: Seconds a platform probe reuses its last reading.
DEFAULT_TTL = 60.0
#: Battery fraction at or below which a device on battery counts as low.
LOW_BATTERY = 0.2

_T = TypeVar("_T")
_C = TypeVar("_C")


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
class PushingProbe(NotifyingProbe, Protocol):
    """A platform probe the platform itself tells of changes (netlink, broadcasts,
    notifications) while anything is subscribed, and that may hear the radio wake up."""

    @property
    def push(self) -> str | None:
        """The mechanism that tells it of changes while one runs (``"netlink"``, ...); None
        when none could start here, so the scheduler keeps looking on its timers."""
        ...

    def subscribe_radio(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` when the default network's radio becomes active for other
        traffic (ride-along); returns a function that unsubscribes."""
        ...

    def radio_is_active(self) -> bool:
        """Whether the default network's radio is awake for other traffic right now (Android's
        ``isDefaultNetworkActive()``); False where the platform cannot say."""
        ...


@runtime_checkable
class CachedProbe(PowerProbe, Protocol):
    """A probe that caches its readings: ``Client.power_changed()`` makes it read afresh."""

    def invalidate(self) -> None:
        """Forget the cached reading."""
        ...


class CachingProbe:
    """Base of the platform probes: caches a reading for ``ttl`` seconds and never raises, and
    hears of changes from the platform while anything is subscribed.

    The cache is keyed on the ``now`` callers pass (their clock, so tests control time). A
    failed read is logged at debug on ``edgetrack.power`` and reported, and cached, as unknown.
    Subclasses set ``source`` and implement ``probe()``; a platform that can tell of changes
    implements ``start_listening()`` / ``stop_listening()`` and calls ``changed()`` and
    ``radio_active()`` from its callbacks. The listener starts with the first subscriber and
    stops with the last; in a forked child the parent's listener and subscribers are
    forgotten (the child's schedulers subscribe again when their threads start).
    """

    source = "unknown"

    def __init__(self, *, ttl: float = DEFAULT_TTL) -> None:
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not ttl >= 0:
            raise ConfigError(f"ttl must be a number of seconds >= 0, got {ttl!r}")
        self.ttl = float(ttl)
        self._lock = threading.Lock()
        self._state: PowerState | None = None
        self._read_at = 0.0
        self._listeners = threading.Lock()  # subscribers and the listener's start and stop
        self._callbacks: list[Callable[[PowerState], None]] = []
        self._radio_callbacks: list[Callable[[], None]] = []
        self._push: str | None = None
        self._pid = os.getpid()

    # -- push: the platform tells us ----------------------------------------------------------

    @property
    def push(self) -> str | None:
        """The mechanism telling this probe of changes while one runs, else None (polling)."""
        return self._push if self._pid == os.getpid() else None

    def subscribe(self, callback: Callable[[PowerState], None]) -> Callable[[], None]:
        """Call ``callback(state)`` after each change the platform tells of (starting the
        listener for the first subscriber); returns a function that unsubscribes."""
        return self._add(self._callbacks, callback)

    def subscribe_radio(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` when the platform says the radio is active for other traffic."""
        return self._add(self._radio_callbacks, callback)

    def _add(self, callbacks: list[_C], callback: _C) -> Callable[[], None]:
        with self._listeners:
            self._forked()
            callbacks.append(callback)
            if self._push is None and len(self._callbacks) + len(self._radio_callbacks) == 1:
                try:
                    self._push = self.start_listening()
                except Exception:
                    _log.debug("%s power probe: no change listener; polling", self.source, exc_info=True)
                    self._push = None

        def unsubscribe() -> None:
            with self._listeners:
                if self._pid != os.getpid() or callback not in callbacks:
                    return
                callbacks.remove(callback)
                if self._push is not None and not self._callbacks and not self._radio_callbacks:
                    self._push = None
                    self.stop_listening()

        return unsubscribe

    def _forked(self) -> None:
        """In a forked child: the parent's listener thread and subscribers are not ours."""
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._callbacks.clear()
            self._radio_callbacks.clear()
            if self._push is not None:
                self._push = None
                self.forget_listener()

    def changed(self) -> None:
        """The platform said something changed: read afresh and tell every subscriber."""
        self.invalidate()
        state = self.read(time.monotonic())
        for callback in self._snapshot(self._callbacks):
            try:
                callback(state)
            except Exception:
                _log.warning("a power change callback raised; ignored", exc_info=True)

    def radio_active(self) -> None:
        """The platform said the radio is active for other traffic: tell the subscribers."""
        for callback in self._snapshot(self._radio_callbacks):
            try:
                callback()
            except Exception:
                _log.warning("a radio callback raised; ignored", exc_info=True)

    def _snapshot(self, callbacks: list[_C]) -> list[_C]:
        with self._listeners:
            return list(callbacks) if self._pid == os.getpid() else []

    def radio_is_active(self) -> bool:
        """Whether the radio is awake for other traffic now; False unless the platform says."""
        return False

    def start_listening(self) -> str | None:
        """Start the platform's change listener; its name, or None when there is none here."""
        return None

    def stop_listening(self) -> None:
        """Stop the listener ``start_listening`` started."""

    def forget_listener(self) -> None:
        """In a forked child: drop the parent's listener without touching its thread."""

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
