"""iOS (BeeWare) through rubicon-objc: ``UIDevice`` battery state and level, Low Power Mode.

Battery monitoring is switched on once, at the first reading (until then UIKit reports an
unknown state and a level of -1). Low Power Mode lives on ``NSProcessInfo``; its getter is
``isLowPowerModeEnabled``, so it is called as a method (rubicon maps attribute access only to
getters named like the property). Network cost needs Network.framework (``nw_path_is_expensive``),
which this probe does not read: ``metered`` stays False and ``online`` unknown.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from edgetrack.power._base import DEFAULT_TTL, CachingProbe, PowerState

__all__ = ["IosPower"]

# UIDeviceBatteryState
_UNKNOWN, _UNPLUGGED, _CHARGING, _FULL = 0, 1, 2, 3

_NO_BATTERY: tuple[bool | None, float | None] = (None, None)


class IosPower(CachingProbe):
    """Battery and Low Power Mode from UIKit / Foundation.

    ``objc_class`` maps a class name to an Objective-C class (rubicon's ``ObjCClass``, imported
    on the first read by default); tests pass fakes.
    """

    source = "ios"

    def __init__(self, objc_class: Callable[[str], Any] | None = None, *, ttl: float = DEFAULT_TTL) -> None:
        super().__init__(ttl=ttl)
        self._objc_class = objc_class
        self._monitoring = False

    def probe(self) -> PowerState:
        objc_class = self._bridge()
        on_mains, level = self._part("battery", lambda: self._battery(objc_class), _NO_BATTERY)
        power_save = self._part("Low Power Mode", lambda: self._low_power(objc_class), False)
        return PowerState(on_mains=on_mains, battery_level=level, power_save=power_save, source=self.source)

    def _bridge(self) -> Callable[[str], Any]:
        if self._objc_class is None:
            self._objc_class = importlib.import_module("rubicon.objc").ObjCClass
        return self._objc_class

    def _battery(self, objc_class: Callable[[str], Any]) -> tuple[bool | None, float | None]:
        device = objc_class("UIDevice").currentDevice
        if not self._monitoring:
            device.setBatteryMonitoringEnabled_(True)
            self._monitoring = True
        state = int(device.batteryState)
        on_mains = {_UNPLUGGED: False, _CHARGING: True, _FULL: True}.get(state)
        raw_level = float(device.batteryLevel)
        level = min(raw_level, 1.0) if raw_level >= 0 else None  # -1.0 means unknown
        return on_mains, level

    def _low_power(self, objc_class: Callable[[str], Any]) -> bool:
        enabled = objc_class("NSProcessInfo").processInfo.isLowPowerModeEnabled
        return bool(enabled() if callable(enabled) else enabled)
