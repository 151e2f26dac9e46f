"""The crash harness's child process: tracks and flushes against the emulator until SIGKILLed.

Run by ``tests/test_crash.py`` (and ``benchmarks/crash.py``) as
``python tests/crash_child.py CONFIG_JSON``; CONFIG_JSON holds ``path``, ``url``, ``key``,
``seed``, ``run``, ``durable``, ``aim``, ``paced`` and ``status``.

It goes through random phases (bursts of track(), trickles, flushes, large events that the
emulator answers 413 so batches split, scripted 429 / 5xx / resets / slow answers, idle
time while a lane waits out a retry), biased towards the phase where the parent means to
kill it (``aim``). Every line on stdout is flushed at once:

    R <messageId> <time.monotonic()>   track() returned (ok); with durable=True, after its commit
    N <messageId>                      track() returned False (not queued, or not committed in time)
    F <kind> <times>                   ask the parent to script emulator faults: 429, 500, drop, slow
    P <phase>                          a new phase begins

The status file is a small shared memory map where each thread writes what it is doing right
now (``main``: track, flush, sleep, ...; ``writer``: commit; ``scheduler``: claim, send,
split-send, ack, fail, retry-wait); ``first-commit`` holds the time.monotonic() at which the
process's first commit finished (the queue was open), ``commit-start`` when the commit in
progress (if any) began and with how many rows (``commit-rows``), and ``last-commit-start``
when the last finished one began. The
parent watches it to aim the kill and reads it after the kill to see where the kill landed.
The probes wrap a few store and delivery functions of this process only; a probe whose
target no longer exists is skipped, never an error.
"""

from __future__ import annotations

import json
import mmap
import random
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

SLOT = 64  # bytes per thread in the status file
SLOTS = {
    "main": 0,
    "writer": 1,
    "scheduler": 2,
    "first-commit": 3,
    "commit-start": 4,
    "commit-rows": 5,
    "last-commit-start": 6,
}
STATUS_SIZE = SLOT * len(SLOTS)


class Status:
    """Each thread's current activity, in a file both processes map (it survives SIGKILL)."""

    def __init__(self, path: str) -> None:
        self._file = open(path, "r+b")  # open for the life of the process
        self._map = mmap.mmap(self._file.fileno(), STATUS_SIZE)
        self._slots: dict[int, int] = {}

    def _slot(self) -> int:
        ident = threading.get_ident()
        offset = self._slots.get(ident)
        if offset is None:
            name = threading.current_thread().name
            if name.startswith("edgetrack-writer"):
                offset = SLOTS["writer"] * SLOT
            elif name.startswith("edgetrack-scheduler"):
                offset = SLOTS["scheduler"] * SLOT
            else:
                offset = SLOTS["main"] * SLOT
            self._slots[ident] = offset
        return offset

    def set(self, label: str) -> None:
        self._write(self._slot(), label)

    def put(self, slot: str, text: str) -> None:
        self._write(SLOTS[slot] * SLOT, text)

    def _write(self, offset: int, text: str) -> None:
        self._map[offset : offset + SLOT] = text.encode()[:SLOT].ljust(SLOT, b"\0")


def read_status(path: str) -> dict[str, str]:
    """What each thread was last doing (the parent's view; "" for a thread that never wrote)."""
    with open(path, "rb") as handle:
        data = handle.read(STATUS_SIZE)
    return {
        name: data[index * SLOT : (index + 1) * SLOT].rstrip(b"\0").decode(errors="replace")
        for name, index in SLOTS.items()
    }


