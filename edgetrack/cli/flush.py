"""``edgetrack flush``: send what is due (``--now``: everything) from a queue file, with the
destinations of a config file; a progress bar with live counts; Ctrl-C stops cleanly.

It is an ordinary client of the queue (its own lease owner), so it is safe beside a running
app: a lane the app is sending is left to the app and reported as such.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import click

from edgetrack.cli._common import Target, queue_options, when


def _totals(stats: Any, names: list[str]) -> tuple[int, int, int]:
    lanes = [stats.lanes[n] for n in names if n in stats.lanes]
    pending = sum(lane.pending for lane in lanes)
    delivered = sum(lane.delivered for lane in lanes)
    dead = sum(sum(lane.dead_lettered.values()) for lane in lanes)
    return pending, delivered, dead


def _why_left(lane: Any, now: float, due_only: bool) -> str:
    if lane.paused_until:
        return f"paused until {when(lane.paused_until)} ({lane.pause_reason})"
    if lane.in_flight:
        return f"{lane.in_flight} in flight by another process (the app is sending this lane)"
    if lane.next_attempt and lane.next_attempt > now:
        return f"backing off until {when(lane.next_attempt)} after {lane.failures} failures"
    if lane.last_error and lane.failures:
        return f"the last attempt failed: {lane.last_error}"
    return "not due yet under the flush policy (use --now)" if due_only else "left"


@click.command()
@queue_options
@click.option(
    "--now", is_flag=True, help="Send everything pending, ignoring backoff timers and the battery policy."
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=None,
    help="Stop after this many seconds (what is left stays queued).",
)
def flush(
    target: Target,
    now: bool,
    timeout: float | None,
) -> None:
    """Send what is due (with --now: everything pending) to the config file's destinations.

    Shows a progress bar and live counts. A vendor's 429 pause is always honoured. Ctrl-C stops
    after the request in flight: nothing is lost, what is left stays queued. Exits 1 when a
    lane failed (or, with --now, when events are left).
    """
    from edgetrack import Client
    from edgetrack.retry import RetryPolicy

    if target.config is None or not target.config.destinations:
        raise click.ClickException(
            "flush needs the destinations and their keys: pass --config FILE (or set EDGETRACK_CONFIG); "
            "see the README's 'Config file' section"
        )
    with target.open():  # a missing, locked or corrupt file stops here, untouched
        pass
    names = [d.name for d in target.config.destinations]
    client = Client(
        target.config.destinations,
        path=target.path,
        app_name=target.config.app_name,
        send=False,  # no background threads: the passes below are the only sending
        retry=RetryPolicy(startup_jitter=0.0),
    )
    schedulers = client._scheduler_now()
    start = client.stats()
    pending0, delivered0, dead0 = _totals(start, names)
    click.echo(f"{target.path}: {pending0:,} pending for {', '.join(names)}" + (" (--now)" if now else ""))
    workers = [
        threading.Thread(target=scheduler.run_once, kwargs={"force": now}, daemon=True)
        for scheduler in schedulers
    ]
    for worker in workers:
        worker.start()
    deadline = None if timeout is None else time.monotonic() + timeout
    interrupted = False
    with click.progressbar(length=max(pending0, 1), label="sending", show_pos=True) as bar:
        shown = 0
        try:
            while any(worker.is_alive() for worker in workers):
                for worker in workers:
                    worker.join(0.2)
                pending, delivered, dead = _totals(client.stats(), names)
                done = min(max(pending0 - pending, 0), pending0)
                bar.label = f"delivered {delivered - delivered0:,}, dead-lettered {dead - dead0:,}"
                bar.update(done - shown)
                shown = done
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError
        except (KeyboardInterrupt, TimeoutError) as exc:
            interrupted = True
            reason = "timed out" if isinstance(exc, TimeoutError) else "interrupted"
            click.echo(f"\n{reason}: stopping after the request in flight; nothing is lost", err=True)
            for scheduler in schedulers:
                scheduler.interrupt()
            try:
                for worker in workers:
                    worker.join()
            except KeyboardInterrupt:  # a second Ctrl-C: leave now; the lease lapses, events stay
                click.echo("leaving the request in flight; its events stay queued", err=True)
    end = client.stats()
    client.shutdown(timeout=1.0)
    pending, delivered, dead = _totals(end, names)
    click.echo(f"delivered {delivered - delivered0:,}, dead-lettered {dead - dead0:,}, pending {pending:,}")
    failed = False
    stamp = time.time()
    for name in names:
        lane = end.lanes.get(name)
        if lane is None or not lane.pending:
            continue
        why = _why_left(lane, stamp, due_only=not now)
        failed |= bool(lane.failures)
        click.echo(f"  {name}: {lane.pending:,} left: {why}")
    if interrupted:
        raise SystemExit(130)
    if failed or (now and pending):
        raise SystemExit(1)
