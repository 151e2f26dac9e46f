"""Energy benchmark: radio joules, wake-ups and delivery latency of upload policies on event traces.

    .venv/bin/python benchmarks/energy.py [--quick]    # also writes results/energy.json (+ two charts)

Two comparisons (``docs/energy.md`` §1.8). The first (the table per trace, ``traces`` in the JSON)
pits edgetrack's *default* delays (15 min on battery) against the SDKs' own timers (30 s for the
mobile ones): a different latency, so most of its ratio is the choice of delay. The second
(``equal_delay`` in the JSON) gives every policy the same maximum delay D.

Every policy sees the same deterministic (seeded) event trace; its uploads (time, body bytes; failed
connection attempts too: they wake the radio all the same) go through the radio models of
``energy_model.py`` (``docs/energy.md`` §1.2-1.4 parameters, §1.6 algorithm): LTE (Huang 2012,
Ttail 11.576 s), 3G (ARO defaults, DCH 5 s + FACH 12 s) and Wi-Fi (ARO). A "wake-up" is an LTE
promotion from RRC_IDLE. Latency is upload time minus ``track()`` time; events a policy gives up on are
"lost" and left out of the percentiles.

Traces (``--quick``: 6 h instead of 24 h, everything scaled down with it):

* ``phone`` (on battery): 6 app sessions a day between 07:00 and 23:00, 2-12 min each: 4 events at
  app open, then a screen every ~20 s (exponential) with a burst of 1-5 events, and one at the end.
* ``kiosk`` (on mains): customers from 08:00 to 22:00 (10 an hour, Poisson), each 0.5-3 min of taps
  every ~6 s, plus a heartbeat every 5 min all day; the network is down 11:00-17:00 (6 h): every
  request then fails with a connection error (status 0) for every policy.
* ``steady`` (on battery): one event a minute, all day.

Policies:

* ``send-each-event``: one request per event as it is tracked; a failed request's events go with the
  next event's request.
* ``segment-python``: segment-analytics-python's consumer (``upload_size=100``, ``upload_interval=0.5``):
  a batch is cut 0.5 s after its first event or at 100; on a connection error it retries after 0, 0.5,
  1, 2, ... s capped at 60 s (10 retries, ``consumer.py``) while new events queue, then drops the batch.
* ``segment-mobile``: analytics-kotlin/swift (``flushAt=20``, ``flushInterval=30``): a fixed-rate 30 s
  timer, and a flush every 20 events; events are kept on disk and a failed flush waits for the next
  trigger. ``amplitude-mobile``: the same with 30 events and a one-shot 30 s timer armed by the first
  pending event (Amplitude-Kotlin/Swift); 50 events a request (Amplitude-Android's batch size).
* ``posthog-python``: posthog-python's consumer (``flush_at=100``, ``flush_interval=5``); on errors
  ``backoff.expo`` with full jitter, 10 retries, then the batch is dropped.
* ``offline-optimum``: knows the trace and the outage; uploads when the oldest pending event reaches
  the max delay D (at the outage's end when that falls inside it): the fewest uploads that meet D.
  D is edgetrack's configured max delay for the trace's power source.
* ``edgetrack``: the real ``Scheduler`` against a temp SQLite queue and ``IntileryMobile``, in
  simulated time: a ``FakeClock`` moved event by event and to every deadline ``run_once()`` returns
  (as its thread would wait), a counting sender; ``RetryPolicy(startup_jitter=0.0)``, seeded backoff
  jitter. Its policy is pluggable: ``--policy-factory module:callable`` (default
  ``edgetrack.policy:FlushPolicy``) called with ``--battery-policy KEY=VALUE`` / ``--mains-policy
  KEY=VALUE`` keyword arguments for the trace's power source; the max delay is the policy's
  ``max_delay`` or ``flush_interval`` attribute unless ``--battery-max-delay`` / ``--mains-max-delay``.

Simplifications: the baselines are simulated from their timer/threshold rules, not run; their bodies
are uncompressed (none of them gzips by default) at the size of edgetrack's JSON for the same event;
edgetrack's are its real gzip bodies. No app-lifecycle flushes (background/foreground) for anyone.
Every request is 0.3 s on air plus its bytes at 6 Mbps (§1.6 example; Huang 2012 median uplink).

Targets (informational PASS/FAIL): on battery, edgetrack at least 10x fewer LTE J/h than the
Segment/Amplitude mobile policies with p95 latency within its max delay; LTE wake-ups within 1.1x of
the offline optimum for the same max delay; on mains p95 latency <= 30 s (events tracked while the
network is up). The chart (matplotlib, if installed): the LTE radio-state timeline of each policy over
the busiest hour of the phone trace, and LTE J/h per policy and trace.

Equal delay: for D in 30 s, 2, 5, 15 and 60 min (``--quick``: 30 s, 2 and 15 min) and each trace,
plus ``app-traffic``:

* ``app-traffic`` (on battery): the phone trace's sessions and events, plus the app's own network
  use: an API call every 3 min on average (exponential) while a session is open (2 kB up, 0.5 s on
  air) and a background sync every 15-17 min all day (5 kB, 1 s). These transfers are on the radio
  for every policy, so an upload just after one rides its tail; each policy's LTE J/h and wake-ups
  there are its share: the radio with the app's transfers and the policy's, less the app's alone.
* ``fixed-timer``: a fixed-rate timer of period D sending everything pending (Segment/Amplitude
  style, no count trigger; a failed flush waits for the next tick).
* ``offline-optimum``: as above for D; on app-traffic it uploads with the last app transfer inside
  the oldest pending event's window when there is one: the fewest wake-ups for D.
* ``edgetrack``: the real scheduler with ``battery_max_delay`` (battery) or ``flush_interval`` (mains)
  set to D (``--battery-delay-key`` / ``--mains-delay-key`` for another policy), other settings as
  configured. On app-traffic the simulation calls the scheduler's ``radio_awake()`` at the start of
  each app transfer, as edgetrack's Android probe does when ``ConnectivityManager``'s
  default-network-active listener fires; ``edgetrack-no-ride-along`` is the same without those calls.
  On mains "configured for D" also puts ``flush_at`` out of reach: its count trigger (20 by
  default) sends before D in a burst, a lower latency than D, so it is not the same service as a
  D timer; ``edgetrack-flush-at-20`` is the default count trigger's row, to show what it costs.

There, the simulated policies' bodies weigh what edgetrack's requests of as many events weigh (gzip),
so only the timing differs, and an event tracked at the very instant of an upload goes with the next
one for every policy. Targets: edgetrack <= the fixed timer's LTE J/h at every delay on every trace;
on app-traffic at 30 s and 2 min, edgetrack (ride-along) at least 30 % below the fixed timer with p95
latency <= D. Chart: ``results/energy-pareto.png``, LTE J/h against p95 latency per trace, one line
per policy, one point per delay.
"""

