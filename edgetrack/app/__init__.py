"""What an app's SDK remembers between its events: who the user is (``Identity``), which session
they are in (``Session``), and what the app's lifecycle was (``Lifecycle``). Each keeps its
state in the queue file's ``state`` table, written with the events' own commits, and reads
time only from the client's injected clock.
"""

from __future__ import annotations

from edgetrack.app._identity import Identity
from edgetrack.app._lifecycle import Lifecycle
from edgetrack.app._runtime import App
from edgetrack.app._session import Session

__all__ = ["App", "Identity", "Lifecycle", "Session"]
