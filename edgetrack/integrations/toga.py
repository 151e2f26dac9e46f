"""Toga (BeeWare): ``bind_toga(app, client)`` for exit and background/foreground.

Toga 0.5 reports going to the background as the main window's ``on_hide`` (iOS
``applicationDidEnterBackground``, Android ``onStop``) and coming back as ``on_show``; on
mobile ``on_exit`` may never be called, so hiding is where state is re-read. Handlers the
app set before binding are kept and called first.
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

    def changed(_: Any) -> None:
        client.power_changed()

    window = getattr(app, "main_window", None)
    if window is not None:
        window.on_hide = _chain(getattr(window, "on_hide", None), changed)
        window.on_show = _chain(getattr(window, "on_show", None), changed)
    previous_exit = getattr(app, "on_exit", None)

    def on_exit(widget: Any, **kwargs: Any) -> Any:
        allowed = previous_exit(widget, **kwargs) if callable(previous_exit) else True
        if allowed is not False:
            client.shutdown(timeout=stop_timeout)
        return True if allowed is None else allowed

    app.on_exit = on_exit
