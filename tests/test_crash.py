"""Crash and power-loss harness.

Crash: child processes (``tests/crash_child.py``) track and flush against the emulator and
are killed with SIGKILL, aimed at random points: during track(), a commit, a claim, a send,
an ack, a split, a retry wait, or at a random time (start-up included). Each queue file
takes a chain of kills, a new child after each, then a fresh client drains it. Checked:
every event whose track() returned more than one commit window (``WINDOW``) before the kill,
or whose durable=True call returned, is delivered; a duplicate is always the same event
(same messageId, same body); ``PRAGMA integrity_check`` is ok after every kill and after the
drain; the queue's running totals match its rows. CI runs ``EDGETRACK_CRASH_KILLS`` (default
30) kill points; the full run is

    EDGETRACK_CRASH_KILLS=200 .venv/bin/python -m pytest tests/test_crash.py -q -s

(or ``.venv/bin/python benchmarks/crash.py --kills 200``), which prints the counts.

Power loss: while a client tracks fast, the queue file and its WAL are copied at random
moments and the copy is opened the way a rebooted device would open what reached the disk:
it must pass the integrity check and hold exactly the first n events tracked, n at least
what was committed before the copy began. The WAL copy races the writer (so its tail can be
a half-written frame), and half the copies also have a random frame of the tail written
after the copy began torn or cut, as when the disk lost unsynced writes out of order.

The copy holds a read transaction on the live file while it copies. Without it a copy is
not a possible state of the disk: a checkpoint can move pages into the database file after
it was copied and restart the WAL before the WAL is copied, so the copy misses those pages
whichever file is copied first (SQLite's "how to corrupt" notes, section 1.2); in trials (a
client tracking with a small queue cap, so checkpoints and trims were frequent) 4 and 6 of 150
such copies were "database disk image is malformed" (db then WAL, and WAL then db), and 0 of
150 with the read transaction held. On a real disk SQLite's sync order rules that state out:
the WAL is synced before a checkpoint writes the database file, and the database file before
the WAL restarts. The copies cannot see fsync itself, so the test also checks the level each
mode runs with.

What each mode guarantees (what these tests show):

- default (``durable=False``; SQLite WAL with ``synchronous=NORMAL``): track() returns once
  the event is handed to the writer, which commits it within one commit window (measured
  here: p99 under 20 ms, the worst about 25-40 ms at a WAL checkpoint or in a burst of
  tens of thousands of calls a second). A committed event survives the process crashing or
  being killed (the OS holds the WAL). A power cut or OS crash leaves a consistent queue
  holding a prefix of the committed events, but the commits since the WAL was last synced
  (NORMAL syncs it only at checkpoints, about every 4 MB of WAL) can be lost.
- ``durable=True`` (``synchronous=FULL``): track() returns after its commit, WAL synced, so
  the event also survives a power cut or OS crash (on a disk that honours fsync).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import mmap
import os
import random
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from edgetrack import Client
from edgetrack.config import Timeouts
from edgetrack.destinations import IntileryMobile
from edgetrack.emulator import Emulator, Fault
from edgetrack.retry import RetryPolicy
from tests.crash_child import SLOT, SLOTS, STATUS_SIZE, read_status

pytestmark = pytest.mark.slow  # kill -9 at every commit point, in subprocesses

CHILD = Path(__file__).with_name("crash_child.py")
KILLS = int(os.environ.get("EDGETRACK_CRASH_KILLS", "30"))
SEED = int(os.environ.get("EDGETRACK_CRASH_SEED", "20261123"))
# One commit window, as the README promises it ("a few ms"), with a wide margin. The full run
# uses 50 ms; CI's short form allows 250 ms, because a shared machine can stall any process
# that long and a flaky CI run helps nobody (EDGETRACK_CRASH_WINDOW overrides both).
WINDOW = float(os.environ.get("EDGETRACK_CRASH_WINDOW", "0.05" if KILLS >= 100 else "0.25"))
# Fixed, kept as a regression test:
# a process's first commit waits until the writer thread has opened the queue
# (importing sqlite_utils, ~190 ms here) and started the schedulers (~50 ms): for ~250-300 ms
# after Client() an event whose track() returned is only in memory, and kill -9 loses it
# (test_kill_soon_after_start_loses_nothing reproduces it). While True, the harness reports
# such events (returned while the queue was not open yet one window later) apart instead of
# failing on them; set it to False once the bug is fixed.
STARTUP_WINDOW_BUG = False
# Fixed, kept as a regression test:
# track() outruns the writer (here ~60,000 calls/s against ~30,000-45,000 commits/s
# while the same process tracks): in a burst the backlog grows up to the writer's 20,000-row
# buffer and the commit lag to 60-300 ms (test_commit_lag_under_a_burst reproduces it). While
# True, the harness's children track at most ~7,000 events a second (lag <= ~20 ms measured);
# set it to False once the bug is fixed, and the children track flat out again.
BURST_LAG_BUG = False
# Fixed, kept as a regression test:
# SQLite's WAL auto-checkpoint (at 1,000 pages) runs inside the writer's COMMIT,
# with its fsyncs: that commit takes 10-25 ms here, at times 100-300 ms (disk-dependent, so no
# timing test). Events returned meanwhile wait. While True, the harness reports events lost
# while the commit in progress at the kill, of at most STALL_ROWS rows, had run longer than
# STALL (so they were not yet committed because of it) apart instead of failing on them.
CHECKPOINT_STALL_BUG = True
STALL = WINDOW / 2
STALL_ROWS = 200  # a long commit of more rows is a burst's backlog, not a stall: never exempt
CHAIN = 10  # kills on one queue file before it is drained
AIM_PATIENCE = 2.0  # seconds to wait for the aimed-at point before killing anyway
AIMS = ["random", "track", "commit", "claim", "send", "split-send", "ack", "retry-wait"]
WHERE = {  # which thread's status names the aimed-at point
    "track": "main",
    "track-durable": "main",
    "commit": "writer",
    "claim": "scheduler",
    "send": "scheduler",
    "split-send": "scheduler",
    "ack": "scheduler",
    "retry-wait": "scheduler",
}
EMULATOR_MAX_BODY = 100_000  # the child's "big" events make 100-event batches 4x this: 413, split
FAST_RETRY = RetryPolicy(
    startup_jitter=0.0, backoff_base=0.05, backoff_cap=0.3, rate_limit_min=0.1, rate_limit_cap=0.3
)


# -- the crash harness -------------------------------------------------------------------------


@dataclass
class Kill:
    """One child's life and death."""

    chain: int
    index: int
    aim: str
    durable: bool
    returned: list[tuple[str, float]] = field(default_factory=list)  # (messageId, monotonic)
    refused: list[str] = field(default_factory=list)
    phases: list[str] = field(default_factory=list)
    at: float = 0.0
    landed: dict[str, str] = field(default_factory=dict)
    missing_after_kill: int = 0  # required events newly neither in the file nor delivered

    def _time(self, slot: str) -> float | None:
        text = self.landed.get(slot, "")
        return float(text) if text else None

    @property
    def first_commit(self) -> float | None:
        return self._time("first-commit")

    @property
    def stall(self) -> float:
        """How long the commit in progress at the kill had been running (0 if none was)."""
        started = self._time("commit-start")
        if self.landed.get("writer") != "commit" or started is None:
            return 0.0
        return self.at - started

    def _settled(self) -> list[tuple[str, float]]:
        """Returned more than one window before the kill (durable: returned at all)."""
        if self.durable:
            return self.returned
        return [(mid, t) for mid, t in self.returned if t < self.at - WINDOW]

    def _before_open(self, t: float) -> bool:
        first = self.first_commit
        return not self.durable and (first is None or first > t + WINDOW)

    def _behind_stall(self, t: float) -> bool:
        """Not committed because the commit in progress at the kill ran long: returned after
        the last finished commit began (so not in it), and that commit took over STALL."""
        last = self._time("last-commit-start")
        rows = int(self.landed.get("commit-rows") or STALL_ROWS + 1)
        small = rows <= STALL_ROWS
        return not self.durable and small and self.stall > STALL and (last is None or t >= last - 0.001)

    def _exempt(self, t: float) -> str:
        if STARTUP_WINDOW_BUG and self._before_open(t):
            return "startup"
        if CHECKPOINT_STALL_BUG and self._behind_stall(t):
            return "stall"
        return ""

    def required(self) -> list[str]:
        return [mid for mid, t in self._settled() if not self._exempt(t)]

    def exempt(self, kind: str) -> list[str]:
        """Settled events a known bug may lose: "startup" (the queue was not open in time) or
        "stall" (the commit in progress at the kill ran longer than STALL)."""
        return [mid for mid, t in self._settled() if self._exempt(t) == kind]

    def in_window(self) -> list[str]:
        return [] if self.durable else [mid for mid, t in self.returned if t >= self.at - WINDOW]

    def places(self) -> set[str]:
        """Where the kill landed: the activity of each thread that was busy."""
        found = set()
        main = self.landed.get("main", "")
        if main in ("", "import", "client-init"):
            found.add("startup")
        elif main in ("track", "track-durable", "flush", "sleep"):
            found.add(main)
        if main not in ("", "import") and self.first_commit is None:
            found.add("before-first-commit")
        if self.landed.get("writer") == "commit":
            found.add("commit")
        scheduler = self.landed.get("scheduler", "")
        if scheduler not in ("", "idle"):
            found.add(scheduler)
        return found


