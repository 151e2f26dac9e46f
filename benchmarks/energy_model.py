"""Radio energy models for LTE, 3G (UMTS) and Wi-Fi: upload times in, joules and wake-ups out.

A port of the simulator in ``docs/energy.md`` §1.6 (which follows AT&T ARO's semantics,
``ProfileFactoryImpl.energyLTE()`` / ``RrcStateRangeFactoryImpl.createLTE()``), pure stdlib, with the
parameters of §1.2 (LTE), §1.3 (3G) and §1.4 (Wi-Fi). For each upload, in time order:

* the radio is idle (first upload, or the previous tail has run out): a **wake-up** (promotion);
  the previous burst is charged its full tail;
* the upload lands inside the previous tail: only the gap since the last upload is charged, at
  tail power (the tail timer restarts);
* the upload itself is charged its time on air at transfer power (LTE: ``beta`` plus ``alpha_u`` per
  uplink Mbps, so ``alpha_u`` times the megabits sent).

Energy is reported **above the idle baseline** (LTE: the idle paging pings; Wi-Fi: standby;
3G: idle is 0 W), as §1.6 does. Simplifications, all from §1.6: the whole LTE tail is long DRX
(the 0.1 s continuous-reception tail and the 20 ms short-DRX phase are < 1 % of it); 3G
FACH→DCH re-promotion is instantaneous and every upload goes on DCH; uploads that overlap are
put back to back on the one radio. Time on air is an input; ``upload_seconds`` gives the default
the benchmarks use (0.3 s per HTTPS request as in §1.6's example, plus the bytes at LTE's median
uplink of 6 Mbps, Huang 2012).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = [
    "LTE",
    "LTE_ARO",
    "LTE_SHORT_TAIL",
    "PROFILES",
    "UMTS",
    "WIFI",
    "LTEProfile",
    "RadioResult",
    "Transfer",
    "UMTSProfile",
    "WiFiProfile",
    "simulate",
    "upload_seconds",
]

REQUEST_SECONDS = 0.3  # §1.6 example: "each HTTPS upload 0.3 s on air"
UPLINK_MBPS = 6.0  # §1.5: Huang 2012, LTE median uplink throughput 6 Mbps


def upload_seconds(size: int, *, base: float = REQUEST_SECONDS, uplink_mbps: float = UPLINK_MBPS) -> float:
    """Time on air of one HTTPS request carrying ``size`` bytes."""
    return base + size * 8 / (uplink_mbps * 1e6)


@dataclass(frozen=True)
class Transfer:
    """One request on the radio: when it starts (s), its body size, and its time on air (s)."""

    start: float
    size: int = 0
    duration: float | None = None  # None: upload_seconds(size)

    @property
    def seconds(self) -> float:
        return upload_seconds(self.size) if self.duration is None else self.duration


@dataclass(frozen=True)
class LTEProfile:
    """LTE RRC + DRX (§1.2). Defaults: Huang et al., MobiSys 2012, Tables 2-4 (HTC phone, AT&T)."""

    name: str = "LTE"
    t_pro: float = 0.2601  # Tpro, promotion IDLE -> CONNECTED: 260.1 ms
    p_pro: float = 1.2107  # Ppro: 1210.7 mW
    beta: float = 1.28804  # beta, continuous-reception base power: 1288.04 mW
    alpha_up: float = 0.43839  # alpha_u, W per uplink Mbps: 438.39 mW/Mbps
    t_tail: float = 11.576  # Ttail, RRC inactivity timer: 11.576 s
    p_tail: float = 1.060  # Ptail, tail base power: 1060.0 mW
    t_on: float = 0.001  # Ton, DRX on-duration: 1 ms
    p_on: float = 1.680  # Pon, power during an on-duration: 1680 mW
    t_long_drx: float = 0.040  # Tpl, long DRX cycle: 40 ms
    t_idle_cycle: float = 1.28  # Tpi, idle paging cycle: 1.28 s
    t_idle_on: float = 0.0432  # Toni, idle on-duration: 43.2 ms
    p_idle_on: float = 0.5943  # Poni, idle on-duration power: 594.3 mW

    @property
    def p_tail_eff(self) -> float:
        """Average tail power, on-duration spikes included (§1.6: 1.076 W with Huang's values)."""
        return (self.t_on * self.p_on + (self.t_long_drx - self.t_on) * self.p_tail) / self.t_long_drx

    @property
    def p_baseline(self) -> float:
        """Average idle paging power, the baseline energy is reported above (§1.6: 20 mW)."""
        return self.p_idle_on * self.t_idle_on / self.t_idle_cycle

    @property
    def tail_seconds(self) -> float:
        return self.t_tail

    @property
    def promotion(self) -> tuple[float, float]:
        return self.t_pro, self.t_pro * self.p_pro

    def transfer_joules(self, seconds: float, size: int) -> float:
        return seconds * self.beta + self.alpha_up * size * 8 / 1e6

    def tail_joules(self, gap: float) -> float:
        return gap * self.p_tail_eff


@dataclass(frozen=True)
class UMTSProfile:
    """3G DCH/FACH (§1.3). Defaults: ARO code defaults, ``ProfileFactoryImpl.create3G``."""

    name: str = "3G"
    t_pro: float = 2.0  # IDLE -> DCH promotion: 2.0 s
    p_pro: float = 0.53  # ... at 0.53 W
    p_dch: float = 0.70  # DCH power: 0.70 W
    p_fach: float = 0.35  # FACH power: 0.35 W
    t_dch: float = 5.0  # DCH -> FACH timer (alpha): 5 s
    t_fach: float = 12.0  # FACH -> IDLE timer (beta): 12 s
    p_baseline: float = 0.0  # IDLE power: 0

    @property
    def tail_seconds(self) -> float:
        return self.t_dch + self.t_fach

    @property
    def promotion(self) -> tuple[float, float]:
        return self.t_pro, self.t_pro * self.p_pro

    def transfer_joules(self, seconds: float, size: int) -> float:
        return seconds * self.p_dch

    def tail_joules(self, gap: float) -> float:
        dch = min(gap, self.t_dch)
        return dch * self.p_dch + (gap - dch) * self.p_fach


@dataclass(frozen=True)
class WiFiProfile:
    """Wi-Fi PSM (§1.4). Defaults: ARO ``WiFi.conf``; active and tail both at active power."""

    name: str = "Wi-Fi"
    p_active: float = 0.403  # POWER_WIFI_ACTIVE: 0.403 W
    p_baseline: float = 0.02  # POWER_WIFI_STANDBY: 0.02 W
    t_tail: float = 0.25  # WIFI_TAIL_TIME: 0.25 s

    @property
    def tail_seconds(self) -> float:
        return self.t_tail

    @property
    def promotion(self) -> tuple[float, float]:
        return 0.0, 0.0  # no promotion in ARO's Wi-Fi model: a wake-up is leaving standby

    def transfer_joules(self, seconds: float, size: int) -> float:
        return seconds * self.p_active

    def tail_joules(self, gap: float) -> float:
        return gap * self.p_active


Profile = LTEProfile | UMTSProfile | WiFiProfile

LTE = LTEProfile()
LTE_ARO = LTEProfile(name="LTE (ARO, Ttail 10.12 s)", t_pro=0.26, p_pro=1.21, beta=1.2, t_tail=10.12)
LTE_SHORT_TAIL = LTEProfile(name="LTE (Ttail 5 s)", t_tail=5.0)
UMTS = UMTSProfile()
WIFI = WiFiProfile()
PROFILES: dict[str, Profile] = {"lte": LTE, "3g": UMTS, "wifi": WIFI}


@dataclass
class RadioResult:
    """Joules above the idle baseline, wake-ups (promotions from idle), radio-active seconds."""

    joules: float = 0.0
    wakeups: int = 0
    active_seconds: float = 0.0
    transfers: int = 0
    # (start, end, state) with state "promotion" | "transfer" | "tail"; only with record_states=True
    states: list[tuple[float, float, str]] = field(default_factory=list)


def simulate(profile: Profile, transfers: Iterable[Transfer], *, record_states: bool = False) -> RadioResult:
    """Run the §1.6 algorithm over ``transfers`` (any order) with one radio profile."""
    result = RadioResult()
    states = result.states
    tail = profile.tail_seconds
    t_pro, e_pro = profile.promotion
    last_end: float | None = None
    for transfer in sorted(transfers, key=lambda t: t.start):
        start = transfer.start if last_end is None else max(transfer.start, last_end)  # one radio
        seconds = transfer.seconds
        if last_end is None or start >= last_end + tail:  # idle: promote
            if last_end is not None:
                result.joules += profile.tail_joules(tail)
                result.active_seconds += tail
                if record_states:
                    states.append((last_end, last_end + tail, "tail"))
            result.joules += e_pro
            result.active_seconds += t_pro
            result.wakeups += 1
            if record_states and t_pro:
                states.append((start - t_pro, start, "promotion"))
        else:  # inside the tail: pay the gap, the timer restarts
            gap = start - last_end
            result.joules += profile.tail_joules(gap)
            result.active_seconds += gap
            if record_states and gap:
                states.append((last_end, start, "tail"))
        result.joules += profile.transfer_joules(seconds, transfer.size)
        result.active_seconds += seconds
        result.transfers += 1
        if record_states:
            states.append((start, start + seconds, "transfer"))
        last_end = start + seconds
    if last_end is not None:
        result.joules += profile.tail_joules(tail)
        result.active_seconds += tail
        if record_states:
            states.append((last_end, last_end + tail, "tail"))
    result.joules -= result.active_seconds * profile.p_baseline
    return result
