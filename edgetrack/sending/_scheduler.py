"""One lane's delivery loop: decides when the lane uploads, and sleeps until then.

The thread waits on a condition with no timeout while nothing is pending (zero wake-ups);
with events pending it waits until the lane's deadline (flush interval, backoff, pause or
another process's lease). It is woken early only by a commit that makes the lane due,
``flush()`` and ``shutdown()``. ``run_once(force=...)`` is the whole loop body, so tests and
benchmarks can drive it in simulated time without the thread. Every time here is queue time
(``edgetrack.store._timeline``): monotonic, so a wall-clock jump moves no deadline.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable

from edgetrack._worker import Worker
from edgetrack.power import CachedProbe, NotifyingProbe, PowerProbe, PowerState, PushingProbe
from edgetrack.protocols import Clock, Destination, Sender
from edgetrack.retry import RetryPolicy
from edgetrack.sending._delivery import LaneDelivery
from edgetrack.sending._ratelimit import TokenBucket, throttle
from edgetrack.sending._settings import LaneSettings
from edgetrack.store._owners import LIVE_OWNERS, make_owner
from edgetrack.store._protocol import QueueStore
from edgetrack.store._reading import LaneState

__all__ = ["IDLE_FLOOR", "Scheduler"]

log = logging.getLogger(__name__)

MAX_SLEEP = 3600.0  # re-check at least hourly while events wait
IDLE_FLOOR = 1.0  # never spin: a deadline already past with no progress waits this long
# Offline with events pending: re-check the network after 30 s, doubling up to 15 minutes.
OFFLINE_PROBE_MIN, OFFLINE_PROBE_MAX = 30.0, 15 * 60.0


class Scheduler(Worker):
    """One lane: its thread (a ``Worker``), its queue connection and its HTTP sender.

    ``open_store`` opens a connection of the lane's own (the thread's, opened on its first
    pass); ``settings`` are what every lane of a client shares; ``power`` is the probe the
    policy reads (None: always mains).
    """

    def __init__(
        self,
        destination: Destination,
        open_store: Callable[[], QueueStore],
        settings: LaneSettings,
        *,
        clock: Clock,
        power: PowerProbe | None = None,
    ) -> None:
        self.destination = destination
        self.name = destination.name
        self.settings = settings
        self.policy = settings.policy
        self.retry = settings.retry or RetryPolicy()
        self.clock = clock
        self._open_store = open_store
        self._power = power
        self._power_state: PowerState | None = None
        self._offline_wait = OFFLINE_PROBE_MIN
        self._rng = settings.rng or random.Random()
        self._bucket: TokenBucket | None = None
        limit = destination.rate_limit
        if limit:  # a margin under the vendor's figures: our clock and theirs never agree exactly
            self._bucket = TokenBucket(limit[0] * 0.95, max(1, limit[1] - 1), time.monotonic())
        super().__init__("edgetrack-scheduler-" + self.name)

    def _reset(self) -> None:
        """A new owner id, lock and delivery; in a fork's child the parent's connection, session
        and thread are not ours either."""
        super()._reset()
        self._store: QueueStore | None = None
        self._sender: Sender | None = None
        self.owner = make_owner(uuid.uuid4().hex[:8])
        LIVE_OWNERS.add(self.owner)  # another client of this process must respect our leases
        self._flushed = threading.Condition(self._lock)
        self._unsubscribe: list[Callable[[], None]] = []  # the parent's are not the child's
        self._signalled = False
        self._deadline: float | None = None
        self._need = 1
        self._radio_awake = False
        self._new = 0
        self._flush_requested = 0
        self._flush_done = 0
        self._flush_ok = False
        self.wakeups = 0
        # A fleet starting together spreads its first uploads (flush() does not wait for this);
        # set on the first pass, in queue time.
        self._not_before: float | None = None
        settings = self.settings
        self._delivery = LaneDelivery(
            self.destination,
            self._get_sender,
            owner=self.owner,
            retry=self.retry,
            rng=self._rng,
            timeout=settings.timeouts.as_tuple(),
            throttle=throttle(self._bucket, lambda: self._stopping, self._nap),
            max_dead_letters=settings.max_dead_letters,
            on_error=settings.on_error,
        )

    # -- one pass --------------------------------------------------------------------------

    def run_once(self, *, force: bool = False) -> tuple[float | None, bool]:
        """Send the lane if it is due (if it has events at all, with ``force``).

        Returns the next (queue) time something will be due (None: nothing pending) and
        whether the lane ended with nothing pending.
        """
        store = self._get_store()
        self._power_state = self._read_power()
        radio_awake, self._radio_awake = self._radio_awake, False
        if not radio_awake and isinstance(self._power, PushingProbe) and self._power.push is not None:
            radio_awake = self._power.radio_is_active()  # Android: another app's traffic woke it
        if self._not_before is None:
            self._not_before = store.now() + self._rng.uniform(0, self.retry.startup_jitter)
        if not self._stopping:
            self._run_lane(store, force, radio_awake)
        now = store.now()
        state = store.lane_states(now, names=(self.name,))[0]
        deadline = self._lane_deadline(state, now) if state.pending else None
        threshold = self.policy.threshold(self._power_state)
        self._need = max(1, threshold - state.pending) if threshold else 1 << 62
        if deadline is not None and self.policy.mode(self._power_state) != "offline":
            self._offline_wait = OFFLINE_PROBE_MIN
        return deadline, state.pending == 0

    @property
    def offline(self) -> bool:
        """The power probe's last reading said the network is down."""
        return self.policy.mode(self._power_state) == "offline"

    def _read_power(self) -> PowerState | None:
        if self._power is None:
            return None
        try:
            state = self._power.read(self.clock.monotonic())
        except Exception:  # a broken probe must never stop delivery: unknown counts as mains
            log.debug("edgetrack: power probe failed", exc_info=True)
            return None
        on_power = self.settings.on_power
        if on_power is not None and state != self._power_state:
            try:
                on_power(state)
            except Exception:
                log.exception("edgetrack: the power change callback failed")
        return state

    def radio_awake(self) -> None:
        """The app says the radio is up (or an urgent event came): send everything pending now."""
        with self._lock:
            self._radio_awake = True
            self._signalled = True
            self._wake.notify()

    @property
    def wakes_in(self) -> float | None:
        """Seconds until the lane's thread wakes on its own (a deadline it set); None when it
        sleeps until told (nothing pending, or nothing it could do before being told)."""
        with self._lock:
            deadline = self._deadline
        store = self._store
        return None if deadline is None or store is None else deadline - store.now()

    @property
    def power_updates(self) -> str:
        """How this lane hears of power and network changes: the platform's push mechanism
        (``netlink``, ``broadcasts``, ...), ``told`` (a probe the app updates), ``polling``
        (the probe is read at each pass, and looked at again on timers while offline), or
        ``none`` (no probe)."""
        power = self._power
        if power is None:
            return "none"
        if isinstance(power, PushingProbe):
            return power.push or "polling"
        return "told" if isinstance(power, NotifyingProbe) else "polling"

    def _listen(self) -> None:
        """As the thread starts: hear of power changes and of the radio waking, from the
        probe (which starts its platform listener for its first subscriber)."""
        power = self._power
        try:
            if isinstance(power, NotifyingProbe):
                self._unsubscribe.append(power.subscribe(self._told))
            if isinstance(power, PushingProbe):
                self._unsubscribe.append(power.subscribe_radio(self._ride_along))
        except Exception:  # a probe that cannot listen is read at each pass, as before
            log.debug("edgetrack: the power probe cannot tell of changes; polling", exc_info=True)

    def _unlisten(self) -> None:
        unsubscribe, self._unsubscribe = self._unsubscribe, []
        for function in unsubscribe:
            try:
                function()
            except Exception:
                log.debug("edgetrack: unsubscribing from the power probe failed", exc_info=True)

    def _ride_along(self) -> None:
        """The platform says the radio woke for other traffic: pending events go with it (a
        lane with nothing pending is not even woken)."""
        with self._lock:
            if self._deadline is None:
                return
        self.radio_awake()

    def power_changed(self) -> None:
        """Power or network state changed: look again now (the probe's cache is dropped)."""
        if isinstance(self._power, CachedProbe):
            self._power.invalidate()
        self._told(None)

    def _told(self, _state: PowerState | None) -> None:
        """The probe says its state changed (it has just read it afresh): look again now."""
        with self._lock:
            self._signalled = True
            self._wake.notify()

    def _lane_deadline(self, state: LaneState, now: float) -> float:
        if state.lease_owner not in (None, self.owner) and state.lease_until:
            due = state.lease_until
        elif state.paused_until and state.paused_until > now:
            due = state.paused_until
        elif state.next_attempt and state.next_attempt > now:
            due = state.next_attempt
        else:
            oldest, power = state.oldest_created, self._power_state
            found = self.policy.due_at(pending=state.pending, oldest_created=oldest, now=now, power=power)
            if found is None and self.power_updates not in ("polling", "none"):
                found = now + MAX_SLEEP  # offline, and the platform will say when it is back
            elif found is None:  # offline: look at the network again, less often the longer it lasts
                found = now + self._offline_wait
                if power is not None and power.on_battery:  # on mains looking is free: stay at 30 s
                    self._offline_wait = min(self._offline_wait * 2, OFFLINE_PROBE_MAX)
            due = max(found, self._not_before or now)
        return min(due, now + MAX_SLEEP)

    def _run_lane(self, store: QueueStore, force: bool, radio_awake: bool = False) -> None:
        limits = self.destination.limits
        draining = force
        while not self._stopping:
            now = store.now()
            state = store.lane_states(now, names=(self.name,))[0]
            if state.pending == 0 or (state.paused_until and state.paused_until > now):
                return
            if not force and state.next_attempt and state.next_attempt > now:
                return
            if not draining:
                if not self._due(state, now, radio_awake):
                    return
                draining = True  # once awake, take every pending event along
            claim = store.claim(
                self.name,
                self.owner,
                now,
                lease=self.settings.lease,
                max_events=limits.max_events,
                max_bytes=limits.max_bytes,
                overhead=limits.per_event_overhead + 1,
            )
            if claim is None or not self._delivery.deliver(store, claim, state):
                return
            force = False  # a forced pass overrides backoff once, not after a new failure

    def _due(self, state: LaneState, now: float, radio_awake: bool) -> bool:
        due = self.policy.due_at(
            pending=state.pending,
            oldest_created=state.oldest_created,
            now=now,
            power=self._power_state,
            radio_awake=radio_awake,
        )
        not_before = self._not_before or now
        return due is not None and due <= now and (now >= not_before or radio_awake)

    def _nap(self, seconds: float) -> None:
        with self._lock:
            self._wake.wait(seconds)  # shutdown() cuts this short

    def _get_store(self) -> QueueStore:
        if self._store is not None and not self._store.still_there():
            self._drop_store()  # the file was deleted or moved aside: follow the new one
        if self._store is None:
            store = self._store = self._open_store()
            for reason in ("auth", "config"):  # a new client may carry the corrected key or URL: try once
                store.clear_pause(self.name, reason)
            retry = self.retry
            store.cap_waits(  # a wait persisted by an earlier run never outlasts its own maximum
                store.now(),
                pauses={
                    "rate_limited": retry.rate_limit_cap,
                    "auth": retry.auth_pause_cap,
                    "config": retry.auth_pause_cap,
                    "": retry.rate_limit_cap,
                },
                backoff=retry.backoff_cap,
                lease=self.settings.lease,
            )
        return self._store

    def _get_sender(self) -> Sender:
        if self._sender is None:
            self._sender = self.settings.make_sender()
        return self._sender

    # -- the thread ------------------------------------------------------------------------

    def notify_commit(self, count: int) -> None:
        """Called by the writer after a commit: wake only if that can make something due."""
        with self._lock:
            self._new += count
            if self._deadline is None or self._new >= self._need:
                self._signalled = True
                self._wake.notify()

    def request_flush(self) -> int:
        """Ask for a forced pass; returns a ticket for ``wait_flush`` (0: no thread to ask)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                return 0
            self._flush_requested += 1
            self._signalled = True
            self._wake.notify()
            return self._flush_requested

    def wait_flush(self, ticket: int, deadline: float | None) -> bool:
        """Wait (until the ``time.monotonic()`` deadline) for that pass; True if it left no backlog."""
        if not ticket:
            return False
        with self._lock:
            while self._flush_done < ticket:
                left = None if deadline is None else deadline - time.monotonic()
                if (left is not None and left <= 0) or self._stopping:
                    return False
                self._flushed.wait(left)
            return self._flush_ok

    def _interrupted(self) -> None:
        """Stop between requests: the one in flight finishes (the CLI's Ctrl-C)."""
        self._flushed.notify_all()

    def _run(self) -> None:
        self._listen()
        while True:
            with self._lock:
                if self._stopping:
                    return
                wanted = self._flush_requested
                force = wanted > self._flush_done
                self._signalled = False
                self._new = 0
            try:
                deadline, empty = self.run_once(force=force)
            except Exception as exc:  # never let the loop die: log, and look again later
                log.exception("edgetrack: delivery pass failed: %s", exc)
                deadline, empty = None, False
                self._drop_store()
            with self._lock:
                if force:
                    self._flush_done = wanted
                    self._flush_ok = empty
                    self._flushed.notify_all()
                self._deadline = deadline
                if self._stopping:
                    return
                if self._signalled or self._flush_requested > self._flush_done:
                    continue
                self._wake.wait(self._timeout_until(deadline, empty))
                self.wakeups += 1

    def _timeout_until(self, deadline: float | None, empty: bool) -> float | None:
        """Seconds to sleep until ``deadline`` (queue time); after a failed pass (no deadline,
        not empty) look again soon; a deadline already past waits ``IDLE_FLOOR``: never spin."""
        if deadline is None:
            return None if empty else IDLE_FLOOR * 5
        store = self._store
        left = deadline - (store.now() if store is not None else deadline)
        return left if left > 0 else IDLE_FLOOR

    def _drop_store(self) -> None:
        if self._store is not None:
            try:
                self._store.close()
            except Exception:
                pass
            self._store = None

    def _finish(self) -> None:
        self._unlisten()
        LIVE_OWNERS.discard(self.owner)
        if self._sender is not None:
            self._sender.close()
            self._sender = None
        if self._store is not None:
            self._store.close()
            self._store = None
