"""``Client``: the public API, in segment-analytics-python's shape, over a durable queue.

A call runs in the caller's thread in three steps (microseconds): its arguments are checked
and carried as one ``Call`` (``edgetrack.envelope``), the envelope is built and serialised
once (``MessageBuilder``), and the row is handed to the ``Pipeline`` (``edgetrack.sending``),
which owns the queue file, the group-commit writer and one scheduler per destination.
``Client._record`` is that seam: everything a call does after its own checks starts there.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from edgetrack.config import QueueLimits, Timeouts
from edgetrack.envelope import (
    Call,
    MessageBuilder,
    Result,
    alias_fields,
    default_context,
    device_fields,
    group_fields,
    identify_fields,
    track_fields,
    view_fields,
)
from edgetrack.errors import ConfigError
from edgetrack.policy import FlushPolicy
from edgetrack.protocols import Clock, Destination, Sender, SystemClock
from edgetrack.sending._pipeline import Pipeline
from edgetrack.sending._settings import LaneSettings, PipelineSettings
from edgetrack.store._paths import load_anonymous_id

if TYPE_CHECKING:  # imported for real off the caller's path, by the lanes' thread
    from edgetrack.power import PowerProbe
    from edgetrack.retry import RetryPolicy
    from edgetrack.sending._delivery import DeliveryFailure
    from edgetrack.sending._scheduler import Scheduler
    from edgetrack.sending._stats import Stats
    from edgetrack.store._dead_letters import DeadLetter

__all__ = ["Client", "Result"]

log = logging.getLogger(__name__)


class Client:
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

    ``pipeline`` is the runtime behind the façade (``edgetrack.sending.Pipeline``): the queue
    file, its writer and the lanes, for tools that look inside (the CLI, tests).
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
        power: PowerProbe | Literal["auto"] | None = "auto",
        policy: FlushPolicy | None = None,
        ca_bundle: str | os.PathLike[str] | None = None,
        orphan_lane_age: float | None = 30 * 86400.0,
        proxies: Mapping[str, str] | None = None,
        write_key: str | None = None,
        host: str | None = None,
    ) -> None:
        self.policy = policy or FlushPolicy(flush_at=flush_at, flush_interval=flush_interval)
        self.limits = limits or QueueLimits()
        self.destinations = _destinations(destinations, write_key, host, send)
        self.durable, self.send, self.shutdown_timeout = bool(durable), bool(send), shutdown_timeout
        self.clock: Clock = _check_clock(clock or SystemClock())
        lanes = LaneSettings(
            policy=self.policy,
            retry=retry,
            timeouts=timeouts or Timeouts(),
            make_sender=sender or partial(_http_sender, ca_bundle, _check_proxies(proxies)),
            on_error=on_error,
            max_dead_letters=self.limits.max_dead_letters,
        )
        settings = PipelineSettings(
            self.destinations,
            Path(path) if path is not None else None,
            _check_app_name(app_name),
            self.limits,
            lanes,
            self.clock,
            _check_power(power),
            durable=self.durable,
            send=self.send,
            shutdown_timeout=shutdown_timeout,
            orphan_lane_age=_check_orphan_age(orphan_lane_age),
        )
        self.pipeline = Pipeline(settings)
        self._app_version = app_version
        self._anon_id: str | None = None
        self._builder = MessageBuilder(
            context=default_context(app_name, app_version),
            anonymous_id=self._anonymous_id if auto_anonymous_id else None,
            max_event_bytes=self.limits.max_event_bytes,
        )
        self.pipeline.start()  # a backlog left by the last run starts draining with no new event

    @property
    def path(self) -> Path:
        """The queue file (resolved on first use; platformdirs is imported only then)."""
        return self.pipeline.path

    def _anonymous_id(self) -> str:
        if self._anon_id is None:
            self._anon_id = load_anonymous_id(self.path.parent)
        return self._anon_id

    # -- the calls: segment-analytics-python's signatures, each one ``Call`` ----------------

    def track(
        self,
        user_id: object = None,
        event: object = None,
        properties: object = None,
        context: object = None,
        timestamp: object = None,
        anonymous_id: object = None,
        integrations: object = None,
        message_id: object = None,
        *,
        flush: bool = False,
    ) -> Result:
        """Record that ``user_id`` did ``event``; returns ``(True, message)`` once queued."""
        fields = track_fields(event, properties)
        return self._record(
            Call("track", fields, user_id, anonymous_id, context, timestamp, integrations, message_id, flush)
        )

    def identify(
        self,
        user_id: object = None,
        traits: object = None,
        context: object = None,
        timestamp: object = None,
        anonymous_id: object = None,
        integrations: object = None,
        message_id: object = None,
        *,
        flush: bool = False,
    ) -> Result:
        """Record who the user is and their ``traits``."""
        fields = identify_fields(traits)
        return self._record(
            Call(
                "identify", fields, user_id, anonymous_id, context, timestamp, integrations, message_id, flush
            )
        )

    def page(
        self,
        user_id: object = None,
        category: object = None,
        name: object = None,
        properties: object = None,
        context: object = None,
        timestamp: object = None,
        anonymous_id: object = None,
        integrations: object = None,
        message_id: object = None,
        *,
        flush: bool = False,
    ) -> Result:
        """Record a page view (web-style apps)."""
        fields = view_fields(category, name, properties)
        return self._record(
            Call("page", fields, user_id, anonymous_id, context, timestamp, integrations, message_id, flush)
        )

    def screen(
        self,
        user_id: object = None,
        category: object = None,
        name: object = None,
        properties: object = None,
        context: object = None,
        timestamp: object = None,
        anonymous_id: object = None,
        integrations: object = None,
        message_id: object = None,
        *,
        flush: bool = False,
    ) -> Result:
        """Record a screen view (mobile and kiosk apps)."""
        fields = view_fields(category, name, properties)
        return self._record(
            Call("screen", fields, user_id, anonymous_id, context, timestamp, integrations, message_id, flush)
        )

    def alias(
        self,
        previous_id: object = None,
        user_id: object = None,
        context: object = None,
        timestamp: object = None,
        integrations: object = None,
        message_id: object = None,
        *,
        flush: bool = False,
    ) -> Result:
        """Merge ``previous_id``'s history into ``user_id``."""
        fields = alias_fields(previous_id, user_id)
        return self._record(
            Call("alias", fields, user_id, None, context, timestamp, integrations, message_id, flush)
        )

    def group(
        self,
        user_id: object = None,
        group_id: object = None,
        traits: object = None,
        context: object = None,
        timestamp: object = None,
        anonymous_id: object = None,
        integrations: object = None,
        message_id: object = None,
        *,
        flush: bool = False,
    ) -> Result:
        """Put the user in ``group_id`` (an account, a company) with the group's ``traits``."""
        fields = group_fields(group_id, traits)
        return self._record(
            Call("group", fields, user_id, anonymous_id, context, timestamp, integrations, message_id, flush)
        )

    def register_device(
        self,
        user_id: object = None,
        device_id: object = None,
        token: object = None,
        *,
        os_name: str | None = None,
        os_version: str | None = None,
        model: str | None = None,
        app_build: str | None = None,
        app_version: str | None = None,
        anonymous_id: object = None,
        context: object = None,
        timestamp: object = None,
        message_id: object = None,
        flush: bool = False,
    ) -> Result:
        """Register this device and its push token (FCM / APNs) for the user.

        Only destinations with a device API receive it (Parcelvoy's ``/devices``); for the
        others it is counted as skipped. Missing details default to what the client knows:
        the OS from the context, the machine type, and ``app_version`` of the client.
        """
        details = {
            "os_name": os_name,
            "os_version": os_version,
            "model": model,
            "app_build": app_build,
            "app_version": app_version or self._app_version,
        }
        fields = device_fields(device_id, token, details, self._builder.context)
        return self._record(
            Call("device", fields, user_id, anonymous_id, context, timestamp, None, message_id, flush)
        )

    def _record(self, call: Call) -> Result:
        """A checked call from here on: its envelope, then the queue (``flush=True``: urgent)."""
        clock = self.clock
        wall, mono = clock.now(), clock.monotonic()
        msg, body, size = self._builder.build(call, at=wall)
        if self.pipeline.closed:
            log.warning("edgetrack: %s() after shutdown(); the event was not queued", call.kind)
            return False, "the client was shut down; the event was not queued"
        # created: a monotonic reading (the writer adds the file's offset); wall: only when the
        # timestamp is ours, so a wrong wall clock can be corrected at send time
        row = (call.kind, msg["messageId"], body, size, mono, wall if call.timestamp is None else None)
        reason = self.pipeline.put(row, urgent=call.urgent)
        if reason is not None:
            log.error("edgetrack: %s() not queued: %s", call.kind, reason)
            return False, reason
        return True, msg

    # -- delivery ---------------------------------------------------------------------------

    def lanes(self) -> list[Scheduler]:
        """One scheduler per destination (started only if this client sends): the CLI runs
        their passes itself."""
        return self.pipeline.lanes()

    def network_active(self) -> None:
        """Tell edgetrack the radio is up anyway (the app just used the network): pending events
        ride along now, whatever the battery policy would otherwise wait for."""
        self.pipeline.network_active()

    def power_changed(self) -> None:
        """Tell edgetrack the power or network state changed (plugged in, back online, ...)."""
        self.pipeline.power_changed()

    def flush(self, timeout: float | None = None) -> bool:
        """Send every event pending now; True only when every one of them was delivered.

        It keeps going through 429 pauses and retry backoffs that end within ``timeout``, and
        returns early when nothing more can be delivered now: offline, a wrong key or endpoint,
        or a wait longer than the time left (see ``edgetrack.sending.flush_lanes``). Without a
        timeout it waits as long as the queue can make progress.
        """
        return self.pipeline.flush(None if timeout is None else time.monotonic() + timeout)

    def shutdown(self, timeout: float | None = None) -> bool:
        """Commit what is buffered, try a last flush, stop the threads; bounded by ``timeout``.

        Nothing is lost if time runs out: the events stay queued for the next start.
        Returns True when everything was delivered.
        """
        timeout = self.shutdown_timeout if timeout is None else timeout
        return self.pipeline.stop(time.monotonic() + timeout)

    close = shutdown

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # -- looking at the queue ---------------------------------------------------------------

    def stats(self) -> Stats:
        """Every lane in the queue file (its backlog, state and counters, orphans flagged) plus
        the in-memory state. Never writes, never waits for another process's write lock."""
        return self.pipeline.stats()

    def pending_events(self, lanes: Sequence[str] | None = None) -> int:
        """Events pending for any of ``lanes`` (default: this client's), each counted once."""
        return self.pipeline.pending_events(lanes)

    def dead_letters(self, lane: str | None = None, limit: int = 100) -> list[DeadLetter]:
        """Events a lane gave up on (refused, too large, expired), oldest first, with the reason."""
        return self.pipeline.dead_letters(lane, limit)

    def requeue_dead_letters(self, ids: list[int] | None = None, *, lane: str | None = None) -> int:
        """Queue dead letters again (all, these ids, or one lane's) for their own lane only; their
        age starts again, so an event that had expired is not expired again at once."""
        return self.pipeline.requeue_dead_letters(ids, lane)

    def purge_dead_letters(self, ids: list[int] | None = None, *, lane: str | None = None) -> int:
        """Delete dead letters (all, these ids, or one lane's); returns how many."""
        return self.pipeline.purge_dead_letters(ids, lane)

    def drop_lane(self, name: str) -> int:
        """Remove a lane nobody sends any more (see ``stats().orphans``) with its pending events;
        returns how many were dropped. A lane this client sends cannot be dropped."""
        if name in {d.name for d in self.destinations}:
            raise ConfigError(
                f"lane {name!r} is one of this client's destinations; remove it from the client first"
            )
        dropped = self.pipeline.drop_lane(name)
        log.warning("edgetrack: dropped lane %r with %d pending events", name, dropped)
        return dropped

    def __repr__(self) -> str:
        return f"Client(destinations={self.destinations!r}, path={str(self.pipeline.settings.path)!r})"


