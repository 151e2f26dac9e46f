"""``Client``: the public API, in analytics-python's shape, over a durable queue.

The caller's thread only validates, builds the envelope and serialises it (microseconds),
then hands the row to the group-commit writer. Two daemon threads start on the first call:
the writer (SQLite commits) and one scheduler per destination (uploads). ``requests`` is
imported in those threads, never on the caller's path.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgetrack.calls import Calls, Result
from edgetrack.config import QueueLimits, Timeouts
from edgetrack.context import default_context
from edgetrack.errors import ConfigError
from edgetrack.events import MessageBuilder
from edgetrack.observe import Observe
from edgetrack.policy import FlushPolicy
from edgetrack.protocols import Clock, Destination, Sender, SystemClock
from edgetrack.store import forksafe  # noqa: F401 - registers the at-fork hooks before any fork
from edgetrack.store.paths import default_path, load_anonymous_id
from edgetrack.store.writer import Writer

if TYPE_CHECKING:  # imported for real off the caller's path (see _scheduler_now)
    from edgetrack.delivery import DeliveryFailure
    from edgetrack.flushing import Losses
    from edgetrack.retry import RetryPolicy
    from edgetrack.scheduler import Scheduler
    from edgetrack.store.sqlite import SQLiteStore

__all__ = ["Client"]

log = logging.getLogger("edgetrack")

_CLIENTS: weakref.WeakSet[Client] = weakref.WeakSet()
QUEUE_FULL_EPISODE = 60.0  # seconds without a drop for room that end a "queue full" episode


class Client(Calls, Observe):
    """Record events durably and deliver them to every destination.

    ``destinations``: where events go (``edgetrack.destinations``); each is one delivery lane.
    ``path``: the queue file (default: ``<user data dir of app_name>/edgetrack/queue.db``).
    ``durable``: make every call wait until its event is committed (``synchronous=FULL``).
    ``flush_at`` / ``flush_interval``: upload when this many events wait, or the oldest has
    waited this many seconds (on mains; see ``FlushPolicy`` for battery and power-save).
    ``write_key`` / ``host``: a Segment destination, as segment-analytics-python's
    ``Client(write_key, host=...)`` builds (``Client("<write key>")`` works positionally too).
    ``ca_bundle``: a PEM file of CA certificates to trust instead of the system's (TLS is
    always verified; ``REQUESTS_CA_BUNDLE`` and ``.netrc`` are ignored).
    ``proxies``: ``{"https": "http://proxy:3128"}`` as requests and Segment's ``Client`` take
    them; without it ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` from the environment apply.
    ``power``: where the power and network state comes from: ``"auto"`` picks the platform's
    probe (``edgetrack.power``), ``None`` means always mains, or pass a probe such as
    ``ManualPower()``. ``send=False`` queues without uploading (the CLI can flush).
    """

    def __init__(
        self,
        destinations: Iterable[Destination] | str = (),
        *,
        path: str | os.PathLike[str] | None = None,
        app_name: str = "edgetrack",
        app_version: str | None = None,
        durable: bool = False,
        flush_at: int = 20,
        flush_interval: float = 30.0,
        limits: QueueLimits | None = None,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        on_error: Callable[[DeliveryFailure], None] | None = None,
        auto_anonymous_id: bool = True,
        send: bool = True,
        shutdown_timeout: float = 5.0,
        clock: Clock | None = None,
        sender: Callable[[], Sender] | None = None,
        power: Any = "auto",
        policy: FlushPolicy | None = None,
        ca_bundle: str | os.PathLike[str] | None = None,
        orphan_lane_age: float | None = 30 * 86400.0,
        proxies: Mapping[str, str] | None = None,
        write_key: str | None = None,
        host: str | None = None,
    ) -> None:
        self.destinations = _destinations(destinations, write_key, host)
        names = [getattr(d, "name", None) for d in self.destinations]
        for destination, name in zip(self.destinations, names, strict=True):
            if not isinstance(name, str) or not hasattr(destination, "encode"):
                raise ConfigError(
                    f"destinations must be edgetrack destinations (e.g. IntileryMobile(...)), "
                    f"got {destination!r}"
                )
        duplicates = {str(n) for n in names if names.count(n) > 1}
        if duplicates:
            raise ConfigError(
                f"two destinations share the lane name {sorted(duplicates)[0]!r}; "
                "give one of them name='...' so each has its own lane"
            )
        if not isinstance(app_name, str) or not app_name:
            raise ConfigError("app_name must be a non-empty str (it names the data folder)")
        self.policy = policy or FlushPolicy(flush_at=flush_at, flush_interval=flush_interval)
        self.limits = limits or QueueLimits()
        self.durable = bool(durable)
        self._app_version = app_version
        self.send = bool(send)
        self.shutdown_timeout = shutdown_timeout
        if self.send and not self.destinations:
            raise ConfigError(
                "a Client that sends needs a destination: Client([IntileryMobile('<write key>')]) or "
                "Client(write_key='<Segment write key>'); pass send=False to only queue (the CLI or "
                "another process sends)"
            )
        self.clock: Clock = _check_clock(clock or SystemClock())
        if orphan_lane_age is not None and not orphan_lane_age > 0:
            raise ConfigError("orphan_lane_age must be a positive number of seconds, or None (never drop)")
        self._orphan_lane_age = orphan_lane_age
        self._app_name = app_name
        self._path = Path(path) if path is not None else None
        self._path_lock = threading.Lock()
        self._anon_id: str | None = None
        self._closed = False
        self._pid = os.getpid()
        self._start_lock = threading.Lock()
        self._started = False
        self._reader_store: SQLiteStore | None = None
        self._reader_lock = threading.Lock()
        self._stopping = threading.Event()  # set by shutdown(): a flush's waits end
        self._losses: Losses | None = None  # dead letters and drops as the last flush left them
        self._builder = MessageBuilder(
            context=default_context(app_name, app_version),
            anonymous_id=self._anonymous_id if auto_anonymous_id else None,
            max_event_bytes=self.limits.max_event_bytes,
            clock=self.clock.now,
        )
        self._fault_lock = threading.Lock()
        self._faults_to_record: dict[tuple[str, str], int] = {}
        self._writer = Writer(
            self._open_writer_store,
            self.limits,
            on_commit=self._on_commit,
            on_open=self._start_uploaders,
            on_fault=self._on_writer_fault,
            lanes=[d.name for d in self.destinations],
        )
        self._schedulers: list[Scheduler] | None = None
        self._urgent_seq = 0
        self._last_drop = -QUEUE_FULL_EPISODE * 2  # monotonic time of the last drop for room
        self._scheduler_options: dict[str, Any] = {
            "make_sender": sender or partial(_http_sender, ca_bundle, _check_proxies(proxies)),
            "retry": retry,
            "timeouts": timeouts or Timeouts(),
            "on_error": on_error,
            "max_dead_letters": self.limits.max_dead_letters,
        }
        self._power = power
        _CLIENTS.add(self)
        atexit.register(self._atexit)
        self._start()  # a backlog left by the last run starts draining without a new event

    # -- where things live -----------------------------------------------------------------

    @property
    def path(self) -> Path:
        """The queue file (resolved on first use; platformdirs is imported only then)."""
        if self._path is None:
            with self._path_lock:
                if self._path is None:
                    self._path = default_path(self._app_name)
        return self._path

    def _anonymous_id(self) -> str:
        if self._anon_id is None:
            self._anon_id = load_anonymous_id(self.path.parent)
        return self._anon_id

    def _open_store(self) -> SQLiteStore:
        from edgetrack.errors import StorageError
        from edgetrack.store.sqlite import SQLiteStore
        from edgetrack.store.writer import is_corrupt

        def open_it() -> SQLiteStore:
            synchronous = "FULL" if self.durable else "NORMAL"
            return SQLiteStore.open(self.path, clock=self.clock, synchronous=synchronous, limits=self.limits)

        try:
            store = open_it()
        except StorageError as exc:
            if not is_corrupt(exc):
                raise
            with self._fault_lock:  # another thread may have moved it aside already
                try:
                    store = open_it()
                except StorageError:
                    self._storage_fault("corrupt", exc)
                    store = open_it()
        try:
            store.ensure_lanes([d.name for d in self.destinations], store.now())
            with self._fault_lock:
                faults, self._faults_to_record = self._faults_to_record, {}
            for (name, reason), n in faults.items():
                store.count("*", name, reason, n)
        except BaseException:
            store.close()
            raise
        return store

    def _open_writer_store(self) -> SQLiteStore:
        """The writer's connection: also where lanes nobody configures any more are dropped."""
        from edgetrack.flushing import losses

        store = self._open_store()
        store.make_room()  # incremental vacuum for a file made before it (once; later opens skip)
        if self._losses is None:
            self._losses = losses(store)  # what flush() counts as lost starts from here
        if self._orphan_lane_age is not None and self.destinations:
            try:
                dropped = store.drop_orphans(
                    [d.name for d in self.destinations], store.now(), self._orphan_lane_age
                )
            except BaseException:
                store.close()
                raise
            for name, pending in dropped.items():
                log.warning(
                    "edgetrack: dropped lane %r with %d pending events: no client has configured it for "
                    "%.0f days (Client(orphan_lane_age=...))",
                    name,
                    pending,
                    self._orphan_lane_age / 86400,
                )
        return store

    def _on_writer_fault(self, kind: str, exc: Exception | None) -> None:
        with self._fault_lock:
            self._storage_fault(kind, exc)

    def _storage_fault(self, kind: str, exc: Exception | None) -> None:
        """The queue file turned out corrupt (moved aside, a fresh one started) or was deleted
        under us (reopened): logged, and counted in the new file's ``*`` counters."""
        from edgetrack.store.sqlite import SQLiteStore

        if kind == "corrupt":
            moved = SQLiteStore.quarantine(self.path, self.clock.now())  # a name, not a time
            log.error(
                "edgetrack: the queue file was corrupt (%s); moved it to %s and started a new one", exc, moved
            )
            key = ("quarantined", "corrupt")
        else:
            log.error("edgetrack: the queue file %s was deleted or replaced while open; reopening", self.path)
            key = ("file_lost", kind)
        self._faults_to_record[key] = self._faults_to_record.get(key, 0) + 1

    def _enqueue(
        self,
        kind: str,
        fields: dict[str, Any],
        user_id: object,
        anonymous_id: object,
        context: object,
        timestamp: object,
        integrations: object,
        message_id: object,
        *,
        urgent: bool = False,
    ) -> Result:
        clock = self.clock
        wall, mono = clock.now(), clock.monotonic()
        msg, body, size = self._builder.build(
            kind,
            fields,
            user_id=user_id,
            anonymous_id=anonymous_id,
            context=context,
            timestamp=timestamp,
            integrations=integrations,
            message_id=message_id,
            at=wall,
        )
        if self._closed:
            log.warning("edgetrack: %s() after shutdown(); the event was not queued", kind)
            return False, "the client was shut down; the event was not queued"
        if self._pid != os.getpid() or not self._started:
            self._start()
        # created: a monotonic reading (the writer adds the file's offset); wall: only when the
        # timestamp is ours, so a wrong wall clock can be corrected at send time
        row = (kind, msg["messageId"], body, size, mono, wall if timestamp is None else None)
        if self.durable:
            reason = self._writer.put_durable(row, self.shutdown_timeout)
            if reason is not None:
                log.error("edgetrack: %s() not queued: %s", kind, reason)
                return False, reason
            if urgent:
                self.network_active()
            return True, msg
        seq = self._writer.put(row, locked=urgent)
        if not seq:
            log.error("edgetrack: the queue hand-off is full (the disk is failing?); event dropped")
            return False, "the queue hand-off is full (the disk is failing or far too slow); event dropped"
        if urgent:
            self._urgent_seq = max(self._urgent_seq, seq)
        return True, msg

    # -- threads ---------------------------------------------------------------------------

    def _reset_after_fork(self) -> None:
        """In a forked child: fresh locks, threads and connections; the parent keeps its own."""
        self._pid = os.getpid()
        self._start_lock = threading.Lock()
        self._path_lock = threading.Lock()
        self._writer.after_fork_in_child()
        for scheduler in self._schedulers or ():
            scheduler.after_fork_in_child()
        self._reader_store = None
        self._reader_lock = threading.Lock()
        self._stopping = threading.Event()
        self._started = False

    def _start(self) -> None:
        with self._start_lock:
            if self._pid != os.getpid():  # forked without the at-fork hook (should not happen)
                self._reset_after_fork()
            if self._started:
                return
            # The queue's own modules load here, not in the writer's thread: its first open (and
            # so the first commit, the start of the promise that an event is on disk within a
            # few ms) then does not wait for imports competing with the app for the GIL.
            import edgetrack.store.sqlite  # noqa: F401

            self._writer.start()  # its thread starts the lanes once the queue is open
            self._started = True

    def lanes(self) -> list[Scheduler]:
        """One scheduler per destination (built, started only if this client sends): the CLI
        runs their passes itself."""
        return self._scheduler_now()

    def _start_uploaders(self) -> None:
        """After the first commit: build and start the lanes in a thread of their own, so their
        imports (``requests``, ~180 ms) never hold up the writer's next commits."""
        threading.Thread(target=self._scheduler_now, name="edgetrack-start", daemon=True).start()

    def _scheduler_now(self) -> list[Scheduler]:
        """The schedulers, one per destination, built and started on first need (normally by
        the writer thread, so their modules load off the caller's path). One thread a lane:
        a vendor that hangs until its timeout never delays another vendor's uploads."""
        with self._start_lock:
            if self._schedulers is None:
                from edgetrack.retry import RetryPolicy
                from edgetrack.scheduler import Scheduler

                options = dict(self._scheduler_options)
                options["retry"] = options["retry"] or RetryPolicy()
                if self._power == "auto":
                    from edgetrack.power import default_probe

                    self._power = default_probe()
                options["power"] = self._power
                self._schedulers = [
                    Scheduler(
                        destination=destination,
                        open_store=self._open_store,
                        policy=self.policy,
                        clock=self.clock,
                        **options,
                    )
                    for destination in self.destinations
                ]
            if self.send and not self._closed:
                for scheduler in self._schedulers:
                    scheduler.start()
            return self._schedulers

    def _on_commit(self, count: int, dropped: dict[str, int]) -> None:
        if dropped:
            # Once per episode (one ends after a minute with no drop): a full queue drops at
            # nearly every commit, and each of those is counted in stats() anyway.
            now = self.clock.monotonic()
            if now - self._last_drop > QUEUE_FULL_EPISODE:
                log.warning(
                    "edgetrack: the queue is full (QueueLimits); dropping the oldest events, counted "
                    "in stats() as dropped['queue_full']: %s",
                    dropped,
                )
            self._last_drop = now
        if self._urgent_seq and self._writer.committed >= self._urgent_seq:
            self._urgent_seq = 0  # an urgent event is on disk: send it, and everything pending, now
            self.network_active()
        for scheduler in self._schedulers or ():
            scheduler.notify_commit(count)

    def network_active(self) -> None:
        """Tell edgetrack the radio is up anyway (the app just used the network): pending events
        ride along now, whatever the battery policy would otherwise wait for."""
        for scheduler in self._schedulers or ():
            scheduler.radio_awake()

    def power_changed(self) -> None:
        """Tell edgetrack the power or network state changed (plugged in, back online, ...)."""
        for scheduler in self._schedulers or ():
            scheduler.power_changed()

    def flush(self, timeout: float | None = None) -> bool:
        """Send every event pending now; True only when every one of them was delivered.

        It keeps going through 429 pauses and retry backoffs that end within ``timeout``, and
        returns early when nothing more can be delivered now: offline, a wrong key or endpoint,
        or a wait longer than the time left (see ``edgetrack.flushing``). Without a timeout it
        waits as long as the queue can make progress.
        """
        import time

        from edgetrack.flushing import flush_lanes

        if not self._started:
            self._start()
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._writer.wait_committed(timeout=timeout):
            return False
        if not (self.send and self.destinations and not self._closed):
            return False
        schedulers = self._scheduler_now()
        ok, self._losses = flush_lanes(schedulers, self._reading, deadline, self._stopping, self._losses)
        return ok

    def shutdown(self, timeout: float | None = None) -> bool:
        """Commit what is buffered, try a last flush, stop the threads; bounded by ``timeout``.

        Nothing is lost if time runs out: the events stay queued for the next start.
        Returns True when everything was delivered.
        """
        import time

        if self._closed:
            return False
        timeout = self.shutdown_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        delivered = False
        if self._started and self._pid == os.getpid():
            delivered = self.flush(timeout)
        self._closed = True
        self._stopping.set()
        self._writer.stop(max(0.0, deadline - time.monotonic()))
        for scheduler in self._schedulers or ():
            scheduler.stop(0.0)  # tell every lane first, then wait for each in the time left
        for scheduler in self._schedulers or ():
            scheduler.stop(max(0.0, deadline - time.monotonic()))
        with self._reader_lock:
            if self._reader_store is not None:
                self._reader_store.close()
                self._reader_store = None
        atexit.unregister(self._atexit)
        return delivered

    close = shutdown

    def _atexit(self) -> None:
        try:
            self.shutdown(self.shutdown_timeout)
        except Exception:  # never make the interpreter's exit fail
            log.exception("edgetrack: shutdown at exit failed")

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        return f"Client(destinations={self.destinations!r}, path={str(self._path)!r})"


def _check_clock(clock: Clock) -> Clock:
    for method in ("now", "monotonic", "boot_id"):
        if not callable(getattr(clock, method, None)):
            raise ConfigError(
                f"clock must have now(), monotonic() and boot_id() (see edgetrack.protocols.Clock); "
                f"{clock!r} has no {method}(): use edgetrack.testing.FakeClock in tests"
            )
    return clock


def _http_sender(
    ca_bundle: str | os.PathLike[str] | None = None, proxies: Mapping[str, str] | None = None
) -> Sender:
    from edgetrack.transport import HttpSender

    # TLS verification is always on; a CA bundle only changes which roots are trusted.
    verify = os.fspath(ca_bundle) if ca_bundle is not None else True
    return HttpSender(verify=verify, proxies=dict(proxies) if proxies is not None else None)


def _check_proxies(proxies: Mapping[str, str] | None) -> dict[str, str] | None:
    if proxies is None:
        return None
    if not isinstance(proxies, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in proxies.items()
    ):
        raise ConfigError("proxies must map a scheme to a proxy URL, e.g. {'https': 'http://proxy:3128'}")
    return dict(proxies)


def _destinations(
    destinations: Iterable[Destination] | str, write_key: str | None, host: str | None
) -> list[Destination]:
    """The destinations list; a str where the list goes is Segment's positional write key."""
    if isinstance(destinations, str):
        if write_key is not None:
            raise ConfigError("pass the write key once: Client('<key>') or Client(write_key='<key>')")
        found: list[Destination] = []
        write_key = destinations
    else:
        found = list(destinations)
    if write_key is not None or host is not None:
        from edgetrack.destinations import Segment

        if not isinstance(write_key, str) or not write_key:
            raise ConfigError("write_key must be the Segment source's write key (a non-empty str)")
        found.append(Segment(write_key, endpoint=host))
    return found


def _after_fork_in_child() -> None:
    for client in list(_CLIENTS):
        client._reset_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