def _wrap(owner: Any, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> bool:
    original = getattr(owner, name, None)
    if original is None:
        return False
    setattr(owner, name, make(original))
    return True


def install_probes(status: Status) -> list[str]:
    """Label the writer's commits and the scheduler's claim / send / ack / fail; returns the
    probes installed (library internals move: a missing one only narrows the landing report)."""
    installed: list[str] = []
    local = threading.local()

    first_commit: list[float] = []

    def labelled(enter: str, leave: str, *, on_claim: bool = False) -> Callable[[Any], Any]:
        def make(original: Callable[..., Any]) -> Callable[..., Any]:
            def probe(*args: Any, **kwargs: Any) -> Any:
                if on_claim:
                    local.splitting = False
                started = time.monotonic()
                if enter == "commit":
                    status.put("commit-start", f"{started:.6f}")
                    status.put("commit-rows", str(len(args[1]) if len(args) > 1 else -1))
                status.set(enter)
                try:
                    result = original(*args, **kwargs)
                finally:
                    status.set(leave)
                if enter == "commit":
                    status.put("last-commit-start", f"{started:.6f}")
                    if not first_commit:
                        first_commit.append(time.monotonic())
                        status.put("first-commit", f"{first_commit[0]:.6f}")
                return result

            return probe

        return make

    from edgetrack.store import SQLiteStore

    for method, enter, leave in (
        ("append", "commit", "idle"),
        ("claim", "claim", "deliver"),
        ("complete", "ack", "idle"),
        ("fail", "fail", "retry-wait"),
    ):
        if _wrap(SQLiteStore, method, labelled(enter, leave, on_claim=method == "claim")):
            installed.append(method)

    def attempt(original: Callable[..., Any]) -> Callable[..., Any]:
        def probe(*args: Any, **kwargs: Any) -> Any:
            status.set("split-send" if getattr(local, "splitting", False) else "send")
            try:
                response, outcome = original(*args, **kwargs)
            finally:
                status.set("deliver")
            kind = getattr(getattr(outcome, "kind", None), "value", "")
            if kind in ("too_large", "rejected"):
                local.splitting = True
            return response, outcome

        return probe

    try:
        import edgetrack.sending as delivery
    except ImportError:
        delivery = None  # type: ignore[assignment]
    if delivery is not None and _wrap(delivery, "_attempt", attempt):
        installed.append("send")
    return installed


def main(config: dict[str, Any]) -> None:
    status = Status(config["status"])
    status.set("import")
    from edgetrack import Client
    from edgetrack.config import Timeouts
    from edgetrack.destinations import IntileryMobile
    from edgetrack.retry import RetryPolicy

    install_probes(status)
    rng = random.Random(config["seed"])
    run, durable, aim = config["run"], bool(config["durable"]), config["aim"]
    paced = bool(config.get("paced"))  # at most ~7,000 track() a second (see BURST_LAG_BUG)
    out = sys.stdout

    def say(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    status.set("client-init")
    client = Client(
        [IntileryMobile(config["key"], endpoint=config["url"])],
        path=config["path"],
        durable=durable,
        flush_at=rng.choice([1, 5, 20, 100]),
        flush_interval=rng.choice([0.02, 0.05, 0.2]),
        retry=RetryPolicy(
            startup_jitter=0.0,
            backoff_base=0.05,
            backoff_cap=0.3,
            rate_limit_min=0.1,
            rate_limit_cap=0.3,
        ),
        timeouts=Timeouts(connect=0.5, read=0.5),
        power=None,
        shutdown_timeout=2.0,
    )
    label = "track-durable" if durable else "track"
    counter = 0

    def track(pad: int = 0, *, urgent: bool = False) -> None:
        nonlocal counter
        properties: dict[str, Any] = {"run": run, "n": counter}
        if pad:
            properties["pad"] = "x" * pad
        counter += 1
        status.set(label)
        ok, msg = client.track("kiosk-7", "Tap", properties, flush=urgent)
        now = time.monotonic()
        status.set("main")
        say(f"R {msg['messageId']} {now:.6f}" if ok else f"N {msg['messageId']}")
        if paced and counter % 10 == 0:
            time.sleep(0.001)

    def flush(timeout: float = 1.0) -> None:
        status.set("flush")
        client.flush(timeout)
        status.set("main")

    def sleep(seconds: float) -> None:
        status.set("sleep")
        time.sleep(seconds)
        status.set("main")

    if rng.random() < 0.8:  # most children let the queue open first (see STARTUP_WINDOW_BUG)
        say("P warm-up")
        track()
        flush(2.0)
    phases = ["burst", "trickle", "flush", "big", "fault", "idle", "urgent"]
    weights = {
        "track": [4, 2, 1, 1, 1, 0, 1],
        "track-durable": [4, 2, 1, 1, 1, 0, 1],
        "commit": [5, 2, 1, 1, 1, 0, 1],
        "claim": [1, 1, 4, 1, 1, 1, 2],
        "send": [1, 1, 3, 1, 3, 1, 1],
        "split-send": [1, 0, 1, 6, 0, 0, 0],
        "ack": [1, 1, 4, 1, 1, 1, 2],
        "retry-wait": [1, 1, 1, 0, 6, 2, 0],
    }.get(aim, [1] * len(phases))
    while True:
        phase = rng.choices(phases, weights)[0]
        say(f"P {phase}")
        if phase == "burst":
            for _ in range(rng.randint(50, 1500)):
                track()
        elif phase == "trickle":
            for _ in range(rng.randint(5, 40)):
                track()
                sleep(rng.uniform(0.0, 0.01))
        elif phase == "flush":
            for _ in range(rng.randint(1, 200)):
                track()
            flush()
        elif phase == "big":  # batches over the emulator's body cap: 413, split in halves
            for _ in range(rng.randint(20, 150)):
                track(pad=rng.randint(3000, 6000))
            flush(2.0)
        elif phase == "fault":
            kind = rng.choice(["429", "500", "drop", "slow"])
            say(f"F {kind} {rng.randint(1, 3)}")
            sleep(0.01)  # the parent scripts the emulator meanwhile
            for _ in range(rng.randint(5, 100)):
                track()
            flush()
        elif phase == "idle":
            sleep(rng.uniform(0.05, 0.3))
        elif phase == "urgent":
            track(urgent=True)
            sleep(rng.uniform(0.0, 0.05))


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
