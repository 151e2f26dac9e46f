"""IosPower's push and main-thread rules, with fakes of the Objective-C side.

The fakes stand for what rubicon-objc gives: ``NSNotificationCenter`` (observers with a queue
and a block), ``NSOperationQueue.mainQueue`` (operations recorded and run when a test "runs the
main loop", on the test's own thread, which is Python's main thread), ``NSThread.isMainThread``
(true on Python's main thread), ``UIDevice`` (recording on which thread each access was made),
``NSProcessInfo``, the block factory and the path-monitor factory. The scheduler's thread is a
real thread.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest

from edgetrack.power import IosPower, PowerState
from edgetrack.power.ios import (
    BATTERY_LEVEL_CHANGED,
    BATTERY_STATE_CHANGED,
    POWER_STATE_CHANGED,
    PathHandler,
    nw_path_state,
    reachability_path_state,
    start_path_monitor,
)

T0 = 1_700_000_000.0
_R = TypeVar("_R")


def on_main() -> bool:
    return threading.current_thread() is threading.main_thread()


def off_main(function: Callable[[], _R]) -> _R:
    """``function()`` on another thread (a scheduler's), its result or exception brought back."""
    results: list[_R] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(function())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)  # a guard against a deadlock hanging the suite, not a timing assertion
    assert not thread.is_alive(), "the call did not return: deadlock?"
    if errors:
        raise errors[0]
    return results[0]


# --------------------------------------------------------------------------- fakes


class FakeBlock:
    """What the block factory makes: the function, called with the arguments a block gets."""

    def __init__(self, function: Callable[..., None], nargs: int) -> None:
        self.function = function
        self.nargs = nargs

    def __call__(self, *args: Any) -> None:
        assert len(args) == self.nargs, "a block called with the wrong number of arguments"
        self.function(*args)


class MainQueue:
    """``NSOperationQueue.mainQueue``: operations wait until the test runs the main loop."""

    def __init__(self) -> None:
        self.operations: list[FakeBlock] = []

    def addOperationWithBlock_(self, block: FakeBlock) -> None:
        assert block.nargs == 0
        self.operations.append(block)

    def run(self) -> int:
        """Run what is queued (and what that queues), on the main thread; how many ran."""
        assert on_main()
        ran = 0
        while self.operations:
            self.operations.pop(0)()
            ran += 1
        return ran


class Observer:
    def __init__(self, name: str, obj: Any, queue: Any, block: FakeBlock) -> None:
        self.name, self.obj, self.queue, self.block = name, obj, queue, block


class Center:
    """``NSNotificationCenter.defaultCenter``: block observers delivered through their queue."""

    def __init__(self) -> None:
        self.observers: list[Observer] = []
        self.removed: list[Observer] = []
        self.fail: set[str] = set()  # names whose registration raises

    def addObserverForName_object_queue_usingBlock_(
        self, name: str, obj: Any, queue: Any, block: FakeBlock
    ) -> Observer:
        if name in self.fail:
            raise RuntimeError(f"cannot observe {name}")
        observer = Observer(name, obj, queue, block)
        self.observers.append(observer)
        return observer

    def removeObserver_(self, observer: Observer) -> None:
        self.observers.remove(observer)
        self.removed.append(observer)

    def post(self, name: str) -> None:
        """Post ``name`` from some thread: each observer's block goes to its queue."""
        note = object()
        for observer in list(self.observers):
            if observer.name == name:
                block = observer.block
                observer.queue.addOperationWithBlock_(FakeBlock(lambda b=block: b(note), 0))


class Device:
    """``UIDevice.currentDevice``; ``threads`` says, per access, whether it was on the main thread."""

    def __init__(self, state: int, level: float) -> None:
        self.state, self.level = state, level
        self.monitoring = False
        self.enable_calls = 0
        self.threads: list[bool] = []
        self.broken = False

    def _touch(self) -> None:
        self.threads.append(on_main())
        if self.broken:
            raise RuntimeError("UIKit said no")

    def setBatteryMonitoringEnabled_(self, value: bool) -> None:
        self._touch()
        self.monitoring = value
        self.enable_calls += 1

    @property
    def batteryState(self) -> int:
        self._touch()
        return self.state if self.monitoring else 0

    @property
    def batteryLevel(self) -> float:
        self._touch()
        return self.level if self.monitoring else -1.0


