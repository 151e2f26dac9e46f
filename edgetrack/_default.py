"""The module-level default client, for small scripts: ``edgetrack.configure(...)`` then
``edgetrack.track(...)``, as with ``segment.analytics``."""

from __future__ import annotations

import threading
from typing import Any

from edgetrack.calls import Result
from edgetrack.client import Client
from edgetrack.errors import NotConfiguredError
from edgetrack.lanestats import Stats

__all__ = [
    "alias",
    "configure",
    "default_client",
    "flush",
    "group",
    "identify",
    "page",
    "screen",
    "shutdown",
    "stats",
    "track",
]

_lock = threading.Lock()
_client: Client | None = None


def configure(*args: Any, **kwargs: Any) -> Client:
    """Build the default client (same arguments as ``Client``); replaces any earlier one."""
    global _client
    client = Client(*args, **kwargs)
    with _lock:
        previous, _client = _client, client
    if previous is not None:
        previous.shutdown()
    return client


def default_client() -> Client:
    if _client is None:
        raise NotConfiguredError(
            "edgetrack.track() and friends need a default client: call "
            "edgetrack.configure([IntileryMobile('<write key>')]) first"
        )
    return _client


def track(*args: Any, **kwargs: Any) -> Result:
    return default_client().track(*args, **kwargs)


def identify(*args: Any, **kwargs: Any) -> Result:
    return default_client().identify(*args, **kwargs)


def page(*args: Any, **kwargs: Any) -> Result:
    return default_client().page(*args, **kwargs)


def screen(*args: Any, **kwargs: Any) -> Result:
    return default_client().screen(*args, **kwargs)


def alias(*args: Any, **kwargs: Any) -> Result:
    return default_client().alias(*args, **kwargs)


def group(*args: Any, **kwargs: Any) -> Result:
    return default_client().group(*args, **kwargs)


def flush(timeout: float | None = None) -> bool:
    return default_client().flush(timeout)


def shutdown(timeout: float | None = None) -> bool:
    global _client
    with _lock:
        client, _client = _client, None
    return client.shutdown(timeout) if client is not None else True


def stats() -> Stats:
    return default_client().stats()
