"""``flush()``'s rule: keep sending until every event pending at the call is delivered,
dead-lettered or dropped, or nothing more can be delivered now, or the time is up.

Like segment-analytics-python and posthog, which block through their retries, a flush waits
out a 429 pause and a retry backoff whenever the wait ends before its deadline. It gives up on
a lane at once when waiting cannot help: the device is offline, the lane is paused for a wrong
key or a wrong endpoint (a person has to fix those), or the wait ends after the deadline.
Without a deadline it also gives up on a lane after ``MAX_FAILED_PASSES`` failed attempts in a
row (segment-analytics-python's ``max_retries``), so ``flush()`` against a server that is down
returns, in minutes, rather than never.

It returns True only when every event pending at the call was delivered: one dead-lettered,
expired or dropped for room makes it False (an event a lane skips by design, such as an
identify on a destination without profiles, does not).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edgetrack.sending._scheduler import Scheduler
    from edgetrack.store._reading import LaneState
    from edgetrack.store._sqlite import SQLiteStore

__all__ = ["MAX_FAILED_PASSES", "Losses", "flush_lanes", "losses"]

#: Without a timeout, a lane whose attempts failed this many times in a row during one flush is
#: given up on (segment-analytics-python's default ``max_retries``).
MAX_FAILED_PASSES = 10
_STUCK = ("auth", "config")  # pauses only a person can end (a key, an endpoint)
_AGAIN = 0.05  # a lane left with work but nothing in its way (a throttle, a lease race)


@dataclass
class _Lane:
    scheduler: Scheduler
    failures_seen: int = 0
    failed_passes: int = 0
    done: bool = False
    stuck: bool = False


Losses = tuple[int, int]  # the newest dead letter's id, and the events dropped for room so far


def losses(store: SQLiteStore) -> Losses:
    """Where the dead letters and the drop counts stand now (a mark for ``flush_lanes``)."""
    return store.dead_letter_mark(), _dropped(store)


def flush_lanes(
    schedulers: Sequence[Scheduler],
    reading: Callable[[], AbstractContextManager[SQLiteStore | None]],
    deadline: float | None,
    stop: threading.Event,
    since: Losses | None = None,
) -> tuple[bool, Losses | None]:
    """Flush every lane as the module docstring says; returns the verdict and the new mark.

    ``reading()`` lends the read-only connection (None while there is no file), ``deadline`` is
    ``time.monotonic()`` time, ``stop`` ends a wait early (shutdown), and ``since`` is where the
    losses stood after the previous flush (or when the client opened the queue): an event
    dropped for room or dead-lettered since then means not everything tracked was delivered.
    """
    lanes = {s.name: _Lane(s) for s in schedulers}
    with reading() as store:
        if store is None:
            return False, since
        target = store.newest_id()
        mark, dropped = since if since is not None else losses(store)
        for state in store.lane_states(store.now(), names=list(lanes)):
            lanes[state.name].failures_seen = state.failures
    while not stop.is_set():
        _forced_pass([lane for lane in lanes.values() if not (lane.done or lane.stuck)], deadline)
        with reading() as store:
            if store is None:
                return False, since
            now = store.now()
            states = {state.name: state for state in store.lane_states(now, names=list(lanes))}
        waits = [
            wait
            for name, lane in lanes.items()
            if (wait := _next_chance(lane, states.get(name), target, now, deadline is None)) is not None
        ]
        if not waits or (deadline is not None and time.monotonic() + min(waits) > deadline):
            break  # done, stuck, or the next chance comes after the time given
        stop.wait(min(waits))
    with reading() as store:
        if store is None:
            return False, since
        clean = store.dead_letters_since(mark, upto=target) == 0 and _dropped(store) == dropped
        return clean and all(lane.done for lane in lanes.values()), losses(store)


def _forced_pass(lanes: list[_Lane], deadline: float | None) -> None:
    tickets = [(lane, lane.scheduler.request_flush()) for lane in lanes]  # every lane at once
    for lane, ticket in tickets:
        lane.scheduler.wait_flush(ticket, deadline)


def _next_chance(
    lane: _Lane, state: LaneState | None, target: int, now: float, unbounded: bool
) -> float | None:
    """Seconds until the lane can make progress again; None when it is done or cannot."""
    if lane.done or lane.stuck:
        return None
    if state is None or state.cursor >= target:
        lane.done = True
        return None
    if state.failures > lane.failures_seen:
        lane.failed_passes += state.failures - lane.failures_seen
    elif state.failures < lane.failures_seen:  # something was delivered: a new run of failures
        lane.failed_passes = 0
    lane.failures_seen = state.failures
    paused = state.paused_until is not None and state.paused_until > now
    if (
        lane.scheduler.offline
        or (paused and state.pause_reason in _STUCK)
        or (unbounded and lane.failed_passes >= MAX_FAILED_PASSES)
    ):
        lane.stuck = True
        return None
    if paused:
        return (state.paused_until or now) - now
    if state.next_attempt is not None and state.next_attempt > now:
        return state.next_attempt - now
    if state.lease_until is not None and state.lease_until > now:
        return min(state.lease_until - now, 1.0)  # another client is sending it: look again soon
    return _AGAIN


def _dropped(store: SQLiteStore) -> int:
    """Events dropped for room so far, over every lane."""
    return sum(
        n for counts in store.counters().values() for (name, _), n in counts.items() if name == "dropped"
    )