@dataclass
class Report:
    kills: list[Kill] = field(default_factory=list)
    lost: list[tuple[int, int, str, float]] = field(default_factory=list)  # chain, kill, id, age (ms)
    window_lost: list[float] = field(default_factory=list)  # age (ms) of each in-window event lost
    startup_lost: list[float] = field(default_factory=list)  # age (ms) of each start-up-bug loss
    stall_lost: list[float] = field(default_factory=list)  # age (ms) of each loss behind a long commit
    delivered: int = 0
    duplicates: int = 0
    duplicates_differing: list[str] = field(default_factory=list)
    one_event_two_ids: list[tuple[int, int]] = field(default_factory=list)
    integrity: list[str] = field(default_factory=list)  # one result per check
    totals_mismatch: list[str] = field(default_factory=list)
    dead_letters: int = 0
    pending_after_drain: int = 0
    drains_unfinished: int = 0
    quarantined: list[str] = field(default_factory=list)
    seed: int = 0
    elapsed: float = 0.0

    def summary(self) -> dict[str, Any]:
        landed: Counter[str] = Counter()
        for kill in self.kills:
            landed.update(kill.places())
        aimed = Counter(k.aim for k in self.kills if k.aim != "random")
        hits = Counter(k.aim for k in self.kills if k.aim != "random" and k.aim in k.places())
        in_window = [mid for k in self.kills for mid in k.in_window()]
        return {
            "kill_points": len(self.kills),
            "chains": len({k.chain for k in self.kills}),
            "durable_children": sum(k.durable for k in self.kills),
            "landed": dict(landed.most_common()),
            "aimed_hit": {aim: f"{hits[aim]}/{n}" for aim, n in sorted(aimed.items())},
            "returned": sum(len(k.returned) for k in self.kills),
            "required": sum(len(k.required()) for k in self.kills),
            "lost": len(self.lost),
            "missing_right_after_a_kill": sum(k.missing_after_kill for k in self.kills),
            "startup_exempt": sum(len(k.exempt("startup")) for k in self.kills),
            "startup_lost": len(self.startup_lost),
            "startup_lost_oldest_ms": round(max(self.startup_lost, default=0.0), 1),
            "kills_in_a_long_commit": sum(k.stall > STALL for k in self.kills),
            "longest_commit_at_a_kill_ms": round(max((k.stall for k in self.kills), default=0.0) * 1000, 1),
            "stall_exempt": sum(len(k.exempt("stall")) for k in self.kills),
            "stall_lost": len(self.stall_lost),
            "stall_lost_oldest_ms": round(max(self.stall_lost, default=0.0), 1),
            "returned_within_window": len(in_window),
            "within_window_lost": len(self.window_lost),
            "within_window_lost_oldest_ms": round(max(self.window_lost, default=0.0), 1),
            "delivered": self.delivered,
            "duplicates": self.duplicates,
            "duplicates_not_identical": len(self.duplicates_differing),
            "one_event_two_ids": len(self.one_event_two_ids),
            "integrity_ok": f"{self.integrity.count('ok')}/{len(self.integrity)}",
            "totals_mismatch": len(self.totals_mismatch),
            "dead_letters": self.dead_letters,
            "pending_after_drain": self.pending_after_drain,
            "drains_unfinished": self.drains_unfinished,
            "quarantined": len(self.quarantined),
            "seed": self.seed,
            "seconds": round(self.elapsed, 1),
        }

    def losses(self) -> list[str]:
        """One line per kill that lost a required event: where it landed and how old they were."""
        by_kill: dict[tuple[int, int], list[float]] = {}
        for chain, index, _, age in self.lost:
            by_kill.setdefault((chain, index), []).append(age)
        lines = []
        for kill in self.kills:
            ages = by_kill.get((kill.chain, kill.index))
            if ages:
                lines.append(
                    f"chain {kill.chain} kill {kill.index}: {len(ages)} lost, returned "
                    f"{min(ages):.1f}-{max(ages):.1f} ms before the kill; aim {kill.aim}, durable "
                    f"{kill.durable}, threads {kill.landed}, last phases {kill.phases[-4:]}, commit "
                    f"running {kill.stall * 1000:.1f} ms with {kill.landed.get('commit-rows')} rows"
                )
        return lines

    def line(self) -> str:
        s = self.summary()
        landed = ", ".join(f"{k} {v}" for k, v in s["landed"].items())
        return (
            f"crash harness: {s['kill_points']} kill points in {s['chains']} chains "
            f"({s['durable_children']} durable children); landed in: {landed}; "
            f"returned {s['returned']} events, required {s['required']} (returned > "
            f"{WINDOW * 1000:.0f} ms before the kill, or durable), lost {s['lost']}; "
            + (
                f"known start-up bug: {s['startup_lost']} of {s['startup_exempt']} returned before "
                f"the queue was open lost (the oldest {s['startup_lost_oldest_ms']} ms before the kill); "
                if STARTUP_WINDOW_BUG
                else ""
            )
            + (
                f"known checkpoint stall: {s['stall_lost']} of {s['stall_exempt']} returned before a "
                f"commit running > {STALL * 1000:.0f} ms at the kill lost; "
                if CHECKPOINT_STALL_BUG
                else ""
            )
            + f"{s['kills_in_a_long_commit']} kills in a commit running > {STALL * 1000:.0f} ms (the "
            f"longest commit at a kill {s['longest_commit_at_a_kill_ms']} ms); "
            f"{s['returned_within_window']} returned within the window, of which "
            f"{s['within_window_lost']} lost (the oldest returned "
            f"{s['within_window_lost_oldest_ms']} ms before the kill); "
            f"delivered {s['delivered']}, "
            f"duplicates {s['duplicates']} (not identical: {s['duplicates_not_identical']}, "
            f"one event under two ids: {s['one_event_two_ids']}); integrity_check ok {s['integrity_ok']}; "
            f"totals mismatches {s['totals_mismatch']}; dead letters {s['dead_letters']}; "
            f"pending after drain {s['pending_after_drain']}; quarantined {s['quarantined']}; "
            f"seed {s['seed']}; {s['seconds']} s"
        )


