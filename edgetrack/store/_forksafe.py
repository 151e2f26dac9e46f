"""SQLite across ``fork()``: no thread of ours is inside SQLite when the process forks, and a
child closes the connections it inherited before it opens its own.

A forked child gets a copy of the parent's memory but only the forking thread. If another
thread was inside SQLite at that moment (holding SQLite's global mutex in ``connect``, or a
write lock in the middle of a transaction), the child inherits a mutex nobody will release
and lock bookkeeping that says "this process holds the lock": its first ``connect`` or
``BEGIN IMMEDIATE`` hangs for good, or fails with "database is locked". And connections
inherited across a fork share SQLite's per-process lock records with the child's new ones,
so the child's read locks would not be real locks (the parent could then checkpoint and
delete a WAL file the child still writes to).

The same holds for Python's own per-module import locks: a child forked while a background
thread was importing a module (edgetrack's threads import ``sqlite3`` code and ``requests`` off
the app's path) deadlocks on its first import of that module. So the fork also waits for
imports in progress to finish.

So every use of SQLite by edgetrack enters a *gate* (shared: threads go in together). The
``before`` hook registered with ``os.register_at_fork`` closes the gate and waits until no
thread is inside (bounded); ``after_in_parent`` opens it again; ``after_in_child`` makes a
fresh gate and closes every connection the child inherited (which, with nothing inside
SQLite, releases only the child's copies of the records). SQLite's own advice is the same:
do not carry an open connection across a fork.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

__all__ = ["Closable", "after_in_child", "after_in_parent", "before_fork", "exclusive", "inside", "register"]

log = logging.getLogger("edgetrack.store")

#: How long a fork waits for a thread to leave SQLite (a transaction waiting on another
#: process's lock can take its busy timeout, 5 s by default).
FORK_WAIT = 15.0


class Closable(Protocol):
    def abandon(self) -> None: ...


class _Gate:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.active = 0
        self.forking = False
        self.mine = threading.local()
        self.clean = True  # False in a child forked while a thread was still inside SQLite


_gate = _Gate()
_open: weakref.WeakSet[Closable] = weakref.WeakSet()


@contextmanager
def inside() -> Iterator[None]:
    """Hold while using SQLite: a fork waits until every thread is out."""
    gate = _gate
    depth = getattr(gate.mine, "depth", 0)
    if depth:  # already inside (a store method calling another): no second count
        gate.mine.depth = depth + 1
        try:
            yield
        finally:
            gate.mine.depth = depth
        return
    with gate.lock:
        while gate.forking:
            gate.changed.wait()
        gate.active += 1
    gate.mine.depth = 1
    try:
        yield
    finally:
        gate.mine.depth = 0
        with gate.lock:
            gate.active -= 1
            if gate.active == 0:
                gate.changed.notify_all()


@contextmanager
def exclusive() -> Iterator[list[Closable]]:
    """No other thread inside SQLite while this is held (as for a fork); yields the open
    connections, so a caller can close every one of them safely."""
    _close_gate()
    try:
        yield list(_open)
    finally:
        after_in_parent()


def register(store: Closable) -> None:
    """Remember an open connection, so a forked child can close its copy."""
    _open.add(store)


def _settle_imports() -> None:
    """Wait for every import another thread has in progress (``import_module`` takes the
    module's lock, which that thread holds until the module is ready)."""
    for name, module in list(sys.modules.items()):
        spec = getattr(module, "__spec__", None)
        if spec is not None and getattr(spec, "_initializing", False):
            try:
                importlib.import_module(name)
            except Exception:  # its own thread will see the error; the fork goes on
                pass


def before_fork() -> None:
    _settle_imports()
    _close_gate()
    _settle_imports()  # one more time: an import may have begun while we waited
    # The gate's lock stays held across the fork: no thread enters or leaves SQLite meanwhile.


def _close_gate() -> None:
    gate = _gate
    gate.lock.acquire()
    gate.forking = True
    own = 1 if getattr(gate.mine, "depth", 0) else 0  # the forking thread itself may be inside
    deadline = time.monotonic() + FORK_WAIT
    while gate.active > own:
        left = deadline - time.monotonic()
        if left <= 0:
            gate.clean = False
            break
        gate.changed.wait(left)


def after_in_parent() -> None:
    gate = _gate
    gate.forking = False
    gate.clean = True
    gate.changed.notify_all()
    gate.lock.release()


def after_in_child() -> None:
    global _gate
    clean = _gate.clean
    _gate = _Gate()
    inherited = list(_open)
    _open.clear()
    if not clean:  # a thread was inside SQLite: closing its connection could hang on its mutex
        log.warning("edgetrack: forked while a queue transaction was running; its connection is left open")
        return
    for store in inherited:
        try:
            store.abandon()
        except Exception:  # never let a child's start fail over the parent's connection
            log.debug("edgetrack: closing an inherited queue connection failed", exc_info=True)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=before_fork, after_in_parent=after_in_parent, after_in_child=after_in_child)
