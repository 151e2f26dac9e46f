"""Where the queue lives, created owner-only. Light to import: no SQL."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["default_path", "ensure_private_file", "forget_anonymous_id", "load_anonymous_id", "quarantine"]


def default_path(app_name: str) -> Path:
    """``<user data dir of app_name>/edgetrack/queue.db`` (platformdirs: works on Android and iOS)."""
    import platformdirs

    return Path(platformdirs.user_data_path(app_name, appauthor=False)) / "edgetrack" / "queue.db"


def ensure_private_file(path: Path) -> None:
    """Create the folder (0700) and the file (0600) before SQLite does, so neither is world-readable."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def load_anonymous_id(folder: Path) -> str:
    """The install-wide anonymous id: made once, kept in ``anonymous_id`` beside the queue; the
    one a new queue file starts with (each then keeps its own, changed by ``reset()``).

    Written to a temporary file and hard-linked into place, so the file is never seen empty
    and the first of two processes starting together wins.
    """
    path = folder / "anonymous_id"
    try:
        text = path.read_text(encoding="ascii").strip()
        if text:
            return text
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    folder.mkdir(parents=True, mode=0o700, exist_ok=True)
    candidate = new_anonymous_id()
    tmp = folder / f".anonymous_id.{candidate}"
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(candidate)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(tmp, path)
    except FileExistsError:
        existing = path.read_text(encoding="ascii", errors="replace").strip()
        if existing:
            return existing
        os.replace(tmp, path)  # an empty file from an older crash: ours replaces it
        return candidate
    finally:
        if tmp.exists():
            tmp.unlink()
    return candidate


def new_anonymous_id() -> str:
    """A random (version 4) UUID from ``os.urandom``, as ``str(uuid.uuid4())`` makes it, without
    importing ``uuid`` (it imports ``platform``: milliseconds while a new app's first events
    wait for their first commit)."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # the RFC 4122 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def forget_anonymous_id(folder: Path) -> None:
    """Erase the install-wide anonymous id (``opt_out(purge=True)``); a new one is made on need."""
    try:
        (folder / "anonymous_id").unlink()
    except FileNotFoundError:
        pass


def quarantine(path: Path, now: float) -> Path:
    """Move a corrupt queue file (and its WAL) aside as ``<name>.corrupt-<time>``."""
    target = path.with_name(f"{path.name}.corrupt-{int(now)}")
    for suffix in ("", "-wal", "-shm"):
        source = path.with_name(path.name + suffix)
        if source.exists():
            source.rename(target.with_name(target.name + suffix))
    return target
