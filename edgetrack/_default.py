"""The module-level default client, for small scripts and for code moving over from
segment-analytics-python: ``edgetrack.configure(...)`` then ``edgetrack.track(...)``, or, with
no ``configure()``, Segment's way: ``edgetrack.write_key = "..."`` (and ``host``, ``send``,
``debug``, ``on_error``, ``sync_mode``, ``max_queue_size``, ``gzip``, ``timeout``,
``max_retries``, ``proxies``), read once when the first call builds the client."""

from __future__ import annotations

import sys
import threading
from typing import Any

from edgetrack.client import Client, Result
from edgetrack.errors import NotConfiguredError
from edgetrack.sending._stats import Stats

__all__ = [
    "alias",
    "configure",
    "default_client",
    "flush",
    "group",
    "identify",
    "join",
    "page",
    "reset",
    "screen",
    "shutdown",
    "stats",
    "track",
]

#: segment-analytics-python's module settings, read from ``edgetrack`` by the first call.
SEGMENT_SETTINGS = (
    "debug",
    "gzip",
    "host",
    "log_handler",
    "max_queue_size",
    "max_retries",
    "on_error",
    "proxies",
    "send",
    "sync_mode",
    "timeout",
    "write_key",
)

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
    """The client the module-level calls use: ``configure()``'s, or one built from the module's
    Segment-style settings on the first call (as segment-analytics-python's ``_proxy`` does)."""
    global _client
    with _lock:
        if _client is None:
            _client = _from_settings()
        return _client


def _from_settings() -> Client:
    from edgetrack.compat import SegmentClient

    package = sys.modules["edgetrack"]
    write_key = getattr(package, "write_key", None)
    if not write_key:
        raise NotConfiguredError(
            "edgetrack.track() and friends need a default client: set edgetrack.write_key = "
            "'<Segment write key>' (Segment's way), or call edgetrack.configure([IntileryMobile('<key>')])"
        )
    names = [name for name in SEGMENT_SETTINGS if name != "write_key"]
    settings: dict[str, Any] = {name: getattr(package, name, None) for name in names}
    return SegmentClient(write_key, **{name: value for name, value in settings.items() if value is not None})


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


def reset(*, keep_anonymous_id: bool = False) -> None:
    """``Client.reset()`` on the default client: forget the user (a kiosk between customers)."""
    default_client().reset(keep_anonymous_id=keep_anonymous_id)


def flush(timeout: float | None = None) -> bool:
    return default_client().flush(timeout)


def join() -> None:
    """segment-analytics-python's ``join()``: wait until the queue is sent."""
    default_client().flush()


def shutdown(timeout: float | None = None) -> bool:
    global _client
    with _lock:
        client, _client = _client, None
    return client.shutdown(timeout) if client is not None else True


def stats() -> Stats:
    return default_client().stats()