class SlowAnswers:
    """Delays the emulator's next answers (the request is read, then the handler waits): a send
    that takes a while, so a kill can land in it. Fault(delay=...) cannot do this for a 2xx,
    because a scripted answer never reaches the vendor handler that records the events."""

    def __init__(self, emu: Emulator) -> None:
        self.delays: list[float] = []
        self._lock = threading.Lock()
        emu.routes = [dataclasses.replace(route, handler=self._wrap(route.handler)) for route in emu.routes]

    def _wrap(self, handler: Any) -> Any:
        def slow(request: Any) -> Any:
            with self._lock:
                delay = self.delays.pop(0) if self.delays else 0.0
            if delay:
                time.sleep(delay)
            return handler(request)

        return slow

    def add(self, delays: list[float]) -> None:
        with self._lock:
            self.delays.extend(delays)

    def clear(self) -> None:
        with self._lock:
            self.delays.clear()


def _script_fault(emu: Emulator, slow: SlowAnswers, kind: str, times: int, *, rng: random.Random) -> None:
    if kind == "429":
        emu.fail_next(Fault(429, headers={"Retry-After": rng.choice(["0", "1"])}), times=times)
    elif kind == "500":
        emu.fail_next(Fault(rng.choice([500, 502, 503])), times=times)
    elif kind == "drop":
        emu.fail_next(Fault(drop=True), times=times)
    elif kind == "slow":  # some beyond the child's 0.5 s read timeout: a timed-out send
        slow.add([rng.uniform(0.05, 0.7) for _ in range(times)])


