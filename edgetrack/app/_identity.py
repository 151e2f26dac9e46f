"""Who the user is, remembered: the user id, the anonymous id and the traits ``identify()`` gave.

Loaded from the queue file on first need (a call that names no id, or a look at
``client.user_id``), never on the path of a call that names its own ids. Changes are saved
with the next commit, in the same transaction as the event that made them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from edgetrack.store._paths import new_anonymous_id
from edgetrack.store._state import Changes

__all__ = ["Identity"]

USER_ID, ANONYMOUS_ID, TRAITS = "user.id", "user.anonymous_id", "user.traits"


class Identity:
    """The remembered user (analytics-kotlin's ``UserInfo``)."""

    def __init__(
        self,
        load: Callable[[], Mapping[str, str]],
        save: Callable[[Changes], None],
        *,
        install_anonymous_id: Callable[[], str | None] = lambda: None,
    ) -> None:
        self._load = load
        self._save = save
        self._install_anonymous_id = install_anonymous_id
        self._lock = threading.Lock()
        self._loaded = False
        self._user_id: str | None = None
        self._anonymous_id = ""
        self._traits: dict[str, Any] = {}
        self.version = 0  # bumped by every change: what the context built from it is keyed on

    def _ensure(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            stored = self._load()
            self._user_id = stored.get(USER_ID)
            anonymous_id = stored.get(ANONYMOUS_ID)
            if anonymous_id is None:  # a new queue (or one from before 0.2): the install's id
                anonymous_id = self._install_anonymous_id() or new_anonymous_id()
                self._save({ANONYMOUS_ID: anonymous_id})
            self._anonymous_id = anonymous_id
            self._traits = _traits(stored.get(TRAITS))
            self.version += 1
            self._loaded = True

    @property
    def user_id(self) -> str | None:
        self._ensure()
        return self._user_id

    @property
    def anonymous_id(self) -> str:
        self._ensure()
        return self._anonymous_id

    @property
    def has_traits(self) -> bool:
        self._ensure()
        return bool(self._traits)

    @property
    def traits(self) -> dict[str, Any]:
        """The remembered traits (a copy)."""
        self._ensure()
        return dict(self._traits)

    def identified(self, user_id: str | None, traits: Mapping[str, Any]) -> None:
        """An ``identify()``: remember ``user_id`` and merge ``traits`` (a different user's
        traits start afresh, so one customer's never follow the next)."""
        self._ensure()
        with self._lock:
            changes: dict[str, str | None] = {}
            if user_id is not None and user_id != self._user_id:
                self._user_id, self._traits = user_id, {}
                changes[USER_ID] = user_id
            if traits or USER_ID in changes:
                self._traits = {**self._traits, **traits}
                changes[TRAITS] = json.dumps(self._traits, separators=(",", ":"), default=str)
            if changes:
                self.version += 1
                self._save(changes)

    def aliased(self, previous_id: str, user_id: str) -> None:
        """An ``alias()`` from the remembered user (or anonymous id) makes ``user_id`` the user."""
        self._ensure()
        with self._lock:
            if previous_id in (self._user_id, self._anonymous_id) and user_id != self._user_id:
                self._user_id = user_id
                self.version += 1
                self._save({USER_ID: user_id})

    def reset(self, *, keep_anonymous_id: bool = False) -> None:
        """Forget the user and their traits; a new anonymous id unless ``keep_anonymous_id``."""
        self._ensure()
        with self._lock:
            self._user_id, self._traits = None, {}
            changes: dict[str, str | None] = {USER_ID: None, TRAITS: None}
            if not keep_anonymous_id:
                self._anonymous_id = changes[ANONYMOUS_ID] = new_anonymous_id()
            self.version += 1
            self._save(changes)

    def forget(self) -> None:
        """After the file's state was erased: nobody, under a new anonymous id."""
        self.reset()


def _traits(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}
