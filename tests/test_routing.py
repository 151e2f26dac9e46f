"""Routing by a call's ``integrations``, the Segment way, over loopback to two destinations on one
emulator: ``{"All": False, "X": True}`` sends to X only, ``{"X": False}`` to all but X."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edgetrack import Client
from edgetrack.destinations import IntileryMobile, Parcelvoy
from edgetrack.emulator import Emulator
from edgetrack.testing import FakeClock


def names(emulator: Emulator, vendor: str) -> list[str]:
    """The event names a vendor accepted, in order (Parcelvoy's ``name``, others' ``event``)."""
    key = "name" if vendor == "parcelvoy" else "event"
    return [str(e.get(key)) for e in emulator.events(vendor)]


def two_lanes(emulator: Emulator, tmp_path: Path, *, parcelvoy_name: str = "parcelvoy") -> Client:
    return Client(
        [
            IntileryMobile(emulator.write_key, endpoint=emulator.url),
            Parcelvoy(emulator.parcelvoy_key, endpoint=emulator.url, name=parcelvoy_name),
        ],
        path=tmp_path / "q.db",
        clock=FakeClock(),
        flush_at=10_000,
        flush_interval=10_000,
    )


def test_all_false_and_one_true_sends_to_that_lane_only(emulator: Emulator, tmp_path: Path) -> None:
    """{"All": False, "Parcelvoy": True} goes to Parcelvoy alone; the other lane counts it skipped."""
    with two_lanes(emulator, tmp_path) as c:
        c.track("u1", "Only Parcelvoy", integrations={"All": False, "Parcelvoy": True})
        c.track("u1", "Everywhere")
        assert c.flush(10) is True
        lanes = c.stats().lanes
    assert names(emulator, "parcelvoy") == ["Only Parcelvoy", "Everywhere"]
    assert names(emulator, "intilery_mobile") == ["Everywhere"]
    assert lanes["intilery_mobile"].skipped == {"integrations": 1}
    assert lanes["intilery_mobile"].delivered == 1
    assert lanes["parcelvoy"].skipped == {}
    assert lanes["parcelvoy"].delivered == 2


def test_one_false_sends_to_every_lane_but_that_one(emulator: Emulator, tmp_path: Path) -> None:
    """{"Parcelvoy": False} goes to every lane except Parcelvoy's."""
    with two_lanes(emulator, tmp_path) as c:
        c.track("u1", "Not Parcelvoy", integrations={"Parcelvoy": False})
        assert c.flush(10) is True
        lanes = c.stats().lanes
    assert names(emulator, "intilery_mobile") == ["Not Parcelvoy"]
    assert names(emulator, "parcelvoy") == []
    assert lanes["parcelvoy"].skipped == {"integrations": 1}
    assert lanes["intilery_mobile"].skipped == {}


@pytest.mark.parametrize(
    "integrations",
    [
        {"All": False, "parcelvoy": True},  # the class name, any case
        {"all": False, "PARCELVOY": True},
        {"All": False, "Customer-Journeys": True},  # the destination's name=, any case
        {"All": False, "customer-journeys": True},
    ],
)
def test_names_match_the_class_or_the_lane_name_in_any_case(
    emulator: Emulator, tmp_path: Path, integrations: dict[str, Any]
) -> None:
    """A destination answers to its class name and its name=, case-insensitively."""
    with two_lanes(emulator, tmp_path, parcelvoy_name="customer-journeys") as c:
        c.track("u1", "Routed", integrations=integrations)
        assert c.flush(10) is True
        lanes = c.stats().lanes
    assert names(emulator, "parcelvoy") == ["Routed"]
    assert names(emulator, "intilery_mobile") == []
    assert lanes["intilery_mobile"].skipped == {"integrations": 1}


def test_a_lane_name_false_excludes_even_with_all_true(emulator: Emulator, tmp_path: Path) -> None:
    """{"All": True, "IntileryMobile": False} keeps the event from Intilery's lane only."""
    with two_lanes(emulator, tmp_path) as c:
        c.track("u1", "Not Intilery", integrations={"All": True, "IntileryMobile": False})
        c.identify("u1", {"name": "Ada"}, integrations={"All": False, "intilery_mobile": True})
        assert c.flush(10) is True
        lanes = c.stats().lanes
    assert names(emulator, "parcelvoy") == ["Not Intilery"]
    assert [e["type"] for e in emulator.events("intilery_mobile")] == ["identify"]
    assert lanes["intilery_mobile"].skipped == {"integrations": 1}
    assert lanes["parcelvoy"].skipped == {"integrations": 1}
