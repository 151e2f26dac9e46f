"""The radio energy model of benchmarks/energy_model.py (energy.md §1.2-1.4, §1.6): closed-form cases."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from energy_model import (
    LTE,
    LTE_SHORT_TAIL,
    UMTS,
    WIFI,
    RadioResult,
    Transfer,
    simulate,
    upload_seconds,
)

DUR = 0.3


def one_lte_upload(duration: float = DUR, size: int = 0) -> float:
    """Promotion + time on air + full tail, less the idle paging baseline over that time."""
    active = LTE.t_pro + duration + LTE.t_tail
    return (
        LTE.t_pro * LTE.p_pro
        + duration * LTE.beta
        + LTE.alpha_up * size * 8 / 1e6
        + LTE.t_tail * LTE.p_tail_eff
        - active * LTE.p_baseline
    )


def test_derived_lte_powers_match_the_spec() -> None:
    """§1.6: P_tail_eff = 1.076 W and the idle paging average = 20 mW with Huang 2012's values."""
    assert LTE.p_tail_eff == pytest.approx(1.076, abs=0.001)
    assert LTE.p_baseline == pytest.approx(0.020, abs=0.0005)


@pytest.mark.parametrize("profile", [LTE, UMTS, WIFI])
def test_no_uploads_cost_nothing(profile: object) -> None:
    result = simulate(profile, [])  # type: ignore[arg-type]
    assert result == RadioResult()


def test_one_lte_upload_costs_promotion_transfer_and_tail() -> None:
    result = simulate(LTE, [Transfer(100.0, 0, DUR)])
    assert result.wakeups == 1 and result.transfers == 1
    assert result.joules == pytest.approx(one_lte_upload(), rel=1e-12)
    assert result.active_seconds == pytest.approx(LTE.t_pro + DUR + LTE.t_tail, rel=1e-12)
    # §0: an isolated small LTE upload is about 12.8 J, about 97 % of it tail
    assert 12.5 < result.joules < 13.0
    assert LTE.t_tail * LTE.p_tail_eff / result.joules > 0.95


def test_bytes_cost_alpha_up_per_megabit() -> None:
    empty = simulate(LTE, [Transfer(0.0, 0, DUR)]).joules
    one_mb = simulate(LTE, [Transfer(0.0, 125_000, DUR)]).joules - empty
    assert one_mb == pytest.approx(LTE.alpha_up, rel=1e-9)


def test_two_uploads_within_the_tail_cost_less_than_two_apart() -> None:
    close = simulate(LTE, [Transfer(0.0, 0, DUR), Transfer(5.0, 0, DUR)])
    apart = simulate(LTE, [Transfer(0.0, 0, DUR), Transfer(100.0, 0, DUR)])
    assert close.wakeups == 1 and apart.wakeups == 2
    assert apart.joules == pytest.approx(2 * one_lte_upload(), rel=1e-12)
    gap = 5.0 - DUR  # the second upload pays only the gap at tail power, then its own tail
    expected = one_lte_upload() + gap * LTE.p_tail_eff + DUR * LTE.beta - (gap + DUR) * LTE.p_baseline
    assert close.joules == pytest.approx(expected, rel=1e-12)
    assert close.joules < apart.joules


def test_a_gap_of_exactly_the_tail_is_a_new_wakeup() -> None:
    edge = LTE.t_tail + DUR
    assert simulate(LTE, [Transfer(0.0, 0, DUR), Transfer(edge, 0, DUR)]).wakeups == 2
    assert simulate(LTE, [Transfer(0.0, 0, DUR), Transfer(edge - 0.01, 0, DUR)]).wakeups == 1


def test_order_does_not_matter_and_overlaps_go_back_to_back() -> None:
    a = simulate(LTE, [Transfer(30.0, 0, DUR), Transfer(0.0, 0, DUR)])
    b = simulate(LTE, [Transfer(0.0, 0, DUR), Transfer(30.0, 0, DUR)])
    assert a == b
    stacked = simulate(LTE, [Transfer(0.0, 0, DUR), Transfer(0.0, 0, DUR)])
    one_longer = simulate(LTE, [Transfer(0.0, 0, 2 * DUR)])
    assert stacked.wakeups == 1 and stacked.joules == pytest.approx(one_longer.joules, rel=1e-12)


def test_shorter_tail_costs_less_per_wakeup() -> None:
    assert simulate(LTE_SHORT_TAIL, [Transfer(0.0)]).joules < simulate(LTE, [Transfer(0.0)]).joules


def test_3g_one_upload_and_gaps_in_dch_and_fach() -> None:
    one = simulate(UMTS, [Transfer(0.0, 0, DUR)])
    full = 2.0 * 0.53 + DUR * 0.70 + 5.0 * 0.70 + 12.0 * 0.35
    assert one.wakeups == 1 and one.joules == pytest.approx(full, rel=1e-12)
    in_fach = simulate(UMTS, [Transfer(0.0, 0, DUR), Transfer(DUR + 8.0, 0, DUR)])
    assert in_fach.wakeups == 1
    assert in_fach.joules == pytest.approx(full + 5.0 * 0.70 + 3.0 * 0.35 + DUR * 0.70, rel=1e-12)
    apart = simulate(UMTS, [Transfer(0.0, 0, DUR), Transfer(DUR + 17.0, 0, DUR)])
    assert apart.wakeups == 2 and apart.joules == pytest.approx(2 * full, rel=1e-12)


def test_wifi_one_upload_is_a_fraction_of_a_joule() -> None:
    one = simulate(WIFI, [Transfer(0.0, 0, DUR)])
    assert one.wakeups == 1
    assert one.joules == pytest.approx((DUR + 0.25) * (0.403 - 0.02), rel=1e-12)
    assert one.joules < simulate(LTE, [Transfer(0.0, 0, DUR)]).joules / 50


def test_states_cover_the_active_time() -> None:
    uploads = [Transfer(0.0, 0, DUR), Transfer(4.0, 0, DUR), Transfer(60.0, 0, DUR)]
    result = simulate(LTE, uploads, record_states=True)
    assert [s for _, _, s in result.states].count("promotion") == result.wakeups == 2
    covered = sum(end - start for start, end, _ in result.states)
    assert covered == pytest.approx(result.active_seconds, rel=1e-12)


def test_upload_seconds_default() -> None:
    assert upload_seconds(0) == 0.3
    assert upload_seconds(750_000) == pytest.approx(0.3 + 1.0)
