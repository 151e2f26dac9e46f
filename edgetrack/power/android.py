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

While a scheduler is subscribed, Android tells the probe of changes (``push``):

* broadcasts, through python-for-android's ``android.broadcast.BroadcastReceiver`` (pyjnius):
  ``ACTION_POWER_CONNECTED`` / ``ACTION_POWER_DISCONNECTED``, ``BATTERY_LOW`` /
  ``BATTERY_OKAY``, ``PowerManager.ACTION_POWER_SAVE_MODE_CHANGED`` and
  ``ConnectivityManager.CONNECTIVITY_ACTION``; each one reads afresh and tells the subscribers
  (``push == "broadcasts"``);
* ride-along, with the broadcasts: a ``ConnectivityManager.OnNetworkActiveListener`` added with
  ``addDefaultNetworkActiveListener`` (API 21) says when the radio has woken for other traffic,
  so pending events go out while it is awake, and ``isDefaultNetworkActive()`` answers
  ``radio_is_active()`` (``push == "broadcasts+radio"``).

What still falls back to polling (the cache's TTL and the scheduler's timers): battery level
changes between the low/okay crossings (``ACTION_BATTERY_CHANGED`` fires on every percent, so it
is read, not heard), a metered flag that changes without a connectivity broadcast, and
everything under Chaquopy or wherever the p4a helper is missing or fails to register; then
``push`` is None. Failures to register are logged at debug on ``edgetrack.power`` and never
raised to the app.
"""

from __future__ import annotations

import importlib
import logging
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

#: The broadcasts that make the probe read afresh while it is subscribed. Full action strings:
#: p4a's helper passes a dotted name through and would look a bare one up as ``Intent.ACTION_*``.
PUSH_ACTIONS: tuple[str, ...] = (
    "android.intent.action.ACTION_POWER_CONNECTED",  # Intent.ACTION_POWER_CONNECTED
    "android.intent.action.ACTION_POWER_DISCONNECTED",  # Intent.ACTION_POWER_DISCONNECTED
    "android.intent.action.BATTERY_LOW",  # Intent.ACTION_BATTERY_LOW
    "android.intent.action.BATTERY_OKAY",  # Intent.ACTION_BATTERY_OKAY
    "android.os.action.POWER_SAVE_MODE_CHANGED",  # PowerManager.ACTION_POWER_SAVE_MODE_CHANGED
    "android.net.conn.CONNECTIVITY_CHANGE",  # ConnectivityManager.CONNECTIVITY_ACTION
)
_ON_NETWORK_ACTIVE = "android/net/ConnectivityManager$OnNetworkActiveListener"

_log = logging.getLogger(__name__)

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
    Chaquopy's application.

    ``broadcast_receiver`` makes the receiver that pushes changes, called as
    ``broadcast_receiver(callback, actions=[...])`` with ``start()`` and ``stop()`` and calling
    ``callback(context, intent)``: by default python-for-android's
    ``android.broadcast.BroadcastReceiver``, imported when the first subscriber comes (not
    there: no push). ``network_active_listener(callback)`` makes the
    ``ConnectivityManager.OnNetworkActiveListener`` whose ``onNetworkActive()`` calls
    ``callback()``; by default a pyjnius ``PythonJavaClass``. Tests pass small fakes for all.
    """

    source = "android"

    def __init__(
        self,
        autoclass: Callable[[str], Any] | None = None,
        *,
        cast: Callable[[Any, Any], Any] | None = None,
        context: Any = None,
        broadcast_receiver: Callable[..., Any] | None = None,
        network_active_listener: Callable[[Callable[[], None]], Any] | None = None,
        ttl: float = DEFAULT_TTL,
    ) -> None:
        super().__init__(ttl=ttl)
        self._autoclass = autoclass
        self._cast = cast
        self._context = context
        self._receiver_factory = broadcast_receiver
        self._listener_factory = network_active_listener
        self._receiver: Any = None  # the running broadcast receiver
        self._stopped_receiver: Any = None  # the last one stopped, kept alive (stop_listening)
        self._radio_listener: Any = None  # made once and kept: pyjnius needs the Python half alive
        self._radio_manager: Any = None  # the ConnectivityManager it is added to, while it is
        self._orphans: list[Any] = []  # a forked child's inheritance, never touched again

    # -- push ---------------------------------------------------------------------------------

    def start_listening(self) -> str | None:
        """Register for the ``PUSH_ACTIONS`` broadcasts, then the ride-along listener.

        Without broadcasts there is no push at all (None: the scheduler keeps polling), and the
        ride-along listener is not added either; without the listener, ``"broadcasts"``.
        """
        try:
            factory = self._receiver_factory or _p4a_broadcast_receiver()
            receiver = factory(self._on_broadcast, actions=list(PUSH_ACTIONS))
            receiver.start()
        except Exception:
            _log.debug("android power probe: no broadcast receiver; polling", exc_info=True)
            return None
        self._receiver = receiver
        try:
            manager = self._connectivity()
            if self._radio_listener is None:
                make_listener = self._listener_factory or _jnius_network_active_listener
                self._radio_listener = make_listener(self.radio_active)
            manager.addDefaultNetworkActiveListener(self._radio_listener)  # API 21
        except Exception:
            _log.debug("android power probe: no network-active listener (ride-along)", exc_info=True)
            return "broadcasts"
        self._radio_manager = manager
        return "broadcasts+radio"

    def stop_listening(self) -> None:
        receiver, self._receiver = self._receiver, None
        manager, self._radio_manager = self._radio_manager, None
        if receiver is not None:
            # Kept until the next stop: pyjnius frees the Java callback's Python half with it, and
            # a broadcast already on its way must still find it. p4a's receiver cannot be
            # started again (its HandlerThread has quit), so the next start makes a new one.
            self._stopped_receiver = receiver
            try:
                receiver.stop()
            except Exception:
                _log.debug("android power probe: could not unregister the receiver", exc_info=True)
        if manager is not None:
            try:
                manager.removeDefaultNetworkActiveListener(self._radio_listener)
            except Exception:
                _log.debug("android power probe: could not remove the network-active listener", exc_info=True)

    def forget_listener(self) -> None:
        # The parent's registrations live in its JVM: keep the objects (dropping them would run
        # JNI finalisers in the child) but never use them again.
        parts = (self._receiver, self._stopped_receiver, self._radio_listener)
        self._orphans.extend(part for part in parts if part is not None)
        self._receiver = self._stopped_receiver = self._radio_listener = self._radio_manager = None

    def radio_is_active(self) -> bool:
        """``ConnectivityManager.isDefaultNetworkActive()`` (API 21); False when it cannot be asked."""
        try:
            return bool(self._connectivity().isDefaultNetworkActive())
        except Exception:
            _log.debug("android power probe: isDefaultNetworkActive failed", exc_info=True)
            return False

    def _on_broadcast(self, context: Any, intent: Any) -> None:
        """p4a's receiver calls this on its handler thread: read afresh and tell subscribers."""
        self.changed()

    def _connectivity(self) -> Any:
        context = self._context if self._context is not None else _find_context(self._bridge())
        return self._service(context, CONNECTIVITY_SERVICE, "android.net.ConnectivityManager")

    # -- reading ------------------------------------------------------------------------------

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