class ProcessInfo:
    def __init__(self) -> None:
        self.low_power = False

    def isLowPowerModeEnabled(self) -> bool:
        return self.low_power


class ThreadClass:
    """``NSThread``: the class property ``isMainThread``."""

    @property
    def isMainThread(self) -> bool:
        return on_main()


class Monitor:
    name = "nw_path_monitor"

    def __init__(self, on_path: PathHandler) -> None:
        self.on_path = on_path
        self.cancelled = 0

    def cancel(self) -> None:
        self.cancelled += 1


class Paths:
    """The path-monitor factory: records each monitor it starts."""

    def __init__(self) -> None:
        self.monitors: list[Monitor] = []
        self.broken = False

    def __call__(self, on_path: PathHandler) -> Monitor:
        if self.broken:
            raise OSError("no Network.framework here")
        monitor = Monitor(on_path)
        self.monitors.append(monitor)
        return monitor


class Ios:
    """One fake iOS: the classes ``objc_class`` hands out, by name."""

    def __init__(self, state: int = 2, level: float = 0.5) -> None:
        self.device = Device(state, level)
        self.process_info = ProcessInfo()
        self.queue = MainQueue()
        self.center = Center()
        self.paths = Paths()
        self.missing: set[str] = set()
        self.blocks: list[FakeBlock] = []
        self.classes: dict[str, Any] = {
            "UIDevice": SimpleNamespace(currentDevice=self.device),
            "NSProcessInfo": SimpleNamespace(processInfo=self.process_info),
            "NSThread": ThreadClass(),
            "NSOperationQueue": SimpleNamespace(mainQueue=self.queue),
            "NSNotificationCenter": SimpleNamespace(defaultCenter=self.center),
        }

    def objc_class(self, name: str) -> Any:
        if name in self.missing:
            raise NameError(f"ObjCClass: {name} not found")
        return self.classes[name]

    def block(self, function: Callable[..., None], nargs: int) -> FakeBlock:
        made = FakeBlock(function, nargs)
        self.blocks.append(made)
        return made

    def probe(self, ttl: float = 0) -> IosPower:
        return IosPower(self.objc_class, block=self.block, path_monitor=self.paths, ttl=ttl)


def subscribe(probe: IosPower) -> tuple[list[PowerState], Callable[[], None]]:
    """Subscribe from a scheduler's thread; the states heard, and the unsubscribe function."""
    heard: list[PowerState] = []
    return heard, off_main(lambda: probe.subscribe(heard.append))


# --------------------------------------------------------------------------- subscribing


def test_subscribing_observes_three_notifications_on_the_main_queue_and_starts_a_path_monitor() -> None:
    ios = Ios()
    probe = ios.probe()
    assert probe.push is None
    _heard, _unsubscribe = subscribe(probe)
    assert [o.name for o in ios.center.observers] == [
        BATTERY_STATE_CHANGED,
        BATTERY_LEVEL_CHANGED,
        POWER_STATE_CHANGED,
    ]
    assert all(o.queue is ios.queue and o.obj is None and o.block.nargs == 1 for o in ios.center.observers)
    assert len(ios.paths.monitors) == 1
    assert probe.push == "notifications+nw_path_monitor"
    # Subscribing on the scheduler's thread left UIKit alone and queued a read on the main queue,
    # which switches battery monitoring on (without it UIKit posts no battery notifications).
    assert ios.device.threads == [] and not ios.device.monitoring
    assert ios.queue.run() == 1
    assert ios.device.monitoring and ios.device.enable_calls == 1
    assert ios.device.threads and all(ios.device.threads)


def test_the_observer_blocks_and_the_main_queue_read_are_kept_alive() -> None:
    """The probe keeps a strong reference to each block it hands to Objective-C."""
    ios = Ios()
    probe = ios.probe()
    subscribe(probe)
    kept = [block for _token, block in probe._observers]
    assert kept == [o.block for o in ios.center.observers]
    assert probe._read_block is ios.queue.operations[0]
    ios.queue.run()
    assert probe._read_block is None