def _read_child(proc: subprocess.Popen[str], kill: Kill, on_fault: Any) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        if not line.endswith("\n"):
            break  # cut by the kill
        parts = line.split()
        if parts[0] == "R":
            kill.returned.append((parts[1], float(parts[2])))
        elif parts[0] == "N":
            kill.refused.append(parts[1])
        elif parts[0] == "F":
            on_fault(parts[1], int(parts[2]))
        elif parts[0] == "P":
            kill.phases.append(parts[1])


def _aim(proc: subprocess.Popen[str], status: Path, aim: str, rng: random.Random) -> None:
    """Wait for the moment to kill: a random time, or a random occurrence of the aimed-at point."""
    start = time.monotonic()
    if aim == "random":
        deadline = start + rng.uniform(0.0, 1.2)  # from the interpreter's start-up on
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.002)
        return
    offset = SLOTS[WHERE[aim]] * SLOT
    wanted = aim.encode() + b"\0"
    earliest = start + rng.uniform(0.0, 0.6)  # not always the first commit or claim after start
    with open(status, "rb") as handle, mmap.mmap(handle.fileno(), STATUS_SIZE, prot=mmap.PROT_READ) as view:
        while time.monotonic() < start + AIM_PATIENCE and proc.poll() is None:
            if time.monotonic() >= earliest and view[offset : offset + len(wanted)] == wanted:
                return
            time.sleep(0.0002)


