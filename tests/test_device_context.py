"""The context every event carries: the device (from fake device-tree and DMI roots), the app, the
parts Client(collect=...) leaves out, the optional device id, update_context(), and the network
part the power probe gives."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from edgetrack import Client, ConfigError
from edgetrack.destinations import IntileryMobile
from edgetrack.emulator import Emulator
from edgetrack.envelope._context import PARTS, default_context, device, device_id
from edgetrack.power import ManualPower, PowerState
from edgetrack.testing import FakeClock
from tests.conftest import query

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="device files are Linux's")


def queued(path: Path) -> list[dict[str, Any]]:
    return [json.loads(body) for (body,) in query(path, "SELECT body FROM queue ORDER BY id")]


def context_of(path: Path, event: str) -> dict[str, Any]:
    (found,) = [m["context"] for m in queued(path) if m.get("event") == event]
    assert isinstance(found, dict)
    return found


def fake_root(tmp_path: Path, files: dict[str, bytes]) -> str:
    """A directory standing for / with these files in it."""
    root = tmp_path / "root"
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        file = root / name
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(content)
    return str(root)


@linux_only
def test_a_raspberry_pi_is_known_by_its_device_tree(tmp_path: Path) -> None:
    """proc/device-tree/model (NUL-terminated) names a Raspberry Pi: manufacturer, model, type linux."""
    root = fake_root(tmp_path, {"proc/device-tree/model": b"Raspberry Pi 4 Model B Rev 1.4\x00"})
    assert device(root) == {
        "type": "linux",
        "manufacturer": "Raspberry Pi",
        "model": "Raspberry Pi 4 Model B Rev 1.4",
    }


@linux_only
def test_another_board_has_its_model_and_no_manufacturer(tmp_path: Path) -> None:
    """A device tree that is not a Raspberry Pi's gives the model alone, even when DMI is there too."""
    root = fake_root(
        tmp_path,
        {"proc/device-tree/model": b"Pine64 PinePhone\x00", "sys/class/dmi/id/sys_vendor": b"Ignored\n"},
    )
    assert device(root) == {"type": "linux", "model": "Pine64 PinePhone"}


@linux_only
def test_a_pc_is_known_by_its_dmi_strings(tmp_path: Path) -> None:
    """sys/class/dmi/id/sys_vendor and product_name give the manufacturer and model."""
    root = fake_root(
        tmp_path,
        {"sys/class/dmi/id/sys_vendor": b"LENOVO\n", "sys/class/dmi/id/product_name": b"20XWCTO1WW\n"},
    )
    assert device(root) == {"type": "linux", "manufacturer": "LENOVO", "model": "20XWCTO1WW"}


@linux_only
def test_a_device_with_nothing_to_read_is_just_linux(tmp_path: Path) -> None:
    """No device tree and no DMI (or empty files): only the type."""
    assert device(fake_root(tmp_path, {})) == {"type": "linux"}
    empty = fake_root(tmp_path, {"sys/class/dmi/id/sys_vendor": b"\n", "proc/device-tree/model": b"\x00"})
    assert device(empty) == {"type": "linux"}


@linux_only
def test_default_context_reads_the_device_under_its_root(tmp_path: Path) -> None:
    """default_context(root=...) puts the device found there in the context, with the app's details."""
    root = fake_root(tmp_path, {"proc/device-tree/model": b"Raspberry Pi 5 Model B Rev 1.0\x00"})
    context = default_context("kiosk", "1.2", "42", app_namespace="org.example.kiosk", root=root)
    assert context["device"]["manufacturer"] == "Raspberry Pi"
    assert context["device"]["model"] == "Raspberry Pi 5 Model B Rev 1.0"
    assert context["app"] == {
        "name": "kiosk",
        "version": "1.2",
        "build": "42",
        "namespace": "org.example.kiosk",
    }
    assert context["library"]["name"] == "edgetrack"
    assert "id" not in context["device"]


def test_the_device_id_is_per_machine_and_per_app(tmp_path: Path) -> None:
    """collect_device_id: the same id for the same machine and app, another for another app or
    machine, none without etc/machine-id."""
    root = fake_root(tmp_path, {"etc/machine-id": b"0123456789abcdef0123456789abcdef\n"})
    first = default_context("kiosk", None, collect_device_id=True, root=root)["device"]["id"]
    again = default_context("kiosk", None, collect_device_id=True, root=root)["device"]["id"]
    other_app = default_context("till", None, collect_device_id=True, root=root)["device"]["id"]
    assert first == again == device_id("kiosk", root)
    assert isinstance(first, str) and len(first) == 32
    assert other_app != first
    assert "0123456789abcdef" not in first  # the machine id itself is never sent
    other_root = tmp_path / "other"
    (other_root / "etc").mkdir(parents=True)
    (other_root / "etc/machine-id").write_text("fedcba9876543210fedcba9876543210\n")
    assert device_id("kiosk", str(other_root)) != first
    bare = fake_root(tmp_path / "bare", {})
    assert device_id("kiosk", bare) is None
    assert "id" not in default_context("kiosk", None, collect_device_id=True, root=bare).get("device", {})