# --------------------------------------------------------------------------- the main thread


def test_a_scheduler_thread_read_never_touches_uidevice() -> None:
    ios = Ios(state=1, level=0.42)
    ios.process_info.low_power = True
    probe = ios.probe()
    first = off_main(lambda: probe.read(T0))
    # Battery unknown until a main-thread read has run; NSProcessInfo is read on any thread.
    assert first == PowerState(on_mains=None, battery_level=None, power_save=True, source="ios")
    off_main(lambda: probe.read(T0 + 1))
    assert ios.device.threads == []
    assert len(ios.queue.operations) == 1, "one main-thread read waits, however often it is asked"

    ios.queue.run()
    assert ios.device.threads and all(ios.device.threads)
    touched = len(ios.device.threads)
    state = off_main(lambda: probe.read(T0 + 2))
    assert state.on_mains is False and state.battery_level == pytest.approx(0.42) and state.power_save
    assert len(ios.device.threads) == touched, "the scheduler's read used the main thread's reading"


def test_a_main_thread_read_asks_uidevice_directly() -> None:
    ios = Ios(state=3, level=1.0)
    state = ios.probe().read(T0)
    assert state.on_mains is True and state.battery_level == 1.0
    assert ios.device.threads and all(ios.device.threads) and not ios.queue.operations


def test_is_main_thread_as_a_method_works_too() -> None:
    """rubicon may hand out the class property as a bound getter: it is called."""
    ios = Ios()
    ios.classes["NSThread"] = SimpleNamespace(isMainThread=lambda: False)
    state = ios.probe().read(T0)  # on Python's main thread, but NSThread says otherwise
    assert state.battery_level is None and ios.device.threads == [] and len(ios.queue.operations) == 1


def test_without_nsthread_pythons_main_thread_is_the_main_thread() -> None:
    ios = Ios(state=1, level=0.3)
    ios.missing.add("NSThread")
    probe = ios.probe()
    assert off_main(lambda: probe.read(T0)).battery_level is None and ios.device.threads == []
    assert probe.read(T0 + 1).battery_level == pytest.approx(0.3)


def test_a_main_thread_read_that_finds_a_change_tells_subscribers() -> None:
    ios = Ios(state=2, level=0.5)
    probe = ios.probe(ttl=60)
    heard, _unsubscribe = subscribe(probe)
    assert off_main(lambda: probe.read(T0)).battery_level is None
    ios.queue.run()  # the first main-thread read: unknown -> charging at 50 %
    assert heard and heard[-1].on_mains is True and heard[-1].battery_level == pytest.approx(0.5)
    # ... and the cached unknown reading was dropped: the scheduler sees it at once.
    assert off_main(lambda: probe.read(T0 + 1)).battery_level == pytest.approx(0.5)


# --------------------------------------------------------------------------- notifications


def test_a_battery_notification_updates_the_state_subscribers_hear() -> None:
    ios = Ios(state=2, level=0.5)
    probe = ios.probe(ttl=60)
    heard, _unsubscribe = subscribe(probe)
    ios.queue.run()
    before = len(heard)

    ios.device.state, ios.device.level = 1, 0.15  # unplugged, low
    ios.center.post(BATTERY_STATE_CHANGED)
    assert len(heard) == before, "delivered on the main queue, not on the posting thread"
    ios.queue.run()
    assert heard[-1].on_mains is False and heard[-1].battery_level == pytest.approx(0.15)
    assert heard[-1].low_battery
    assert all(ios.device.threads), "UIDevice was only ever read on the main thread"

    ios.device.level = 0.14
    ios.center.post(BATTERY_LEVEL_CHANGED)
    ios.queue.run()
    assert heard[-1].battery_level == pytest.approx(0.14)
    touched = len(ios.device.threads)
    state = off_main(lambda: probe.read(T0))
    assert state.battery_level == pytest.approx(0.14) and state.on_mains is False
    assert len(ios.device.threads) == touched and not ios.queue.operations, (
        "battery notifications keep the reading fresh: no polling read is queued"
    )


