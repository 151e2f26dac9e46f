"""The one exception tree of edgetrack.

::

    EdgetrackError
     +-- ConfigError (also ValueError)      bad Client / destination configuration, at construction
     +-- EventTypeError (also TypeError)    a track()/identify()/... argument has the wrong type
     +-- EventValueError (also ValueError)  an argument has a value that cannot be queued
     +-- NotConfiguredError                 module-level edgetrack.track() before edgetrack.configure()
     +-- StorageError                       the queue file cannot be used (CLI and explicit opens only)

Calls on the hot path (``track()`` and friends) raise only ``EventTypeError`` and
``EventValueError``: programmer errors, raised before anything is queued. I/O trouble
(disk full, database locked, network down) is never raised into the app; it is logged on
``logging.getLogger("edgetrack")``, counted in ``Client.stats()`` and retried.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "EdgetrackError",
    "EventTypeError",
    "EventValueError",
    "NotConfiguredError",
    "StorageError",
]


class EdgetrackError(Exception):
    """Root of every exception edgetrack raises on purpose."""


class ConfigError(EdgetrackError, ValueError):
    """A Client or destination option is wrong; the message names it and what to change."""


class EventTypeError(EdgetrackError, TypeError):
    """An argument of a tracking call has the wrong type; nothing was queued."""


class EventValueError(EdgetrackError, ValueError):
    """An argument of a tracking call has a value that cannot be queued; nothing was queued."""


class NotConfiguredError(EdgetrackError, RuntimeError):
    """The module-level API was used before ``edgetrack.configure(...)``."""


class StorageError(EdgetrackError):
    """The queue file is missing, locked or corrupt (raised by the CLI and explicit opens).

    ``kind`` says which, for code that acts on it: ``"missing"``, ``"locked"``, ``"corrupt"``,
    ``"foreign"`` (a file that is not a queue), ``"version"`` (a schema this edgetrack does not
    read) or ``"other"``.
    """

    def __init__(self, message: str, kind: str = "other") -> None:
        super().__init__(message)
        self.kind = kind