def test_a_client_sends_the_app_and_its_namespace(tmp_path: Path) -> None:
    """Client(app_name, app_version, app_build, app_namespace) fill context.app."""
    path = tmp_path / "q.db"
    with Client(
        path=path,
        send=False,
        clock=FakeClock(),
        app_name="kiosk",
        app_version="1.2",
        app_build="42",
        app_namespace="org.example.kiosk",
        track_lifecycle=False,
    ) as c:
        c.track("u", "E")
        c.pipeline.wait_committed(timeout=10)
    assert context_of(path, "E")["app"] == {
        "name": "kiosk",
        "version": "1.2",
        "build": "42",
        "namespace": "org.example.kiosk",
    }


def test_collect_leaves_parts_out(tmp_path: Path) -> None:
    """collect={"device": False, ...} leaves those parts out of every event; the others stay."""
    path = tmp_path / "q.db"
    off = {"device": False, "locale": False, "timezone": False, "os": False, "app": False}
    with Client(path=path, send=False, clock=FakeClock(), collect=off) as c:
        c.track("u", "E")
        c.pipeline.wait_committed(timeout=10)
    context = context_of(path, "E")
    assert not {"device", "locale", "timezone", "os", "app"} & context.keys()
    assert context["library"]["name"] == "edgetrack"
    assert "sessionId" in context


def test_collect_with_device_off_still_allows_the_device_id(tmp_path: Path) -> None:
    """collect_device_id=True with device off: the device part holds the id alone (where there is one)."""
    path = tmp_path / "q.db"
    with Client(
        path=path, send=False, clock=FakeClock(), collect={"device": False}, collect_device_id=True
    ) as c:
        c.track("u", "E")
        c.pipeline.wait_committed(timeout=10)
    expected = device_id("edgetrack")
    context = context_of(path, "E")
    if expected is None:
        assert "device" not in context
    else:
        assert context["device"] == {"id": expected}


def test_an_unknown_collect_part_is_a_config_error(tmp_path: Path) -> None:
    """collect naming a part that does not exist raises ConfigError listing the parts."""
    with pytest.raises(ConfigError, match="timezone"):
        Client(path=tmp_path / "q.db", send=False, collect={"devise": False})
    assert {"device", "os", "app", "screen", "network", "locale", "timezone"} == PARTS


def test_update_context_changes_later_events(tmp_path: Path) -> None:
    """update_context(screen=...) is in every later event's context; None takes it out again."""
    path = tmp_path / "q.db"
    with Client(path=path, send=False, clock=FakeClock()) as c:
        c.track("u", "Before")
        c.update_context(screen={"width": 800, "height": 480, "density": 1.5})
        c.track("u", "During")
        c.track("u", "Own context", context={"screen": {"width": 1}})  # the call's own part wins
        c.update_context(screen=None)
        c.track("u", "After")
        c.pipeline.wait_committed(timeout=10)
    assert "screen" not in context_of(path, "Before")
    assert context_of(path, "During")["screen"] == {"width": 800, "height": 480, "density": 1.5}
    assert context_of(path, "Own context")["screen"] == {"width": 1}
    assert "screen" not in context_of(path, "After")


def test_a_part_collect_turned_off_stays_off(tmp_path: Path) -> None:
    """update_context() cannot bring back a part collect turned off."""
    path = tmp_path / "q.db"
    with Client(path=path, send=False, clock=FakeClock(), collect={"screen": False, "network": False}) as c:
        c.update_context(screen={"width": 800, "height": 480}, network={"wifi": True})
        c.track("u", "E")
        c.pipeline.wait_committed(timeout=10)
    context = context_of(path, "E")
    assert "screen" not in context and "network" not in context


def test_the_network_part_follows_the_power_probe(emulator: Emulator, tmp_path: Path) -> None:
    """Once the scheduler has read the probe (flush() makes it), later events carry context.network:
    unmetered is Wi-Fi, metered is cellular, unknown leaves it out."""
    path = tmp_path / "q.db"
    power = ManualPower(PowerState(on_mains=True, battery_level=None, online=True, metered=False))
    destination = IntileryMobile(emulator.write_key, endpoint=emulator.url)
    with Client([destination], path=path, clock=FakeClock(), power=power) as c:
        c.track("u", "First")
        assert c.flush(10) is True
        c.track("u", "On Wi-Fi")
        assert c.flush(10) is True
        power.set(metered=True)
        c.track("u", "Still Wi-Fi until read")
        assert c.flush(10) is True
        c.track("u", "On cellular")
        assert c.flush(10) is True
        power.set(online=None)
        c.track("u", "Before unknown is read")
        assert c.flush(10) is True
        c.track("u", "Unknown")
        assert c.flush(10) is True
    sent = {e["event"]: e["context"] for e in emulator.events("intilery_mobile")}
    assert sent["On Wi-Fi"]["network"] == {"wifi": True, "cellular": False}
    assert sent["On cellular"]["network"] == {"wifi": False, "cellular": True}
    assert "network" not in sent["Unknown"]
