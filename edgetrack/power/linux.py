"""Linux and Raspberry Pi: sysfs power supplies, the Pi's under-voltage flags, and the default route.

Reads plain files only (no subprocess, no D-Bus), so a reading costs a few dozen ``open()``s:

* ``/sys/class/power_supply/*/{scope,type,online,status,present,capacity,energy_*,charge_*}``;
  supplies with ``scope=Device`` (a Bluetooth mouse or keyboard, a USB-C port that does not
  power the system) are skipped.
* ``/sys/devices/platform/soc*/soc*:firmware/get_throttled`` and the ``rpi_volt`` hwmon's
  ``in0_lcrit_alarm``: under-voltage, capped frequency, throttling or the soft temperature limit
  *now* mark the state ``constrained`` (the "has occurred since boot" bits do not).
* ``/proc/net/route`` and ``/proc/net/ipv6_route``: a default route on a non-loopback interface
  means online. The interface of the preferred route guesses "metered" the way NetworkManager
  guesses from the device type (cellular modems: ``ww*``, ``ppp*``, ``rmnet*``).

While a scheduler is subscribed, a netlink listener (``_netlink``) tells the probe of every
route, link, address and power-supply change as the kernel makes it: no polling, and no
wake-up while nothing changes.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass

from edgetrack.power._base import DEFAULT_TTL, CachingProbe, PowerState
from edgetrack.power._netlink import NetlinkListener

__all__ = ["LinuxPower"]

_BATTERY_TYPES = frozenset({"Battery", "UPS"})
_EXTERNAL_TYPES = frozenset({"Mains", "Wireless", "BrickID"})  # and every "USB*" type
_PLUGGED_STATUSES = frozenset({"Charging", "Full", "Not charging"})
_THROTTLED_NOW = 0xF  # bits 0-3; bits 16-19 only say it happened since boot
_RTF_UP = 0x0001
_RTF_REJECT = 0x0200
_CELLULAR_PREFIXES = ("ww", "ppp", "rmnet")


@dataclass(frozen=True)
class _Supply:
    name: str
    battery: bool
    online: bool | None = None
    status: str | None = None
    level: float | None = None


class LinuxPower(CachingProbe):
    """Power and network state from sysfs and procfs; ``root``/``proc_root`` let tests fake both trees."""

    source = "linux"

    def __init__(
        self,
        root: str = "/sys",
        *,
        proc_root: str = "/proc",
        ttl: float = DEFAULT_TTL,
        metered_interfaces: Sequence[str] = _CELLULAR_PREFIXES,
    ) -> None:
        super().__init__(ttl=ttl)
        self.root = os.fspath(root)
        self.proc_root = os.fspath(proc_root)
        self.metered_interfaces = tuple(metered_interfaces)
        self._netlink: NetlinkListener | None = None

    def start_listening(self) -> str | None:
        """Netlink: route, link and address changes, and power-supply uevents (``_netlink``)."""
        listener = NetlinkListener(self.changed)
        name = listener.start()
        self._netlink = listener if name is not None else None
        return name

    def stop_listening(self) -> None:
        listener, self._netlink = self._netlink, None
        if listener is not None:
            listener.stop()

    def forget_listener(self) -> None:
        listener, self._netlink = self._netlink, None
        if listener is not None:
            listener.forget()

    def probe(self) -> PowerState:
        supplies: list[_Supply] = self._part("power supplies", self._supplies, [])
        on_mains = _on_mains(supplies)
        levels = [s.level for s in supplies if s.battery and s.level is not None]
        level = sum(levels) / len(levels) if levels else None
        constrained = self._part("Raspberry Pi throttling", self._constrained, False)
        routes = self._part("default route", self._default_routes, None)
        metered = routes[0][1].startswith(self.metered_interfaces) if routes else False
        return PowerState(
            on_mains=on_mains,
            battery_level=level,
            constrained=constrained,
            metered=metered,
            online=None if routes is None else bool(routes),
            source=self.source,
        )

    def _supplies(self) -> list[_Supply]:
        base = os.path.join(self.root, "class", "power_supply")
        try:
            names = sorted(os.listdir(base))
        except FileNotFoundError:
            return []  # no power-supply class at all: nothing reports power
        found = []
        for name in names:
            supply = _read_supply(os.path.join(base, name), name)
            if supply is not None:
                found.append(supply)
        return found

    def _constrained(self) -> bool:
        pattern = os.path.join(glob.escape(self.root), "devices", "platform", "soc*", "soc*:firmware")
        for firmware in glob.glob(pattern):
            flags = _int(_read(os.path.join(firmware, "get_throttled")), base=16)
            if flags is not None and flags & _THROTTLED_NOW:
                return True
        pattern = os.path.join(glob.escape(self.root), "class", "hwmon", "hwmon*")
        for hwmon in glob.glob(pattern):
            if _read(os.path.join(hwmon, "name")) == "rpi_volt":
                if _read(os.path.join(hwmon, "in0_lcrit_alarm")) == "1":
                    return True
        return False

    def _default_routes(self) -> list[tuple[int, str]] | None:
        """``(metric, interface)`` of each usable default route; None if no routing table is readable."""
        v4 = _read(os.path.join(self.proc_root, "net", "route"), limit=1 << 20)
        v6 = _read(os.path.join(self.proc_root, "net", "ipv6_route"), limit=1 << 20)
        if v4 is None and v6 is None:
            return None
        routes: list[tuple[str, int | None, int | None]] = []
        for line in (v4 or "").splitlines()[1:]:
            f = line.split()
            # Iface Destination Gateway Flags RefCnt Use Metric Mask ...
            if len(f) >= 8 and f[1] == "00000000" and f[7] == "00000000":
                routes.append((f[0], _int(f[3], base=16), _int(f[6])))
        for line in (v6 or "").splitlines():
            f = line.split()
            # dest plen src src_plen next_hop metric refcnt use flags iface
            if len(f) >= 10 and f[0] == "0" * 32 and f[1] == "00":
                routes.append((f[9], _int(f[8], base=16), _int(f[5], base=16)))
        return sorted(
            (metric, iface)
            for iface, flags, metric in routes
            if iface != "lo"
            and flags is not None
            and metric is not None
            and flags & _RTF_UP
            and not flags & _RTF_REJECT
        )


def _read(path: str, *, limit: int = 4096) -> str | None:
    """A sysfs/procfs attribute, stripped; None when missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read(limit).strip()
    except (OSError, ValueError):  # ValueError: undecodable bytes
        return None


