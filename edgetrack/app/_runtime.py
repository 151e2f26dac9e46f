"""``App``: what a client remembers and adds around each call (identity, session, opt-out,
lifecycle, the ambient context), over the queue file's ``state`` table.

``prepare(call)`` is the one step every call takes through it, in the caller's thread: it
fills the remembered ids into a call that names none, says which session the event belongs
to, and hands back the context to splice in (cached: rebuilt only when something in it changed).
The first call waits (bounded) for the file's state, which the writer reads when it opens
the file at start; calls that name their own ids then cost a session check and a dict look-up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from edgetrack.app._identity import Identity
from edgetrack.app._lifecycle import Lifecycle
from edgetrack.app._session import Session
from edgetrack.envelope import Ambient, Call
from edgetrack.protocols import Clock
from edgetrack.store._state import Changes

__all__ = ["App"]

OPTED_OUT = "privacy.opted_out"
_CACHE = 8  # ambient contexts kept (with and without traits, the session's first event, ...)


class App:
    """A client's app-level state (see the module docstring)."""

    def __init__(
        self,
        clock: Clock,
        *,
        load: Callable[[], Mapping[str, str]],
        save: Callable[[Changes], None],
        context: Mapping[str, Any],
        session_timeout: float | None,
        lifecycle: Lifecycle | None,
        auto_anonymous_id: bool,
        install_anonymous_id: Callable[[], str | None],
    ) -> None:
        self._clock = clock
        self._load = load
        self._save = save
        self.identity = Identity(self._stored, save, install_anonymous_id=install_anonymous_id)
        self.session = Session(clock, session_timeout, save) if session_timeout else None
        self.lifecycle = lifecycle
        self._auto_anonymous_id = auto_anonymous_id
        self._lock = threading.RLock()
        self._state: Mapping[str, str] | None = None  # set once loaded and acted on
        self._loaded: Mapping[str, str] = {}
        self._loading = False
        self.opted_out = False
        self._base = dict(context)
        self._base_version = 0
        self._ambients: dict[tuple[int, int, int, bool], Ambient] = {}

    # -- loading ---------------------------------------------------------------------------

    def _stored(self) -> Mapping[str, str]:
        self.ready()
        return self._loaded

    def ready(self) -> None:
        """Read the stored state once (waiting for the file's open), then act on it: a call in
        another thread waits until ``Application Installed`` (or ``Updated``) is queued first."""
        if self._state is not None:
            return
        with self._lock:
            if self._state is not None or self._loading:  # loading: the lifecycle event's own call
                return
            self._loading = True
            try:
                state = self._loaded = self._load()
                self.opted_out = state.get(OPTED_OUT) == "1"
                if self.session is not None:
                    self.session.restore(state)
                if self.lifecycle is not None and not self.opted_out:
                    self.lifecycle.installed_or_updated(state)
            finally:
                self._loading = False
            self._state = state

    # -- each call -------------------------------------------------------------------------

    def prepare(self, call: Call, mono: float) -> tuple[Call, Ambient] | None:
        """The call with the remembered ids filled in (when it names none) and the context to
        splice in; None while the user has opted out."""
        if self._state is None:
            self.ready()
        if self.opted_out:
            return None
        traits_version = 0
        if (call.user_id is None or call.user_id == "") and (
            call.anonymous_id is None or call.anonymous_id == ""
        ):
            identity = self.identity
            anonymous_id = identity.anonymous_id if self._auto_anonymous_id else None
            call = call._replace(user_id=identity.user_id, anonymous_id=anonymous_id)
            if identity.has_traits:
                traits_version = identity.version
        session_id, first = self.session.touch(mono) if self.session is not None else (0, False)
        key = (self._base_version, traits_version, session_id, first)
        ambient = self._ambients.get(key)
        if ambient is None:
            ambient = self._ambient(key)
        return call, ambient

    def _ambient(self, key: tuple[int, int, int, bool]) -> Ambient:
        _, traits_version, session_id, first = key
        context = dict(self._base)
        if traits_version:
            context["traits"] = self.identity.traits
        if session_id:
            context["sessionId"] = session_id
            if first:
                context["sessionStart"] = True
        ambient = Ambient(context)
        if len(self._ambients) >= _CACHE:
            self._ambients.clear()
        self._ambients[key] = ambient
        return ambient

    # -- what changes it -------------------------------------------------------------------

    def set_context(self, part: str, value: Any) -> None:
        """Change one part of every event's context (``screen`` when a window appears, ...)."""
        with self._lock:
            if value is None:
                self._base.pop(part, None)
            else:
                self._base[part] = value
            self._base_version += 1
            self._ambients.clear()

    @property
    def context(self) -> dict[str, Any]:
        return dict(self._base)

    def opt_out(self) -> None:
        self.ready()
        self.opted_out = True
        self._save({OPTED_OUT: "1"})

    def opt_in(self) -> None:
        self.ready()
        self.opted_out = False
        self._save({OPTED_OUT: None})

    def closing(self) -> None:
        """The client is shutting down: save what is saved only now and then (the session's
        last activity), so it commits with the writer's last transaction."""
        if self.session is not None and self._state is not None and not self.opted_out:
            self.session.save_last()

    def erased(self) -> None:
        """The file's state was erased (all but the opt-out): forget what was loaded from it."""
        self.identity.forget()
        if self.session is not None:
            self.session.end()
        self._ambients.clear()
