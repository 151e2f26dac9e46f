"""macOS, Windows, BSD: ``psutil.sensors_battery()`` when psutil happens to be installed (never required)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from edgetrack.power._base import DEFAULT_TTL, CachingProbe, PowerState

__all__ = ["PsutilPower"]


class PsutilPower(CachingProbe):
    """Plugged-in and percentage from psutil; unknown when psutil is missing or finds no battery.

    ``sensors_battery`` replaces ``psutil.sensors_battery`` (tests); psutil is imported on the
    first read, not before.
    """

    source = "psutil"

    def __init__(self, sensors_battery: Callable[[], Any] | None = None, *, ttl: float = DEFAULT_TTL) -> None:
        super().__init__(ttl=ttl)
        self._sensors_battery = sensors_battery

    def probe(self) -> PowerState:
        if self._sensors_battery is None:
            try:
                psutil = importlib.import_module("psutil")
            except ImportError:
                return PowerState.unknown(self.source)
            self._sensors_battery = psutil.sensors_battery
        battery = self._sensors_battery()
        if battery is None:
            return PowerState.unknown(self.source)  # no battery: a desktop, treated as mains
        plugged = battery.power_plugged
        percent = battery.percent
        level = None if percent is None else min(max(float(percent) / 100.0, 0.0), 1.0)
        return PowerState(
            on_mains=None if plugged is None else bool(plugged), battery_level=level, source=self.source
        )
