"""``edgetrack flush``: send what is due (``--now``: everything) from a queue file, with the
destinations of a config file; a progress bar with live counts; Ctrl-C stops cleanly.

It is an ordinary client of the queue (its own lease owner), so it is safe beside a running
app: a lane the app is sending is left to the app and reported as such. ``--timeout`` bounds
the whole run, a request in flight included: at the deadline the command stops waiting for it
(its events stay queued; the lease of a process that has ended is taken over at once).
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING

import click

from edgetrack.cli._common import KEY_VARIABLE, Target, queue_options, when

if TYPE_CHECKING:
    from edgetrack import Client
    from edgetrack.sending import LaneStats, Scheduler, Stats

_STRAGGLER = 0.5  # seconds to let a request in flight finish after a stop, before leaving it


def _totals(stats: Stats, names: list[str]) -> tuple[int, int]:
    lanes = [stats.lanes[n] for n in names if n in stats.lanes]
    return sum(lane.delivered for lane in lanes), sum(sum(lane.dead_lettered.values()) for lane in lanes)


def _why_left(lane: LaneStats, now: float, due_only: bool, ours: bool) -> str:
    if lane.paused_until:
        return f"paused until {when(lane.paused_until)} ({lane.pause_reason})"
    if lane.in_flight and ours:
        return f"{lane.in_flight} left in flight by this flush when it stopped; they stay queued"
    if lane.in_flight:
        return f"{lane.in_flight} in flight by another process (the app is sending this lane)"
    if lane.next_attempt and lane.next_attempt > now:
        hint = "; --now sends anyway" if due_only else ""
        return f"backing off until {when(lane.next_attempt)} after {lane.failures} failures{hint}"
    if lane.last_error and lane.failures:
        return f"the last attempt failed: {lane.last_error}"
    return "not due yet under the flush policy (--now sends anyway)" if due_only else "left"


def _client(target: Target) -> Client:
    from edgetrack import Client
    from edgetrack.configfile import load_config
    from edgetrack.errors import ConfigError
    from edgetrack.retry import RetryPolicy

    if target.config is None or not target.config.lanes:
        raise click.ClickException(
            "flush needs the destinations and their keys: pass --config FILE (or set EDGETRACK_CONFIG); "
            "see the README's 'Config file' section"
        )
    try:
        config = load_config(target.config.source)  # now with the keys, which only flush needs
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    with target.open():  # a missing, locked or corrupt file stops here, untouched
        pass
    return Client(
        config.destinations,
        path=target.path,
        encryption_key=os.environ.get(KEY_VARIABLE) or None,
        track_lifecycle=False,  # the operator's process is not the app
        session_timeout=None,
        app_name=config.app_name,
        send=False,  # no background threads: the passes below are the only sending
        retry=RetryPolicy(startup_jitter=0.0),
    )


@click.command()
@queue_options
@click.option(
    "--now", is_flag=True, help="Send everything pending, ignoring backoff timers and the battery policy."
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=None,
    help="Stop after this many seconds, a request in flight included (what is left stays queued).",
)
def flush(target: Target, now: bool, timeout: float | None) -> None:
    """Send what is due (with --now: everything pending) to the config file's destinations.

    Shows a progress bar and live counts. A vendor's 429 pause is always honoured. Ctrl-C stops
    after the request in flight: nothing is lost, what is left stays queued. Exits 130 when
    interrupted with events left, 1 when a lane failed or events are left at the timeout (or,
    with --now, at all).
    """
    client = _client(target)
    schedulers = client.lanes()
    names = [scheduler.name for scheduler in schedulers]
    start = client.stats()
    working = [n for n in names if n in start.lanes and start.lanes[n].pending]
    pending0 = client.pending_events(working)
    click.echo(
        f"{target.path}: {pending0:,} events pending"
        + (f" for {', '.join(working)}" if working else "")
        + (" (--now)" if now else "")
    )
    delivered0, dead0 = _totals(start, names)
    stopped = _run(client, schedulers, now, timeout, pending0, (delivered0, dead0))
    end = client.stats()
    client.shutdown(timeout=1.0)
    _report(end, names, schedulers, now, stopped, (delivered0, dead0))


def _run(
    client: Client,
    schedulers: list[Scheduler],
    now: bool,
    timeout: float | None,
    pending0: int,
    base: tuple[int, int],
) -> str:
    """Run one pass per lane in worker threads with a progress bar; returns "" when they all
    finished, or "interrupted" / "timed out"."""
    workers = [threading.Thread(target=s.run_once, kwargs={"force": now}, daemon=True) for s in schedulers]
    for worker in workers:
        worker.start()
    deadline = None if timeout is None else time.monotonic() + timeout
    names = [s.name for s in schedulers]
    stopped = ""
    with click.progressbar(length=max(pending0, 1), label="sending", show_pos=True) as bar:
        shown = 0
        try:
            while any(worker.is_alive() for worker in workers):
                for worker in workers:
                    worker.join(0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic())))
                stats = client.stats()
                delivered, dead = _totals(stats, names)
                done = min(max(pending0 - client.pending_events(names), 0), pending0)
                bar.label = f"delivered {delivered - base[0]:,}, dead-lettered {dead - base[1]:,}"
                bar.update(done - shown)
                shown = done
                if (
                    deadline is not None
                    and time.monotonic() >= deadline
                    and any(w.is_alive() for w in workers)
                ):
                    raise TimeoutError
        except (KeyboardInterrupt, TimeoutError) as exc:
            stopped = "timed out" if isinstance(exc, TimeoutError) else "interrupted"
            _stop(schedulers, workers, stopped)
    return stopped


def _stop(schedulers: list[Scheduler], workers: list[threading.Thread], why: str) -> None:
    click.echo(f"\n{why}: stopping; nothing is lost", err=True)
    for scheduler in schedulers:
        scheduler.interrupt()  # no new request; the one in flight may finish
    end = time.monotonic() + _STRAGGLER
    try:
        for worker in workers:
            worker.join(max(0.0, end - time.monotonic()))
    except KeyboardInterrupt:  # a second Ctrl-C: leave at once
        pass
    if any(worker.is_alive() for worker in workers):
        click.echo("leaving the request in flight; its events stay queued", err=True)


def _report(
    end: Stats, names: list[str], schedulers: list[Scheduler], now: bool, stopped: str, base: tuple[int, int]
) -> None:
    delivered, dead = _totals(end, names)
    left = sum(end.lanes[n].pending for n in names if n in end.lanes)
    click.echo(f"delivered {delivered - base[0]:,}, dead-lettered {dead - base[1]:,}, pending {left:,}")
    ours = {scheduler.owner for scheduler in schedulers}
    failed = False
    stamp = time.time()
    waiting = []
    for name in names:
        lane = end.lanes.get(name)
        if lane is None or not lane.pending:
            continue
        waiting.append(lane)
        failed |= bool(lane.failures)
        click.echo(
            f"  {name}: {lane.pending:,} left: {_why_left(lane, stamp, not now, lane.lease_owner in ours)}"
        )
    backing_off = [lane.next_attempt for lane in waiting if lane.next_attempt and lane.next_attempt > stamp]
    if waiting and not now and len(backing_off) == len(waiting):
        soonest = min(backing_off)
        click.echo(
            f"every lane with events is backing off (the first until {when(soonest)}); --now sends anyway"
        )
    if stopped == "interrupted" and left:
        raise SystemExit(130)
    if failed or (left and (now or stopped)):
        raise SystemExit(1)
