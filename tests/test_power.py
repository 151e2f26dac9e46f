"""Power probes: fake sysfs/procfs trees for Linux and the Pi, fakes of the Java and Objective-C objects."""

from __future__ import annotations

import logging
import math
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import edgetrack.power
import edgetrack.power.linux
from edgetrack import ConfigError
from edgetrack.power import (
    AndroidPower,
    CachingProbe,
    IosPower,
    LinuxPower,
    ManualPower,
    PowerProbe,
    PowerState,
    PsutilPower,
    StaticPower,
    default_probe,
)

T0 = 1_700_000_000.0

# --------------------------------------------------------------------------- fake trees


def build(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write ``files`` (relative path -> content) under ``root``."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def link_supply(sys_root: Path, device_dir: str, name: str, attrs: dict[str, str]) -> None:
    """A supply as the kernel lays it out: attributes under the device, a symlink in the class dir."""
    build(sys_root, {f"{device_dir}/power_supply/{name}/{k}": f"{v}\n" for k, v in attrs.items()})
    class_dir = sys_root / "class" / "power_supply"
    class_dir.mkdir(parents=True, exist_ok=True)
    (class_dir / name).symlink_to(sys_root / device_dir / "power_supply" / name)


def laptop(sys_root: Path, *, ac_online: str, status: str, capacity: str = "57") -> Path:
    """A ThinkPad-like laptop: ACPI AC adapter and BAT0, plus a Bluetooth mouse's HID battery."""
    acpi = "devices/LNXSYSTM:00/LNXSYBUS:00"
    link_supply(sys_root, f"{acpi}/ACPI0003:00", "AC", {"type": "Mains", "online": ac_online})
    link_supply(
        sys_root,
        f"{acpi}/PNP0C0A:00",
        "BAT0",
        {
            "type": "Battery",
            "present": "1",
            "status": status,
            "capacity": capacity,
            "capacity_level": "Normal",
            "energy_now": "28500000",
            "energy_full": "50000000",
            "technology": "Li-ion",
        },
    )
    link_supply(
        sys_root,
        "devices/virtual/misc/uhid/0005:046D:B01A.0003",
        "hid-00:1f:20:aa:bb:cc-battery",
        {"type": "Battery", "scope": "Device", "status": "Discharging", "capacity": "5", "online": "1"},
    )
    return sys_root


FIRMWARE = "devices/platform/soc/soc:firmware"


def pi4(sys_root: Path, *, throttled: str = "0", volt_alarm: str = "0") -> Path:
    """A Raspberry Pi 4: no power supplies at all, firmware throttling flags, two hwmons."""
    (sys_root / "class" / "power_supply").mkdir(parents=True, exist_ok=True)
    return build(
        sys_root,
        {
            f"{FIRMWARE}/get_throttled": f"{throttled}\n",
            "class/hwmon/hwmon0/name": "cpu_thermal\n",
            "class/hwmon/hwmon0/temp1_input": "48686\n",
            "class/hwmon/hwmon1/name": "rpi_volt\n",
            "class/hwmon/hwmon1/in0_lcrit_alarm": f"{volt_alarm}\n",
        },
    )


ROUTE_HEADER = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"


def route(iface: str, dest: str, gateway: str, flags: str, metric: int, mask: str) -> str:
    return f"{iface}\t{dest}\t{gateway}\t{flags}\t0\t0\t{metric}\t{mask}\t0\t0\t0\n"


WLAN_DEFAULT = route("wlan0", "00000000", "0101A8C0", "0003", 600, "00000000")
WLAN_SUBNET = route("wlan0", "0001A8C0", "00000000", "0001", 600, "00FFFFFF")
WWAN_DEFAULT = route("wwan0", "00000000", "01000A0A", "0003", 700, "00000000")
V6_ZERO = "0" * 32
V6_LO_REJECT = f"{V6_ZERO} 00 {V6_ZERO} 00 {V6_ZERO} ffffffff 00000001 00000000 00200200       lo\n"
V6_WLAN_DEFAULT = (
    f"{V6_ZERO} 00 {V6_ZERO} 00 fe80000000000000021122fffe334455 00000400 00000001 00000000 00000003 wlan0\n"
)


def proc(root: Path, v4: str | None = None, v6: str | None = None) -> Path:
    """A fake ``/proc`` with the given routing tables (None: the file is absent)."""
    (root / "net").mkdir(parents=True, exist_ok=True)
    if v4 is not None:
        (root / "net" / "route").write_text(ROUTE_HEADER + v4)
    if v6 is not None:
        (root / "net" / "ipv6_route").write_text(v6)
    return root


@pytest.fixture
def sys_root(tmp_path: Path) -> Path:
    return tmp_path / "sys"


@pytest.fixture
def proc_root(tmp_path: Path) -> Path:
    return proc(tmp_path / "proc", WLAN_SUBNET + WLAN_DEFAULT, V6_LO_REJECT)


def linux(sys_root: Path, proc_root: Path, **kwargs: Any) -> LinuxPower:
    return LinuxPower(str(sys_root), proc_root=str(proc_root), **kwargs)


# --------------------------------------------------------------------------- PowerState


@pytest.mark.parametrize(
    ("on_mains", "level", "on_battery", "low"),
    [
        (True, 0.1, False, False),
        (None, 0.1, False, False),
        (False, 0.5, True, False),
        (False, 0.2, True, True),
        (False, 0.05, True, True),
        (False, None, True, False),
    ],
)
def test_on_battery_and_low_battery_only_when_known_on_battery(
    on_mains: bool | None, level: float | None, on_battery: bool, low: bool
) -> None:
    """on_battery needs on_mains False; low_battery also needs a known level <= 0.2."""
    state = PowerState(on_mains=on_mains, battery_level=level)
    assert (state.on_battery, state.low_battery) == (on_battery, low)


@pytest.mark.parametrize("level", [1.5, -0.1, math.nan, True])
def test_power_state_rejects_a_battery_level_outside_0_to_1(level: float) -> None:
    """A battery level must be a fraction; the error names the field."""
    with pytest.raises(ConfigError, match="battery_level"):
        PowerState(on_mains=False, battery_level=level)


def test_unknown_state_knows_nothing() -> None:
    """PowerState.unknown has no power, level or network information, and is not on battery."""
    state = PowerState.unknown("x")
    assert state == PowerState(on_mains=None, battery_level=None, online=None, source="x")
    assert not state.on_battery and not state.metered and not state.power_save


# --------------------------------------------------------------------------- Linux: laptop


def test_laptop_on_ac_is_on_mains_with_battery_level(sys_root: Path, proc_root: Path) -> None:
    """AC online=1 means mains; the level is BAT0's capacity."""
    laptop(sys_root, ac_online="1", status="Charging")
    state = linux(sys_root, proc_root).read(T0)
    assert state == PowerState(
        on_mains=True, battery_level=0.57, online=True, metered=False, constrained=False, source="linux"
    )


def test_laptop_on_battery_ignores_device_scope_hid_battery(sys_root: Path, proc_root: Path) -> None:
    """Unplugged: on battery at BAT0's 57 %; the mouse's 5 % Device-scope battery is not counted."""
    laptop(sys_root, ac_online="0", status="Discharging")
    state = linux(sys_root, proc_root).read(T0)
    assert state.on_battery and state.battery_level == pytest.approx(0.57)
    assert not state.low_battery


def test_laptop_low_battery(sys_root: Path, proc_root: Path) -> None:
    """A discharging battery at 12 % is low."""
    laptop(sys_root, ac_online="0", status="Discharging", capacity="12")
    assert linux(sys_root, proc_root).read(T0).low_battery


def test_level_falls_back_to_energy_now_over_energy_full(sys_root: Path, proc_root: Path) -> None:
    """Without a capacity file the level is energy_now / energy_full."""
    laptop(sys_root, ac_online="0", status="Discharging")
    os.remove(sys_root / "class" / "power_supply" / "BAT0" / "capacity")
    assert linux(sys_root, proc_root).read(T0).battery_level == pytest.approx(0.57)


def test_not_charging_without_an_adapter_entry_counts_as_mains(sys_root: Path, proc_root: Path) -> None:
    """'Not charging' (a charge limiter on external power) with no adapter listed means mains."""
    laptop(sys_root, ac_online="0", status="Not charging")
    os.remove(sys_root / "class" / "power_supply" / "AC")
    assert linux(sys_root, proc_root).read(T0).on_mains is True


def test_full_battery_with_adapter_offline_is_on_battery(sys_root: Path, proc_root: Path) -> None:
    """A battery that still says 'Full' after unplugging: the offline adapter wins."""
    laptop(sys_root, ac_online="0", status="Full", capacity="100")
    assert linux(sys_root, proc_root).read(T0).on_mains is False


def test_usb_c_supply_online_is_external_power(sys_root: Path, proc_root: Path) -> None:
    """A USB-C charger (type USB, online) counts as mains even when the AC entry says offline."""
    laptop(sys_root, ac_online="0", status="Charging")
    link_supply(
        sys_root, "devices/platform/USBC000:00", "ucsi-source-psy-USBC000:001", {"type": "USB", "online": "1"}
    )
    assert linux(sys_root, proc_root).read(T0).on_mains is True


def test_empty_battery_bay_is_ignored(sys_root: Path, proc_root: Path) -> None:
    """A battery with present=0 gives no level and no status."""
    laptop(sys_root, ac_online="1", status="Unknown")
    (sys_root / "class" / "power_supply" / "BAT0" / "present").write_text("0\n")
    state = linux(sys_root, proc_root).read(T0)
    assert state.on_mains is True and state.battery_level is None


# --------------------------------------------------------------------------- Linux: Raspberry Pi


def test_pi4_without_battery_is_unknown_and_treated_as_mains(sys_root: Path, proc_root: Path) -> None:
    """No supplies: on_mains unknown (callers treat it as mains), not on battery, not constrained."""
    pi4(sys_root, throttled="0")
    state = linux(sys_root, proc_root).read(T0)
    assert state.on_mains is None and state.battery_level is None
    assert not state.on_battery and not state.constrained and state.online is True


@pytest.mark.parametrize(
    ("throttled", "constrained"),
    [("0", False), ("50005", True), ("0x50005", True), ("50000", False), ("1", True), ("8", True)],
)
def test_pi_get_throttled_current_bits_mark_constrained(
    sys_root: Path, proc_root: Path, throttled: str, constrained: bool
) -> None:
    """Bits 0-3 (under-voltage, capped, throttled, soft temp limit now) constrain; 'occurred' bits don't."""
    pi4(sys_root, throttled=throttled)
    assert linux(sys_root, proc_root).read(T0).constrained is constrained


def test_pi_rpi_volt_lcrit_alarm_marks_constrained(sys_root: Path, proc_root: Path) -> None:
    """rpi_volt's in0_lcrit_alarm=1 means under-voltage even when get_throttled is absent."""
    pi4(sys_root, volt_alarm="1")
    os.remove(sys_root / FIRMWARE / "get_throttled")
    assert linux(sys_root, proc_root).read(T0).constrained is True


def test_alarm_on_another_hwmon_chip_is_ignored(sys_root: Path, proc_root: Path) -> None:
    """A desktop sensor chip's in0_lcrit_alarm (often spurious) does not constrain."""
    build(sys_root, {"class/hwmon/hwmon2/name": "nct6798\n", "class/hwmon/hwmon2/in0_lcrit_alarm": "1\n"})
    assert linux(sys_root, proc_root).read(T0).constrained is False


@pytest.mark.parametrize(("status", "on_mains"), [("Discharging", False), ("Charging", True)])
def test_pi_with_ups_hat_battery(sys_root: Path, proc_root: Path, status: str, on_mains: bool) -> None:
    """A UPS HAT's fuel gauge (type Battery) gives the Pi a battery state and level."""
    pi4(sys_root)
    link_supply(
        sys_root,
        "devices/platform/soc/fe804000.i2c/i2c-1/1-0036",
        "max17040",
        {"type": "Battery", "status": status, "capacity": "64"},
    )
    state = linux(sys_root, proc_root).read(T0)
    assert state.on_mains is on_mains and state.battery_level == pytest.approx(0.64)


def test_mains_supply_saying_offline_without_battery_is_not_mains(sys_root: Path, proc_root: Path) -> None:
    """No battery but a Mains supply that says offline: reported as not on mains."""
    link_supply(sys_root, "devices/platform/ac", "ac", {"type": "Mains", "online": "0"})
    assert linux(sys_root, proc_root).read(T0).on_mains is False


# --------------------------------------------------------------------------- Linux: network


@pytest.mark.parametrize(
    ("v4", "v6", "online"),
    [
        (WLAN_SUBNET + WLAN_DEFAULT, V6_LO_REJECT, True),
        (WLAN_SUBNET, V6_LO_REJECT, False),
        (route("lo", "00000000", "00000000", "0001", 0, "00000000"), "", False),
        (route("wlan0", "00000000", "0101A8C0", "0002", 600, "00000000"), None, False),
        (WLAN_SUBNET, V6_LO_REJECT + V6_WLAN_DEFAULT, True),
        (None, V6_WLAN_DEFAULT, True),
        (None, None, None),
        ("", V6_WLAN_DEFAULT.replace("00000003 wlan0", "00000201 wlan0"), False),
    ],
    ids=[
        "default",
        "no-default",
        "loopback-only",
        "route-down",
        "ipv6-only",
        "no-ipv4-table",
        "no-tables",
        "reject-route",
    ],
)
def test_online_from_the_default_route(
    tmp_path: Path, sys_root: Path, v4: str | None, v6: str | None, online: bool | None
) -> None:
    """Online iff an up, non-loopback, non-reject default route exists; unknown without routing tables."""
    proc_root = proc(tmp_path / "p", v4, v6)
    assert linux(sys_root, proc_root).read(T0).online is online


@pytest.mark.parametrize(
    ("v4", "metered"),
    [(WWAN_DEFAULT, True), (WLAN_DEFAULT + WWAN_DEFAULT, False), (WLAN_DEFAULT, False), ("", False)],
)
def test_metered_guess_from_preferred_default_route(
    tmp_path: Path, sys_root: Path, v4: str, metered: bool
) -> None:
    """The lowest-metric default route via a cellular modem (wwan*) is guessed metered."""
    proc_root = proc(tmp_path / "p", v4)
    assert linux(sys_root, proc_root).read(T0).metered is metered


# --------------------------------------------------------------------------- Linux: caching, failures


def test_two_reads_within_the_ttl_read_the_files_once(
    sys_root: Path, proc_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second read inside the TTL touches no file; after the TTL the files are read again."""
    laptop(sys_root, ac_online="1", status="Charging")
    reads: list[str] = []
    real_read = edgetrack.power.linux._read

    def counting_read(path: str, *, limit: int = 4096) -> str | None:
        reads.append(path)
        return real_read(path, limit=limit)

    monkeypatch.setattr(edgetrack.power.linux, "_read", counting_read)
    probe = linux(sys_root, proc_root, ttl=60)
    first = probe.read(T0)
    count = len(reads)
    assert count > 0
    assert probe.read(T0 + 59.9) is first and len(reads) == count
    probe.read(T0 + 60)
    assert len(reads) == 2 * count


def test_cached_state_survives_a_change_until_the_ttl_passes(sys_root: Path, proc_root: Path) -> None:
    """Unplugging shows up only once the TTL has passed (or after invalidate())."""
    laptop(sys_root, ac_online="1", status="Charging")
    probe = linux(sys_root, proc_root, ttl=60)
    assert probe.read(T0).on_mains is True
    (sys_root / "class" / "power_supply" / "AC" / "online").write_text("0\n")
    (sys_root / "class" / "power_supply" / "BAT0" / "status").write_text("Discharging\n")
    assert probe.read(T0 + 30).on_mains is True
    assert probe.read(T0 + 61).on_mains is False
    (sys_root / "class" / "power_supply" / "AC" / "online").write_text("1\n")
    probe.invalidate()
    assert probe.read(T0 + 62).on_mains is True


def test_clock_going_backwards_reads_again(sys_root: Path, proc_root: Path) -> None:
    """A ``now`` earlier than the cached reading does not reuse it."""
    laptop(sys_root, ac_online="1", status="Charging")
    probe = linux(sys_root, proc_root)
    probe.read(T0)
    (sys_root / "class" / "power_supply" / "AC" / "online").write_text("0\n")
    (sys_root / "class" / "power_supply" / "BAT0" / "status").write_text("Discharging\n")
    assert probe.read(T0 - 5).on_mains is False


def test_missing_trees_give_unknown(tmp_path: Path) -> None:
    """Nothing under either root: every field unknown or default, no exception."""
    state = LinuxPower(str(tmp_path / "nosys"), proc_root=str(tmp_path / "noproc")).read(T0)
    assert state == PowerState.unknown("linux")


def test_broken_tree_gives_unknown_and_never_raises(sys_root: Path, tmp_path: Path) -> None:
    """Directories where files belong, garbage and undecodable bytes: unknown fields, no exception."""
    build(
        sys_root,
        {
            "class/power_supply/BAT0/type/oops": "",  # ``type`` is a directory
            "class/power_supply/BAT1/type": "Battery\n",
            "class/power_supply/BAT1/status": b"\xff\xfe\n",
            "class/power_supply/BAT1/capacity": "n/a\n",
            "class/power_supply/AC/type": "Mains\n",
            "class/power_supply/AC/online": "yes\n",
            f"{FIRMWARE}/get_throttled": "garbage\n",
        },
    )
    proc_root = tmp_path / "proc"
    build(
        proc_root, {"net/route": ROUTE_HEADER + "wlan0\t00000000\tzz\tQQ\n", "net/ipv6_route": "short line\n"}
    )
    state = linux(sys_root, proc_root).read(T0)
    assert state == PowerState(on_mains=None, battery_level=None, online=False, source="linux")


def test_power_supply_class_that_is_a_file_gives_unknown(sys_root: Path, proc_root: Path) -> None:
    """A power_supply 'directory' that is a file: unknown power, the rest still read."""
    build(sys_root, {"class/power_supply": "not a directory"})
    state = linux(sys_root, proc_root).read(T0)
    assert state.on_mains is None and state.online is True


def test_unreadable_files_give_unknown(
    sys_root: Path, proc_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files the process may not open (PermissionError, as SELinux gives Android apps) are unknown."""
    laptop(sys_root, ac_online="1", status="Charging")
    denied = ("/online", "/status", "/capacity", "/energy_now", "get_throttled", "/route", "ipv6_route")
    real_open = open

    def guarded_open(path: str, *args: Any, **kwargs: Any) -> Any:
        if str(path).endswith(denied):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(edgetrack.power.linux, "open", guarded_open, raising=False)
    state = linux(sys_root, proc_root).read(T0)
    assert state == PowerState(on_mains=None, battery_level=None, online=None, source="linux")


def test_real_machine_read_never_raises() -> None:
    """LinuxPower on this machine's real /sys and /proc returns a PowerState."""
    assert isinstance(LinuxPower().read(T0), PowerState)


class Exploding(CachingProbe):
    source = "boom"

    def __init__(self) -> None:
        super().__init__(ttl=60)
        self.calls = 0

    def probe(self) -> PowerState:
        self.calls += 1
        raise RuntimeError("sensor fell off")


def test_a_probe_that_raises_reports_unknown_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    """An exception becomes an unknown state, logged at debug under edgetrack.power, and is cached."""
    caplog.set_level(logging.DEBUG, logger="edgetrack.power")
    probe = Exploding()
    assert probe.read(T0) == PowerState.unknown("boom:error")
    assert probe.read(T0 + 1) == PowerState.unknown("boom:error") and probe.calls == 1
    [record] = [r for r in caplog.records if r.name.startswith("edgetrack.power")]
    assert record.levelno == logging.DEBUG and "sensor fell off" in caplog.text


@pytest.mark.parametrize("ttl", [-1, math.nan, "60", True])
def test_bad_ttl_is_a_config_error(ttl: Any) -> None:
    """The TTL must be a number of seconds >= 0."""
    with pytest.raises(ConfigError, match="ttl"):
        LinuxPower(ttl=ttl)


def test_ttl_zero_reads_every_time(sys_root: Path, proc_root: Path) -> None:
    """ttl=0 turns the cache off."""
    laptop(sys_root, ac_online="1", status="Charging")
    probe = linux(sys_root, proc_root, ttl=0)
    probe.read(T0)
    (sys_root / "class" / "power_supply" / "AC" / "online").write_text("0\n")
    (sys_root / "class" / "power_supply" / "BAT0" / "status").write_text("Discharging\n")
    assert probe.read(T0).on_mains is False


# --------------------------------------------------------------------------- psutil


def battery(percent: float | None, plugged: bool | None) -> SimpleNamespace:
    return SimpleNamespace(percent=percent, secsleft=-2, power_plugged=plugged)


@pytest.mark.parametrize(
    ("reading", "on_mains", "level"),
    [
        (battery(80.0, True), True, 0.8),
        (battery(15, False), False, 0.15),
        (battery(100.4, None), None, 1.0),
        (None, None, None),
    ],
)
def test_psutil_maps_sensors_battery(reading: Any, on_mains: bool | None, level: float | None) -> None:
    """power_plugged -> on_mains, percent -> level; no battery -> unknown."""
    state = PsutilPower(lambda: reading).read(T0)
    assert (state.on_mains, state.battery_level, state.source) == (on_mains, level, "psutil")


def test_psutil_missing_gives_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without psutil installed the probe reports unknown."""
    monkeypatch.setitem(sys.modules, "psutil", None)
    assert PsutilPower().read(T0) == PowerState.unknown("psutil")


def test_psutil_is_imported_on_first_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """PsutilPower uses psutil.sensors_battery, imported when first read, not when built."""
    probe = PsutilPower()
    monkeypatch.setitem(sys.modules, "psutil", SimpleNamespace(sensors_battery=lambda: battery(42, False)))
    assert probe.read(T0).battery_level == pytest.approx(0.42)


# --------------------------------------------------------------------------- Android fakes


class FakeIntent:
    def __init__(self, **extras: int) -> None:
        self.extras = extras

    def getIntExtra(self, name: str, default: int) -> int:
        return self.extras.get(name, default)


class FakePowerManager:
    def __init__(self, saver: bool) -> None:
        self.saver = saver

    def isPowerSaveMode(self) -> bool:
        return self.saver


class FakeConnectivity:
    def __init__(self, network: object | None, metered: bool) -> None:
        self.network = network
        self.metered = metered

    def getActiveNetwork(self) -> object | None:
        return self.network

    def isActiveNetworkMetered(self) -> bool:
        return self.metered  # Android answers True when there is no network at all


class FakeContext:
    def __init__(self, intent: FakeIntent | None, power: Any, connectivity: Any) -> None:
        self.intent = intent
        self.services = {"power": power, "connectivity": connectivity}
        self.registered: list[tuple[object, str]] = []

    def registerReceiver(self, receiver: object, intent_filter: Any) -> FakeIntent | None:
        self.registered.append((receiver, intent_filter.action))
        return self.intent

    def getSystemService(self, name: str) -> Any:
        service = self.services[name]
        if isinstance(service, Exception):
            raise service
        return service


class FakeIntentFilter:
    def __init__(self, action: str) -> None:
        self.action = action


class FakeJava:
    """``autoclass``/``jclass``: the named classes it knows, ClassNotFound for the rest."""

    def __init__(self, **classes: Any) -> None:
        self.classes = {"android.content.IntentFilter": FakeIntentFilter, **classes}

    def __call__(self, name: str) -> Any:
        if name not in self.classes:
            raise LookupError(f"java.lang.ClassNotFoundException: {name}")
        return self.classes[name]


def android_context(
    *,
    plugged: int = 1,
    level: int = 80,
    scale: int = 100,
    saver: bool = False,
    network: bool = True,
    metered: bool = False,
) -> FakeContext:
    intent = FakeIntent(plugged=plugged, level=level, scale=scale, status=2 if plugged else 3)
    return FakeContext(
        intent, FakePowerManager(saver), FakeConnectivity(object() if network else None, metered)
    )


def test_android_plugged_in_on_wifi() -> None:
    """EXTRA_PLUGGED=1 (AC) -> mains; level/scale -> 0.8; an unmetered active network -> online."""
    context = android_context(plugged=1, level=80)
    state = AndroidPower(FakeJava(), context=context).read(T0)
    assert state == PowerState(
        on_mains=True, battery_level=0.8, power_save=False, metered=False, online=True, source="android"
    )
    assert context.registered == [(None, "android.intent.action.BATTERY_CHANGED")]


def test_android_unplugged_power_save_on_cellular() -> None:
    """EXTRA_PLUGGED=0 -> on battery; power-save mode; a metered network."""
    context = android_context(plugged=0, level=15, saver=True, metered=True)
    state = AndroidPower(FakeJava(), context=context).read(T0)
    assert state.on_battery and state.low_battery and state.power_save and state.metered and state.online


def test_android_offline_is_not_metered() -> None:
    """No active network: offline, and not metered even though Android says metered."""
    state = AndroidPower(FakeJava(), context=android_context(network=False, metered=True)).read(T0)
    assert state.online is False and state.metered is False


@pytest.mark.parametrize(("plugged", "on_mains"), [(2, True), (4, True), (8, True), (0, False)])
def test_android_any_plugged_type_is_mains(plugged: int, on_mains: bool) -> None:
    """USB (2), wireless (4) and dock (8) count as external power, like AC."""
    state = AndroidPower(FakeJava(), context=android_context(plugged=plugged)).read(T0)
    assert state.on_mains is on_mains


def test_android_level_uses_scale_and_unknown_level() -> None:
    """level 150 of scale 200 is 0.75; a level of -1 is unknown."""
    assert (
        AndroidPower(FakeJava(), context=android_context(level=150, scale=200)).read(T0).battery_level == 0.75
    )
    assert AndroidPower(FakeJava(), context=android_context(level=-1)).read(T0).battery_level is None


@pytest.mark.parametrize(("status", "on_mains"), [(2, True), (5, True), (4, True), (3, False), (1, None)])
def test_android_status_when_plugged_extra_missing(status: int, on_mains: bool | None) -> None:
    """Without EXTRA_PLUGGED, EXTRA_STATUS decides: charging/full/not charging -> mains, discharging not."""
    context = FakeContext(FakeIntent(status=status, level=50, scale=100), FakePowerManager(False), None)
    assert AndroidPower(FakeJava(), context=context).read(T0).on_mains is on_mains


def test_android_no_sticky_intent_is_unknown_power() -> None:
    """registerReceiver returning null leaves power unknown but still reads the rest."""
    context = FakeContext(None, FakePowerManager(True), FakeConnectivity(object(), False))
    state = AndroidPower(FakeJava(), context=context).read(T0)
    assert state.on_mains is None and state.power_save and state.online


def test_android_missing_permission_blanks_only_the_network() -> None:
    """A SecurityException from ConnectivityManager leaves online unknown; battery is still read."""
    context = android_context(plugged=0, level=40)
    context.services["connectivity"] = PermissionError("java.lang.SecurityException: ACCESS_NETWORK_STATE")
    state = AndroidPower(FakeJava(), context=context).read(T0)
    assert state.on_mains is False and state.battery_level == 0.4 and state.online is None


def test_android_old_api_uses_active_network_info() -> None:
    """Before API 23 (no getActiveNetwork) online comes from getActiveNetworkInfo().isConnected()."""

    class OldConnectivity:
        def getActiveNetworkInfo(self) -> Any:
            return SimpleNamespace(isConnected=lambda: True)

        def isActiveNetworkMetered(self) -> bool:
            return True

    context = FakeContext(FakeIntent(plugged=1, level=1, scale=1), FakePowerManager(False), OldConnectivity())
    state = AndroidPower(FakeJava(), context=context).read(T0)
    assert state.online is True and state.metered is True


def test_android_casts_system_services_with_pyjnius_cast() -> None:
    """With pyjnius, services are cast to PowerManager / ConnectivityManager before use."""
    casts: list[str] = []

    def cast(name: str, obj: Any) -> Any:
        casts.append(name)
        return obj

    AndroidPower(FakeJava(), cast=cast, context=android_context()).read(T0)
    assert casts == ["android.os.PowerManager", "android.net.ConnectivityManager"]


def test_android_context_from_p4a_activity() -> None:
    """Without an injected context, p4a's PythonActivity.mActivity is used."""
    context = android_context(plugged=0)
    java = FakeJava(**{"org.kivy.android.PythonActivity": SimpleNamespace(mActivity=context)})
    assert AndroidPower(java).read(T0).on_mains is False


def test_android_context_from_p4a_service_when_no_activity() -> None:
    """Inside a p4a service (mActivity is null) PythonService.mService is used."""
    context = android_context(plugged=0)
    java = FakeJava(
        **{
            "org.kivy.android.PythonActivity": SimpleNamespace(mActivity=None),
            "org.kivy.android.PythonService": SimpleNamespace(mService=context),
        }
    )
    assert AndroidPower(java).read(T0).on_mains is False


def test_android_context_from_chaquopy_application() -> None:
    """Under Chaquopy, Python.getPlatform().getApplication() is the context."""
    context = android_context(plugged=0)
    platform = SimpleNamespace(getApplication=lambda: context)
    java = FakeJava(**{"com.chaquo.python.Python": SimpleNamespace(getPlatform=lambda: platform)})
    assert AndroidPower(java).read(T0).on_mains is False


def test_android_without_any_context_reports_unknown() -> None:
    """No activity, service or Chaquopy: unknown with an error source, no exception."""
    assert AndroidPower(FakeJava()).read(T0) == PowerState.unknown("android:error")


def test_android_bridge_prefers_pyjnius_then_chaquopy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default bridge is jnius.autoclass (+ cast), else Chaquopy's java.jclass, found on first read."""
    context = android_context()
    jnius_casts: list[str] = []
    activity = SimpleNamespace(mActivity=context)
    fake_jnius = SimpleNamespace(
        autoclass=FakeJava(**{"org.kivy.android.PythonActivity": activity}),
        cast=lambda name, obj: jnius_casts.append(name) or obj,  # type: ignore[func-returns-value]
    )
    probe = AndroidPower()
    monkeypatch.setitem(sys.modules, "jnius", fake_jnius)
    assert probe.read(T0).on_mains is True and len(jnius_casts) == 2

    platform = SimpleNamespace(getApplication=lambda: context)
    fake_java = SimpleNamespace(
        jclass=FakeJava(**{"com.chaquo.python.Python": SimpleNamespace(getPlatform=lambda: platform)})
    )
    monkeypatch.setitem(sys.modules, "jnius", None)
    monkeypatch.setitem(sys.modules, "java", fake_java)
    assert AndroidPower().read(T0).on_mains is True


def test_android_reading_is_cached() -> None:
    """Two reads within the TTL ask Android once."""
    context = android_context()
    probe = AndroidPower(FakeJava(), context=context, ttl=60)
    probe.read(T0)
    probe.read(T0 + 10)
    assert len(context.registered) == 1


# --------------------------------------------------------------------------- iOS fakes


class FakeDevice:
    def __init__(self, state: int, level: float) -> None:
        self._state = state
        self._level = level
        self.monitoring = False
        self.enable_calls = 0

    def setBatteryMonitoringEnabled_(self, value: bool) -> None:
        self.monitoring = value
        self.enable_calls += 1

    @property
    def batteryState(self) -> int:
        return self._state if self.monitoring else 0

    @property
    def batteryLevel(self) -> float:
        return self._level if self.monitoring else -1.0


class FakeProcessInfo:
    def __init__(self, low_power: bool) -> None:
        self.low_power = low_power

    def isLowPowerModeEnabled(self) -> bool:
        return self.low_power


def objc(device: FakeDevice, process_info: Any) -> Callable[[str], Any]:
    classes = {
        "UIDevice": SimpleNamespace(currentDevice=device),
        "NSProcessInfo": SimpleNamespace(processInfo=process_info),
    }
    return classes.__getitem__


@pytest.mark.parametrize(
    ("battery_state", "level", "on_mains", "expected_level"),
    [(1, 0.42, False, 0.42), (2, 0.5, True, 0.5), (3, 1.0, True, 1.0), (0, -1.0, None, None)],
    ids=["unplugged", "charging", "full", "unknown"],
)
def test_ios_battery_state_and_level(
    battery_state: int, level: float, on_mains: bool | None, expected_level: float | None
) -> None:
    """UIDeviceBatteryState 1 -> battery, 2/3 -> mains, 0 -> unknown; a level of -1 is unknown."""
    state = IosPower(objc(FakeDevice(battery_state, level), FakeProcessInfo(False))).read(T0)
    assert state == PowerState(on_mains=on_mains, battery_level=expected_level, source="ios")


def test_ios_low_power_mode_and_monitoring_enabled_once() -> None:
    """Low Power Mode -> power_save; battery monitoring is switched on once, not on every read."""
    device = FakeDevice(1, 0.1)
    probe = IosPower(objc(device, FakeProcessInfo(True)), ttl=0)
    for t in range(3):
        state = probe.read(T0 + t)
    assert state.power_save and state.low_battery
    assert device.enable_calls == 1


def test_ios_low_power_mode_as_a_property_works_too() -> None:
    """If the bridge exposes isLowPowerModeEnabled as a value rather than a method it is still read."""
    state = IosPower(objc(FakeDevice(2, 0.9), SimpleNamespace(isLowPowerModeEnabled=True))).read(T0)
    assert state.power_save is True


def test_ios_missing_process_info_keeps_the_battery_reading() -> None:
    """An NSProcessInfo failure leaves power_save False; the battery is still read."""

    def objc_class(name: str) -> Any:
        if name == "NSProcessInfo":
            raise NameError("ObjCClass: NSProcessInfo not found")
        return SimpleNamespace(currentDevice=FakeDevice(1, 0.3))

    state = IosPower(objc_class).read(T0)
    assert state.on_mains is False and state.battery_level == pytest.approx(0.3) and not state.power_save


def test_ios_default_bridge_is_rubicon_imported_on_first_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """IosPower() uses rubicon.objc.ObjCClass, imported at the first read."""
    probe = IosPower()
    fake = SimpleNamespace(ObjCClass=objc(FakeDevice(2, 0.7), FakeProcessInfo(False)))
    monkeypatch.setitem(sys.modules, "rubicon", SimpleNamespace(objc=fake))
    monkeypatch.setitem(sys.modules, "rubicon.objc", fake)
    assert probe.read(T0).battery_level == pytest.approx(0.7)


def test_ios_without_rubicon_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    """No rubicon-objc: unknown, no exception."""
    monkeypatch.setitem(sys.modules, "rubicon", None)
    monkeypatch.setitem(sys.modules, "rubicon.objc", None)
    assert IosPower().read(T0) == PowerState.unknown("ios:error")


# --------------------------------------------------------------------------- ManualPower, StaticPower


def test_manual_power_starts_unknown_and_updates_only_given_fields() -> None:
    """set() changes only what it is given; read() returns the latest state."""
    power = ManualPower()
    assert power.read(T0) == PowerState.unknown("manual")
    power.set(on_mains=False, battery_level=0.5)
    power.set(metered=True, online=True)
    power.set(power_save=True, constrained=True)
    assert power.read(T0) == PowerState(
        on_mains=False,
        battery_level=0.5,
        power_save=True,
        constrained=True,
        metered=True,
        online=True,
        source="manual",
    )
    power.set(battery_level=None, online=None)
    assert power.read(T0).battery_level is None and power.read(T0).online is None


def test_manual_power_rejects_a_bad_level_and_keeps_the_old_state() -> None:
    """A battery level outside 0..1 raises ConfigError and changes nothing."""
    power = ManualPower(PowerState(on_mains=True, battery_level=0.9, source="app"))
    with pytest.raises(ConfigError):
        power.set(battery_level=42)
    assert power.read(T0).battery_level == 0.9


def test_manual_power_notifies_subscribers_of_changes_only(caplog: pytest.LogCaptureFixture) -> None:
    """Subscribers hear each change (not repeats); one that raises is logged, not propagated."""
    power = ManualPower()
    seen: list[PowerState] = []
    unsubscribe = power.subscribe(seen.append)

    def broken(state: PowerState) -> None:
        raise RuntimeError("subscriber bug")

    power.subscribe(broken)
    power.set(on_mains=True)
    power.set(on_mains=True)
    power.set(online=False)
    assert [(s.on_mains, s.online) for s in seen] == [(True, None), (True, False)]
    assert "power change callback" in caplog.text
    unsubscribe()
    unsubscribe()
    power.set(on_mains=False)
    assert len(seen) == 2


def test_manual_power_is_thread_safe() -> None:
    """Concurrent set() calls from many threads lose no field updates."""
    power = ManualPower()
    barrier = threading.Barrier(4)

    def worker(field: str) -> None:
        barrier.wait()
        for i in range(500):
            if field == "level":
                power.set(battery_level=i / 500)
            else:
                power.set(**{field: True})

    threads = [
        threading.Thread(target=worker, args=(f,)) for f in ("level", "metered", "power_save", "online")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    state = power.read(T0)
    assert state.metered and state.power_save and state.online and state.battery_level == pytest.approx(0.998)


def test_static_power_reports_its_state_and_counts_reads() -> None:
    """StaticPower defaults to mains and online, and counts how often it was read."""
    power = StaticPower()
    assert power.read(T0) == PowerState(on_mains=True, battery_level=None, online=True, source="static")
    power.state = PowerState(on_mains=False, battery_level=0.1)
    assert power.read(T0).low_battery and power.reads == 2


# --------------------------------------------------------------------------- the PowerProbe contract


def _linux_probe(tmp: Path) -> PowerProbe:
    return LinuxPower(str(laptop(tmp / "sys", ac_online="0", status="Discharging")), proc_root=str(tmp))


PROBES: list[Any] = [
    pytest.param(lambda tmp: StaticPower(), id="static"),
    pytest.param(lambda tmp: ManualPower(), id="manual"),
    pytest.param(_linux_probe, id="linux"),
    pytest.param(lambda tmp: PsutilPower(lambda: battery(50, False)), id="psutil"),
    pytest.param(lambda tmp: AndroidPower(FakeJava(), context=android_context()), id="android"),
    pytest.param(lambda tmp: IosPower(objc(FakeDevice(1, 0.5), FakeProcessInfo(False))), id="ios"),
    pytest.param(lambda tmp: AndroidPower(FakeJava()), id="android-broken"),
]


@pytest.mark.parametrize("make", PROBES)
def test_every_probe_satisfies_the_protocol(make: Callable[[Path], PowerProbe], tmp_path: Path) -> None:
    """Every probe is a PowerProbe whose read(now) returns a PowerState, repeatedly, without raising."""
    probe = make(tmp_path)
    assert isinstance(probe, PowerProbe)
    for now in (T0, T0 + 1, T0 + 3600, T0 - 10):
        assert isinstance(probe.read(now), PowerState)


# --------------------------------------------------------------------------- default_probe


@pytest.fixture
def bare_platform(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[set[str]]:
    """A platform with no Android/iOS hints, no /sys and no optional modules; tests add what they need."""
    for name in ("ANDROID_ARGUMENT", "ANDROID_PRIVATE", "ANDROID_ROOT", "ANDROID_DATA"):
        monkeypatch.delenv(name, raising=False)
    modules: set[str] = set()
    monkeypatch.setattr(edgetrack.power, "_has_module", modules.__contains__)
    monkeypatch.setattr(edgetrack.power, "_SYS_ROOT", str(tmp_path / "sys"))
    monkeypatch.setattr(sys, "platform", "linux")
    yield modules


def test_default_probe_p4a(bare_platform: set[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """jnius importable plus p4a's ANDROID_ARGUMENT/ANDROID_PRIVATE selects AndroidPower."""
    bare_platform.add("jnius")
    monkeypatch.setenv("ANDROID_PRIVATE", "/data/user/0/org.example/files")
    assert isinstance(default_probe(), AndroidPower)


def test_default_probe_jnius_on_a_desktop_is_not_android(bare_platform: set[str]) -> None:
    """pyjnius installed on a desktop (no p4a environment) does not select Android."""
    bare_platform.update({"jnius", "java"})
    assert not isinstance(default_probe(), AndroidPower)


@pytest.mark.parametrize("hint", ["platform", "ANDROID_ROOT", "ANDROID_DATA"])
def test_default_probe_chaquopy(bare_platform: set[str], monkeypatch: pytest.MonkeyPatch, hint: str) -> None:
    """Chaquopy's java module on Android (sys.platform or Android's environment) selects AndroidPower."""
    bare_platform.add("java")
    if hint == "platform":
        monkeypatch.setattr(sys, "platform", "android")
    else:
        monkeypatch.setenv(hint, "/system")
    assert isinstance(default_probe(), AndroidPower)


def test_default_probe_ios(bare_platform: set[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """sys.platform 'ios' with rubicon importable selects IosPower; without rubicon it does not."""
    monkeypatch.setattr(sys, "platform", "ios")
    assert not isinstance(default_probe(), IosPower)
    bare_platform.add("rubicon")
    assert isinstance(default_probe(), IosPower)


def test_default_probe_linux_with_sysfs(bare_platform: set[str], tmp_path: Path) -> None:
    """Linux with /sys/class selects LinuxPower on that root, even when psutil is installed."""
    pi4(tmp_path / "sys", throttled="50005")
    bare_platform.add("psutil")
    probe = default_probe()
    assert isinstance(probe, LinuxPower) and probe.root == str(tmp_path / "sys")
    assert probe.read(T0).constrained


def test_default_probe_psutil_elsewhere(bare_platform: set[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """On macOS/Windows with psutil installed, PsutilPower."""
    monkeypatch.setattr(sys, "platform", "darwin")
    bare_platform.add("psutil")
    assert isinstance(default_probe(), PsutilPower)


def test_default_probe_falls_back_to_unknown(
    bare_platform: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing fits: a probe that always reports unknown (treated as mains)."""
    monkeypatch.setattr(sys, "platform", "win32")
    state = default_probe().read(T0)
    assert state == PowerState.unknown("none") and not state.on_battery


def test_default_probe_never_raises(bare_platform: set[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A detection failure gives the unknown probe, not an exception."""

    def broken(name: str) -> bool:
        raise RuntimeError("import system broken")

    monkeypatch.setattr(edgetrack.power, "_has_module", broken)
    assert default_probe().read(T0) == PowerState.unknown("none")


def test_has_module_does_not_import() -> None:
    """_has_module finds a module without importing it, and says False for missing ones."""
    assert edgetrack.power._has_module("json")
    assert not edgetrack.power._has_module("edgetrack_no_such_module")


def test_import_and_detection_do_not_import_the_bridges(tmp_path: Path) -> None:
    """Importing edgetrack.power and calling default_probe() imports none of jnius/java/rubicon/psutil."""
    for name in ("jnius", "java", "psutil"):
        (tmp_path / f"{name}.py").write_text("raise RuntimeError('imported')\n")
    (tmp_path / "rubicon").mkdir()
    (tmp_path / "rubicon" / "objc.py").write_text("raise RuntimeError('imported')\n")
    code = textwrap.dedent(
        """
        import sys
        import edgetrack.power
        probe = edgetrack.power.default_probe()
        assert type(probe).__name__ == "AndroidPower", probe
        loaded = {"jnius", "java", "rubicon", "rubicon.objc", "psutil"} & set(sys.modules)
        assert not loaded, loaded
        """
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "ANDROID_ARGUMENT": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
