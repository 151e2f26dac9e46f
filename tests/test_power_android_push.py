"""AndroidPower push: broadcasts through python-for-android's BroadcastReceiver helper and the
ride-along ``OnNetworkActiveListener``, against fakes shaped from the Android API reference
(and from p4a's ``android/broadcast.py``)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any, cast

import pytest

import edgetrack.power.android
from edgetrack.power import AndroidPower, PowerState

# The constant values, as the Android API reference gives them (Intent.ACTION_POWER_CONNECTED,
# Intent.ACTION_POWER_DISCONNECTED, Intent.ACTION_BATTERY_LOW, Intent.ACTION_BATTERY_OKAY,
# PowerManager.ACTION_POWER_SAVE_MODE_CHANGED, ConnectivityManager.CONNECTIVITY_ACTION).
POWER_CONNECTED = "android.intent.action.ACTION_POWER_CONNECTED"
POWER_DISCONNECTED = "android.intent.action.ACTION_POWER_DISCONNECTED"
BATTERY_LOW = "android.intent.action.BATTERY_LOW"
BATTERY_OKAY = "android.intent.action.BATTERY_OKAY"
POWER_SAVE_MODE_CHANGED = "android.os.action.POWER_SAVE_MODE_CHANGED"
CONNECTIVITY_ACTION = "android.net.conn.CONNECTIVITY_CHANGE"
ALL_ACTIONS = [
    POWER_CONNECTED,
    POWER_DISCONNECTED,
    BATTERY_LOW,
    BATTERY_OKAY,
    POWER_SAVE_MODE_CHANGED,
    CONNECTIVITY_ACTION,
]
ON_NETWORK_ACTIVE = "android/net/ConnectivityManager$OnNetworkActiveListener"
BATTERY_CHANGED = "android.intent.action.BATTERY_CHANGED"
LONG_TTL = 1e9  # a reading stays cached unless the probe is told something changed

# --------------------------------------------------------------------------- fakes of the Java side


class Intent:
    """``android.content.Intent``: an action and int extras."""

    def __init__(self, action: str | None = None, **extras: int) -> None:
        self.action = action
        self.extras = extras

    def getAction(self) -> str | None:
        return self.action

    def getIntExtra(self, name: str, default: int) -> int:
        return self.extras.get(name, default)


class IntentFilter:
    """``android.content.IntentFilter(String action)``."""

    def __init__(self, action: str) -> None:
        self.action = action


class PowerManager:
    def __init__(self) -> None:
        self.saver = False

    def isPowerSaveMode(self) -> bool:
        return self.saver


class IllegalArgumentException(Exception):
    """What pyjnius raises for ``java.lang.IllegalArgumentException`` (a JavaException)."""


class ConnectivityManager:
    """``android.net.ConnectivityManager``: the active network, and the default-network-active
    listeners (``removeDefaultNetworkActiveListener`` throws for one that was never added)."""

    def __init__(self) -> None:
        self.network: object | None = None
        self.metered = False
        self.listeners: list[Any] = []
        self.added: list[Any] = []
        self.removed: list[Any] = []
        self.active: bool | Exception = False
        self.add_error: Exception | None = None

    def getActiveNetwork(self) -> object | None:
        return self.network

    def isActiveNetworkMetered(self) -> bool:
        return self.metered

    def addDefaultNetworkActiveListener(self, listener: Any) -> None:
        if self.add_error is not None:
            raise self.add_error
        self.added.append(listener)
        self.listeners.append(listener)

    def removeDefaultNetworkActiveListener(self, listener: Any) -> None:
        self.removed.append(listener)
        if listener not in self.listeners:
            raise IllegalArgumentException("Listener was not registered.")
        self.listeners.remove(listener)

    def isDefaultNetworkActive(self) -> bool:
        if isinstance(self.active, Exception):
            raise self.active
        return self.active

    def report_network_active(self) -> None:
        """What the system does when the default network's radio wakes up."""
        for listener in list(self.listeners):
            listener.onNetworkActive()


