"""Plugins: the app's hook into every event, in the shape of analytics-kotlin's timeline.

A plugin has a ``kind`` and ``process(event) -> event | None``; ``event`` is the message as it
will be queued (a dict in the Segment spec's shape). ``None`` drops the event (counted in
``stats().dropped["plugin:<name>"]``). The timeline runs, for each call:

=============  ====================================================================
kind           runs
=============  ====================================================================
``before``     in the caller's thread, before the event is queued (filter, sample)
``enrichment`` in the caller's thread, after every ``before`` plugin (add, redact)
``after``      in the caller's thread, once the event is queued: it sees what was
               queued (its return value is ignored)
destination    ``SomeDestination(..., plugins=[...])``: per lane at send time, for
               that lane only (``None`` skips the event for it). It must be
               deterministic: a retried batch is mapped again.
=============  ====================================================================

A plugin that raises, or returns something that is not a dict or None, never breaks the app
or loses the event: it is logged once (per plugin), counted in ``stats().plugin_errors``, and
the event goes on as it was. ``Client(before_send=fn)`` is the one-function shortcut.

Built in: ``Sample`` (keep a share of users, or of events), ``Redact`` (PII keys, at any
depth) and ``DropEvents`` (by name).
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

from edgetrack.errors import ConfigError

__all__ = [
    "BeforeSend",
    "DropEvents",
    "Kind",
    "Plugin",
    "Redact",
    "Sample",
    "Timeline",
    "plugin_name",
]

log = logging.getLogger(__name__)

Kind = Literal["before", "enrichment", "after"]
Event = dict[str, Any]
KINDS: tuple[Kind, ...] = ("before", "enrichment", "after")


@runtime_checkable
class Plugin(Protocol):
    """What a plugin has: its ``kind`` and ``process``."""

    kind: Kind

    def process(self, event: Event) -> Event | None: ...


def plugin_name(plugin: object) -> str:
    """How a plugin is named in logs and counters: its ``name``, else its class's."""
    name = getattr(plugin, "name", None)
    return name if isinstance(name, str) and name else type(plugin).__name__


def check_plugin(plugin: object, *, destination: bool = False) -> Plugin:
    """``plugin`` if it can be one, else a ``ConfigError`` that says what it lacks."""
    if not callable(getattr(plugin, "process", None)):
        raise ConfigError(f"a plugin needs a process(event) method; {plugin!r} has none")
    if not destination and getattr(plugin, "kind", None) not in KINDS:
        raise ConfigError(
            f"plugin {plugin_name(plugin)!r} needs kind = 'before', 'enrichment' or 'after', "
            f"not {getattr(plugin, 'kind', None)!r}"
        )
    return plugin  # type: ignore[return-value]


class Timeline:
    """The plugins of one client (or one destination), in the order they were added."""

    def __init__(self, plugins: Iterable[object] = (), *, destination: bool = False) -> None:
        self._destination = destination
        self._lock = threading.Lock()
        self._plugins: tuple[Plugin, ...] = ()
        self._caller: tuple[Plugin, ...] = ()  # before, then enrichment
        self._after: tuple[Plugin, ...] = ()
        self.caller = False  # whether any plugin runs before the event is queued (read per call)
        self.after = False  # whether any runs after
        self._reported: set[str] = set()
        self.dropped: dict[str, int] = {}
        self.errors: dict[str, int] = {}
        for plugin in plugins:
            self.add(plugin)

    def __bool__(self) -> bool:
        return bool(self._plugins)

    def add(self, plugin: object) -> None:
        checked = check_plugin(plugin, destination=self._destination)
        with self._lock:
            self._set((*self._plugins, checked))

    def remove(self, plugin: object) -> bool:
        """Take ``plugin`` out; False when it was not in."""
        with self._lock:
            kept = tuple(p for p in self._plugins if p is not plugin)
            if len(kept) == len(self._plugins):
                return False
            self._set(kept)
            return True

    def _set(self, plugins: tuple[Plugin, ...]) -> None:
        """Swap whole tuples: a call in another thread sees the old timeline or the new one."""
        self._plugins = plugins
        if self._destination:
            self._caller, self._after = plugins, ()
        else:
            self._caller = tuple(p for p in plugins if p.kind == "before") + tuple(
                p for p in plugins if p.kind == "enrichment"
            )
            self._after = tuple(p for p in plugins if p.kind == "after")
        self.caller, self.after = bool(self._caller), bool(self._after)

    def run(self, event: Event, fresh: Callable[[], Event]) -> tuple[Event | None, str]:
        """The event after every before/enrichment (or destination) plugin, or None and the
        name of the plugin that dropped it. A plugin that fails is left out, and the others run
        again on ``fresh()`` (the event as it was: the failed one may have half changed it)."""
        skip: set[int] = set()
        while True:
            found, failed = self._pass(event, skip)
            if failed < 0:
                return found
            skip.add(failed)
            event = fresh()

    def _pass(self, event: Event, skip: set[int]) -> tuple[tuple[Event | None, str], int]:
        """One pass over the plugins (but ``skip``): the outcome, and -1; or the index of a
        plugin that failed."""
        for index, plugin in enumerate(self._caller):
            if index in skip:
                continue
            kind = event.get("type")
            try:
                found = plugin.process(event)
            except Exception as exc:
                self.failed(plugin_name(plugin), f"raised {type(exc).__name__}: {exc}")
                return (None, ""), index
            if found is None:
                name = plugin_name(plugin)
                self.dropped[name] = self.dropped.get(name, 0) + 1
                return (None, name), -1
            if not isinstance(found, dict):
                self.failed(plugin_name(plugin), f"returned a {type(found).__name__}, not a dict or None")
                return (None, ""), index
            message_id = found.get("messageId")
            if found.get("type") != kind or not isinstance(message_id, str) or not message_id:
                # not the event any more (a lane could not send it): left out, like a failure
                self.failed(plugin_name(plugin), "changed the event's type or messageId")
                return (None, ""), index
            event = found
        return (event, ""), -1

    def run_after(self, event: Event) -> None:
        for plugin in self._after:
            _, problem = self._process(plugin, event)
            if problem:
                self.failed(plugin_name(plugin), problem)

    @staticmethod
    def _process(plugin: Plugin, event: Event) -> tuple[Event | None, str]:
        """``plugin.process(event)`` and "", or what went wrong."""
        try:
            found = plugin.process(event)
        except Exception as exc:
            return None, f"raised {type(exc).__name__}: {exc}"
        if found is None or isinstance(found, dict):
            return found, ""
        return None, f"returned a {type(found).__name__}, not a dict or None"

    def failed(self, name: str, problem: str) -> None:
        """Count a plugin's failure; log it the first time (a broken plugin fails on every event)."""
        self.errors[name] = self.errors.get(name, 0) + 1
        if name not in self._reported:
            self._reported.add(name)
            log.warning(
                "edgetrack: plugin %r %s; the event goes on without it (counted in stats().plugin_errors)",
                name,
                problem,
            )


