"""The ``context`` edgetrack adds to every message, as the mobile SDKs describe the device:
``library``, ``device`` (manufacturer, model, type), ``os``, ``app`` (name, version, build,
namespace), ``locale`` and ``timezone`` (an IANA name, or absent). ``screen`` and ``network``
are added by the toolkit bindings and the power probes when they know them.

Computed once per client from what is cheap to know (files, no subprocesses, no network), at
``Client()``, never on the ``track()`` path. ``Client(collect=...)`` leaves any part out; no
stable device identifier is collected unless the app asks (``collect_device_id=True``).
"""

from __future__ import annotations

import locale
import os
import re
import sys
from pathlib import Path
from typing import Any

from edgetrack._version import __version__

__all__ = ["PARTS", "default_context", "device", "device_id", "iana_zone"]

#: The parts of the context ``Client(collect=...)`` can leave out.
PARTS = frozenset({"device", "os", "app", "screen", "network", "locale", "timezone"})


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


def _first_line(path: str) -> str | None:
    """A small system file's text (device-tree strings end in NUL), or None."""
    try:
        with open(path, "rb") as file:
            text = file.read(256).split(b"\0", 1)[0].decode("utf-8", "replace").strip()
    except OSError:
        return None
    return text or None


def device(root: str = "/") -> dict[str, str]:
    """What the device is: a Raspberry Pi from its device tree, a PC from its DMI strings, a
    phone from Android's ``Build`` or iOS's ``UIDevice`` (through the bridge the app has)."""
    if hasattr(sys, "getandroidapilevel") or "ANDROID_ARGUMENT" in os.environ:
        return _android_device()
    if sys.platform == "ios":
        return _ios_device()
    if not sys.platform.startswith("linux"):
        return {"type": {"darwin": "macos", "win32": "windows"}.get(sys.platform, sys.platform)}
    found = {"type": "linux"}
    model = _first_line(os.path.join(root, "proc/device-tree/model"))
    if model:  # Raspberry Pi and other single-board computers
        found["model"] = model
        if model.startswith("Raspberry Pi"):
            found["manufacturer"] = "Raspberry Pi"
        return found
    dmi = os.path.join(root, "sys/class/dmi/id")
    for key, name in (("manufacturer", "sys_vendor"), ("model", "product_name")):
        value = _first_line(os.path.join(dmi, name))
        if value:
            found[key] = value
    return found


def _android_device() -> dict[str, str]:
    try:
        try:
            from jnius import autoclass  # type: ignore[import-not-found]
        except ImportError:
            from java import jclass as autoclass  # type: ignore[import-not-found]
        build = autoclass("android.os.Build")
        return {"manufacturer": str(build.MANUFACTURER), "model": str(build.MODEL), "type": "android"}
    except Exception:  # no bridge: say what is known
        return {"type": "android"}


def _ios_device() -> dict[str, str]:
    try:
        from rubicon.objc import ObjCClass  # type: ignore[import-not-found]

        model = str(ObjCClass("UIDevice").currentDevice.model)
        return {"manufacturer": "Apple", "model": model, "type": "ios"}
    except Exception:
        return {"manufacturer": "Apple", "type": "ios"}


def device_id(app_name: str, root: str = "/") -> str | None:
    """A stable id for this device, for this app only: the machine id keyed with the app's name
    (HMAC-SHA256, as systemd's ``sd_id128_get_machine_app_specific``), so apps cannot match
    their ids; None where there is no machine id."""
    machine = _first_line(os.path.join(root, "etc/machine-id"))
    if not machine:
        return None
    import hashlib
    import hmac

    return hmac.new(machine.encode(), app_name.encode(), hashlib.sha256).hexdigest()[:32]


def default_context(
    app_name: str | None,
    app_version: str | None,
    app_build: str | None = None,
    *,
    app_namespace: str | None = None,
    collect: frozenset[str] = PARTS,
    collect_device_id: bool = False,
    root: str = "/",
) -> dict[str, Any]:
    """The context every event of a client carries (``collect``: the parts to include)."""
    context: dict[str, Any] = {"library": {"name": "edgetrack", "version": __version__}}
    if "device" in collect or collect_device_id:
        found: dict[str, str] = device(root) if "device" in collect else {}
        identifier = device_id(app_name or "edgetrack", root) if collect_device_id else None
        if identifier:
            found["id"] = identifier
        if found:
            context["device"] = found
    if "os" in collect:
        context["os"] = _os()
    if app_name and "app" in collect:
        app = {"name": app_name}
        if app_namespace:
            app["namespace"] = app_namespace
        if app_version:
            app["version"] = app_version
        if app_build:
            app["build"] = app_build
        context["app"] = app
    found_locale = _locale() if "locale" in collect else None
    if found_locale:
        context["locale"] = found_locale
    zone = _timezone() if "timezone" in collect else None
    if zone:
        context["timezone"] = zone
    return context