def _snapshot_check(path: Path, scratch: Path) -> tuple[str, set[str], str | None]:
    """Integrity of the file a dead child left, checked on a copy so the next child still opens
    the hot WAL itself. Returns the check's result, the messageIds still queued, and a totals
    mismatch (the running counts must equal the rows)."""
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir()
    for suffix in ("", "-wal"):
        source = path.with_name(path.name + suffix)
        if source.exists():
            shutil.copyfile(source, scratch / (path.name + suffix))
    if not (scratch / path.name).exists():
        return "ok", set(), None  # killed before the file was made
    conn = sqlite3.connect(scratch / path.name)
    try:
        result = "\n".join(row[0] for row in conn.execute("PRAGMA integrity_check"))
        has_events = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'events'").fetchone()
        if not has_events:
            return result, set(), None
        queued = {row[0] for row in conn.execute("SELECT message_id FROM events")}
        mismatch = None
        # the running totals count the events up to ``through``; the tail after it is counted
        # when read (an append leaves the totals page alone until the tail is long)
        columns = {row[1] for row in conn.execute("PRAGMA table_info(totals)")}
        # a file killed before its last migration has no ``through``: its totals count every row
        through = "t.through" if "through" in columns else "(SELECT max(id) FROM events)"
        totals = conn.execute(
            f"SELECT t.events + (SELECT count(*) FROM events WHERE id > {through}), "
            f"t.bytes + (SELECT coalesce(sum(size), 0) FROM events WHERE id > {through}) FROM totals t"
        ).fetchone()
        rows = conn.execute("SELECT count(*), coalesce(sum(size), 0) FROM events").fetchone()
        if totals is not None and tuple(totals) != tuple(rows):
            mismatch = f"totals {tuple(totals)} != rows {tuple(rows)}"
        return result, queued, mismatch
    finally:
        conn.close()