class BeforeSend:
    """``Client(before_send=fn)``: ``fn(event) -> event | None`` as a ``before`` plugin."""

    kind: Kind = "before"

    def __init__(self, function: Callable[[Event], Event | None]) -> None:
        if not callable(function):
            raise ConfigError(f"before_send must be a function of the event, not {function!r}")
        self.function = function
        self.name = getattr(function, "__name__", "before_send")

    def process(self, event: Event) -> Event | None:
        return self.function(event)


class Sample:
    """Keep ``rate`` (0 to 1) of the users (``by="user"``: all or none of a user's events, the
    same users on every device and run) or of the events (``by="event"``)."""

    kind: Kind = "before"

    def __init__(self, rate: float, by: Literal["user", "event"] = "user") -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate <= 1.0:
            raise ConfigError(f"Sample(rate) must be a number from 0 to 1, got {rate!r}")
        if by not in ("user", "event"):
            raise ConfigError(f"Sample(by=) must be 'user' or 'event', got {by!r}")
        self.rate = float(rate)
        self.by = by
        self._cut = int(self.rate * 0x1_0000_0000)

    def process(self, event: Event) -> Event | None:
        if self.by == "user":
            key = event.get("userId") or event.get("anonymousId") or ""
        else:
            key = event.get("messageId") or ""
        # CRC-32: the same number for the same id everywhere (Python's hash() is salted per run)
        return event if zlib.crc32(str(key).encode()) < self._cut else None


class Redact:
    """Replace the values of ``keys`` (any case, at any depth of properties, traits and
    context) with ``replacement``."""

    def __init__(
        self, keys: Iterable[str], *, replacement: str = "[redacted]", kind: Kind = "enrichment"
    ) -> None:
        self.keys = frozenset(str(key).lower() for key in keys)
        if not self.keys:
            raise ConfigError("Redact(keys=[...]) needs at least one key")
        self.replacement = replacement
        self.kind = kind

    def process(self, event: Event) -> Event | None:
        for part in ("properties", "traits", "context"):
            value = event.get(part)
            if isinstance(value, (dict, list)):
                event[part] = self._clean(value)
        return event

    def _clean(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                key: self.replacement if str(key).lower() in self.keys else self._clean(item)
                for key, item in value.items()
            }
        if isinstance(value, (list, tuple)):
            return [self._clean(item) for item in value]
        return value


class DropEvents:
    """Drop the events with these names (a track's ``event``, a page's or screen's ``name``)."""

    kind: Kind = "before"

    def __init__(self, names: str | Sequence[str]) -> None:
        self.names = frozenset([names] if isinstance(names, str) else names)

    def process(self, event: Event) -> Event | None:
        name = event.get("event") if event.get("type") == "track" else event.get("name")
        return None if name in self.names else event
