"""The default network path on iOS, through ctypes: Network.framework's path monitor, else
SystemConfiguration reachability (``ios.start_path_monitor`` loads this module when a probe
starts listening, so no app imports ctypes for it at start-up)."""

from __future__ import annotations

import ctypes
import importlib
import logging
import threading
from typing import Any

from edgetrack.power.ios import PathHandler, PathMonitor, nw_path_state, reachability_path_state

__all__ = ["start"]

_log = logging.getLogger("edgetrack.power.ios")

# None of this can run off Apple platforms. It is kept small and defensive: each monitor is
# built in its constructor, which raises (caught by ``start``) if anything is
# missing, and its callbacks catch everything. Handlers run on one private serial dispatch
# queue, created once and never released. Callback objects (rubicon Blocks, ctypes function
# pointers) are never freed while the framework might still call them: a Block is kept alive by
# rubicon from the framework's copy of it until the framework disposes of that copy, and a
# reachability callback is parked in ``_RETIRED`` when its monitor is cancelled.

_queue: int | None = None
_queue_lock = threading.Lock()
_RETIRED: list[Any] = []


def _runtime() -> Any:
    return importlib.import_module("rubicon.objc.runtime")


def _path_queue() -> int:
    """A serial dispatch queue for path callbacks (``dispatch_queue_create`` in libSystem)."""
    global _queue
    with _queue_lock:
        if _queue is None:
            # rubicon's libc (/usr/lib/libc.dylib) is libSystem, which re-exports libdispatch;
            # failing that, the symbols the process already has.
            try:
                library: Any = _runtime().libc
                library.dispatch_queue_create  # noqa: B018 - AttributeError where missing
            except AttributeError:
                library = ctypes.CDLL(None)
            create = _signature(
                library, "dispatch_queue_create", ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p
            )
            queue = create(b"edgetrack.power.path", None)  # NULL attributes: serial
            if not queue:
                raise OSError("dispatch_queue_create returned NULL")
            _queue = int(queue)
        return _queue


def _signature(library: Any, name: str, restype: Any, *argtypes: Any) -> Any:
    function = getattr(library, name)  # AttributeError where the symbol is missing
    function.restype = restype
    function.argtypes = list(argtypes)
    return function


class _NwPathMonitor:
    """Network.framework's path monitor (iOS 12+; ``nw_path_is_constrained`` iOS 13+)."""

    name = "nw_path_monitor"

    def __init__(self, on_path: PathHandler) -> None:
        objc = importlib.import_module("rubicon.objc")
        nw = _runtime().load_library("Network")  # /System/Library/Frameworks/Network.framework
        vp = ctypes.c_void_p
        create = _signature(nw, "nw_path_monitor_create", vp)
        set_handler = _signature(nw, "nw_path_monitor_set_update_handler", None, vp, vp)
        set_queue = _signature(nw, "nw_path_monitor_set_queue", None, vp, vp)
        start = _signature(nw, "nw_path_monitor_start", None, vp)
        self._cancel = _signature(nw, "nw_path_monitor_cancel", None, vp)
        try:
            self._release: Any = _signature(nw, "nw_release", None, vp)
        except AttributeError:
            self._release = None  # then the cancelled monitor is leaked, not released
        status = _signature(nw, "nw_path_get_status", ctypes.c_int, vp)
        expensive = _signature(nw, "nw_path_is_expensive", ctypes.c_bool, vp)
        try:
            constrained: Any = _signature(nw, "nw_path_is_constrained", ctypes.c_bool, vp)
        except AttributeError:
            constrained = None

        def update(path: int | None) -> None:  # the nw_path_t is valid only during this call
            try:
                if not path:
                    return
                limited = constrained is not None and bool(constrained(path))
                on_path(*nw_path_state(int(status(path)), bool(expensive(path)), limited))
            except Exception:
                _log.debug("ios power probe: reading an nw_path failed", exc_info=True)

        queue = _path_queue()
        # void (^nw_path_monitor_update_handler_t)(nw_path_t path); the monitor copies it.
        self._block = objc.Block(update, None, vp)
        monitor = create()  # returned retained
        if not monitor:
            raise OSError("nw_path_monitor_create returned NULL")
        try:
            set_handler(monitor, self._block._as_parameter_)
            set_queue(monitor, queue)
            start(monitor)
        except BaseException:
            if self._release is not None:
                self._release(monitor)
            raise
        self._monitor: int | None = int(monitor)

    def cancel(self) -> None:
        monitor, self._monitor = self._monitor, None
        if monitor is None:
            return
        try:
            self._cancel(monitor)  # asynchronous: the monitor holds itself until it is done
            if self._release is not None:
                self._release(monitor)  # our reference from nw_path_monitor_create
        except Exception:
            _log.debug("ios power probe: nw_path_monitor_cancel failed", exc_info=True)


