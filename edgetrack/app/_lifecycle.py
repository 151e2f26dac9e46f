"""Application lifecycle events, with Segment's names and properties (analytics-kotlin's
``trackApplicationLifecycleEvents``): ``Application Installed`` and ``Application Updated``
when a client first opens a queue whose stored app version differs, ``Application Opened``
and ``Application Backgrounded`` from the toolkit's callbacks (``bind_kivy``, ``bind_toga``) or
the app's own calls."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from edgetrack.store._state import Changes

__all__ = ["Lifecycle"]

APP_VERSION, APP_BUILD = "app.version", "app.build"
INSTALLED, UPDATED = "Application Installed", "Application Updated"
OPENED, BACKGROUNDED = "Application Opened", "Application Backgrounded"


class Lifecycle:
    """Sends the lifecycle events through ``track(event, properties)``."""

    def __init__(
        self,
        track: Callable[[str, dict[str, Any]], object],
        save: Callable[[Changes], None],
        version: str | None,
        build: str | None,
    ) -> None:
        self._track = track
        self._save = save
        self.version = version
        self.build = build

    def installed_or_updated(self, stored: Mapping[str, str]) -> None:
        """``Application Installed`` on a queue that has seen no version of the app yet,
        ``Application Updated`` when the version or build differs from the one stored. Only
        when the app said which it is (``app_version``, ``app_build``): edgetrack cannot know."""
        if self.version is None and self.build is None:
            return
        previous_version, previous_build = stored.get(APP_VERSION), stored.get(APP_BUILD)
        current = {"version": self.version, "build": self.build}
        if APP_VERSION not in stored and APP_BUILD not in stored:
            self._track(INSTALLED, current)
        elif (previous_version, previous_build) != (self.version or "", self.build or ""):
            self._track(
                UPDATED,
                {
                    **current,
                    "previous_version": previous_version or None,
                    "previous_build": previous_build or None,
                },
            )
        else:
            return
        self._save({APP_VERSION: self.version or "", APP_BUILD: self.build or ""})

    def opened(self, from_background: bool) -> None:
        self._track(
            OPENED, {"from_background": from_background, "version": self.version, "build": self.build}
        )

    def backgrounded(self) -> None:
        self._track(BACKGROUNDED, {})
