"""``Client``: the public API, in segment-analytics-python's shape, over a durable queue.

A call runs in the caller's thread in three steps (microseconds): its arguments are checked
and carried as one ``Call`` (``edgetrack.envelope``), the envelope is built and serialised
once (``MessageBuilder``), and the row is handed to the ``Pipeline`` (``edgetrack.sending``),
which owns the queue file, the group-commit writer and one scheduler per destination.
``Client._record`` is that seam: everything a call does after its own checks starts there.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from edgetrack.app import App, Lifecycle, Session
from edgetrack.app._runtime import OPTED_OUT
from edgetrack.app._session import DEFAULT_TIMEOUT as DEFAULT_SESSION_TIMEOUT
from edgetrack.config import QueueLimits, Timeouts
from edgetrack.envelope import (
    PARTS,
    Ambient,
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
from edgetrack.envelope._call import optional_id
from edgetrack.errors import ConfigError, EventValueError
from edgetrack.plugins import BeforeSend, Plugin, Timeline
from edgetrack.policy import FlushPolicy
from edgetrack.protocols import Clock, Destination, Sender, SystemClock
from edgetrack.sending._pipeline import Pipeline
from edgetrack.sending._settings import LaneSettings, PipelineSettings
from edgetrack.store._paths import forget_anonymous_id, load_anonymous_id

if TYPE_CHECKING:  # imported for real off the caller's path, by the lanes' thread
    from edgetrack.power import PowerProbe, PowerState
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
    ``commit_window``: seconds the writer holds the first event of a commit for the ones that
    follow (default 0: at once). Fewer, fuller commits write fewer pages to flash; an event is
    on disk up to this much later, so a crash loses what was tracked within it.
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
        app_build: str | None = None,
        track_lifecycle: bool = True,
        session_timeout: float | None = DEFAULT_SESSION_TIMEOUT,
        plugins: Iterable[Plugin] = (),
        before_send: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None,
        app_namespace: str | None = None,
        collect: Mapping[str, bool] | None = None,
        collect_device_id: bool = False,
        encryption_key: str | None = None,
        commit_window: float = 0.0,
    ) -> None:
        self.policy = policy or FlushPolicy(flush_at=flush_at, flush_interval=flush_interval)
        self.limits = limits or QueueLimits()
        self.destinations = _destinations(destinations, write_key, host, send)
        self.durable, self.send, self.shutdown_timeout = bool(durable), bool(send), shutdown_timeout
        self.clock: Clock = _check_clock(clock or SystemClock())
        self._collect = _check_collect(collect)
        lanes = LaneSettings(
            policy=self.policy,
            retry=retry,
            timeouts=timeouts or Timeouts(),
            make_sender=sender or partial(_http_sender, ca_bundle, _check_proxies(proxies)),
            on_error=on_error,
            max_dead_letters=self.limits.max_dead_letters,
            on_power=self._network_changed if "network" in self._collect else None,
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
            encryption_key=_check_key(encryption_key),
            commit_window=_check_commit_window(commit_window),
        )
        self._network: dict[str, bool] | None = None
        self.pipeline = Pipeline(settings, on_open=self._opened)
        self._app_version = app_version
        context = default_context(
            app_name,
            app_version,
            app_build,
            app_namespace=app_namespace,
            collect=self._collect,
            collect_device_id=bool(collect_device_id),
        )
        self._builder = MessageBuilder(
            context=context, anonymous_id=None, max_event_bytes=self.limits.max_event_bytes
        )
        self._plugins = Timeline([*plugins, *([BeforeSend(before_send)] if before_send is not None else [])])
        self._app = App(
            self.clock,
            load=self.pipeline.stored_state,
            save=self.pipeline.save_state,
            context=context,
            session_timeout=_check_session_timeout(session_timeout),
            lifecycle=Lifecycle(self._lifecycle_event, self.pipeline.save_state, app_version, app_build)
            if track_lifecycle
            else None,
            auto_anonymous_id=auto_anonymous_id,
            install_anonymous_id=self._install_anonymous_id,
        )
        self.pipeline.start()  # a backlog left by the last run starts draining with no new event

    @property
    def path(self) -> Path:
        """The queue file (resolved on first use; platformdirs is imported only then)."""
        return self.pipeline.path

    def _install_anonymous_id(self) -> str | None:
        """The install's anonymous id (beside the queue file): the one a new queue starts with."""
        try:
            return load_anonymous_id(self.path.parent)
        except OSError:  # an unwritable folder: the queue's own id will do
            return None

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
        """A checked call from here on (the plugins' timeline): the remembered ids and the
        session, the before and enrichment plugins, the envelope, the queue (``flush=True``:
        urgent), what the call remembers, then the after plugins."""
        clock = self.clock
        wall, mono = clock.now(), clock.monotonic()
        prepared = self._app.prepare(call, mono)
        if prepared is None:
            return False, "the user opted out (opt_out()); nothing is recorded until opt_in()"
        call, ambient = prepared
        if self._plugins.caller:
            built = self._plugged(call, wall, ambient)
            if isinstance(built, str):
                return False, built
            msg, body, size = built
        else:
            msg, body, size = self._builder.build(call, wall, ambient)
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
        if call.kind in ("identify", "alias"):
            self._remember(call, msg)
        if self._plugins.after:
            self._plugins.run_after(msg)
        return True, msg

    def _plugged(self, call: Call, wall: float, ambient: Ambient) -> tuple[dict[str, Any], str, int] | str:
        """The message through the before and enrichment plugins, then encoded; a sentence
        saying which plugin dropped it. What a plugin breaks is left out, never the event."""
        builder = self._builder
        # message() copies all the way down: a plugin that changes the event in place (then
        # fails, or not) changes neither the caller's dicts, nor the context, nor fresh()'s
        message = builder.message(call, wall, ambient)
        message_id = message["messageId"]

        def fresh() -> dict[str, Any]:  # the same message, made again (only if a plugin failed)
            return builder.message(call._replace(message_id=message_id), wall, ambient)

        event, dropped_by = self._plugins.run(message, fresh)
        if event is None:
            return f"dropped by plugin {dropped_by!r}"
        if event.get("type") == call.kind and isinstance(event.get("messageId"), str) and event["messageId"]:
            try:
                return builder.encode(call.kind, event, ambient)
            except EventValueError as exc:
                problem = f"made an event that cannot be queued ({exc})"
        else:
            problem = "changed the event's type or messageId"
        self._plugins.failed("plugins", problem)
        return builder.encode(call.kind, fresh(), ambient)  # what no plugin touched

    def _remember(self, call: Call, msg: dict[str, Any]) -> None:
        # the ids the app gave (as the wire has them), not what a plugin made of them: a plugin
        # that pseudonymises userId would otherwise be fed its own output on the next call
        identity = self._app.identity
        if call.kind == "identify":
            identity.identified(optional_id("user_id", call.user_id), call.fields["traits"])
        elif call.kind == "alias":
            user_id = optional_id("user_id", call.user_id)
            if user_id is not None:
                identity.aliased(call.fields["previousId"], user_id)

    # -- who, privacy, sessions, lifecycle, plugins (analytics-kotlin's semantics) ----------

    @property
    def user_id(self) -> str | None:
        """The user ``identify()`` named last (kept in the queue file), or None."""
        return self._app.identity.user_id

    @property
    def anonymous_id(self) -> str:
        """This install's anonymous id (a new one after ``reset()``)."""
        return self._app.identity.anonymous_id

    @property
    def traits(self) -> dict[str, Any]:
        """The traits ``identify()`` gave for the current user, merged (a copy)."""
        return self._app.identity.traits

    def reset(self, *, keep_anonymous_id: bool = False) -> None:
        """Forget the user and their traits and start a new session (a kiosk between
        customers); a new anonymous id unless ``keep_anonymous_id``. Events already queued keep
        the ids they were tracked with."""
        self._app.identity.reset(keep_anonymous_id=keep_anonymous_id)
        if self._app.session is not None:
            self._app.session.start()

    @property
    def opted_out(self) -> bool:
        """Whether ``opt_out()`` is in force (kept in the queue file)."""
        self._app.ready()
        return self._app.opted_out

    def opt_out(self, *, purge: bool = False) -> None:
        """Record nothing from now on (kept in the queue file, so across restarts): every call
        returns ``(False, reason)``. ``purge=True`` also erases this queue file's pending events,
        dead letters and stored identity, and the bytes they took on disk."""
        self._app.opt_out()
        if purge:
            self.pipeline.erase_all({OPTED_OUT: "1"})
            forget_anonymous_id(self.path.parent)
            self._app.erased()

    def opt_in(self) -> None:
        """Record again after ``opt_out()``."""
        self._app.opt_in()

    def purge_pending(self, lane: str | None = None) -> int:
        """Erase the events still waiting to be sent (every lane's, or ``lane``'s); returns how
        many. Their bytes go back to the file system."""
        if lane is not None and lane not in self.pipeline.lane_names():
            raise ConfigError(
                f"no lane {lane!r} in the queue file; the lanes are: {', '.join(self.pipeline.lane_names())}"
            )
        return self.pipeline.purge_pending(lane)

    @property
    def session_id(self) -> int | None:
        """The current session's id (milliseconds since the epoch at its start), or None."""
        self._app.ready()
        session = self._app.session
        return session.id if session is not None else None

    def start_session(self, session_id: int | None = None) -> int:
        """Start a new session now (with ``session_id``, or the time in ms); returns its id."""
        return self._session().start(session_id)

    def end_session(self) -> None:
        """End the session; the next event starts a new one."""
        self._session().end()

    def _session(self) -> Session:
        self._app.ready()
        if self._app.session is None:
            raise ConfigError("this client keeps no sessions (Client(session_timeout=None))")
        return self._app.session

    def app_opened(self, *, from_background: bool = False) -> None:
        """The app came to the foreground (``bind_kivy`` and ``bind_toga`` call it): an
        ``Application Opened`` event, and a new session if it was away longer than the timeout."""
        self._app.ready()
        if self._app.session is not None and from_background:
            self._app.session.foregrounded()
        if self._app.lifecycle is not None:
            self._app.lifecycle.opened(from_background)

    def app_backgrounded(self) -> None:
        """The app went to the background: an ``Application Backgrounded`` event."""
        self._app.ready()
        if self._app.lifecycle is not None:
            self._app.lifecycle.backgrounded()
        if self._app.session is not None:
            self._app.session.backgrounded()

    def _network_changed(self, state: PowerState) -> None:
        """A power probe's new reading: the ``network`` context as it says (metered counts as
        cellular, unmetered as Wi-Fi; no part while it does not know)."""
        online = state.online
        network = (
            None
            if online is None
            else {"wifi": online and not state.metered, "cellular": online and state.metered}
        )
        if network != self._network:
            self._network = network
            self.update_context(network=network)

    def _lifecycle_event(self, event: str, properties: dict[str, Any]) -> None:
        self.track(event=event, properties=properties)

    def _opened(self) -> None:
        """The queue file is open (in the pipeline's start thread): read the app's state, and
        send ``Application Installed`` or ``Updated`` if it says so."""
        self._app.ready()

    def update_context(self, **parts: Any) -> None:
        """Change parts of every later event's context, e.g. ``screen={"width": 800, ...}``
        when a window appears (``bind_kivy`` and ``bind_toga`` do it); None removes a part.
        Parts ``Client(collect=...)`` turned off stay off."""
        for part, value in parts.items():
            if part in PARTS and part not in self._collect:
                continue
            self._app.set_context(part, value)

    def add(self, plugin: Plugin) -> None:
        """Add a plugin to this client's timeline (see ``edgetrack.plugins``)."""
        self._plugins.add(plugin)

    def remove(self, plugin: Plugin) -> bool:
        """Take a plugin out; False when it was not there."""
        return self._plugins.remove(plugin)

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
        self._app.closing()
        return self.pipeline.stop(time.monotonic() + timeout)

    close = shutdown

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # -- looking at the queue ---------------------------------------------------------------

    def stats(self) -> Stats:
        """Every lane in the queue file (its backlog, state and counters, orphans flagged) plus
        the in-memory state (what plugins dropped and how often they failed since the start).
        Never writes, never waits for another process's write lock."""
        stats = self.pipeline.stats()
        plugins = self._plugins
        errors = dict(plugins.errors)
        for destination in self.destinations:
            errors.update({f"{destination.name}:{k}": n for k, n in destination.plugins.errors.items()})
        dropped = {**stats.dropped, **{f"plugin:{name}": n for name, n in plugins.dropped.items()}}
        return dataclasses.replace(stats, dropped=dropped, plugin_errors=errors)

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