class Context:
    """An Android ``Context``: the sticky ``ACTION_BATTERY_CHANGED`` and two system services."""

    def __init__(self) -> None:
        self.plugged = 0
        self.level = 50
        self.power = PowerManager()
        self.connectivity = ConnectivityManager()
        self.services: dict[str, Any] = {"power": self.power, "connectivity": self.connectivity}
        self.battery_reads = 0

    def registerReceiver(self, receiver: object, intent_filter: IntentFilter) -> Intent:
        assert receiver is None and intent_filter.action == BATTERY_CHANGED
        self.battery_reads += 1
        return Intent(BATTERY_CHANGED, plugged=self.plugged, level=self.level, scale=100)

    def getSystemService(self, name: str) -> Any:
        service = self.services[name]
        if isinstance(service, Exception):
            raise service
        return service


def autoclass(name: str) -> Any:
    if name == "android.content.IntentFilter":
        return IntentFilter
    raise LookupError(f"java.lang.ClassNotFoundException: {name}")


class Receiver:
    """p4a's ``android.broadcast.BroadcastReceiver(callback, actions=None, categories=None)``:
    ``start()`` registers it (and starts a HandlerThread, which cannot be started twice),
    ``stop()`` unregisters it (Android throws for a receiver that is not registered)."""

    def __init__(
        self,
        callback: Callable[[Any, Any], None],
        actions: list[str] | None = None,
        categories: list[str] | None = None,
        *,
        start_error: Exception | None = None,
        stop_error: Exception | None = None,
    ) -> None:
        if not actions and not categories:
            raise Exception("You need to define at least actions or categories")
        self.callback = callback
        self.actions = list(actions or [])
        self.categories = list(categories or [])
        self.registered = False
        self.starts = 0
        self.stops = 0
        self.start_error = start_error
        self.stop_error = stop_error

    def start(self) -> None:
        if self.starts:
            raise RuntimeError("java.lang.IllegalThreadStateException: HandlerThread already started")
        self.starts += 1
        if self.start_error is not None:
            raise self.start_error
        self.registered = True

    def stop(self) -> None:
        self.stops += 1
        if self.stop_error is not None:
            raise self.stop_error
        if not self.registered:
            raise IllegalArgumentException("Receiver not registered")
        self.registered = False

    def send(self, action: str) -> None:
        """Android delivering a broadcast: only to a registered receiver whose filter matches."""
        if self.registered and action in self.actions:
            self.callback(object(), Intent(action))


class Receivers:
    """The injected ``broadcast_receiver`` factory: records every receiver it makes."""

    def __init__(self, *, start_error: Exception | None = None, stop_error: Exception | None = None) -> None:
        self.made: list[Receiver] = []
        self.start_error = start_error
        self.stop_error = stop_error

    def __call__(
        self,
        callback: Callable[[Any, Any], None],
        actions: list[str] | None = None,
        categories: list[str] | None = None,
    ) -> Receiver:
        receiver = Receiver(
            callback, actions, categories, start_error=self.start_error, stop_error=self.stop_error
        )
        self.made.append(receiver)
        return receiver

    @property
    def last(self) -> Receiver:
        return self.made[-1]


class NetworkActiveListener:
    """A ``ConnectivityManager.OnNetworkActiveListener``."""

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback

    def onNetworkActive(self) -> None:
        self.callback()


class Listeners:
    """The injected ``network_active_listener`` factory: records every listener it makes."""

    def __init__(self) -> None:
        self.made: list[NetworkActiveListener] = []

    def __call__(self, callback: Callable[[], None]) -> NetworkActiveListener:
        listener = NetworkActiveListener(callback)
        self.made.append(listener)
        return listener


class Device:
    """A probe wired to fakes of everything Java, and the fakes to poke at."""

    def __init__(self, *, receivers: Receivers | None = None, context: Context | None = None) -> None:
        self.context = context if context is not None else Context()
        self.receivers = receivers if receivers is not None else Receivers()
        self.listeners = Listeners()
        self.probe = AndroidPower(
            autoclass,
            context=self.context,
            broadcast_receiver=self.receivers,
            network_active_listener=self.listeners,
            ttl=LONG_TTL,
        )

    @property
    def connectivity(self) -> ConnectivityManager:
        return self.context.connectivity


def now() -> float:
    return time.monotonic()  # the clock CachingProbe.changed() reads with


