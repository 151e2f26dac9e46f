"""iOS (BeeWare, kivy-ios) through rubicon-objc: battery, Low Power Mode and the network path.

What a reading holds, and where it comes from:

* battery state and level: ``UIDevice.currentDevice`` (``batteryState``: 1 unplugged -> on
  battery, 2 charging / 3 full -> mains; ``batteryLevel``, -1 while unknown);
* ``power_save``: ``NSProcessInfo.processInfo.isLowPowerModeEnabled`` (called as a method:
  rubicon maps attribute access only to getters named like the property);
* ``online`` / ``metered``: the default network path, known only while a listener runs (see
  below); otherwise ``online`` is unknown and ``metered`` False.

**UIKit on the main thread.** Apple allows ``UIDevice`` to be used from the main thread only,
and ``read()`` is called from a scheduler's thread. So ``probe()`` reads ``UIDevice`` itself
only when it runs on the main thread (``NSThread.isMainThread``; where that cannot be asked,
Python's main thread, which is the app's main thread under Briefcase and kivy-ios). Elsewhere
it reports the battery last read on the main thread, and, unless battery notifications keep
that fresh, queues one more read on the main queue (``NSOperationQueue.mainQueue``, at most one
waiting at a time); when that read finds a change the probe's cache is dropped and subscribers
are told. Until the first main-thread read has run the battery is reported unknown (a probe
polled from a thread of an app whose main loop never runs stays unknown). Battery monitoring
(``batteryMonitoringEnabled``, without which UIKit reports state 0 and level -1) is switched on
once, on the main thread, by the first read there, and left on (the app may use it too).
``NSProcessInfo`` is thread-safe and is read on the calling thread.

**Push.** While anything is subscribed (``subscribe`` / ``subscribe_radio``) the probe hears:

* ``UIDeviceBatteryStateDidChangeNotification`` and ``UIDeviceBatteryLevelDidChangeNotification``
  (posted only while battery monitoring is on, so subscribing also queues a main-thread read,
  which switches it on) and ``NSProcessInfoPowerStateDidChangeNotification``, through
  ``NSNotificationCenter.defaultCenter``'s ``addObserverForName:object:queue:usingBlock:`` with
  ``queue=NSOperationQueue.mainQueue``, so each block runs on the main thread and may read
  ``UIDevice``. The blocks are rubicon ``Block`` objects the probe keeps, with the observer
  tokens, until ``removeObserver:`` at the last unsubscribe.
* the default network path: Network.framework's ``nw_path_monitor`` through ``ctypes``
  (``nw_path_get_status``: satisfied or satisfiable -> online, unsatisfied -> offline;
  ``nw_path_is_expensive`` or ``nw_path_is_constrained`` -> metered), its update handler a
  rubicon ``Block`` run on a private serial dispatch queue; where that cannot start,
  SystemConfiguration reachability of 0.0.0.0 (``SCNetworkReachabilitySetCallback`` with a
  plain C callback, on the same queue: reachable -> online, ``IsWWAN`` -> metered); where
  neither can, no path push (``online`` stays unknown, as before).

``push`` names what started: ``"notifications+nw_path_monitor"`` (or ``+reachability``), either
part alone, or None (nothing could start: the probe is polled, battery reads queued on the main
queue as above). Every failure is caught and logged at debug on
``edgetrack.power``: nothing here raises into the app, and a callback that fails is ignored.

The native layer is injectable for tests: ``objc_class`` (rubicon's ``ObjCClass``), ``block``
(wraps a Python function as an Objective-C block) and ``path_monitor`` (starts a path monitor).
The ctypes code for Network.framework and SystemConfiguration is in ``_ios_native``
(``_NwPathMonitor``, ``_Reachability``), loaded when a probe starts listening; it runs only on
Apple platforms.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from edgetrack.power._base import DEFAULT_TTL, CachingProbe, PowerState

__all__ = ["IosPower", "PathMonitor", "nw_path_state", "reachability_path_state", "start_path_monitor"]

_log = logging.getLogger(__name__)

# UIDeviceBatteryState
_UNKNOWN, _UNPLUGGED, _CHARGING, _FULL = 0, 1, 2, 3

_NO_BATTERY: tuple[bool | None, float | None] = (None, None)
_NO_PATH: tuple[bool | None, bool] = (None, False)

BATTERY_STATE_CHANGED = "UIDeviceBatteryStateDidChangeNotification"
BATTERY_LEVEL_CHANGED = "UIDeviceBatteryLevelDidChangeNotification"
POWER_STATE_CHANGED = "NSProcessInfoPowerStateDidChangeNotification"

#: ``on_path(online, metered)``: what a path monitor reports at each change of the default path.
PathHandler = Callable[[bool | None, bool], None]


class PathMonitor(Protocol):
    """A running watcher of the default network path (``start_path_monitor`` makes one)."""

    @property
    def name(self) -> str:
        """The mechanism (``"nw_path_monitor"``, ``"reachability"``), as ``push`` reports it."""
        ...

    def cancel(self) -> None:
        """Stop reporting; never raises."""
        ...


def _rubicon_block(function: Callable[..., None], nargs: int) -> Any:
    """``function`` as an Objective-C block returning void and taking ``nargs`` objects."""
    objc = importlib.import_module("rubicon.objc")
    return objc.Block(function, None, *([objc.objc_id] * nargs))


def _value(attribute: Any) -> Any:
    """A rubicon attribute that may come back as a bound getter rather than its value."""
    return attribute() if callable(attribute) else attribute


class IosPower(CachingProbe):
    """Battery and Low Power Mode from UIKit / Foundation, the network path from Network.framework.

    ``objc_class`` maps a class name to an Objective-C class (rubicon's ``ObjCClass``, imported
    on the first read by default). ``block(function, nargs)`` wraps a Python function taking
    ``nargs`` object arguments as a block (rubicon's ``Block`` by default). ``path_monitor(on_path)``
    starts a path monitor calling ``on_path(online, metered)`` from its own queue and returns it,
    or None where none can run (``start_path_monitor`` by default). Tests pass fakes of all three.
    """

    source = "ios"

    def __init__(
        self,
        objc_class: Callable[[str], Any] | None = None,
        *,
        block: Callable[[Callable[..., None], int], Any] | None = None,
        path_monitor: Callable[[PathHandler], PathMonitor | None] | None = None,
        ttl: float = DEFAULT_TTL,
    ) -> None:
        super().__init__(ttl=ttl)
        self._objc_class = objc_class
        self._make_block = block if block is not None else _rubicon_block
        self._path_monitor = path_monitor if path_monitor is not None else start_path_monitor
        self._monitoring = False  # battery monitoring switched on (main thread only)
        self._main = threading.Lock()  # the fields below, shared with main-thread callbacks
        self._battery: tuple[bool | None, float | None] = _NO_BATTERY  # last main-thread read
        self._read_queued = False  # a main-thread read waits in the main queue
        self._read_block: Any = None  # its block, kept until it runs
        self._battery_pushed = False  # battery notifications observed: no polling reads needed
        self._path: tuple[bool | None, bool] = _NO_PATH
        self._generation = 0  # callbacks of a stopped listener carry an old one and are ignored
        self._starting: int | None = None  # thread running start_listening: callbacks do not notify
        self._center: Any = None
        self._observers: list[tuple[Any, Any]] = []  # (observer token, block)
        self._monitor: PathMonitor | None = None

    # -- reading ------------------------------------------------------------------------------

    def probe(self) -> PowerState:
        objc_class = self._bridge()
        on_mains, level = self._part("battery", lambda: self._battery_now(objc_class), _NO_BATTERY)
        power_save = self._part("Low Power Mode", lambda: self._low_power(objc_class), False)
        online, metered = self._path
        return PowerState(
            on_mains=on_mains,
            battery_level=level,
            power_save=power_save,
            metered=metered,
            online=online,
            source=self.source,
        )

    def _bridge(self) -> Callable[[str], Any]:
        if self._objc_class is None:
            self._objc_class = importlib.import_module("rubicon.objc").ObjCClass
        return self._objc_class

    def _on_main_thread(self, objc_class: Callable[[str], Any]) -> bool:
        try:
            return bool(_value(objc_class("NSThread").isMainThread))
        except Exception:
            return threading.current_thread() is threading.main_thread()

    def _battery_now(self, objc_class: Callable[[str], Any]) -> tuple[bool | None, float | None]:
        """On the main thread, ``UIDevice`` now; elsewhere the last main-thread reading."""
        if self._on_main_thread(objc_class):
            return self._read_battery(objc_class)
        if not self._battery_pushed:  # nothing keeps the reading fresh: ask for another
            self._request_battery(objc_class)
        return self._battery

    def _read_battery(self, objc_class: Callable[[str], Any]) -> tuple[bool | None, float | None]:
        """Read ``UIDevice`` (main thread only) and keep the reading for other threads."""
        device = objc_class("UIDevice").currentDevice
        if not self._monitoring:
            device.setBatteryMonitoringEnabled_(True)
            self._monitoring = True
        state = int(device.batteryState)
        on_mains = {_UNPLUGGED: False, _CHARGING: True, _FULL: True}.get(state)
        raw_level = float(device.batteryLevel)
        level = min(raw_level, 1.0) if raw_level >= 0 else None  # -1.0 means unknown
        with self._main:
            self._battery = (on_mains, level)
        return on_mains, level

    def _low_power(self, objc_class: Callable[[str], Any]) -> bool:
        return bool(_value(objc_class("NSProcessInfo").processInfo.isLowPowerModeEnabled))

    # -- the main thread ------------------------------------------------------------------------

    def _request_battery(self, objc_class: Callable[[str], Any]) -> None:
        """Have the battery read on the main thread: now if this is it, else queued once."""
        if self._on_main_thread(objc_class):
            self._refresh_battery()
            return
        with self._main:
            if self._read_queued:
                return  # one is already waiting for the main loop
            self._read_queued = True
        try:
            block = self._make_block(self._guarded("battery read", self._queued_read), 0)
            self._read_block = block
            objc_class("NSOperationQueue").mainQueue.addOperationWithBlock_(block)
        except Exception:
            _log.debug("ios power probe: cannot queue a main-thread battery read", exc_info=True)
            with self._main:
                self._read_queued, self._read_block = False, None

    def _queued_read(self) -> None:
        with self._main:
            self._read_queued, self._read_block = False, None
        self._refresh_battery()

    def _refresh_battery(self) -> None:
        """On the main thread: read the battery; tell subscribers if it changed."""
        before = self._battery
        if self._read_battery(self._bridge()) != before:
            self._notify()

    def _notify(self) -> None:
        """Something changed: drop the cache and tell subscribers (not while starting to listen,
        which holds the lock ``changed()`` needs; the first reading after it is fresh anyway)."""
        if self._starting == threading.get_ident():
            self.invalidate()
        else:
            self.changed()

    def _guarded(self, what: str, function: Callable[[], None]) -> Callable[..., None]:
        """``function`` as a callback the platform calls: arguments ignored, nothing raised."""

        def callback(*_args: Any) -> None:
            try:
                function()
            except Exception:
                _log.debug("ios power probe: %s failed", what, exc_info=True)

        return callback

    # -- push -------------------------------------------------------------------------------------

    def start_listening(self) -> str | None:
        self._starting = threading.get_ident()
        try:
            with self._main:
                self._generation += 1
                generation = self._generation
            parts = []
            if self._observe_notifications():
                parts.append("notifications")
            monitor = self._start_path_monitor(generation)
            if monitor is not None:
                self._monitor = monitor
                parts.append(str(monitor.name))
            return "+".join(parts) or None
        finally:
            self._starting = None

    def _observe_notifications(self) -> bool:
        try:
            objc_class = self._bridge()
            center = objc_class("NSNotificationCenter").defaultCenter
            queue = objc_class("NSOperationQueue").mainQueue
        except Exception:
            _log.debug("ios power probe: no notification center", exc_info=True)
            return False
        self._center = center
        battery = [
            self._observe(center, queue, name, self._refresh_battery)
            for name in (BATTERY_STATE_CHANGED, BATTERY_LEVEL_CHANGED)
        ]
        low_power = self._observe(center, queue, POWER_STATE_CHANGED, self._notify)
        with self._main:
            self._battery_pushed = all(battery)
        if any(battery):
            # Battery notifications are posted only while monitoring is on, which is switched
            # on by a main-thread read; that read also gives the first battery reading.
            self._part("battery", lambda: self._request_battery(objc_class), None)
        return any(battery) or low_power

    def _observe(self, center: Any, queue: Any, name: str, function: Callable[[], None]) -> bool:
        """Observe ``name`` with a block run on the main queue; keep the token and the block."""
        try:
            block = self._make_block(self._guarded(name, function), 1)
            token = center.addObserverForName_object_queue_usingBlock_(name, None, queue, block)
        except Exception:
            _log.debug("ios power probe: cannot observe %s", name, exc_info=True)
            return False
        if token is None:
            return False
        self._observers.append((token, block))
        return True

    def _start_path_monitor(self, generation: int) -> PathMonitor | None:
        def on_path(online: bool | None, metered: bool) -> None:
            try:
                self._path_changed(generation, online, metered)
            except Exception:
                _log.debug("ios power probe: a path update failed", exc_info=True)

        try:
            return self._path_monitor(on_path)
        except Exception:
            _log.debug("ios power probe: no path monitor", exc_info=True)
            return None

    def _path_changed(self, generation: int, online: bool | None, metered: bool) -> None:
        path = (None if online is None else bool(online), bool(metered))
        with self._main:
            if generation != self._generation or path == self._path:
                return  # a stopped monitor's last word, or a change that changes nothing here
            self._path = path
        self._notify()

    def stop_listening(self) -> None:
        observers, center, monitor = self._drop_listener()
        for token, _block in observers:
            try:
                center.removeObserver_(token)
            except Exception:
                _log.debug("ios power probe: removeObserver failed", exc_info=True)
        if monitor is not None:
            try:
                monitor.cancel()
            except Exception:
                _log.debug("ios power probe: cancelling the path monitor failed", exc_info=True)
        self.invalidate()  # the path is unknown again, and the battery polled

    def forget_listener(self) -> None:
        self._drop_listener()

    def _drop_listener(self) -> tuple[list[tuple[Any, Any]], Any, PathMonitor | None]:
        with self._main:
            self._generation += 1
            self._battery_pushed = False
            self._path = _NO_PATH
        observers, self._observers = self._observers, []
        center, self._center = self._center, None
        monitor, self._monitor = self._monitor, None
        return observers, center, monitor


# -- the network path ---------------------------------------------------------------------

# nw_path_status_t: invalid 0, satisfied 1, unsatisfied 2, satisfiable 3 (a connection attempt
# would bring a network up, e.g. cellular on demand: counted as online)
_NW_ONLINE = {1: True, 2: False, 3: True}
# SCNetworkReachabilityFlags
_SC_REACHABLE = 1 << 1
_SC_CONNECTION_REQUIRED = 1 << 2
_SC_CONNECTION_ON_TRAFFIC = 1 << 3
_SC_INTERVENTION_REQUIRED = 1 << 4
_SC_CONNECTION_ON_DEMAND = 1 << 5
_SC_IS_WWAN = 1 << 18


def nw_path_state(status: int, expensive: bool, constrained: bool) -> tuple[bool | None, bool]:
    """``(online, metered)`` from an ``nw_path_t``'s status, ``nw_path_is_expensive`` (cellular,
    a personal hotspot) and ``nw_path_is_constrained`` (Low Data Mode)."""
    return _NW_ONLINE.get(status), bool(expensive or constrained)


def reachability_path_state(flags: int) -> tuple[bool, bool]:
    """``(online, metered)`` from SCNetworkReachabilityFlags, as Apple's Reachability sample reads them."""
    reachable = bool(flags & _SC_REACHABLE)
    if reachable and flags & _SC_CONNECTION_REQUIRED:
        automatic = flags & (_SC_CONNECTION_ON_TRAFFIC | _SC_CONNECTION_ON_DEMAND)
        reachable = bool(automatic) and not flags & _SC_INTERVENTION_REQUIRED
    return reachable, reachable and bool(flags & _SC_IS_WWAN)


def start_path_monitor(on_path: PathHandler) -> PathMonitor | None:
    """Start watching the default network path, calling ``on_path(online, metered)`` from a
    private dispatch queue: Network.framework's path monitor, else SystemConfiguration
    reachability, else None (no path push here). Never raises. The ctypes layer
    (``_ios_native``) loads here, not when the package is imported."""
    try:
        native = importlib.import_module("edgetrack.power._ios_native")
    except Exception:
        _log.debug("ios power probe: no native path layer", exc_info=True)
        return None
    started: PathMonitor | None = native.start(on_path)
    return started