def test_a_low_power_mode_notification_is_heard() -> None:
    ios = Ios()
    probe = ios.probe(ttl=60)
    heard, _unsubscribe = subscribe(probe)
    ios.queue.run()
    ios.process_info.low_power = True
    ios.center.post(POWER_STATE_CHANGED)
    ios.queue.run()
    assert heard[-1].power_save is True


def test_a_failing_notification_block_raises_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="edgetrack.power")
    ios = Ios()
    probe = ios.probe()
    heard, _unsubscribe = subscribe(probe)
    ios.queue.run()
    before = len(heard)
    ios.device.broken = True
    ios.center.post(BATTERY_LEVEL_CHANGED)
    ios.queue.run()  # must not raise into the main loop
    assert len(heard) == before and "UIKit said no" in caplog.text


# --------------------------------------------------------------------------- the network path


@pytest.mark.parametrize(
    ("status", "expensive", "constrained", "expected"),
    [
        (1, False, False, (True, False)),  # satisfied
        (2, False, False, (False, False)),  # unsatisfied
        (3, False, False, (True, False)),  # satisfiable: an attempt brings the network up
        (0, False, False, (None, False)),  # invalid
        (1, True, False, (True, True)),  # expensive (cellular, personal hotspot)
        (1, False, True, (True, True)),  # constrained (Low Data Mode)
    ],
    ids=["satisfied", "unsatisfied", "satisfiable", "invalid", "expensive", "constrained"],
)
def test_nw_path_state(
    status: int, expensive: bool, constrained: bool, expected: tuple[bool | None, bool]
) -> None:
    assert nw_path_state(status, expensive, constrained) == expected


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (0, (False, False)),
        (1 << 1, (True, False)),  # reachable
        ((1 << 1) | (1 << 18), (True, True)),  # reachable over WWAN
        ((1 << 1) | (1 << 2), (False, False)),  # a connection is required
        ((1 << 1) | (1 << 2) | (1 << 3), (True, False)),  # ... and comes on traffic
        ((1 << 1) | (1 << 2) | (1 << 5) | (1 << 4), (False, False)),  # ... but the user must act
    ],
)
def test_reachability_path_state(flags: int, expected: tuple[bool, bool]) -> None:
    assert reachability_path_state(flags) == expected


def test_path_updates_set_online_and_metered_and_tell_subscribers() -> None:
    ios = Ios()
    probe = ios.probe(ttl=60)
    heard, _unsubscribe = subscribe(probe)
    ios.queue.run()
    assert off_main(lambda: probe.read(T0)).online is None, "unknown until the monitor reports"
    [monitor] = ios.paths.monitors

    off_main(lambda: monitor.on_path(*nw_path_state(2, False, False)))  # from the monitor's queue
    assert heard[-1].online is False and heard[-1].metered is False
    assert off_main(lambda: probe.read(T0 + 1)).online is False

    off_main(lambda: monitor.on_path(*nw_path_state(1, True, False)))
    assert heard[-1].online is True and heard[-1].metered is True
    count = len(heard)
    off_main(lambda: monitor.on_path(True, True))  # a path change that changes nothing here
    assert len(heard) == count
    state = off_main(lambda: probe.read(T0 + 2))
    assert state.online is True and state.metered is True


# --------------------------------------------------------------------------- unsubscribing


def test_unsubscribing_removes_the_observers_and_cancels_the_monitor() -> None:
    ios = Ios()
    probe = ios.probe(ttl=60)
    heard, unsubscribe = subscribe(probe)
    ios.queue.run()
    tokens = list(ios.center.observers)
    [monitor] = ios.paths.monitors
    monitor.on_path(False, False)
    assert probe.read(T0).online is False

    off_main(unsubscribe)
    assert ios.center.observers == [] and ios.center.removed == tokens
    assert monitor.cancelled == 1 and probe.push is None
    assert probe.read(T0 + 1).online is None, "nothing tells of the path any more: unknown"
    count = len(heard)
    monitor.on_path(True, True)  # a cancelled monitor's last word is ignored
    assert len(heard) == count and probe.read(T0 + 2).online is None
    # The battery is polled again: a scheduler-thread read queues a main-thread one.
    off_main(lambda: probe.read(T0 + 120))  # past the TTL
    assert len(ios.queue.operations) == 1

    _heard, _again = subscribe(probe)  # a new subscriber starts everything afresh
    assert len(ios.center.observers) == 3 and len(ios.paths.monitors) == 2
    assert probe.push == "notifications+nw_path_monitor"


