"""Bind a client to an app's lifecycle: Kivy (``bind_kivy``) and Toga/BeeWare (``bind_toga``).

Plain scripts need nothing: ``Client`` registers a bounded ``atexit`` shutdown. The queue is
on disk, so going to the background never forces an upload: it only makes the client look
at the power and network state again (which may change while paused); stopping commits what
is buffered and stops the threads within a timeout.
"""

from __future__ import annotations

from edgetrack.integrations.kivy import bind_kivy
from edgetrack.integrations.toga import bind_toga

__all__ = ["bind_kivy", "bind_toga"]
