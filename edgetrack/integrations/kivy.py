"""Kivy: ``bind_kivy(app, client)`` hooks ``on_start``, ``on_pause``, ``on_resume`` and ``on_stop``.

Uses ``App.bind`` (Kivy's event dispatcher), so the app's own handlers still run; ours return
None, which lets the default ``on_pause`` (returning True: pausing allowed) go on. Kivy docs:
after ``on_pause`` the app may be killed without ``on_resume`` or ``on_stop``, which is why
nothing here waits for the network: the events are already on disk.

Lifecycle: ``on_start`` sends ``Application Opened``, ``on_pause`` ``Application Backgrounded``
and ``on_resume`` ``Application Opened`` with ``from_background: true`` (call ``bind_kivy`` in
``build()``, before ``on_start``). The window's size and density go into every event's
``context.screen``, and follow it when it changes.
"""

from __future__ import annotations

from typing import Any

from edgetrack.client import Client

__all__ = ["bind_kivy"]


def bind_kivy(app: Any, client: Client, *, stop_timeout: float = 2.0) -> None:
    """Tie ``client`` to a Kivy ``App``: lifecycle events, the screen, power on pause/resume,
    shut down on stop."""

    def on_start(*_: Any) -> None:
        _screen(app, client)
        client.app_opened(from_background=False)

    def on_pause(*_: Any) -> None:
        client.app_backgrounded()
        client.power_changed()

    def on_resume(*_: Any) -> None:
        client.power_changed()  # the plug or the network may have changed while paused
        client.app_opened(from_background=True)

    def on_stop(*_: Any) -> None:
        client.shutdown(timeout=stop_timeout)

    app.bind(on_start=on_start, on_pause=on_pause, on_resume=on_resume, on_stop=on_stop)


def _screen(app: Any, client: Client) -> None:
    """``context.screen`` from the app's window (``App.root_window``), kept up to date."""
    window = getattr(app, "root_window", None)
    if window is None:
        return

    def update(*_: Any) -> None:
        try:
            width, height = (int(v) for v in window.size)
        except (TypeError, ValueError):
            return
        screen: dict[str, Any] = {"width": width, "height": height}
        dpi = getattr(window, "dpi", None)
        if isinstance(dpi, (int, float)) and dpi > 0:
            screen["density"] = round(dpi / 160, 2)  # Android's convention: 160 dpi is 1.0
        client.update_context(screen=screen)

    update()
    bind = getattr(window, "bind", None)
    if callable(bind):
        bind(size=update)
