"""Kivy: ``bind_kivy(app, client)`` hooks ``on_pause``, ``on_resume`` and ``on_stop``.

Uses ``App.bind`` (Kivy's event dispatcher), so the app's own handlers still run; ours return
None, which lets the default ``on_pause`` (returning True: pausing allowed) go on. Kivy docs:
after ``on_pause`` the app may be killed without ``on_resume`` or ``on_stop``, which is why
nothing here waits for the network: the events are already on disk.
"""

from __future__ import annotations

from typing import Any

from edgetrack.client import Client

__all__ = ["bind_kivy"]


def bind_kivy(app: Any, client: Client, *, stop_timeout: float = 2.0) -> None:
    """Tie ``client`` to a Kivy ``App``: re-read power on pause/resume, shut down on stop."""

    def on_pause(*_: Any) -> None:
        client.power_changed()

    def on_resume(*_: Any) -> None:
        client.power_changed()  # the plug or the network may have changed while paused

    def on_stop(*_: Any) -> None:
        client.shutdown(timeout=stop_timeout)

    app.bind(on_pause=on_pause, on_resume=on_resume, on_stop=on_stop)
