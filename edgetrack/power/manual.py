"""Probes told the state instead of reading it: ``ManualPower`` (by the app), ``StaticPower`` (tests)."""

from __future__ import annotations

import dataclasses
import enum
import logging
import threading
from collections.abc import Callable
from typing import Any

from edgetrack.power._base import PowerState

__all__ = ["ManualPower", "StaticPower"]

_log = logging.getLogger(__name__)


class _Unset(enum.Enum):
    UNSET = enum.auto()


_UNSET = _Unset.UNSET


class ManualPower:
    """A probe the app keeps up to date, e.g. from its own battery or network callbacks.

    ``set()`` changes only the fields it is given; it is thread-safe, and callbacks registered
    with ``subscribe()`` hear about every change (so a scheduler can wake up at once).
    """

    def __init__(self, state: PowerState | None = None) -> None:
        self._state = state if state is not None else PowerState.unknown("manual")
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[PowerState], None]] = []

    def read(self, now: float) -> PowerState:
        with self._lock:
            return self._state

    def set(
        self,
        *,
        on_mains: bool | _Unset | None = _UNSET,
        battery_level: float | _Unset | None = _UNSET,
        power_save: bool | _Unset = _UNSET,
        constrained: bool | _Unset = _UNSET,
        metered: bool | _Unset = _UNSET,
        online: bool | _Unset | None = _UNSET,
    ) -> PowerState:
        """Update the given fields; returns the new state. A bad ``battery_level`` raises ``ConfigError``."""
        given: dict[str, Any] = {
            "on_mains": on_mains,
            "battery_level": battery_level,
            "power_save": power_save,
            "constrained": constrained,
            "metered": metered,
            "online": online,
        }
        changes = {name: value for name, value in given.items() if value is not _UNSET}
        with self._lock:
            old = self._state
            self._state = new = dataclasses.replace(old, **changes)
            callbacks = list(self._callbacks) if new != old else []
        for callback in callbacks:
            try:
                callback(new)
            except Exception:
                _log.warning("a power change callback raised; ignored", exc_info=True)
        return new

    def subscribe(self, callback: Callable[[PowerState], None]) -> Callable[[], None]:
        """Call ``callback(state)`` after each change; returns a function that unsubscribes."""
        with self._lock:
            self._callbacks.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe


class StaticPower:
    """A probe that always reports ``state`` (default: on mains and online); counts its reads."""

    def __init__(self, state: PowerState | None = None) -> None:
        if state is None:
            state = PowerState(on_mains=True, battery_level=None, online=True, source="static")
        self.state = state
        self.reads = 0

    def read(self, now: float) -> PowerState:
        self.reads += 1
        return self.state