def no_module(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Make ``import name`` fail, as it does off Android (None in sys.modules: ImportError)."""
    monkeypatch.setitem(cast("dict[str, Any]", sys.modules), name, None)


# --------------------------------------------------------------------------- starting and stopping


def test_first_subscriber_starts_the_receiver_with_exactly_the_power_and_network_actions() -> None:
    """Nothing is registered until someone subscribes; then one receiver, started, for the six
    actions, spelled out in full (p4a would look a bare name up as ``Intent.ACTION_*``)."""
    device = Device()
    assert device.receivers.made == [] and device.probe.push is None
    device.probe.subscribe(lambda state: None)
    assert len(device.receivers.made) == 1
    receiver = device.receivers.last
    assert sorted(receiver.actions) == sorted(ALL_ACTIONS) and len(receiver.actions) == 6
    assert receiver.categories == []
    assert receiver.registered and receiver.starts == 1
    assert device.probe.push == "broadcasts+radio"
    assert device.connectivity.listeners == device.listeners.made and len(device.listeners.made) == 1


def test_more_subscribers_share_the_receiver() -> None:
    device = Device()
    device.probe.subscribe(lambda state: None)
    device.probe.subscribe(lambda state: None)
    device.probe.subscribe_radio(lambda: None)
    assert len(device.receivers.made) == 1 and len(device.connectivity.added) == 1


def test_last_unsubscribe_stops_the_receiver_and_removes_the_listener() -> None:
    device = Device()
    first = device.probe.subscribe(lambda state: None)
    radio = device.probe.subscribe_radio(lambda: None)
    receiver = device.receivers.last
    first()
    assert receiver.registered and receiver.stops == 0 and device.connectivity.removed == []
    radio()
    assert not receiver.registered and receiver.stops == 1
    assert device.connectivity.listeners == [] and device.connectivity.removed == device.listeners.made
    assert device.probe.push is None


def test_subscribing_again_makes_a_new_receiver_and_re_adds_the_same_listener() -> None:
    """p4a's receiver cannot be started twice (its HandlerThread has quit): a fresh one each time;
    the one listener object is kept for the probe's life (pyjnius needs it alive)."""
    device = Device()
    device.probe.subscribe(lambda state: None)()
    device.probe.subscribe(lambda state: None)
    assert len(device.receivers.made) == 2
    assert device.receivers.made[0].starts == 1 and not device.receivers.made[0].registered
    assert device.receivers.last.registered and device.probe.push == "broadcasts+radio"
    assert len(device.listeners.made) == 1
    assert device.connectivity.listeners == device.listeners.made
    assert device.connectivity.added == device.listeners.made * 2


# --------------------------------------------------------------------------- broadcasts


@pytest.mark.parametrize("action", ALL_ACTIONS)
def test_each_broadcast_reads_afresh_and_tells_subscribers(action: str) -> None:
    """The cached reading says unplugged; the phone is plugged in; the broadcast makes the probe
    read again (despite the long TTL) and every subscriber hears the new state."""
    device = Device()
    assert device.probe.read(now()).on_mains is False
    heard: list[PowerState] = []
    also: list[PowerState] = []
    device.probe.subscribe(heard.append)
    device.probe.subscribe(also.append)
    device.context.plugged = 1  # BatteryManager.BATTERY_PLUGGED_AC
    assert device.probe.read(now()).on_mains is False  # still the cached reading
    reads = device.context.battery_reads

    device.receivers.last.send(action)

    assert device.context.battery_reads == reads + 1
    assert [state.on_mains for state in heard] == [True] and also == heard
    assert device.probe.read(now()) == heard[0]  # and that reading is the one cached now


def test_power_save_and_connectivity_broadcasts_carry_their_changes() -> None:
    device = Device()
    heard: list[PowerState] = []
    device.probe.subscribe(heard.append)
    device.context.power.saver = True
    device.receivers.last.send(POWER_SAVE_MODE_CHANGED)
    device.context.connectivity.network = object()
    device.context.connectivity.metered = True
    device.receivers.last.send(CONNECTIVITY_ACTION)
    assert [(state.power_save, state.online, state.metered) for state in heard] == [
        (True, False, False),
        (True, True, True),
    ]


# --------------------------------------------------------------------------- ride-along


def test_network_active_reaches_radio_subscribers_only() -> None:
    """``onNetworkActive()`` (the radio woke for other traffic) calls every ``subscribe_radio``
    callback, and is no power change: state subscribers hear nothing, nothing is read."""
    device = Device()
    woken: list[str] = []
    heard: list[PowerState] = []
    device.probe.subscribe_radio(lambda: woken.append("a"))
    device.probe.subscribe_radio(lambda: woken.append("b"))
    device.probe.subscribe(heard.append)
    reads = device.context.battery_reads
    device.connectivity.report_network_active()
    assert woken == ["a", "b"] and heard == [] and device.context.battery_reads == reads


def test_a_radio_subscriber_alone_starts_the_listeners() -> None:
    device = Device()
    woken: list[int] = []
    unsubscribe = device.probe.subscribe_radio(lambda: woken.append(1))
    assert device.probe.push == "broadcasts+radio" and device.receivers.last.registered
    device.connectivity.report_network_active()
    assert woken == [1]
    unsubscribe()
    assert device.connectivity.listeners == [] and not device.receivers.last.registered


@pytest.mark.parametrize(("active", "expected"), [(True, True), (False, False)])
def test_radio_is_active_asks_is_default_network_active(active: bool, expected: bool) -> None:
    device = Device()
    device.connectivity.active = active
    assert device.probe.radio_is_active() is expected


def test_radio_is_active_is_false_when_android_cannot_say() -> None:
    device = Device()
    device.connectivity.active = RuntimeError("java.lang.SecurityException")
    assert device.probe.radio_is_active() is False
    device.connectivity.active = True
    device.context.services["connectivity"] = PermissionError("ACCESS_NETWORK_STATE")
    assert device.probe.radio_is_active() is False
    # No Context anywhere (not on Android): False, not an exception.
    assert AndroidPower(autoclass, broadcast_receiver=Receivers()).radio_is_active() is False


# --------------------------------------------------------------------------- failures: polling


@pytest.mark.parametrize(
    "receivers",
    [
        Receivers(start_error=RuntimeError("java.lang.SecurityException: registerReceiver")),
        Receivers(start_error=IllegalArgumentException("bad filter")),
    ],
)
def test_a_receiver_that_cannot_register_means_no_push(receivers: Receivers) -> None:
    """Broadcasts are the push: without them there is none (None: the scheduler polls), and the
    ride-along listener is not added either; the app never sees the exception."""
    device = Device(receivers=receivers)
    heard: list[PowerState] = []
    unsubscribe = device.probe.subscribe(heard.append)
    assert device.probe.push is None
    assert device.connectivity.added == []
    unsubscribe()  # nothing to stop, nothing raised
    assert device.connectivity.removed == []
    assert device.probe.read(now()).source == "android"  # reading still works


def test_a_factory_that_raises_means_no_push() -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ImportError("No module named 'android.config'")

    context = Context()
    probe = AndroidPower(
        autoclass, context=context, broadcast_receiver=broken, network_active_listener=Listeners()
    )
    probe.subscribe(lambda state: None)()
    assert probe.push is None and context.connectivity.added == []


def test_without_p4a_there_is_no_push(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default receiver is p4a's ``android.broadcast``; off p4a (Chaquopy, a desktop) the
    import fails and the probe polls."""
    no_module(monkeypatch, "android")
    no_module(monkeypatch, "android.broadcast")
    context = Context()
    probe = AndroidPower(autoclass, context=context, network_active_listener=Listeners())
    probe.subscribe(lambda state: None)
    assert probe.push is None and context.connectivity.added == []


def test_the_default_receiver_is_p4a_broadcast_receiver(monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by importing ``android.broadcast`` when the first subscriber comes; here pyjnius is
    missing, so there is no ride-along listener: ``"broadcasts"`` alone."""
    receivers = Receivers()
    android = ModuleType("android")
    broadcast = ModuleType("android.broadcast")
    broadcast.BroadcastReceiver = receivers  # type: ignore[attr-defined]
    android.broadcast = broadcast  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "android", android)
    monkeypatch.setitem(sys.modules, "android.broadcast", broadcast)
    no_module(monkeypatch, "jnius")
    monkeypatch.setattr(edgetrack.power.android, "_listener_class", None)
    context = Context()
    probe = AndroidPower(autoclass, context=context)
    heard: list[PowerState] = []
    probe.subscribe(heard.append)
    assert probe.push == "broadcasts" and receivers.last.registered
    context.plugged = 2  # USB
    receivers.last.send(POWER_CONNECTED)
    assert [state.on_mains for state in heard] == [True]


@pytest.fixture
def fake_jnius(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """A stand-in for pyjnius: ``PythonJavaClass`` records its instances, ``java_method``
    tags the method with its JNI signature as the real decorator does."""
    created: list[object] = []

    class PythonJavaClass:
        __javainterfaces__: list[str] = []

        def __init__(self, *args: Any) -> None:
            created.append(self)

    def java_method(signature: str, name: str | None = None) -> Callable[[Any], Any]:
        def tag(f: Any) -> Any:
            f.__javasignature__ = signature
            f.__javaname__ = name
            return f

        return tag

    jnius = ModuleType("jnius")
    jnius.PythonJavaClass = PythonJavaClass  # type: ignore[attr-defined]
    jnius.java_method = java_method  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "jnius", jnius)
    monkeypatch.setattr(edgetrack.power.android, "_listener_class", None)
    yield created


def test_the_default_listener_is_a_pyjnius_on_network_active_listener(fake_jnius: list[object]) -> None:
    """A ``PythonJavaClass`` implementing ``ConnectivityManager$OnNetworkActiveListener`` with
    ``onNetworkActive()V``, initialised as pyjnius requires, and calling the radio subscribers."""
    context = Context()
    probe = AndroidPower(autoclass, context=context, broadcast_receiver=Receivers())
    woken: list[int] = []
    probe.subscribe_radio(lambda: woken.append(1))
    assert probe.push == "broadcasts+radio"
    [listener] = context.connectivity.listeners
    assert fake_jnius == [listener]  # PythonJavaClass.__init__ ran (it makes the Java proxy)
    assert listener.__javainterfaces__ == [ON_NETWORK_ACTIVE]
    assert listener.onNetworkActive.__javasignature__ == "()V"
    context.connectivity.report_network_active()
    assert woken == [1]


def test_a_listener_that_cannot_be_added_leaves_the_broadcasts() -> None:
    """``addDefaultNetworkActiveListener`` failing (API < 21, a vendor's SecurityException) costs
    only the ride-along; nothing is removed at stop."""
    device = Device()
    device.connectivity.add_error = RuntimeError("java.lang.SecurityException")
    heard: list[PowerState] = []
    unsubscribe = device.probe.subscribe(heard.append)
    assert device.probe.push == "broadcasts"
    device.receivers.last.send(BATTERY_LOW)
    assert len(heard) == 1
    unsubscribe()
    assert not device.receivers.last.registered and device.connectivity.removed == []


def test_no_context_for_the_listener_leaves_the_broadcasts() -> None:
    """p4a's receiver finds its own Context; the listener needs ours, and there is none."""
    receivers = Receivers()
    probe = AndroidPower(autoclass, broadcast_receiver=receivers, network_active_listener=Listeners())
    probe.subscribe(lambda state: None)
    assert probe.push == "broadcasts" and receivers.last.registered


def test_a_stop_that_fails_is_not_raised_and_the_listener_is_still_removed() -> None:
    device = Device(receivers=Receivers(stop_error=RuntimeError("java.lang.IllegalArgumentException")))
    device.probe.subscribe(lambda state: None)()
    assert device.receivers.last.stops == 1
    assert device.connectivity.listeners == [] and device.probe.push is None


def test_a_forked_child_forgets_the_parents_listeners_without_touching_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In a forked child the parent's receiver and listener are not stopped or removed (they live
    in the parent's JVM); the child's first subscriber starts listeners of its own."""
    device = Device()
    device.probe.subscribe(lambda state: None)
    parent_receiver = device.receivers.last
    child_pid = os.getpid() + 1
    monkeypatch.setattr(os, "getpid", lambda: child_pid)  # what CachingProbe checks
    assert device.probe.push is None  # the parent's push is not the child's
    device.probe.subscribe(lambda state: None)
    assert parent_receiver.stops == 0 and device.connectivity.removed == []
    assert len(device.receivers.made) == 2 and device.receivers.last.registered
    assert device.probe.push == "broadcasts+radio"
    assert len(device.listeners.made) == 2  # a listener of the child's own