class _ReachabilityContext(ctypes.Structure):
    _fields_ = [  # SCNetworkReachabilityContext, all zero: no info, no retain/release
        ("version", ctypes.c_long),
        ("info", ctypes.c_void_p),
        ("retain", ctypes.c_void_p),
        ("release", ctypes.c_void_p),
        ("copyDescription", ctypes.c_void_p),
    ]


# void (*SCNetworkReachabilityCallBack)(SCNetworkReachabilityRef, SCNetworkReachabilityFlags, void *)
_REACHABILITY_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p)


class _Reachability:
    """SystemConfiguration reachability of 0.0.0.0 (any route out): the fallback, with a plain C
    callback rather than a block."""

    name = "reachability"

    def __init__(self, on_path: PathHandler) -> None:
        runtime = _runtime()
        sc = runtime.load_library("SystemConfiguration")
        cf = runtime.load_library("CoreFoundation")
        vp = ctypes.c_void_p
        create = _signature(sc, "SCNetworkReachabilityCreateWithAddress", vp, vp, vp)
        self._set_callback = _signature(
            sc, "SCNetworkReachabilitySetCallback", ctypes.c_bool, vp, _REACHABILITY_CALLBACK, vp
        )
        self._set_queue = _signature(sc, "SCNetworkReachabilitySetDispatchQueue", ctypes.c_bool, vp, vp)
        get_flags = _signature(sc, "SCNetworkReachabilityGetFlags", ctypes.c_bool, vp, vp)
        self._release = _signature(cf, "CFRelease", None, vp)

        def report(flags: int) -> None:
            try:
                on_path(*reachability_path_state(int(flags)))
            except Exception:
                _log.debug("ios power probe: a reachability callback failed", exc_info=True)

        queue = _path_queue()
        self._callback = _REACHABILITY_CALLBACK(lambda _target, flags, _info: report(flags))
        self._context = _ReachabilityContext()
        address = (ctypes.c_ubyte * 16)(16, 2)  # struct sockaddr_in: sin_len 16, AF_INET, 0.0.0.0
        target = create(None, ctypes.byref(address))  # returned retained
        if not target:
            raise OSError("SCNetworkReachabilityCreateWithAddress returned NULL")
        try:
            if not self._set_callback(target, self._callback, ctypes.byref(self._context)):
                raise OSError("SCNetworkReachabilitySetCallback failed")
            if not self._set_queue(target, queue):
                raise OSError("SCNetworkReachabilitySetDispatchQueue failed")
        except BaseException:
            self._release(target)
            raise
        self._target: int | None = int(target)
        flags = ctypes.c_uint32(0)
        if get_flags(target, ctypes.byref(flags)):  # the state now; the callback tells of changes
            report(flags.value)

    def cancel(self) -> None:
        target, self._target = self._target, None
        if target is None:
            return
        _RETIRED.append(self._callback)  # a call already queued may still come: keep it callable
        try:
            self._set_queue(target, None)
            self._set_callback(target, None, None)
            self._release(target)
        except Exception:
            _log.debug("ios power probe: stopping reachability failed", exc_info=True)


def start(on_path: PathHandler) -> PathMonitor | None:
    """Start watching the default network path, calling ``on_path(online, metered)`` from a
    private dispatch queue: Network.framework's path monitor, else SystemConfiguration
    reachability, else None (no path push here). Never raises."""
    for kind in (_NwPathMonitor, _Reachability):
        try:
            return kind(on_path)
        except Exception:
            _log.debug("ios power probe: %s unavailable", kind.name, exc_info=True)
    return None
