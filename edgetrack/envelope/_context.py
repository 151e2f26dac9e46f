"""The ``context`` edgetrack adds to every message: library, os, app, locale, timezone.

Computed once per client from what is cheap to know (no subprocesses, no network).
"""

from __future__ import annotations

import locale
import os
import re
import sys
from pathlib import Path
from typing import Any

from edgetrack._version import __version__

__all__ = ["default_context", "iana_zone"]


_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*")


def iana_zone(name: str | None) -> str | None:
    """``name`` when it is an IANA time-zone name the zone database knows (what Parcelvoy's
    ``Intl.DateTimeFormat`` check accepts), else None. A POSIX ``TZ`` rule such as
    ``CET-1CEST,M3.5.0,M10.5.0/3`` or a file path is not a name."""
    if not name or not _ZONE_NAME.fullmatch(name) or name.lower() in ("localtime", "factory", "posixrules"):
        return None
    if any(_is_tzif(os.path.join(base, name)) for base in _TZPATH):
        return name  # the system's zone database has it: no need to load zoneinfo (1.5 ms)
    import zoneinfo  # no system zone database (Android, Windows): the tzdata package's, if any

    try:
        zoneinfo.ZoneInfo(name)
    except (ValueError, OSError, zoneinfo.ZoneInfoNotFoundError):
        return None
    return name


#: zoneinfo's default search path for the system's zone database (CPython's configure default).
_TZPATH = ("/usr/share/zoneinfo", "/usr/lib/zoneinfo", "/usr/share/lib/zoneinfo", "/etc/zoneinfo")


def _is_tzif(path: str) -> bool:
    """Whether ``path`` is a compiled zone file (RFC 8536: it starts with ``TZif``)."""
    try:
        with open(path, "rb") as file:
            return file.read(4) == b"TZif"
    except OSError:
        return False


def _zone_of_file(path: str) -> str | None:
    """The zone a tzfile path names: ``/usr/share/zoneinfo/Europe/Paris`` -> ``Europe/Paris``
    (following a symlink such as ``/etc/localtime``)."""
    try:
        target = os.path.realpath(path)
    except OSError:
        return None
    if "zoneinfo/" in target:
        return iana_zone(target.split("zoneinfo/", 1)[1])
    return None


def _timezone() -> str | None:
    """The device's IANA zone, or None: from ``TZ`` when it names one (``Europe/Paris``,
    ``:Europe/Paris``, or a tzfile path), else ``/etc/localtime``'s link, else ``/etc/timezone``.
    Never a POSIX rule (embedded Linux often sets ``TZ="CET-1CEST,M3.5.0,M10.5.0/3"``), which
    vendors refuse (Parcelvoy answers 422 and the whole identify is lost)."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz:
        found = _zone_of_file(tz) if tz.startswith("/") else iana_zone(tz)
        if found:
            return found
    found = _zone_of_file("/etc/localtime")
    if found:
        return found
    try:
        return iana_zone(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    except OSError:
        return None


def _locale() -> str | None:
    try:
        name = locale.getlocale()[0]
    except ValueError:
        name = None
    name = name or os.environ.get("LC_ALL") or os.environ.get("LANG")
    if not name or name in ("C", "POSIX") or name.startswith("C."):
        return None
    return name.split(".", 1)[0].replace("_", "-")


def _release(mobile: bool = False) -> str:
    if hasattr(os, "uname") and not mobile:  # what platform.release() reads there, unimported
        return os.uname().release
    import platform  # on Android and iOS (3.13+) it gives the OS version, not the kernel's

    return platform.release()


def _os() -> dict[str, str]:
    if hasattr(sys, "getandroidapilevel") or "ANDROID_ARGUMENT" in os.environ:
        return {"name": "Android", "version": _release(mobile=True)}
    if sys.platform == "ios":
        return {"name": "iOS", "version": _release(mobile=True)}
    names = {"linux": "Linux", "darwin": "macOS", "win32": "Windows"}
    name = names.get(sys.platform)
    if name is None:
        import platform

        name = platform.system()
    return {"name": name, "version": _release()}


def default_context(app_name: str | None, app_version: str | None) -> dict[str, Any]:
    context: dict[str, Any] = {
        "library": {"name": "edgetrack", "version": __version__},
        "os": _os(),
    }
    if app_name:
        app = {"name": app_name}
        if app_version:
            app["version"] = app_version
        context["app"] = app
    found_locale = _locale()
    if found_locale:
        context["locale"] = found_locale
    zone = _timezone()
    if zone:
        context["timezone"] = zone
    return context