def _read_supply(path: str, name: str) -> _Supply | None:
    if (_read(os.path.join(path, "scope")) or "").lower() == "device":
        return None  # a peripheral's battery says nothing about this device's power
    kind = _read(os.path.join(path, "type"))
    if kind in _BATTERY_TYPES:
        if _read(os.path.join(path, "present")) == "0":
            return None  # an empty battery bay
        return _Supply(name, battery=True, status=_read(os.path.join(path, "status")), level=_level(path))
    if kind is not None and (kind in _EXTERNAL_TYPES or kind.startswith("USB")):
        online = _int(_read(os.path.join(path, "online")))
        return _Supply(name, battery=False, online=None if online is None else online >= 1)
    return None


def _level(path: str) -> float | None:
    capacity = _int(_read(os.path.join(path, "capacity")))
    if capacity is not None:
        return min(max(capacity / 100.0, 0.0), 1.0)
    for prefix in ("energy", "charge"):
        now = _int(_read(os.path.join(path, f"{prefix}_now")))
        full = _int(_read(os.path.join(path, f"{prefix}_full")))
        if now is not None and full:
            return min(max(now / full, 0.0), 1.0)
    return None


def _int(text: str | None, *, base: int = 10) -> int | None:
    try:
        return None if text is None else int(text, base)
    except ValueError:
        return None


def _on_mains(supplies: list[_Supply]) -> bool | None:
    """Combine the supplies, most telling evidence first."""
    externals = [s.online for s in supplies if not s.battery]
    statuses = {s.status for s in supplies if s.battery}
    if True in externals:
        return True
    if "Discharging" in statuses:
        return False
    if "Charging" in statuses:
        return True  # no battery charges without a supply, even one we cannot see
    if False in externals:
        return False
    if statuses & _PLUGGED_STATUSES:
        return True  # "Full" / "Not charging": held by a charge limiter on external power
    return None  # no battery and nothing online (a Pi, a desktop): unknown, treated as mains
