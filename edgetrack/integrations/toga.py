"""Toga (BeeWare): ``bind_toga(app, client)`` for exit and background/foreground.

Toga 0.5 reports going to the background as the main window's ``on_hide`` (iOS
``applicationDidEnterBackground``, Android ``onStop``) and coming back as ``on_show``; on
mobile ``on_exit`` may never be called, so hiding is where state is re-read. Handlers the
app set before binding are kept and called first.

Lifecycle: binding (in ``startup()``) sends ``Application Opened``; ``on_hide`` sends
``Application Backgrounded`` and the next ``on_show`` ``Application Opened`` with
``from_background: true``. The first screen's size goes into every event's ``context.screen``.
"""

from __future__ import annotations

import inspect
from typing import Any

from edgetrack.client import Client

__all__ = ["bind_toga"]


def _chain(previous: Any, ours: Any) -> Any:
    # Toga hands back its own wrapper, which adds the widget itself: chain the app's function.
    previous = getattr(previous, "_raw", previous)

    def handler(widget: Any, **kwargs: Any) -> Any:
        result = previous(widget, **kwargs) if callable(previous) else None
        if inspect.isawaitable(result):  # an async handler of the app's: let Toga run it
            ours(widget)
            return result
        ours(widget)
        return result

    return handler


def bind_toga(app: Any, client: Client, *, stop_timeout: float = 2.0) -> None:
    """Tie ``client`` to a Toga ``App`` (call it in ``startup()``, after ``main_window`` is set)."""

    hidden = False

    def on_hide(_: Any) -> None:
        nonlocal hidden
        hidden = True
        client.app_backgrounded()
        client.power_changed()

    def on_show(_: Any) -> None:
        nonlocal hidden
        client.power_changed()
        if hidden:  # a window shown for the first time is not a return from the background
            hidden = False
            client.app_opened(from_background=True)

    _screen(app, client)
    client.app_opened(from_background=False)
    window = getattr(app, "main_window", None)
    if window is not None:
        window.on_hide = _chain(getattr(window, "on_hide", None), on_hide)
        window.on_show = _chain(getattr(window, "on_show", None), on_show)
    previous_exit = getattr(app, "on_exit", None)

    def on_exit(widget: Any, **kwargs: Any) -> Any:
        allowed = previous_exit(widget, **kwargs) if callable(previous_exit) else True
        if allowed is not False:
            client.shutdown(timeout=stop_timeout)
        return True if allowed is None else allowed

    app.on_exit = on_exit


def _screen(app: Any, client: Client) -> None:
    """``context.screen`` from the app's first screen (``App.screens``, Toga 0.4.1 and later)."""
    try:
        width, height = (int(v) for v in app.screens[0].size)
    except Exception:  # an older Toga, or a backend that does not know
        return
    client.update_context(screen={"width": width, "height": height})