def _check_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not isinstance(key, str) or not key:
        raise ConfigError("encryption_key must be a non-empty str (keep it in the platform's key store)")
    from edgetrack.store._cipher import check_available

    check_available()
    return key


def _check_collect(collect: Mapping[str, bool] | None) -> frozenset[str]:
    """The context parts to collect: all but those ``collect`` turns off."""
    if collect is None:
        return PARTS
    if not isinstance(collect, Mapping):
        raise ConfigError("collect must map context parts to True/False, e.g. collect={'network': False}")
    unknown = sorted(set(collect) - PARTS)
    if unknown:
        raise ConfigError(f"collect has no part {unknown[0]!r}; the parts are: {', '.join(sorted(PARTS))}")
    return frozenset(part for part in PARTS if collect.get(part, True))


def _check_session_timeout(timeout: float | None) -> float | None:
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0
    ):
        raise ConfigError("session_timeout must be a positive number of seconds, or None (no sessions)")
    return timeout


MAX_COMMIT_WINDOW = 60.0


def _check_commit_window(window: float) -> float:
    number = isinstance(window, (int, float)) and not isinstance(window, bool)
    if not number or not 0 <= window <= MAX_COMMIT_WINDOW:
        raise ConfigError(
            f"commit_window must be a number of seconds from 0 to {MAX_COMMIT_WINDOW:g} "
            f"(events tracked within it share one commit), got {window!r}"
        )
    return float(window)


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
