"""The ``context`` edgetrack adds to every message: library, os, app, locale, timezone.

Computed once per client from what is cheap to know (no subprocesses, no network).
"""

from __future__ import annotations

import locale
import os
import sys
from pathlib import Path
from typing import Any

from edgetrack._version import __version__

__all__ = ["default_context"]


def _timezone() -> str | None:
    tz = os.environ.get("TZ")
    if tz:
        return tz.lstrip(":")
    try:
        target = os.readlink("/etc/localtime")
    except OSError:
        target = ""
    if "zoneinfo/" in target:
        return target.split("zoneinfo/", 1)[1]
    try:
        return Path("/etc/timezone").read_text(encoding="utf-8").strip() or None
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