def _drain(emu: Emulator, path: Path) -> tuple[bool, int, int, str]:
    """A fresh client empties the file; returns (flushed, dead letters, pending, integrity)."""
    client = Client(
        [IntileryMobile(emu.write_key, endpoint=emu.url)],
        path=path,
        retry=FAST_RETRY,
        timeouts=Timeouts(connect=2.0, read=5.0),
        power=None,
    )
    try:
        deadline = time.monotonic() + 60
        flushed = client.flush(10)
        while not flushed and time.monotonic() < deadline:
            time.sleep(0.1)  # a 429 pause left by a child (at most 0.3 s here)
            flushed = client.flush(10)
        dead = len(client.dead_letters(limit=10_000))
        pending = sum(lane.pending for lane in client.stats().lanes.values())
    finally:
        client.shutdown()
    conn = sqlite3.connect(path)
    try:
        integrity = "\n".join(row[0] for row in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()
    return flushed, dead, pending, integrity


def run_crash_harness(workdir: Path, *, kills: int, seed: int, log: Any = None) -> Report:
    """Run ``kills`` kill points in chains of ``CHAIN`` on one file each; drain; check."""
    rng = random.Random(seed)
    report = Report(seed=seed)
    started = time.monotonic()
    chains = [min(CHAIN, kills - start) for start in range(0, kills, CHAIN)]
    for chain, length in enumerate(chains):
        folder = workdir / f"chain{chain}"
        folder.mkdir(parents=True)
        path = folder / "queue.db"
        status = folder / "status"
        with Emulator(max_body=EMULATOR_MAX_BODY) as emu:
            slow = SlowAnswers(emu)
            chain_kills: list[Kill] = []
            seen_missing: set[str] = set()
            for index in range(length):
                durable = rng.random() < 0.3
                aim = rng.choice(AIMS)
                if durable and aim == "track":
                    aim = "track-durable"
                kill = Kill(chain, index, aim, durable)
                status.write_bytes(b"\0" * STATUS_SIZE)
                config = {
                    "path": str(path),
                    "url": emu.url,
                    "key": emu.write_key,
                    "seed": rng.getrandbits(32),
                    "run": chain * 1000 + index,
                    "durable": durable,
                    "aim": aim,
                    "paced": BURST_LAG_BUG,
                    "status": str(status),
                }
                fault_rng = random.Random(rng.getrandbits(32))
                with open(folder / "children.log", "a") as errors:  # the children's warnings
                    errors.write(f"--- child {index}: aim {aim}, durable {durable}\n")
                    errors.flush()
                    proc = subprocess.Popen(
                        [sys.executable, str(CHILD), json.dumps(config)],
                        stdout=subprocess.PIPE,
                        stderr=errors,
                        text=True,
                    )
                reader = threading.Thread(
                    target=_read_child,
                    args=(proc, kill, functools.partial(_script_fault, emu, slow, rng=fault_rng)),
                    daemon=True,
                )
                reader.start()
                try:
                    _aim(proc, status, aim, rng)
                    kill.at = time.monotonic()
                    proc.send_signal(signal.SIGKILL)
                finally:
                    proc.wait(10)
                    reader.join(10)
                    assert proc.stdout is not None
                    proc.stdout.close()
                if proc.returncode != -signal.SIGKILL:
                    tail = (folder / "children.log").read_text()[-3000:]
                    raise AssertionError(
                        f"child {chain}/{index} ended by itself ({proc.returncode}):\n{tail}"
                    )
                kill.landed = read_status(str(status))
                integrity, queued, mismatch = _snapshot_check(path, folder / "snapshot")
                report.integrity.append(integrity)
                if mismatch:
                    report.totals_mismatch.append(f"chain {chain} kill {index}: {mismatch}")
                delivered = {event["messageId"] for event in emu.events()}
                missing = {mid for k in [*chain_kills, kill] for mid in k.required()} - queued - delivered
                kill.missing_after_kill = len(missing - seen_missing)
                seen_missing |= missing
                chain_kills.append(kill)
                report.kills.append(kill)
                if log is not None:
                    log(
                        f"chain {chain} kill {index}: aim {aim}, landed {sorted(kill.places())}, "
                        f"returned {len(kill.returned)}, integrity {integrity}"
                    )
            emu.clear_faults()
            slow.clear()
            flushed, dead, pending, integrity = _drain(emu, path)
            report.drains_unfinished += not flushed
            report.integrity.append(integrity)
            report.dead_letters += dead
            report.pending_after_drain += pending
            report.quarantined += [p.name for p in folder.iterdir() if ".corrupt-" in p.name]
            events = emu.events()
        _check_deliveries(report, chain_kills, events)
    report.elapsed = time.monotonic() - started
    return report


def _check_deliveries(report: Report, kills: list[Kill], events: list[dict[str, Any]]) -> None:
    report.delivered += len(events)
    by_id: dict[str, list[dict[str, Any]]] = {}
    ids_by_event: dict[tuple[int, int], set[str]] = {}
    for event in events:
        by_id.setdefault(event["messageId"], []).append(event)
        props = event.get("properties", {})
        ids_by_event.setdefault((props.get("run"), props.get("n")), set()).add(event["messageId"])
    for mid, copies in by_id.items():
        report.duplicates += len(copies) - 1
        bodies = {json.dumps({k: v for k, v in e.items() if k != "sentAt"}, sort_keys=True) for e in copies}
        if len(bodies) > 1:
            report.duplicates_differing.append(mid)
    report.one_event_two_ids += [key for key, mids in ids_by_event.items() if len(mids) > 1]
    for kill in kills:
        returned_at = dict(kill.returned)
        for mid in kill.required():
            if mid not in by_id:
                report.lost.append((kill.chain, kill.index, mid, (kill.at - returned_at[mid]) * 1000))
        report.startup_lost += [
            (kill.at - returned_at[mid]) * 1000 for mid in kill.exempt("startup") if mid not in by_id
        ]
        report.stall_lost += [
            (kill.at - returned_at[mid]) * 1000 for mid in kill.exempt("stall") if mid not in by_id
        ]
        report.window_lost += [
            (kill.at - returned_at[mid]) * 1000 for mid in kill.in_window() if mid not in by_id
        ]


@pytest.mark.timeout(max(120, KILLS * 4))
def test_crash_harness_loses_nothing_returned(tmp_path: Path) -> None:
    """SIGKILL at random points: nothing returned is lost, duplicates are the same event,
    the file stays intact (EDGETRACK_CRASH_KILLS kill points; 30 by default)."""
    report = run_crash_harness(tmp_path, kills=KILLS, seed=SEED)
    print("\n" + report.line())
    print(json.dumps(report.summary()))
    summary = report.summary()
    assert summary["kill_points"] == KILLS
    assert report.lost == [], "events lost:\n" + "\n".join(report.losses())
    assert report.duplicates_differing == []
    assert report.one_event_two_ids == []
    assert set(report.integrity) == {"ok"}, report.integrity
    assert report.totals_mismatch == []
    assert report.dead_letters == 0
    assert report.pending_after_drain == 0
    assert report.drains_unfinished == 0
    assert report.quarantined == []
    assert summary["required"] > 0
    # The kills spread over the pipeline (which points are hit is random; these are common).
    assert {"commit", "send"} & set(summary["landed"]) and len(summary["landed"]) >= 4, summary["landed"]


STARTUP_WINDOW = float(os.environ.get("EDGETRACK_STARTUP_WINDOW", "0.02"))  # the 20 ms
EARLY_CHILD = r"""
import sys, time
from edgetrack import Client
client = Client([], path=sys.argv[1], send=False, power=None)
for n in range(20):
    ok, msg = client.track("kiosk-7", "Tap", {"n": n})
    assert ok
    print(msg["messageId"], flush=True)
print("DONE", time.monotonic(), flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("attempt", range(6))
def test_kill_soon_after_start_loses_nothing(tmp_path: Path, attempt: int) -> None:
    """A fresh process tracks 20 events right after Client() and is killed 20 ms after the
    last track() returned: every one is on disk (the README: "on disk within one commit window
    (a few ms)"; before, 1 try in 6 left a file without even the events table)."""
    path = tmp_path / "queue.db"
    child = subprocess.Popen(
        [sys.executable, "-c", EARLY_CHILD, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    returned = []
    try:
        for line in child.stdout:
            if line.startswith("DONE"):
                last = float(line.split()[1])
                break
            returned.append(line.strip())
        time.sleep(max(0.0, last + STARTUP_WINDOW - time.monotonic()))
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(10)
        child.stdout.close()
    queued: set[str] = set()
    if path.exists():
        conn = sqlite3.connect(path)
        try:
            if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'events'").fetchone():
                queued = {row[0] for row in conn.execute("SELECT message_id FROM events")}
        finally:
            conn.close()
    missing = [mid for mid in returned if mid not in queued]
    assert len(returned) == 20
    assert missing == [], (
        f"{len(missing)} of 20 events lost, killed {STARTUP_WINDOW * 1000:.0f} ms after the last returned"
    )


BURST_CHILD = r"""
import sys, time
from edgetrack import Client
client = Client([], path=sys.argv[1], send=False, power=None)
client.track("kiosk-7", "Warm-up", message_id="warm-up")
client.flush(5)  # the queue is open: the start-up bug is out of the way
for n in range(int(sys.argv[2])):
    client.track("kiosk-7", "Tap", {"n": n}, message_id=f"burst-{n}")
    if n % 500 == 499:
        print("T", n, time.monotonic(), flush=True)  # burst-0 .. burst-n had returned by then
print("DONE", flush=True)
time.sleep(600)
"""


@pytest.mark.xfail(
    BURST_LAG_BUG,
    strict=True,
    reason="known bug: in a burst track() outruns the writer, whose backlog puts the commit lag "
    "at 60-300 ms, so kill -9 loses events returned well over a window before",
)
def test_commit_lag_under_a_burst(tmp_path: Path) -> None:
    """track() back to back as fast as it goes, kill -9 in the middle of the burst: every
    event that returned more than one commit window before the kill is on disk."""
    path, count, kill_after = tmp_path / "queue.db", 30_000, 20_000
    child = subprocess.Popen(
        [sys.executable, "-c", BURST_CHILD, str(path), str(count)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    marks: list[tuple[int, float]] = []  # (n, time by which burst-0 .. burst-n had returned)
    try:
        for line in child.stdout:
            if line.startswith("T"):
                marks.append((int(line.split()[1]), float(line.split()[2])))
                if marks[-1][0] + 1 >= kill_after:
                    break
        killed_at = time.monotonic()
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(10)
        child.stdout.close()
    assert marks and marks[-1][0] + 1 >= kill_after, "the burst ended before the kill"
    settled = max((n for n, t in marks if t < killed_at - WINDOW), default=-1)
    conn = sqlite3.connect(path)
    try:
        on_disk = {row[0] for row in conn.execute("SELECT message_id FROM events")}
    finally:
        conn.close()
    lost = [n for n in range(settled + 1) if f"burst-{n}" not in on_disk]
    rate = (marks[-1][0] - marks[0][0]) / max(1e-9, marks[-1][1] - marks[0][1])
    oldest = max((killed_at - t for n, t in marks if n >= min(lost, default=count)), default=0.0)
    assert lost == [], (
        f"{len(lost)} of the {settled + 1} events returned over {WINDOW * 1000:.0f} ms before the kill "
        f"are not on disk (tracking {rate:,.0f} a second; the oldest returned about {oldest * 1000:.0f} ms "
        "before the kill)"
    )


# -- power loss ----------------------------------------------------------------------------------

WAL_HEADER = 32
FRAME_HEADER = 24


def _wal_index(shm: Path) -> tuple[int, int]:
    """(mxFrame, page size) from the WAL index header in ``-shm`` (read until both copies agree)."""
    for _ in range(1000):
        data = shm.read_bytes()[:96]
        if len(data) == 96 and data[:48] == data[48:96]:
            return struct.unpack_from("=I", data, 16)[0], struct.unpack_from("=H", data, 14)[0]
        time.sleep(0.0005)
    raise AssertionError("the WAL index header never read consistently")


def _copy_slowly(source: Path, target: Path, chunk: int = 64 * 1024) -> None:
    """Copy in chunks with pauses, so the writer's appends race the copy (a torn tail)."""
    with open(source, "rb") as src, open(target, "wb") as dst:
        while True:
            data = src.read(chunk)
            if not data:
                return
            dst.write(data)
            time.sleep(0.0002)


@contextlib.contextmanager
def _pinned(path: Path) -> Iterator[int]:
    """Hold a read transaction on the live file: no checkpoint goes past it and the WAL cannot
    restart, so the files on disk stay a state a power cut could leave. Yields the WAL's last
    frame at that moment: everything committed before is at or below it."""
    guard = sqlite3.connect(path, isolation_level=None)
    try:
        guard.execute("BEGIN")
        guard.execute("SELECT count(*) FROM sqlite_master").fetchone()
        shm = path.with_name(path.name + "-shm")
        yield _wal_index(shm)[0] if shm.exists() else 0
        guard.execute("COMMIT")
    finally:
        guard.close()


def _lose_unsynced_tail(wal: Path, after_frame: int, rng: random.Random) -> str:
    """Damage one random frame past ``after_frame`` (written after the copy began, so not yet
    synced): cut the file inside it, or overwrite part of it and keep the frames after it."""
    data = bytearray(wal.read_bytes())
    if len(data) < WAL_HEADER:
        return "none"
    page = struct.unpack_from(">I", data, 8)[0]
    frame = FRAME_HEADER + page
    frames = (len(data) - WAL_HEADER) // frame
    if frames <= after_frame:
        return "none"
    victim = rng.randint(after_frame + 1, frames)
    start = WAL_HEADER + (victim - 1) * frame
    if rng.random() < 0.5:
        del data[start + rng.randrange(frame) :]
        how = "cut"
    else:
        at = start + rng.randrange(frame - 64)
        data[at : at + 64] = rng.randbytes(64)
        how = "torn"
    wal.write_bytes(bytes(data))
    return how


@pytest.mark.parametrize("durable", [False, True], ids=["default", "durable"])
def test_power_loss_copy_opens_with_a_committed_prefix(tmp_path: Path, durable: bool) -> None:
    """Copies of the queue taken while the writer is busy open, pass integrity_check and hold
    exactly the first n events tracked, n >= what was committed (durable: returned) before."""
    path = tmp_path / "live" / "queue.db"
    client = Client([], path=path, send=False, durable=durable, power=None)
    store = client.pipeline.open_store()  # a connection made the way the writer's is
    try:  # what makes a returned durable call survive a power cut: the WAL synced at each commit
        assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == (2 if durable else 1)
    finally:
        store.close()
    tracked: list[str] = []
    stop = threading.Event()

    def track() -> None:
        rng = random.Random(SEED)
        n = 0
        while not stop.is_set() and n < 60_000:
            for _ in range(rng.randint(1, 100)):
                _, msg = client.track("kiosk-7", "Tap", {"n": n, "pad": "x" * rng.randint(10, 300)})
                tracked.append(msg["messageId"])
                n += 1
            time.sleep(rng.uniform(0.0, 0.01))

    tracker = threading.Thread(target=track, name="tracker")
    rng = random.Random(SEED + durable)
    results = []
    try:
        tracker.start()
        deadline = time.monotonic() + 10
        while client.stats().events_on_disk == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        for index in range(20):
            time.sleep(rng.uniform(0.005, 0.1))
            returned = len(tracked)  # durable: every one of these is committed
            committed = client.stats().events_on_disk
            copy = tmp_path / f"copy{index}"
            copy.mkdir()
            with _pinned(path) as last_frame:
                _copy_slowly(path, copy / "queue.db")
                _copy_slowly(path.with_name("queue.db-wal"), copy / "queue.db-wal")
            damage = _lose_unsynced_tail(copy / "queue.db-wal", last_frame, rng) if index % 2 else "none"
            conn = sqlite3.connect(copy / "queue.db")
            try:
                integrity = "\n".join(row[0] for row in conn.execute("PRAGMA integrity_check"))
                rows = conn.execute("SELECT id, message_id FROM events ORDER BY id").fetchall()
            finally:
                conn.close()
            results.append((index, damage, integrity, rows, committed, returned))
    finally:
        stop.set()
        tracker.join(30)
        client.shutdown()
    lines = []
    for index, damage, integrity, rows, committed, returned in results:
        n = len(rows)
        lines.append(f"copy {index}: {n} events (committed before {committed}), tail damage {damage}")
        assert integrity == "ok", f"copy {index}: {integrity}"
        assert [r[0] for r in rows] == list(range(1, n + 1)), f"copy {index}: ids are not 1..{n}"
        assert [r[1] for r in rows] == tracked[:n], f"copy {index}: not the first {n} events tracked"
        assert n >= committed, f"copy {index}: {n} events, but {committed} were committed before it"
        if durable:
            assert n >= returned, f"copy {index}: {n} events, but {returned} durable calls had returned"
    sizes = [len(r[3]) for r in results]
    damaged = Counter(r[1] for r in results)
    print(
        f"\npower loss ({'durable' if durable else 'default'}): {len(results)} copies while tracking "
        f"{len(tracked)} events: all intact and a prefix ({min(sizes)}..{max(sizes)} events); "
        f"tail damage {dict(damaged)}"
    )
    assert len(set(sizes)) > 1  # the copies were taken while the writer was busy
