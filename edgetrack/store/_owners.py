"""Lease owners: ``host:pid:nonce``, enough to tell a dead local owner from a live one."""

from __future__ import annotations

import os

__all__ = ["LIVE_OWNERS", "make_owner", "owner_is_dead"]

LIVE_OWNERS: set[str] = set()  # lease owners of this process whose scheduler is running
_HOST = os.uname().nodename if hasattr(os, "uname") else "host"


def make_owner(nonce: str) -> str:
    """A lease owner id, ``host:pid:nonce``: enough to tell a dead local owner from a live one."""
    return f"{_HOST}:{os.getpid()}:{nonce}"


def owner_is_dead(owner: str) -> bool:
    """True when ``owner`` is on this host and its process (or, in this process, its scheduler)
    is gone, so its lease can be taken over now instead of after it expires."""
    host, _, rest = owner.partition(":")
    pid_text, _, _ = rest.partition(":")
    if host != _HOST or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return owner not in LIVE_OWNERS
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False