# -- checking the options -------------------------------------------------------------------


def _destinations(
    destinations: Iterable[Destination] | str, write_key: str | None, host: str | None, send: bool
) -> list[Destination]:
    """The destinations list, checked; a str where the list goes is Segment's positional key."""
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
    names = [getattr(d, "name", None) for d in found]
    for destination, name in zip(found, names, strict=True):
        if not isinstance(name, str) or not hasattr(destination, "encode"):
            raise ConfigError(
                f"destinations must be edgetrack destinations (e.g. IntileryMobile(...)), got {destination!r}"
            )
    duplicates = {str(n) for n in names if names.count(n) > 1}
    if duplicates:
        raise ConfigError(
            f"two destinations share the lane name {sorted(duplicates)[0]!r}; "
            "give one of them name='...' so each has its own lane"
        )
    if send and not found:
        raise ConfigError(
            "a Client that sends needs a destination: Client([IntileryMobile('<write key>')]) or "
            "Client(write_key='<Segment write key>'); pass send=False to only queue (the CLI or "
            "another process sends)"
        )
    return found


def _check_app_name(app_name: str) -> str:
    if not isinstance(app_name, str) or not app_name:
        raise ConfigError("app_name must be a non-empty str (it names the data folder)")
    return app_name


def _check_orphan_age(age: float | None) -> float | None:
    if age is not None and not age > 0:
        raise ConfigError("orphan_lane_age must be a positive number of seconds, or None (never drop)")
    return age