def _p4a_broadcast_receiver() -> Callable[..., Any]:
    """python-for-android's ``BroadcastReceiver`` helper; ImportError where there is none."""
    receiver: Callable[..., Any] = importlib.import_module("android.broadcast").BroadcastReceiver
    return receiver


_listener_class: Any = None


def _jnius_network_active_listener(callback: Callable[[], None]) -> Any:
    """A pyjnius ``ConnectivityManager.OnNetworkActiveListener`` whose ``onNetworkActive()``
    calls ``callback()``; the class is made on first use (jnius imported then)."""
    global _listener_class
    if _listener_class is None:
        jnius = importlib.import_module("jnius")

        def init(self: Any, callback: Callable[[], None]) -> None:
            self.callback = callback
            jnius.PythonJavaClass.__init__(self)

        def on_network_active(self: Any) -> None:
            self.callback()

        _listener_class = type(
            "NetworkActiveListener",
            (jnius.PythonJavaClass,),
            {
                "__javainterfaces__": [_ON_NETWORK_ACTIVE],
                "__init__": init,
                "onNetworkActive": jnius.java_method("()V")(on_network_active),
            },
        )
    return _listener_class(callback)


def _find_context(autoclass: Callable[[str], Any]) -> Any:
    for class_name, getter in _CONTEXTS:
        try:
            context = getter(autoclass(class_name))
        except Exception:
            continue  # not this runtime (class missing), or not started yet
        if context is not None:
            return context
    raise RuntimeError("no Android Context found; pass AndroidPower(context=...)")
