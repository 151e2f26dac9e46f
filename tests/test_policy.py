"""The flush policy as a table: power state x backlog -> when to upload (pure, no clock)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from edgetrack import FlushPolicy
from edgetrack.power import PowerState

NOW = 1_000_000.0


@dataclass
class Power:
    """A stand-in power state with the attributes the policy reads."""

    on_battery: bool = False
    low_battery: bool = False
    power_save: bool = False
    constrained: bool = False
    metered: bool = False
    online: bool | None = True


MAINS, BATTERY = Power(), Power(on_battery=True)


def as_state(power: Power) -> PowerState:
    """The probe's reading a scheduler gets for a stand-in state (level 0.5 unless low)."""
    level = (0.1 if power.low_battery else 0.5) if power.on_battery else None
    return PowerState(
        on_mains=not power.on_battery,
        battery_level=level,
        power_save=power.power_save,
        constrained=power.constrained,
        metered=power.metered,
        online=power.online,
        source="test",
    )


@pytest.mark.parametrize(
    ("power", "pending", "age", "due_in"),
    [
        (None, 0, 0, None),  # nothing pending: no deadline at all
        (None, 5, 0, 30.0),  # unknown power counts as mains
        (MAINS, 19, 10, 20.0),
        (MAINS, 20, 0, 0.0),
        (BATTERY, 20, 0, 900.0),  # on battery 20 events wait for a large batch or 15 minutes
        (BATTERY, 100, 0, 0.0),
        (BATTERY, 5, 900, 0.0),
        (Power(on_battery=True, low_battery=True), 500, 0, 3600.0),
        (Power(power_save=True), 500, 60, 3540.0),
        (Power(metered=True), 1, 0, 3600.0),
        (Power(constrained=True), 1, 0, 3600.0),
        (Power(online=False), 1000, 10_000, None),  # offline: not until the network is back
    ],
)
def test_due_time_per_power_state(
    power: Power | None, pending: int, age: float, due_in: float | None
) -> None:
    """Each state's rule of the policy table gives the documented upload time."""
    due = FlushPolicy().due_at(pending=pending, oldest_created=NOW - age, now=NOW, power=power)
    assert (None if due is None else max(0.0, due - NOW)) == due_in


@pytest.mark.parametrize("power", [MAINS, BATTERY, Power(power_save=True), Power(metered=True)])
def test_an_awake_radio_sends_now_in_every_online_state(power: Power) -> None:
    """When the radio is already up, pending events ride along at once (but never offline)."""
    assert FlushPolicy().due_at(pending=1, oldest_created=NOW, now=NOW, power=power, radio_awake=True) == NOW
    offline = Power(online=False)
    assert (
        FlushPolicy().due_at(pending=1, oldest_created=NOW, now=NOW, power=offline, radio_awake=True) is None
    )


def test_thresholds_follow_the_mode() -> None:
    """The count that wakes the scheduler early is flush_at on mains, battery_flush_at on battery."""
    policy = FlushPolicy(flush_at=10, battery_flush_at=50)
    assert policy.threshold(MAINS) == 10 and policy.threshold(BATTERY) == 50
    assert policy.threshold(Power(power_save=True)) is None and policy.threshold(Power(online=False)) is None


def test_scheduler_defers_on_battery_and_sends_on_mains(tmp_path: Path) -> None:
    """Through the real scheduler: 20 events go at once on mains but wait for the delay on battery."""
    from edgetrack.destinations import IntileryMobile
    from edgetrack.testing import RecordingSender
    from tests.test_scheduler import Rig

    class Probe:
        def __init__(self) -> None:
            self.state = BATTERY

        def read(self, now: float) -> PowerState:
            return as_state(self.state)

    probe = Probe()
    r = Rig(
        tmp_path / "q.db",
        [IntileryMobile("k", endpoint="http://127.0.0.1:9")],
        RecordingSender(),
        power=probe,
    )
    r.track(20)
    deadline, _ = r.scheduler.run_once()
    assert r.sender.requests == [] and deadline == pytest.approx(r.clock.now() + 900)
    probe.state = MAINS
    r.scheduler.power_changed()
    r.scheduler.run_once()
    assert len(r.sender.events()) == 20
    r.close()


@pytest.mark.parametrize(
    ("on_battery", "expected"), [(True, [30.0, 60.0, 120.0]), (False, [30.0, 30.0, 30.0])]
)
def test_offline_sends_nothing_and_probes_with_growing_waits(
    tmp_path: Path, on_battery: bool, expected: list[float]
) -> None:
    """Offline: no upload attempt; on battery the scheduler re-checks after 30 s, then 60 s, ...
    (each look wakes the CPU); on mains every 30 s, so a kiosk resumes promptly. Online resumes."""
    from edgetrack.destinations import IntileryMobile
    from edgetrack.testing import RecordingSender
    from tests.test_scheduler import Rig

    class Probe:
        state = Power(online=False, on_battery=on_battery)

        def read(self, now: float) -> PowerState:
            return as_state(self.state)

    probe = Probe()
    r = Rig(
        tmp_path / "q.db",
        [IntileryMobile("k", endpoint="http://127.0.0.1:9")],
        RecordingSender(),
        power=probe,
    )
    r.track(50)
    waits = []
    for _ in range(3):
        deadline, _ = r.scheduler.run_once()
        assert deadline is not None
        waits.append(deadline - r.clock.now())
        r.clock.set(deadline)
    assert r.sender.requests == [] and waits == expected
    probe.state = MAINS
    r.scheduler.run_once()
    assert len(r.sender.events()) == 50
    r.close()


def test_radio_awake_signal_takes_pending_events_along(tmp_path: Path) -> None:
    """On battery, a few events wait; network_active() (radio_awake) sends them at once."""
    from edgetrack.destinations import IntileryMobile
    from edgetrack.testing import RecordingSender
    from tests.test_scheduler import Rig

    class Probe:
        def read(self, now: float) -> PowerState:
            return as_state(BATTERY)

    r = Rig(
        tmp_path / "q.db",
        [IntileryMobile("k", endpoint="http://127.0.0.1:9")],
        RecordingSender(),
        power=Probe(),
    )
    r.track(3)
    r.scheduler.run_once()
    assert r.sender.requests == []
    r.scheduler.radio_awake()
    r.scheduler.run_once()
    assert len(r.sender.events()) == 3
    r.close()