def _check_clock(clock: Clock) -> Clock:
    for method in ("now", "monotonic", "boot_id"):
        if not callable(getattr(clock, method, None)):
            raise ConfigError(
                f"clock must have now(), monotonic() and boot_id() (see edgetrack.protocols.Clock); "
                f"{clock!r} has no {method}(): use edgetrack.testing.FakeClock in tests"
            )
    return clock


def _check_power(power: PowerProbe | Literal["auto"] | None) -> PowerProbe | Literal["auto"] | None:
    if power is not None and power != "auto" and not callable(getattr(power, "read", None)):
        raise ConfigError(
            f"power must be 'auto', None (always mains) or a probe with read(now) such as "
            f"edgetrack.power.ManualPower(); got {power!r}"
        )
    return power


def _check_proxies(proxies: Mapping[str, str] | None) -> dict[str, str] | None:
    if proxies is None:
        return None
    if not isinstance(proxies, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in proxies.items()
    ):
        raise ConfigError("proxies must map a scheme to a proxy URL, e.g. {'https': 'http://proxy:3128'}")
    return dict(proxies)


def _http_sender(
    ca_bundle: str | os.PathLike[str] | None = None, proxies: Mapping[str, str] | None = None
) -> Sender:
    from edgetrack.sending._transport import HttpSender

    # TLS verification is always on; a CA bundle only changes which roots are trusted.
    verify = os.fspath(ca_bundle) if ca_bundle is not None else True
    return HttpSender(verify=verify, proxies=dict(proxies) if proxies is not None else None)