def test_a_forked_child_forgets_the_listener_without_touching_it() -> None:
    ios = Ios()
    probe = ios.probe()
    subscribe(probe)
    [monitor] = ios.paths.monitors
    probe.forget_listener()
    assert ios.center.removed == [] and monitor.cancelled == 0
    monitor.on_path(False, False)
    assert probe.read(T0).online is None


# --------------------------------------------------------------------------- failures


def test_without_notifications_the_path_monitor_still_pushes_and_the_battery_is_polled() -> None:
    ios = Ios()
    ios.center.fail = {BATTERY_STATE_CHANGED, BATTERY_LEVEL_CHANGED, POWER_STATE_CHANGED}
    probe = ios.probe()
    subscribe(probe)
    assert probe.push == "nw_path_monitor"
    off_main(lambda: probe.read(T0))
    assert len(ios.queue.operations) == 1 and ios.device.threads == []


def test_one_battery_notification_missing_keeps_the_battery_polled() -> None:
    ios = Ios(state=1, level=0.6)
    ios.center.fail = {BATTERY_LEVEL_CHANGED}
    probe = ios.probe()
    subscribe(probe)
    assert probe.push == "notifications+nw_path_monitor"
    ios.queue.run()
    off_main(lambda: probe.read(T0))
    assert len(ios.queue.operations) == 1, "level changes would be missed: read again on the main thread"


def test_without_a_path_monitor_the_notifications_still_push() -> None:
    ios = Ios()
    ios.paths.broken = True
    probe = ios.probe()
    subscribe(probe)
    assert probe.push == "notifications"
    assert off_main(lambda: probe.read(T0)).online is None


def test_nothing_available_means_polling_and_no_exception() -> None:
    ios = Ios()
    ios.missing = {"NSNotificationCenter", "NSOperationQueue"}
    ios.paths.broken = True
    probe = ios.probe()
    heard, unsubscribe = subscribe(probe)
    assert probe.push is None
    state = off_main(lambda: probe.read(T0))
    assert state == PowerState(on_mains=None, battery_level=None, source="ios")
    off_main(unsubscribe)
    assert heard == []


def test_a_block_factory_that_fails_means_polling_and_no_exception() -> None:
    ios = Ios()

    def no_blocks(function: Callable[..., None], nargs: int) -> Any:
        raise ValueError("Blocks must be callable")

    probe = IosPower(ios.objc_class, block=no_blocks, path_monitor=ios.paths, ttl=0)
    subscribe(probe)
    assert probe.push == "nw_path_monitor"
    assert off_main(lambda: probe.read(T0)).battery_level is None
    assert ios.center.observers == [] and ios.queue.operations == []


def test_an_observer_registration_returning_nil_does_not_count() -> None:
    ios = Ios()
    ios.classes["NSNotificationCenter"] = SimpleNamespace(
        defaultCenter=SimpleNamespace(addObserverForName_object_queue_usingBlock_=lambda *args: None)
    )
    ios.paths.broken = True
    probe = ios.probe()
    subscribe(probe)
    assert probe.push is None


def test_without_rubicon_subscribing_and_reading_raise_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rubicon", None)
    monkeypatch.setitem(sys.modules, "rubicon.objc", None)
    monkeypatch.setitem(sys.modules, "rubicon.objc.runtime", None)
    probe = IosPower()
    heard: list[PowerState] = []
    unsubscribe = probe.subscribe(heard.append)
    assert probe.push is None
    assert probe.read(T0) == PowerState.unknown("ios:error")
    unsubscribe()
    assert start_path_monitor(lambda online, metered: None) is None