from __future__ import annotations

import argparse
import bisect
import importlib
import itertools
import json
import logging
import math
import random
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from energy_model import LTE, LTE_ARO, LTE_SHORT_TAIL, UMTS, WIFI, RadioResult, Transfer, simulate

from edgetrack import QueueLimits, RetryPolicy, Timeouts
from edgetrack.destinations import IntileryMobile
from edgetrack.envelope import Call, MessageBuilder
from edgetrack.models import Request, Response
from edgetrack.sending import IDLE_FLOOR, LaneSettings, Scheduler
from edgetrack.store import SQLiteStore
from edgetrack.testing import FakeClock, decode_request

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
T0 = 1_699_920_000.0  # 2023-11-14 00:00 UTC: trace time 0 is midnight
DRAIN = 6 * 3600.0  # after the trace ends, policies get this long to deliver what they hold
BATTERY_JOULES = 3.0 * 3600 * 3.85  # §1.6 reference battery: 3000 mAh x 3.85 V = 41.6 kJ
MAINS_P95_TARGET = 30.0
CONTEXT = {
    "library": {"name": "edgetrack", "version": "bench"},
    "app": {"name": "Energy Bench", "version": "1.0.0", "build": "100"},
    "os": {"name": "Android", "version": "14"},
    "device": {"manufacturer": "Google", "model": "Pixel 8", "type": "android"},
    "locale": "en-GB",
    "timezone": "Europe/London",
}


# -- traces --------------------------------------------------------------------------------------


@dataclass
class Trace:
    key: str
    title: str
    power: str  # "battery" | "mains"
    seconds: float
    times: list[float]  # track() times, seconds from midnight, sorted
    names: list[str]
    outage: tuple[float, float] | None = None
    sessions: list[tuple[float, float]] = field(default_factory=list)
    # the app's own network use (API calls, syncs): on the radio for every policy alike
    app: list[Transfer] = field(default_factory=list)

    @property
    def hours(self) -> float:
        return self.seconds / 3600.0

    def online(self, t: float) -> bool:
        return self.outage is None or not (self.outage[0] <= t < self.outage[1])


def phone_trace(hours: float, seed: int = 11) -> Trace:
    rng = random.Random(seed)
    scale = hours / 24.0
    count = max(2, round(6 * scale))
    first, last = 7 * 3600 * scale, 23 * 3600 * scale
    while True:  # session starts at least 20 min apart
        starts = sorted(rng.uniform(first, last - 720) for _ in range(count))
        if all(b - a > 1200 for a, b in itertools.pairwise(starts)):
            break
    times: list[float] = []
    names: list[str] = []
    sessions = []
    for start in starts:
        end = start + rng.uniform(120, 720)
        sessions.append((start, end))
        for k in range(4):
            times.append(start + 0.2 * k)
            names.append(("Application Opened", "Session Started", "Screen Viewed", "Feed Loaded")[k])
        t = start + 1.0
        while True:
            t += rng.expovariate(1 / 20.0)
            if t >= end:
                break
            u = t
            for _ in range(rng.randint(1, 5)):
                times.append(u)
                names.append(rng.choice(("Screen Viewed", "Button Tapped", "Item Viewed", "Scrolled")))
                u += rng.uniform(0.05, 0.5)
            t = u
        times.append(end)
        names.append("Application Backgrounded")
    return Trace(
        "phone", "phone app, sessions with bursts", "battery", hours * 3600, times, names, sessions=sessions
    )


