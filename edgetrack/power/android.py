"""Android, through pyjnius (Kivy / python-for-android) or Chaquopy (BeeWare / Briefcase).

One reading asks Android for three things, each on its own so a missing permission blanks only
its part:

* the sticky ``ACTION_BATTERY_CHANGED`` intent, fetched with ``registerReceiver(None, filter)``
  (nothing is registered): ``EXTRA_PLUGGED != 0`` means external power, even when a charge
  limiter says "not charging"; ``EXTRA_LEVEL / EXTRA_SCALE`` is the level;
* ``PowerManager.isPowerSaveMode()`` (API 21);
* ``ConnectivityManager``: an active network means online, ``isActiveNetworkMetered()`` metered
  (needs ``ACCESS_NETWORK_STATE``, which every app that uploads has).

The Java string constants are written out (they are fixed by the Android API) so a reading
reflects on no more classes than it must.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from edgetrack.power._base import DEFAULT_TTL, CachingProbe, PowerState

__all__ = ["AndroidPower"]

ACTION_BATTERY_CHANGED = "android.intent.action.BATTERY_CHANGED"
EXTRA_PLUGGED = "plugged"
EXTRA_LEVEL = "level"
EXTRA_SCALE = "scale"
EXTRA_STATUS = "status"
_STATUS_CHARGING, _STATUS_DISCHARGING, _STATUS_NOT_CHARGING, _STATUS_FULL = 2, 3, 4, 5
POWER_SERVICE = "power"
CONNECTIVITY_SERVICE = "connectivity"

_NO_BATTERY: tuple[bool | None, float | None] = (None, None)
_NO_NETWORK: tuple[bool | None, bool] = (None, False)

# Where the app's Context lives, tried in order: p4a activity, p4a service, Chaquopy application.
_CONTEXTS: tuple[tuple[str, Callable[[Any], Any]], ...] = (
    ("org.kivy.android.PythonActivity", lambda cls: cls.mActivity),
    ("org.kivy.android.PythonService", lambda cls: cls.mService),
    ("com.chaquo.python.Python", lambda cls: cls.getPlatform().getApplication()),
)


class AndroidPower(CachingProbe):
    """Battery, power-save and network state from Android's Java APIs.

    ``autoclass`` maps a Java class name to a class (``jnius.autoclass`` or Chaquopy's
    ``java.jclass``); by default pyjnius is tried, then Chaquopy, on the first read. ``cast`` is
    pyjnius's ``cast`` (Chaquopy objects already have their runtime class, so it is not needed
    there). ``context`` is an Android ``Context``; by default the p4a activity or service, or
    Chaquopy's application. Tests pass small fakes for all three.
    """

    source = "android"

    def __init__(
        self,
        autoclass: Callable[[str], Any] | None = None,
        *,
        cast: Callable[[Any, Any], Any] | None = None,
        context: Any = None,
        ttl: float = DEFAULT_TTL,
    ) -> None:
        super().__init__(ttl=ttl)
        self._autoclass = autoclass
        self._cast = cast
        self._context = context

    def probe(self) -> PowerState:
        autoclass = self._bridge()
        context = self._context if self._context is not None else _find_context(autoclass)
        on_mains, level = self._part("battery", lambda: self._battery(autoclass, context), _NO_BATTERY)
        power_save = self._part("power-save mode", lambda: self._power_save(context), False)
        online, metered = self._part("network", lambda: self._network(context), _NO_NETWORK)
        return PowerState(
            on_mains=on_mains,
            battery_level=level,
            power_save=power_save,
            metered=metered,
            online=online,
            source=self.source,
        )

    def _bridge(self) -> Callable[[str], Any]:
        if self._autoclass is None:
            try:
                jnius = importlib.import_module("jnius")
            except ImportError:
                self._autoclass = importlib.import_module("java").jclass
            else:
                self._autoclass = jnius.autoclass
                if self._cast is None:
                    self._cast = jnius.cast
        return self._autoclass

    def _service(self, context: Any, name: str, java_class: str) -> Any:
        service = context.getSystemService(name)
        if service is None:
            raise RuntimeError(f"getSystemService({name!r}) returned null")
        return service if self._cast is None else self._cast(java_class, service)

    def _battery(self, autoclass: Callable[[str], Any], context: Any) -> tuple[bool | None, float | None]:
        intent_filter = autoclass("android.content.IntentFilter")(ACTION_BATTERY_CHANGED)
        intent = context.registerReceiver(None, intent_filter)
        if intent is None:
            return None, None  # no sticky intent yet (very early in boot)
        plugged = int(intent.getIntExtra(EXTRA_PLUGGED, -1))
        if plugged >= 0:
            on_mains: bool | None = plugged != 0  # AC, USB, wireless or dock
        else:
            status = int(intent.getIntExtra(EXTRA_STATUS, -1))
            plugged_statuses = (_STATUS_CHARGING, _STATUS_FULL, _STATUS_NOT_CHARGING)
            on_mains = True if status in plugged_statuses else None
            if status == _STATUS_DISCHARGING:
                on_mains = False
        raw_level = int(intent.getIntExtra(EXTRA_LEVEL, -1))
        scale = int(intent.getIntExtra(EXTRA_SCALE, -1))
        level = min(raw_level / scale, 1.0) if raw_level >= 0 and scale > 0 else None
        return on_mains, level

    def _power_save(self, context: Any) -> bool:
        manager = self._service(context, POWER_SERVICE, "android.os.PowerManager")
        return bool(manager.isPowerSaveMode())

    def _network(self, context: Any) -> tuple[bool | None, bool]:
        manager = self._service(context, CONNECTIVITY_SERVICE, "android.net.ConnectivityManager")
        try:
            online = manager.getActiveNetwork() is not None  # API 23
        except AttributeError:
            info = manager.getActiveNetworkInfo()  # older devices
            online = info is not None and bool(info.isConnected())
        return online, online and bool(manager.isActiveNetworkMetered())


def _find_context(autoclass: Callable[[str], Any]) -> Any:
    for class_name, getter in _CONTEXTS:
        try:
            context = getter(autoclass(class_name))
        except Exception:
            continue  # not this runtime (class missing), or not started yet
        if context is not None:
            return context
    raise RuntimeError("no Android Context found; pass AndroidPower(context=...)")
