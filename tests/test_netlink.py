"""Linux push: the netlink listener, for real, in a network namespace the test creates.

``netns_child.py`` runs under ``unshare --net`` (root, as ``.ci/run`` runs; else an unprivileged
user namespace with ``--map-root-user``): the emulator on the namespace's loopback, a client
with the platform's default probe, events tracked while there is no default route, then a veth
pair and a default route added (as a DHCP client would), removed, and added again. Where no
namespace can be made, the test says so in its output and runs the listener against this
machine's own netlink instead (it starts, joins its groups, and stops).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from edgetrack.power import LinuxPower
from edgetrack.power._netlink import NetlinkListener, relevant_route_message, relevant_uevent

ROOT = Path(__file__).resolve().parent.parent
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="netlink is Linux's")

HEADER = struct.Struct("=IHHII")


def message(kind: int, body: bytes = b"\0" * 16, port: int = 0) -> bytes:
    data = HEADER.pack(HEADER.size + len(body), kind, 0, 1, port) + body
    return data + b"\0" * (-len(data) % 4)


@pytest.mark.parametrize(
    ("kinds", "relevant"),
    [
        ([16], True),  # RTM_NEWLINK
        ([17], True),  # RTM_DELLINK
        ([20], True),  # RTM_NEWADDR
        ([25], True),  # RTM_DELROUTE
        ([3], False),  # NLMSG_DONE
        ([28, 30], False),  # RTM_NEWNEIGH, RTM_GETNEIGH: neighbour tables are not the network
        ([28, 24], True),  # a route change after another message in the same datagram
    ],
)
def test_route_messages_that_count(kinds: list[int], relevant: bool) -> None:
    assert relevant_route_message(b"".join(message(kind) for kind in kinds)) is relevant


def test_a_truncated_route_message_is_not_read_past_its_end() -> None:
    broken = HEADER.pack(4, 28, 0, 1, 0)  # a length shorter than the header itself
    assert relevant_route_message(broken + message(24)) is False
    assert relevant_route_message(b"\x01\x02") is False


def test_only_power_supply_uevents_count() -> None:
    charger = b"change@/devices/platform/ac\0ACTION=change\0SUBSYSTEM=power_supply\0POWER_SUPPLY_ONLINE=1"
    usb = b"add@/devices/usb1/1-1\0ACTION=add\0SUBSYSTEM=usb\0"
    assert relevant_uevent(charger) and not relevant_uevent(usb)
    assert not relevant_uevent(b"SUBSYSTEM=power_supply_x\0")


def _namespace_run() -> tuple[str, dict[str, Any]] | tuple[str, None]:
    """Run the child in a namespace of its own; how it ran, and what it printed."""
    unshare = shutil.which("unshare")
    if unshare is None or shutil.which("ip") is None:
        return "unshare or ip is not installed", None
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    tried = []
    for how in (["--net"], ["--user", "--map-root-user", "--net"]):
        child = subprocess.run(
            [unshare, *how, sys.executable, str(ROOT / "tests" / "netns_child.py")],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        if child.returncode == 0 and child.stdout.strip():
            return "unshare " + " ".join(how), json.loads(child.stdout.strip().splitlines()[-1])
        tried.append(f"unshare {' '.join(how)}: {(child.stderr.strip().splitlines() or ['?'])[-1]}")
    return "; ".join(tried), None


@linux_only
@pytest.mark.slow
def test_network_back_reaches_the_scheduler_by_push_not_by_looking() -> None:
    how, seen = _namespace_run()
    if seen is None:
        print(f"\n[netlink] no network namespace ({how}); ran instead: the listener on this machine")
        _listener_on_this_machine()
        return
    print(
        f"\n[netlink] ran in a network namespace of its own ({how}): queued events reached the emulator "
        f"{seen['first_back_s']:.3f} s after the default route came, "
        f"{seen['second_back_s']:.3f} s after it came back"
    )
    assert seen["listening"] and seen["power_updates"] == "netlink"
    assert "edgetrack-netlink" in seen["threads"]
    # offline, the lane sleeps until told: it set no look on a timer (polling would say 30 s)
    assert seen["lane_offline"] is True and seen["sent_while_offline"] == 0
    assert seen["offline_wait_s"] > 3000
    assert seen["first_back_s"] is not None  # so the push woke it (within the child's 20 s bound)
    assert seen["sent_while_offline_again"] == 0 and seen["second_back_s"] is not None
    assert seen["delivered"] == [f"Offline {i}" for i in range(1, 6)] + ["Offline again"]
    # idle with the listener running: no thread of edgetrack's (netlink's included) woke
    assert seen["idle_switches"] == 0


def _listener_on_this_machine() -> None:
    heard: list[int] = []
    listener = NetlinkListener(lambda: heard.append(1))
    assert listener.start() in ("netlink", "netlink (routes only)")
    assert any(t.name == "edgetrack-netlink" for t in threading.enumerate())
    listener.stop()
    assert not any(t.name == "edgetrack-netlink" for t in threading.enumerate())


@linux_only
def test_the_probe_starts_its_listener_with_the_first_subscriber_and_stops_it_with_the_last() -> None:
    probe = LinuxPower()
    assert probe.push is None
    first = probe.subscribe(lambda _state: None)
    second = probe.subscribe_radio(lambda: None)
    try:
        assert probe.push == "netlink" or probe.push == "netlink (routes only)"
        assert sum(t.name == "edgetrack-netlink" for t in threading.enumerate()) == 1
        first()
        assert probe.push is not None  # the radio subscriber still listens
    finally:
        second()
    assert probe.push is None
    assert not any(t.name == "edgetrack-netlink" for t in threading.enumerate())


@linux_only
def test_a_change_tells_every_subscriber_a_fresh_reading(tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    route = tmp_path / "net" / "route"
    route.write_text("Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n")
    probe = LinuxPower(str(tmp_path / "sys"), proc_root=str(tmp_path), ttl=3600)
    heard: list[bool | None] = []
    unsubscribe = probe.subscribe(lambda state: heard.append(state.online))
    try:
        assert probe.read(0.0).online is False
        route.write_text(route.read_text() + "eth0\t00000000\t0100A8C0\t0003\t0\t0\t0\t00000000\n")
        assert probe.read(1.0).online is False  # cached for an hour
        probe.changed()  # what the listener calls when the kernel says a route changed
        assert heard == [True] and probe.read(2.0).online is True
    finally:
        unsubscribe()