def kiosk_trace(hours: float, seed: int = 22) -> Trace:
    rng = random.Random(seed)
    scale = hours / 24.0
    seconds = hours * 3600
    events: list[tuple[float, str]] = []
    phase = rng.uniform(0, 300)
    events += [(phase + 300 * k, "Heartbeat") for k in range(int((seconds - phase) // 300) + 1)]
    t, close = 8 * 3600 * scale, 22 * 3600 * scale
    while True:
        t += rng.expovariate(10 / 3600.0)
        if t >= close:
            break
        end = t + rng.uniform(30, 180)
        events.append((t, "Customer Started"))
        u = t
        while True:
            u += rng.expovariate(1 / 6.0)
            if u >= end:
                break
            events.append((u, rng.choice(("Product Viewed", "Button Tapped", "Search", "Added To Basket"))))
        events.append((end, "Customer Finished"))
    events = sorted(e for e in events if e[0] < seconds)
    outage = (11 * 3600 * scale, 11 * 3600 * scale + 6 * 3600 * scale)
    return Trace(
        "kiosk",
        "kiosk on mains, 6 h outage",
        "mains",
        seconds,
        [e[0] for e in events],
        [e[1] for e in events],
        outage=outage,
    )


def steady_trace(hours: float, seed: int = 33) -> Trace:
    rng = random.Random(seed)
    phase = rng.uniform(0, 60)
    times = [phase + 60.0 * k for k in range(int(hours * 60))]
    return Trace(
        "steady", "steady, one event a minute", "battery", hours * 3600, times, ["Reading Taken"] * len(times)
    )


APP_CALL_MEAN = 180.0  # app-traffic: an API call every 3 min on average (exponential) in a session
APP_CALL = (2_000, 0.5)  # ... 2 kB up, 0.5 s on air (request + a small JSON response)
SYNC_GAP = (900.0, 1020.0)  # a background sync every 15-17 min, all day (WorkManager's 15 min floor)
SYNC = (5_000, 1.0)  # ... 5 kB up, 1 s on air


def app_traffic_trace(hours: float, seed: int = 44) -> Trace:
    """The phone trace's sessions and events, plus the app's own network use (on battery)."""
    base = phone_trace(hours)
    rng = random.Random(seed)
    app: list[Transfer] = []
    for start, end in base.sessions:
        t = start
        while True:
            t += rng.expovariate(1 / APP_CALL_MEAN)
            if t >= end:
                break
            app.append(Transfer(t, *APP_CALL))
    t = rng.uniform(0, SYNC_GAP[0])
    while t < base.seconds:
        app.append(Transfer(t, *SYNC))
        t += rng.uniform(*SYNC_GAP)
    app.sort(key=lambda a: a.start)
    return Trace(
        "app-traffic",
        "phone app with its own API calls and syncs",
        "battery",
        base.seconds,
        base.times,
        base.names,
        sessions=base.sessions,
        app=app,
    )


# -- results of one policy on one trace ----------------------------------------------------------


@dataclass
class Attempt:
    at: float  # seconds from midnight
    size: int
    events: int
    ok: bool


@dataclass
class Run:
    policy: str
    label: str
    attempts: list[Attempt]
    delivered: list[float | None]  # per event: upload time, or None (lost / never sent)
    max_delay: float | None = None
    wall_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


RADIOS = (("lte", LTE), ("3g", UMTS), ("wifi", WIFI), ("lte_aro", LTE_ARO), ("lte_5s", LTE_SHORT_TAIL))


def summarize(run: Run, trace: Trace) -> dict[str, Any]:
    """A run's figures. With app traffic, joules, wake-ups and active seconds are the policy's share:
    the radio simulated with the app's transfers and the policy's, less the app's transfers alone."""
    hours = trace.hours
    transfers = [Transfer(a.at, a.size) for a in run.attempts] + trace.app
    radio = {name: simulate(profile, transfers) for name, profile in RADIOS}
    app_only: dict[str, RadioResult] = {}
    if trace.app:
        app_only = {name: simulate(profile, trace.app) for name, profile in RADIOS}
        total_lte = radio["lte"].joules
        for name, alone in app_only.items():
            r = radio[name]
            radio[name] = RadioResult(
                r.joules - alone.joules, r.wakeups - alone.wakeups, r.active_seconds - alone.active_seconds
            )
    pairs = [(c, d) for c, d in zip(trace.times, run.delivered, strict=True) if d is not None]
    lat = [d - c for c, d in pairs]
    lat_online = [d - c for c, d in pairs if trace.online(c)]
    lost = sum(d is None for d in run.delivered)
    out: dict[str, Any] = {
        "label": run.label,
        "events": len(trace.times),
        "requests": len(run.attempts),
        "failed_requests": sum(not a.ok for a in run.attempts),
        "bytes": sum(a.size for a in run.attempts),
        "lost": lost,
        "lte_j_per_h": radio["lte"].joules / hours,
        "3g_j_per_h": radio["3g"].joules / hours,
        "wifi_j_per_h": radio["wifi"].joules / hours,
        "lte_wakeups_per_h": radio["lte"].wakeups / hours,
        "lte_wakeups": radio["lte"].wakeups,
        "3g_wakeups_per_h": radio["3g"].wakeups / hours,
        "wifi_wakeups_per_h": radio["wifi"].wakeups / hours,
        "lte_active_s_per_h": radio["lte"].active_seconds / hours,
        "3g_active_s_per_h": radio["3g"].active_seconds / hours,
        "lte_battery_pct_per_day": 100 * radio["lte"].joules / hours * 24 / BATTERY_JOULES,
        "lte_ttail_10_12_j_per_h": radio["lte_aro"].joules / hours,
        "lte_ttail_5_j_per_h": radio["lte_5s"].joules / hours,
        "requests_per_h": len(run.attempts) / hours,
        "p50_latency_s": percentile(lat, 50),
        "p95_latency_s": percentile(lat, 95),
        "max_latency_s": max(lat) if lat else None,
        "p95_latency_online_s": percentile(lat_online, 95),
        "max_delay_s": run.max_delay,
        "wall_seconds": round(run.wall_seconds, 3),
    }
    if app_only:
        out["lte_total_j_per_h"] = total_lte / hours
        out["app_lte_j_per_h"] = app_only["lte"].joules / hours
        out["app_lte_wakeups_per_h"] = app_only["lte"].wakeups / hours
    out.update(run.extra)
    return out


# -- simulated baselines -------------------------------------------------------------------------


@dataclass(frozen=True)
class Baseline:
    key: str
    label: str
    flush_at: int
    interval: float | None
    timer: str  # "fixed": ticks every interval; "oneshot": interval after the first pending event; "none"
    max_batch: int
    on_failure: str  # "keep": wait for the next trigger; "retry": back off in the consumer, then drop
    retry_delays: Callable[[random.Random], list[float]] | None = None


def segment_python_delays(rng: random.Random) -> list[float]:
    # consumer.py calculate_backoff_delay: first retry immediate, then 0.5 s doubling (+0-10 %), cap 60 s
    delays = [0.0]
    for attempt in range(2, 11):
        base = 0.5 * 2 ** (attempt - 2)
        delays.append(min(base + rng.uniform(0, 0.1 * base), 60.0))
    return delays


def posthog_delays(rng: random.Random) -> list[float]:
    # backoff.on_exception(backoff.expo, max_tries=retries + 1): full jitter on 1, 2, 4, ... s
    return [rng.uniform(0, 2.0**k) for k in range(10)]


BASELINES = [
    Baseline("send-each-event", "send each event", 1, None, "none", 100, "keep"),
    Baseline(
        "segment-python",
        "segment-analytics-python 100/0.5s",
        100,
        0.5,
        "oneshot",
        100,
        "retry",
        segment_python_delays,
    ),
    Baseline("segment-mobile", "Segment mobile 20/30s", 20, 30.0, "fixed", 1000, "keep"),
    Baseline("amplitude-mobile", "Amplitude mobile 30/30s", 30, 30.0, "oneshot", 50, "keep"),
    Baseline("posthog-python", "PostHog Python 100/5s", 100, 5.0, "oneshot", 100, "retry", posthog_delays),
]


def run_baseline(
    policy: Baseline,
    trace: Trace,
    event_size: int,
    seed: int,
    body: Callable[[int], int] | None = None,
) -> Run:
    """Replay the trace through a timer/threshold rule (``body``: bytes of an n-event request)."""
    rng = random.Random(seed)
    times = trace.times
    delivered: list[float | None] = [None] * len(times)
    attempts: list[Attempt] = []
    pending: deque[int] = deque()
    since = 0  # events since the last flush attempt (the mobile SDKs' count trigger)
    timer_at: float | None = None
    busy_until = -math.inf  # a server library's consumer is inside its retry loop until then
    resume = False
    horizon = trace.seconds + DRAIN

    def size_of(n: int) -> int:
        return body(n) if body is not None else 120 + n * (event_size + 1)

    def arm(t: float) -> None:
        nonlocal timer_at
        if policy.interval is None or not pending:
            timer_at = None
        elif policy.timer == "fixed":
            timer_at = (math.floor(t / policy.interval) + 1) * policy.interval
        else:
            timer_at = max(t, times[pending[0]]) + policy.interval

    def flush(t: float) -> None:
        nonlocal since, timer_at, busy_until, resume
        since = 0
        if policy.on_failure == "retry":
            batch = [pending.popleft() for _ in range(min(policy.max_batch, len(pending)))]
            at, ok = t, False
            assert policy.retry_delays is not None
            for delay in [0.0, *policy.retry_delays(rng)]:
                at += delay
                ok = trace.online(at)
                attempts.append(Attempt(at, size_of(len(batch)), len(batch), ok))
                if ok:
                    for j in batch:
                        delivered[j] = at
                    break
            busy_until, resume, timer_at = at, True, None  # lost batches stay None
            return
        while pending:
            n = min(policy.max_batch, len(pending))
            ok = trace.online(t)
            attempts.append(Attempt(t, size_of(n), n, ok))
            if not ok:
                break
            for _ in range(n):
                delivered[pending.popleft()] = t
        if policy.timer == "oneshot" or timer_at is None:
            arm(t)

    i, n = 0, len(times)
    while True:
        t_event = times[i] if i < n else math.inf
        t_timer = timer_at if timer_at is not None else math.inf
        t_resume = busy_until if resume else math.inf
        t = min(t_event, t_timer, t_resume)
        if t == math.inf or t > horizon:
            break
        if t_resume <= t_event and t_resume <= t_timer:
            resume = False
            if len(pending) >= policy.flush_at:
                flush(t)
            else:
                arm(t)
        elif t_timer <= t_event:
            timer_at = None
            if pending:
                flush(t)
        else:
            pending.append(i)
            since += 1
            i += 1
            if t < busy_until:
                continue  # the consumer picks it up when its retries end
            count = len(pending) if policy.on_failure == "retry" else since
            if count >= policy.flush_at:
                flush(t)
            elif timer_at is None:
                arm(t)
    return Run(policy.key, policy.label, attempts, delivered)


def run_optimum(
    trace: Trace,
    max_delay: float,
    event_size: int,
    max_batch: int = 100,
    body: Callable[[int], int] | None = None,
    take_ties: bool = True,
) -> Run:
    """Upload when the oldest pending event reaches max_delay (at the outage's end if inside it).

    With app traffic: at the start of the last app transfer in the oldest pending event's window
    instead, if there is one (the radio is up anyway). Either way the fewest wake-ups that meet
    max_delay when uploads go at a deadline or with an app transfer: the latest point in the window
    covers every event an earlier one would. ``take_ties``: an event tracked at the very instant of
    the upload goes with it (else with the next upload, as for the simulated timers and edgetrack).
    """
    times = trace.times
    delivered: list[float | None] = [None] * len(times)
    attempts: list[Attempt] = []
    rides = [a.start for a in trace.app if trace.online(a.start)]
    i = 0
    while i < len(times):
        at = times[i] + max_delay
        k = bisect.bisect_right(rides, at) - 1
        if k >= 0 and rides[k] >= times[i]:
            at = rides[k]
        elif not trace.online(at):
            assert trace.outage is not None
            at = trace.outage[1]
        j = i + 1  # the oldest pending event always goes
        delivered[i] = at
        while j < len(times) and (times[j] < at or (take_ties and times[j] == at)):
            delivered[j] = at
            j += 1
        for k in range(i, j, max_batch):
            count = min(max_batch, j - k)
            size = body(count) if body is not None else 120 + count * (event_size + 1)
            attempts.append(Attempt(at, size, count, True))
        i = j
    label = f"offline optimum (D={max_delay:g} s{', rides app transfers' if rides else ''})"
    return Run("offline-optimum", label, attempts, delivered, max_delay=max_delay)


# -- edgetrack, the real scheduler in simulated time ---------------------------------------------


class CountingSender:
    """A Sender that records each request's time and size; status 0 while the trace is offline."""

    def __init__(self, clock: FakeClock, online: Callable[[float], bool]) -> None:
        self.clock = clock
        self.online = online
        self.attempts: list[Attempt] = []
        self.delivered: dict[str, float] = {}

    def send(self, request: Request, *, timeout: tuple[float, float]) -> Response:
        at = self.clock.now() - T0
        ok = self.online(at)
        self.attempts.append(Attempt(at, len(request.body), request.events, ok))
        if not ok:
            return Response(0, error="connection refused (simulated outage)", at=self.clock.now())
        for event in decode_request(request)["batch"]:
            self.delivered.setdefault(event["messageId"], at)
        return Response(200, body=b"{}", at=self.clock.now())

    def close(self) -> None:
        pass


def build_edgetrack_scheduler(
    clock: FakeClock,
    path: Path,
    sender: CountingSender,
    *,
    seed: int = 1,
    policy_factory: Callable[..., Any] | None = None,
    power: Any = None,
    **policy_kwargs: Any,
) -> tuple[Scheduler, Any]:
    """The edgetrack scheduler under test, with the flush policy built from ``policy_kwargs``.

    ``policy_factory`` defaults to ``edgetrack.FlushPolicy``; pass a battery-aware policy's class (or
    any callable returning an object with ``flush_at`` and ``due_at``) to benchmark it instead.
    Returns the scheduler and the policy object.
    """
    from edgetrack.policy import FlushPolicy

    policy = (policy_factory or FlushPolicy)(**policy_kwargs)
    destination = IntileryMobile("bench-key", endpoint="http://127.0.0.1:9", allow_http=True)

    def open_store() -> SQLiteStore:
        store = SQLiteStore.open(path, synchronous="OFF", clock=clock)  # queue time: the trace's
        store.ensure_lanes([destination.name], store.now())
        return store

    settings = LaneSettings(
        policy=policy,
        retry=RetryPolicy(startup_jitter=0.0),
        timeouts=Timeouts(),
        make_sender=lambda: sender,
        rng=random.Random(seed),
    )
    scheduler = Scheduler(destination, open_store, settings, clock=clock, power=power)
    return scheduler, policy


class TracePower:
    """The device's own view during a trace: on battery or mains, offline during an outage."""

    def __init__(self, trace: Trace, clock: FakeClock) -> None:
        self.trace, self.clock = trace, clock

    def read(self, now: float) -> Any:
        from edgetrack.power import PowerState

        online = bool(self.trace.online(now - T0))
        on_mains = self.trace.power != "battery"
        return PowerState(on_mains=on_mains, battery_level=None, online=online, source="trace")


def policy_max_delay(policy: Any, override: float | None) -> float:
    if override is not None:
        return override
    for name in ("max_delay", "flush_interval"):
        value = getattr(policy, name, None)
        if isinstance(value, (int, float)):
            return float(value)
    raise SystemExit("cannot tell the policy's max delay: pass --battery-max-delay / --mains-max-delay")


def track_rows(trace: Trace, clock: FakeClock) -> Callable[[int], tuple[str, str, str, int, float]]:
    builder = MessageBuilder(context=CONTEXT, anonymous_id=None, max_event_bytes=32_000)

    def row(idx: int) -> tuple[str, str, str, int, float]:
        fields = {"event": trace.names[idx], "properties": {"n": idx, "screen": "home", "source": "bench"}}
        call = Call("track", fields, user_id="user-0042", message_id=f"{trace.key}-{idx:06d}")
        msg, body, size = builder.build(call, at=clock.now())
        return ("track", msg["messageId"], body, size, clock.now())

    return row


def run_edgetrack(
    trace: Trace,
    policy_factory: Callable[..., Any] | None,
    policy_kwargs: dict[str, Any],
    max_delay: float | None,
    seed: int = 1,
    ride_along: bool = True,
) -> tuple[Run, list[int]]:
    """Run the real scheduler over the trace; with ``ride_along``, ``radio_awake()`` at the start of
    each of the app's own transfers (what Android's default-network-active listener does)."""
    started = time.perf_counter()
    clock = FakeClock(T0)
    sender = CountingSender(clock, trace.online)
    limits = QueueLimits()
    with tempfile.TemporaryDirectory(prefix="edgetrack-energy-") as tmp:
        path = Path(tmp) / "queue.db"
        scheduler, policy = build_edgetrack_scheduler(
            clock,
            path,
            sender,
            seed=seed,
            policy_factory=policy_factory,
            power=TracePower(trace, clock),
            **policy_kwargs,
        )
        store = SQLiteStore.open(path, synchronous="OFF", clock=clock)
        store.ensure_lanes([scheduler.destination.name], store.now())
        make_row = track_rows(trace, clock)
        sizes: list[int] = []
        deadline: float | None = None
        passes = 0

        def wait_until(when: float) -> None:
            """What the scheduler thread does until ``when``: sleep to each deadline, run a pass."""
            nonlocal deadline, passes
            while deadline is not None and deadline <= when:
                if deadline <= clock.now():  # due yet not sent: the thread waits IDLE_FLOOR
                    deadline = clock.now() + IDLE_FLOOR
                    if deadline > when:
                        break
                clock.set(deadline)
                deadline, _ = scheduler.run_once()
                passes += 1

        steps = [(t, 0, idx) for idx, t in enumerate(trace.times)]
        if ride_along:
            steps += [(a.start, 1, k) for k, a in enumerate(trace.app)]
        for t, kind, idx in sorted(steps):
            wait_until(T0 + t)
            clock.set(T0 + t)
            if kind == 0:
                row = make_row(idx)
                sizes.append(row[3])
                store.append([row], limits)
                # the writer's notify_commit wakes the thread; a pass that finds nothing due sends nothing
            else:
                scheduler.radio_awake()  # the app's request woke the radio: the listener tells the lane
            deadline, _ = scheduler.run_once()
            passes += 1
        wait_until(T0 + trace.seconds + DRAIN)
        store.close()
        scheduler.stop(1.0)
    ids = [f"{trace.key}-{i:06d}" for i in range(len(trace.times))]
    delivered = [sender.delivered.get(mid) for mid in ids]
    if max_delay is None and trace.power == "battery" and hasattr(policy, "battery_max_delay"):
        max_delay = float(policy.battery_max_delay)
    delay = policy_max_delay(policy, max_delay)
    run = Run(
        "edgetrack",
        f"edgetrack ({policy_label(policy)})",
        sender.attempts,
        delivered,
        max_delay=delay,
        wall_seconds=time.perf_counter() - started,
        extra={"scheduler_passes": passes},
    )
    if trace.app:
        starts = [a.start for a in trace.app]

        def at_app_transfer(at: float) -> bool:  # the clock runs at T0 + t: equal to ~1e-6 s
            k = bisect.bisect_left(starts, at - 1e-3)
            return k < len(starts) and starts[k] <= at + 1e-3

        run.extra["ride_along"] = ride_along
        run.extra["uploads_riding_app_transfers"] = sum(at_app_transfer(a.at) for a in sender.attempts)
    return run, sizes


def policy_label(policy: Any) -> str:
    if type(policy).__name__ == "FlushPolicy":
        return (
            f"mains {policy.flush_at}/{policy.flush_interval:g}s, "
            f"battery {policy.battery_flush_at}/{policy.battery_max_delay:g}s"
        )
    return type(policy).__name__


# -- report --------------------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if value >= 10_000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


COLUMNS = [
    ("policy", 36),
    ("LTE J/h", 8),
    ("3G J/h", 8),
    ("Wi-Fi J/h", 9),
    ("wakes/h", 8),
    ("req/h", 7),
    ("p50 s", 7),
    ("p95 s", 8),
    ("lost", 5),
]


def table(results: dict[str, dict[str, Any]], traces: list[Trace]) -> str:
    lines = []
    header = "  ".join(f"{name:<{w}}" if i == 0 else f"{name:>{w}}" for i, (name, w) in enumerate(COLUMNS))
    for trace in traces:
        rows = results[trace.key]["policies"]
        lines.append("")
        lines.append(
            f"== {trace.key}: {trace.title} ({trace.power}, {trace.hours:g} h, {len(trace.times)} events)"
        )
        lines.append(header)
        for r in rows.values():
            cells = [
                r["label"],
                fmt(r["lte_j_per_h"]),
                fmt(r["3g_j_per_h"]),
                fmt(r["wifi_j_per_h"], 2),
                fmt(r["lte_wakeups_per_h"]),
                fmt(r["requests_per_h"]),
                fmt(r["p50_latency_s"]),
                fmt(r["p95_latency_s"]),
                str(r["lost"]),
            ]
            lines.append(
                "  ".join(
                    f"{c:<{w}}" if i == 0 else f"{c:>{w}}"
                    for i, (c, (_, w)) in enumerate(zip(cells, COLUMNS, strict=True))
                )
            )
    return "\n".join(lines)


def targets(results: dict[str, dict[str, Any]], traces: list[Trace]) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = []

    def check(trace: str, name: str, ok: bool, detail: str) -> None:
        checks.append({"trace": trace, "target": name, "pass": ok, "detail": detail})

    for trace in traces:
        rows = results[trace.key]["policies"]
        et, opt = rows["edgetrack"], rows["offline-optimum"]
        delay = et["max_delay_s"]
        if trace.power == "battery":
            mobile = min(rows["segment-mobile"]["lte_j_per_h"], rows["amplitude-mobile"]["lte_j_per_h"])
            ratio = mobile / et["lte_j_per_h"] if et["lte_j_per_h"] else math.inf
            check(
                trace.key,
                ">= 10x fewer LTE J/h than Segment/Amplitude mobile",
                ratio >= 10,
                f"edgetrack {et['lte_j_per_h']:.1f} J/h vs mobile (lower of the two) {mobile:.1f} J/h: "
                f"{ratio:.2f}x",
            )
            p95 = et["p95_latency_s"]
            check(
                trace.key,
                "p95 latency within the configured max delay",
                p95 is not None and p95 <= delay + 1e-3,
                f"p95 {fmt(p95)} s, max delay {delay:g} s",
            )
        else:
            p95 = et["p95_latency_online_s"]
            check(
                trace.key,
                f"mains: p95 latency <= {MAINS_P95_TARGET:g} s",
                p95 is not None and p95 <= MAINS_P95_TARGET + 1e-3,
                f"p95 {fmt(p95)} s for events tracked while online (all events: "
                f"{fmt(et['p95_latency_s'])} s)",
            )
        ok = et["lte_wakeups"] <= 1.1 * opt["lte_wakeups"]
        ratio = et["lte_wakeups"] / opt["lte_wakeups"] if opt["lte_wakeups"] else math.inf
        check(
            trace.key,
            "LTE wake-ups within 1.1x of the offline optimum",
            ok,
            f"{et['lte_wakeups']} vs {opt['lte_wakeups']} (D={delay:g} s): {ratio:.2f}x",
        )
    return checks


# -- the same comparison at equal delay -----------------------------------------------------------

SWEEP_DELAYS = (30.0, 120.0, 300.0, 900.0, 3600.0)
QUICK_SWEEP_DELAYS = (30.0, 120.0, 900.0)
RIDE_ALONG_DELAYS = (30.0, 120.0)  # app-traffic: ride-along at least RIDE_ALONG_CUT below the timer
RIDE_ALONG_CUT = 0.30
DELAY_KEYS = {"battery": "battery_max_delay", "mains": "flush_interval"}  # FlushPolicy's
NO_COUNT = 10**9  # flush_at on mains configured for D: the count trigger never fires
# Simulated bodies are modelled on edgetrack's: J/h within this are equal (bytes, not wake-ups;
# one wake-up a day is 0.53 J/h)
J_TOLERANCE = 0.05


def delay_label(seconds: float) -> str:
    return f"{seconds:g} s" if seconds < 120 else f"{seconds / 60:g} min"


def fixed_timer(interval: float) -> Baseline:
    """A fixed-rate timer of period ``interval`` sending everything pending; no count trigger."""
    label = f"fixed {delay_label(interval)} timer"
    return Baseline("fixed-timer", label, 1 << 62, interval, "fixed", 100, "keep")


def body_model(attempts: Sequence[Attempt]) -> Callable[[int], int]:
    """Bytes of an n-event request as edgetrack's (gzip) requests of n events weigh on average; for
    a count edgetrack never sent, a least-squares line through all of them."""
    points = [(a.events, a.size) for a in attempts if a.events]
    by_count: dict[int, list[int]] = {}
    for x, y in points:
        by_count.setdefault(x, []).append(y)
    mean = {x: round(sum(ys) / len(ys)) for x, ys in by_count.items()}
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    var = sum((x - mx) ** 2 for x, _ in points)
    slope = sum((x - mx) * (y - my) for x, y in points) / var if var else 0.0
    base = my - slope * mx
    if not var or slope <= 0 or base < 0:
        slope, base = my / mx, 0.0
    return lambda n: mean.get(n) or max(1, round(base + slope * n))


def run_sweep(
    traces: list[Trace],
    factory: Callable[..., Any] | None,
    kwargs: dict[str, dict[str, Any]],
    delay_keys: dict[str, str],
    delays: Sequence[float],
) -> dict[str, Any]:
    """Per trace and maximum delay D: a fixed D timer, the offline optimum for D, and edgetrack
    configured for D on the trace's power source (on app traffic, with and without ride-along).

    The simulated policies' requests are as big as edgetrack's for the same number of events
    (``body_model``), so only the timing of the uploads differs."""
    out: dict[str, Any] = {}
    for trace in traces:
        runs: dict[float, list[Run]] = {}
        for delay in delays:
            kw = {**kwargs[trace.power], delay_keys[trace.power]: delay}
            counted = None
            if trace.power == "mains" and factory is None:
                # configured for D: the count trigger (flush_at=20 by default) would send sooner
                # than D in a burst, a lower latency than the timer's; its cost is a row of its own
                counted, _ = run_edgetrack(trace, factory, kw, delay)
                counted.policy, counted.label = "edgetrack-flush-at-20", "edgetrack, default flush_at=20"
                kw = {**kw, "flush_at": NO_COUNT}
            et, _ = run_edgetrack(trace, factory, kw, delay)
            et.label = "edgetrack, ride-along" if trace.app else "edgetrack"
            runs[delay] = [et] if counted is None else [et, counted]
            if trace.app:
                off, _ = run_edgetrack(trace, factory, kw, delay, ride_along=False)
                off.policy, off.label = "edgetrack-no-ride-along", "edgetrack, no ride-along"
                runs[delay].append(off)
        body = body_model([a for rs in runs.values() for r in rs for a in r.attempts])
        rows: dict[str, dict[str, Any]] = {}
        for delay, ets in runs.items():
            fixed = run_baseline(fixed_timer(delay), trace, 0, seed=7, body=body)
            optimum = run_optimum(trace, delay, 0, body=body, take_ties=False)
            rows[f"{delay:g}"] = {r.policy: summarize(r, trace) for r in (fixed, optimum, *ets)}
        out[trace.key] = {
            "title": trace.title,
            "power": trace.power,
            "hours": trace.hours,
            "events": len(trace.times),
            "edgetrack_delay_key": delay_keys[trace.power],
            "app_transfers": len(trace.app),
            "app_lte_j_per_h": simulate(LTE, trace.app).joules / trace.hours if trace.app else 0.0,
            "delays": rows,
        }
    return {
        "what": "each policy at the same maximum delay D; LTE J/h is the policy's share above the "
        "app's own traffic (app-traffic trace); p95 latency over events tracked while online",
        "delays_s": list(delays),
        "fixed_timer": "fixed-rate timer of period D sending everything pending (Segment/Amplitude "
        "style, no count trigger)",
        "app_traffic": {
            "api_call_mean_s": APP_CALL_MEAN,
            "api_call_bytes_seconds": list(APP_CALL),
            "sync_gap_s": list(SYNC_GAP),
            "sync_bytes_seconds": list(SYNC),
        },
        "traces": out,
    }


SWEEP_COLUMNS = [
    ("delay", 7),
    ("policy", 40),
    ("LTE J/h", 8),
    ("vs timer", 8),
    ("wakes/h", 8),
    ("req/h", 7),
    ("p50 s", 7),
    ("p95 s", 7),
    ("lost", 5),
]


def sweep_table(sweep: dict[str, Any]) -> str:
    def line(cells: list[str]) -> str:
        return "  ".join(
            f"{c:<{w}}" if i < 2 else f"{c:>{w}}"
            for i, (c, (_, w)) in enumerate(zip(cells, SWEEP_COLUMNS, strict=True))
        )

    lines = []
    for key, data in sweep["traces"].items():
        lines.append("")
        app = ""
        if data["app_transfers"]:
            app = (
                f"; {data['app_transfers']} app transfers, {data['app_lte_j_per_h']:.1f} J/h on their own, "
                "not counted below"
            )
        lines.append(
            f"== equal delay, {key}: {data['title']} ({data['power']}, {data['hours']:g} h, "
            f"{data['events']} events{app})"
        )
        lines.append(line([name for name, _ in SWEEP_COLUMNS]))
        for delay, rows in data["delays"].items():
            fixed = rows["fixed-timer"]["lte_j_per_h"]
            for k, r in enumerate(rows.values()):
                vs = f"{r['lte_j_per_h'] / fixed:.2f}x" if fixed else "-"
                cells = [
                    delay_label(float(delay)) if k == 0 else "",
                    r["label"],
                    fmt(r["lte_j_per_h"]),
                    vs,
                    fmt(r["lte_wakeups_per_h"], 2),
                    fmt(r["requests_per_h"]),
                    fmt(r["p50_latency_s"]),
                    fmt(r["p95_latency_online_s"]),
                    str(r["lost"]),
                ]
                lines.append(line(cells))
    return "\n".join(lines)


def below(cut: float) -> str:
    return f"{cut:.0%} below" if cut >= 0 else f"{-cut:.0%} above"


def sweep_targets(sweep: dict[str, Any]) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = []

    def check(trace: str, name: str, ok: bool, detail: str) -> None:
        checks.append({"trace": trace, "target": name, "pass": ok, "detail": detail})

    for key, data in sweep["traces"].items():
        parts, ok = [], True
        for delay, rows in data["delays"].items():
            e, f = rows["edgetrack"]["lte_j_per_h"], rows["fixed-timer"]["lte_j_per_h"]
            good = e <= f + J_TOLERANCE
            ok &= good
            parts.append(f"{delay_label(float(delay))} {e:.1f} vs {f:.1f}{'' if good else ' (over)'}")
        check(key, "edgetrack <= fixed timer LTE J/h at every delay", ok, "; ".join(parts))
    app = sweep["traces"].get("app-traffic")
    for delay in RIDE_ALONG_DELAYS:
        rows = app["delays"].get(f"{delay:g}") if app else None
        if rows is None:
            continue
        label = delay_label(delay)
        e, f = rows["edgetrack"]["lte_j_per_h"], rows["fixed-timer"]["lte_j_per_h"]
        cut = 1 - e / f if f else 0.0
        off = rows["edgetrack-no-ride-along"]["lte_j_per_h"]
        off_cut = 1 - off / f if f else 0.0
        check(
            "app-traffic",
            f"ride-along >= {RIDE_ALONG_CUT:.0%} below the fixed timer at D={label}",
            cut >= RIDE_ALONG_CUT,
            f"edgetrack {e:.1f} J/h vs fixed timer {f:.1f} J/h: {below(cut)} "
            f"(without ride-along {off:.1f} J/h: {below(off_cut)})",
        )
        p95 = rows["edgetrack"]["p95_latency_online_s"]
        check(
            "app-traffic",
            f"ride-along p95 latency <= D at D={label}",
            p95 is not None and p95 <= delay + 1e-3,
            f"p95 {fmt(p95)} s",
        )
    return checks


def pareto_chart(path: Path, sweep: dict[str, Any]) -> str | None:
    """Per trace: LTE J/h against p95 latency, one line per policy, a point per maximum delay."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter
    except ImportError:
        return None
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    traces = sweep["traces"]
    cols = 2
    rows_n = math.ceil(len(traces) / cols)
    fig, axes = plt.subplots(rows_n, cols, figsize=(13, 5.2 * rows_n), squeeze=False)
    styles = {  # the optimum last: it often lies under edgetrack's line
        "fixed-timer": ("#2166ac", "s", "-"),
        "edgetrack": ("#1b7837", "o", "-"),
        "edgetrack-no-ride-along": ("#7fbf7b", "o", "--"),
        "edgetrack-flush-at-20": ("#7fbf7b", "d", "--"),
        "offline-optimum": ("#555555", "^", ":"),
    }
    for ax, (key, data) in zip(list(axes.flat), traces.items(), strict=False):  # spare axes: off
        delays = list(data["delays"])
        for policy, (color, marker, dash) in styles.items():
            points = [
                (row[policy]["p95_latency_online_s"], row[policy]["lte_j_per_h"], d)
                for d, row in data["delays"].items()
                if policy in row and row[policy]["p95_latency_online_s"]
            ]
            if not points:
                continue
            label = data["delays"][delays[0]][policy]["label"].split(" (")[0]
            if policy == "fixed-timer":
                label = "fixed timer (Segment/Amplitude style)"
            ax.plot(
                [p[0] for p in points],
                [max(p[1], 1e-2) for p in points],
                marker=marker,
                markersize=4 if policy == "offline-optimum" else 6,
                linestyle=dash,
                color=color,
                label=label,
            )
            if policy in ("fixed-timer", "edgetrack"):
                for x, y, d in points:
                    ax.annotate(
                        delay_label(float(d)),
                        (x, max(y, 1e-2)),
                        textcoords="offset points",
                        xytext=(4, 4 if policy == "fixed-timer" else -10),
                        fontsize=7,
                        color=color,
                    )
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)
        ax.tick_params(axis="y", which="minor", labelsize=7)
        share = " (share above the app's own traffic)" if data["app_transfers"] else ""
        ax.set_title(f"{key}: {data['title']} ({data['power']})", fontsize=10)
        ax.set_xlabel("p95 delivery latency, s (events tracked while online)")
        ax.set_ylabel(f"LTE J/h{share}", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(traces) :]:
        ax.axis("off")
    span = ", ".join(delay_label(d) for d in sweep["delays_s"])
    fig.suptitle(f"Equal-delay comparison: one point per maximum delay D ({span}); lower-left is better")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path)


def chart(path: Path, trace: Trace, runs: list[Run], results: dict[str, dict[str, Any]]) -> str | None:
    """Top: LTE radio states per policy over the busiest hour of the phone trace. Bottom: LTE J/h."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    starts = [s[0] - 120 for s in trace.sessions]
    lo = max(starts, key=lambda a: sum(a <= t < a + 3600 for t in trace.times))
    hi = lo + 3600
    colors = {"promotion": "#d62728", "transfer": "#000000", "tail": "#ff7f0e"}
    fig, (ax, bars) = plt.subplots(
        2, 1, figsize=(12, 9.5), gridspec_kw={"height_ratios": [len(runs) + 1, len(runs) + 2]}
    )
    for row, run in enumerate(runs, start=1):
        transfers = [Transfer(a.at, a.size) for a in run.attempts if lo - 60 <= a.at <= hi]
        states = simulate(LTE, transfers, record_states=True).states
        for state in ("tail", "promotion", "transfer"):
            spans = [((s - lo) / 60, (e - s) / 60) for s, e, k in states if k == state and e > lo and s < hi]
            ax.broken_barh(spans, (row - 0.35, 0.7), color=colors[state], label=state if row == 1 else None)
    events = [(t - lo) / 60 for t in trace.times if lo <= t < hi]
    ax.scatter(events, [0] * len(events), marker="|", s=60, color="#1f77b4", label="track()")
    ax.set_yticks(range(len(runs) + 1), ["events", *(r.label for r in runs)])
    ax.set_xlim(0, 60)
    ax.set_ylim(len(runs) + 0.6, -0.6)
    ax.set_xlabel(f"minutes from {time.strftime('%H:%M', time.gmtime(lo))} (phone trace, on battery)")
    ax.set_title("LTE radio state per policy, busiest hour of the phone trace (idle is blank)")
    ax.legend(loc="upper right", ncol=4, fontsize=8)
    keys = [r.policy for r in runs]
    height = 0.8 / len(results)
    for k, (trace_key, data) in enumerate(results.items()):
        values = [data["policies"][key]["lte_j_per_h"] for key in keys]
        ys = [i + (k - (len(results) - 1) / 2) * height for i in range(len(keys))]
        bars.barh(ys, values, height=height, label=f"{trace_key} ({data['power']})")
        for y, v in zip(ys, values, strict=True):
            bars.text(v, y, f" {v:.0f}", va="center", fontsize=7)
    top = max(d["policies"][key]["lte_j_per_h"] for d in results.values() for key in keys)
    bars.set_xlim(0, top * 1.12)
    bars.set_yticks(range(len(keys)), [r.label for r in runs])
    bars.invert_yaxis()
    bars.set_xlabel("LTE joules per hour above idle (energy.md §1.6 model, Huang 2012, Ttail 11.576 s)")
    bars.set_title("LTE J/h per policy and trace")
    bars.legend(loc="center right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path)


def parse_kwargs(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, _, raw = pair.partition("=")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def load_factory(spec: str | None) -> Callable[..., Any] | None:
    if not spec:
        return None
    module, _, name = spec.partition(":")
    factory: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return factory


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6-hour traces instead of 24-hour ones")
    parser.add_argument("--policy-factory", help="module:callable building edgetrack's flush policy")
    parser.add_argument("--battery-policy", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--mains-policy", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--battery-max-delay", type=float)
    parser.add_argument("--mains-max-delay", type=float)
    parser.add_argument("--no-chart", action="store_true")
    parser.add_argument(
        "--battery-delay-key",
        default=DELAY_KEYS["battery"],
        help="the policy keyword the equal-delay sweep sets to D on battery",
    )
    parser.add_argument(
        "--mains-delay-key",
        default=DELAY_KEYS["mains"],
        help="the policy keyword the equal-delay sweep sets to D on mains",
    )
    args = parser.parse_args(argv)
    logging.getLogger("edgetrack").setLevel(logging.ERROR)  # the outage logs a warning per failed request
    started = time.perf_counter()
    hours = 6.0 if args.quick else 24.0
    factory = load_factory(args.policy_factory)
    kwargs = {"battery": parse_kwargs(args.battery_policy), "mains": parse_kwargs(args.mains_policy)}
    overrides = {"battery": args.battery_max_delay, "mains": args.mains_max_delay}
    traces = [phone_trace(hours), kiosk_trace(hours), steady_trace(hours)]
    results: dict[str, dict[str, Any]] = {}
    phone_runs: list[Run] = []
    for trace in traces:
        et_run, sizes = run_edgetrack(trace, factory, kwargs[trace.power], overrides[trace.power])
        event_size = sorted(sizes)[len(sizes) // 2]
        runs = [run_baseline(b, trace, event_size, seed=7) for b in BASELINES]
        assert et_run.max_delay is not None
        runs.append(run_optimum(trace, et_run.max_delay, event_size))
        runs.append(et_run)
        if trace.key == "phone":
            phone_runs = runs
        results[trace.key] = {
            "title": trace.title,
            "power": trace.power,
            "hours": trace.hours,
            "events": len(trace.times),
            "outage_s": list(trace.outage) if trace.outage else None,
            "baseline_event_bytes": event_size,
            "edgetrack_policy_kwargs": kwargs[trace.power],
            "policies": {run.policy: summarize(run, trace) for run in runs},
        }
    print("Radio energy per policy (energy.md §1.6 model; LTE Huang 2012 Ttail 11.576 s, 3G/Wi-Fi ARO).")
    print("wakes/h = LTE promotions from idle per hour; latency = upload time - track() time.")
    print(table(results, traces))
    print()
    checks = targets(results, traces)
    for c in checks:
        print(f"{'PASS' if c['pass'] else 'FAIL'}  [{c['trace']}] {c['target']}: {c['detail']}")
    delays = QUICK_SWEEP_DELAYS if args.quick else SWEEP_DELAYS
    sweep = run_sweep(
        [*traces, app_traffic_trace(hours)],
        factory,
        kwargs,
        {"battery": args.battery_delay_key, "mains": args.mains_delay_key},
        delays,
    )
    print()
    print(
        "Equal delay: each policy with the same maximum delay D. LTE J/h and wakes/h on app-traffic are the"
    )
    print("policy's share above the app's own traffic; p95 over events tracked while online.")
    print(sweep_table(sweep))
    print()
    sweep["targets"] = sweep_targets(sweep)
    for c in sweep["targets"]:
        print(f"{'PASS' if c['pass'] else 'FAIL'}  [{c['trace']}] {c['target']}: {c['detail']}")
    RESULTS.mkdir(exist_ok=True)
    png = pareto = None
    if not args.no_chart:
        png = chart(RESULTS / "energy.png", traces[0], phone_runs, results)
        pareto = pareto_chart(RESULTS / "energy-pareto.png", sweep)
    sweep["chart"] = pareto
    elapsed = time.perf_counter() - started
    report = {
        "benchmark": "energy",
        "quick": args.quick,
        "hours": hours,
        "model": {
            "lte": {
                "source": "Huang et al. MobiSys 2012 (energy.md §1.2)",
                "t_tail_s": LTE.t_tail,
                "p_tail_eff_w": LTE.p_tail_eff,
                "t_pro_s": LTE.t_pro,
                "p_pro_w": LTE.p_pro,
            },
            "3g": {
                "source": "ARO ProfileFactoryImpl.create3G defaults (energy.md §1.3)",
                "dch_s": UMTS.t_dch,
                "fach_s": UMTS.t_fach,
                "promotion_s": UMTS.t_pro,
            },
            "wifi": {"source": "ARO WiFi.conf (energy.md §1.4)", "tail_s": WIFI.t_tail},
            "request_seconds": "0.3 s + bytes at 6 Mbps",
        },
        "traces": results,
        "targets": checks,
        "equal_delay": sweep,
        "chart": png,
        "chart_kind": "LTE radio-state timeline per policy (busiest hour of the phone trace) + LTE J/h bars"
        if png
        else None,
        "wall_seconds": round(elapsed, 2),
    }
    out = RESULTS / "energy.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    charts = " and ".join(c for c in (png, pareto) if c)
    print(f"\nwrote {out}" + (f" and {charts}" if charts else " (no chart: --no-chart or no matplotlib)"))
    print(f"run took {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
