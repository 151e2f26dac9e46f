"""Power and network state: the ``PowerProbe`` plug point and one probe per platform.

=================  ============================================================================
probe              reads
=================  ============================================================================
``AndroidPower``   sticky battery intent, ``PowerManager``, ``ConnectivityManager`` (pyjnius or
                   Chaquopy)
``IosPower``       ``UIDevice`` battery state and level (on the main thread), ``NSProcessInfo``
                   Low Power Mode, the network path while listening (rubicon-objc)
``LinuxPower``     ``/sys/class/power_supply``, Raspberry Pi throttling flags, ``/proc/net/route``
``PsutilPower``    ``psutil.sensors_battery()`` (macOS, Windows, BSD), when psutil is installed
``ManualPower``    whatever the app last ``set()``
``StaticPower``    a fixed state, for tests
=================  ============================================================================

The platform probes are told of changes while a scheduler is subscribed (``push``: netlink on
Linux, broadcasts on Android, notifications on iOS); ``default_probe()`` picks one for the
running platform. Importing this package imports none of
jnius, java, rubicon or psutil; the probes import their bridge on their first reading.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys

from edgetrack.power._base import (
    DEFAULT_TTL,
    LOW_BATTERY,
    CachedProbe,
    CachingProbe,
    NotifyingProbe,
    PowerProbe,
    PowerState,
    PushingProbe,
)
from edgetrack.power.android import AndroidPower
from edgetrack.power.ios import IosPower
from edgetrack.power.linux import LinuxPower
from edgetrack.power.manual import ManualPower, StaticPower
from edgetrack.power.psutil_probe import PsutilPower

__all__ = [
    "DEFAULT_TTL",
    "LOW_BATTERY",
    "AndroidPower",
    "CachedProbe",
    "CachingProbe",
    "IosPower",
    "LinuxPower",
    "ManualPower",
    "NotifyingProbe",
    "PowerProbe",
    "PowerState",
    "PsutilPower",
    "PushingProbe",
    "StaticPower",
    "default_probe",
]

_log = logging.getLogger(__name__)

_SYS_ROOT = "/sys"


def _has_module(name: str) -> bool:
    """Whether ``name`` could be imported, found without importing it."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _platform() -> str:
    """Which probe fits this process: android, ios, linux, psutil or none."""
    env = os.environ
    if _has_module("jnius") and ("ANDROID_ARGUMENT" in env or "ANDROID_PRIVATE" in env):
        return "android"  # python-for-android sets both
    on_android = sys.platform == "android" or "ANDROID_ROOT" in env or "ANDROID_DATA" in env
    if on_android and _has_module("java"):
        return "android"  # Chaquopy
    if sys.platform == "ios" and _has_module("rubicon"):
        return "ios"
    # With sysfs mounted, LinuxPower is useful even with no power supply listed (a Pi still
    # reports throttling and the default route), and it reads the same files psutil would.
    if sys.platform.startswith("linux") and os.path.isdir(os.path.join(_SYS_ROOT, "class")):
        return "linux"
    if _has_module("psutil"):
        return "psutil"
    return "none"


def default_probe() -> PowerProbe:
    """The probe for the running platform; unknown (treated as mains) when nothing fits.

    Cheap: it looks for modules and files without importing or reading them, and never raises.
    """
    try:
        kind = _platform()
    except Exception:
        _log.debug("power platform detection failed", exc_info=True)
        kind = "none"
    if kind == "android":
        return AndroidPower()
    if kind == "ios":
        return IosPower()
    if kind == "linux":
        return LinuxPower(_SYS_ROOT)
    if kind == "psutil":
        return PsutilPower()
    return StaticPower(PowerState.unknown("none"))
