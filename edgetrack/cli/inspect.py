"""Looking at a queue file: ``status``, ``peek``, ``tail``, ``export`` and ``dead-letters``.
Each opens the file with a connection of its own and holds no lock between reads."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import TYPE_CHECKING, Any, TextIO

import click

from edgetrack.cli._common import (
    F,
    Target,
    describe,
    dumps,
    event_json,
    event_line,
    queue_options,
    when,
)

if TYPE_CHECKING:
    from edgetrack.models import QueuedEvent
    from edgetrack.sending import LaneStats
    from edgetrack.store import DeadLetter, SQLiteStore


def _lane_lines(lane: LaneStats) -> list[str]:
    age = "-" if lane.oldest_age is None else f"{lane.oldest_age:.0f}s"
    lines = [
        f"  {lane.name}: pending {lane.pending}, oldest {age}, in flight {lane.in_flight}, "
        f"delivered {lane.delivered}, failures in a row {lane.failures}"
    ]
    if lane.orphan:
        lines.append(
            "    orphan: no configured destination has this name (edgetrack lanes drop NAME removes it)"
        )
    if lane.paused_until:
        lines.append(f"    paused until {when(lane.paused_until)} ({lane.pause_reason})")
    if lane.next_attempt and lane.next_attempt > time.time():
        lines.append(f"    next attempt {when(lane.next_attempt)} (backing off)")
    for label, values in (
        ("dropped", lane.dropped),
        ("dead-lettered", lane.dead_lettered),
        ("skipped", lane.skipped),
        ("retried", lane.retried),
        ("split", lane.split),
    ):
        if values:
            lines.append(f"    {label}: " + ", ".join(f"{k} {v}" for k, v in values.items()))
    if lane.last_error:
        lines.append(f"    last error: {lane.last_error}")
    return lines


@click.command()
@queue_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def status(target: Target, as_json: bool) -> None:
    """Show each destination lane: pending, oldest age, in flight, paused until and why, next
    attempt, delivered / dead-lettered / dropped counts by reason, last error; and the file."""
    from edgetrack.sending import read_stats

    configured = target.config.lanes if target.config is not None else None
    with target.open() as store:
        stats = read_stats(store, configured=configured)
    lanes = list(stats.lanes.values())
    file_bytes = sum(p.stat().st_size for p in target.path.parent.glob(target.path.name + "*") if p.is_file())
    if as_json:
        payload: dict[str, Any] = {
            "path": str(target.path),
            "file_bytes": file_bytes,
            "events_on_disk": stats.events_on_disk,
            "bytes_on_disk": stats.bytes_on_disk,
            "dead_letters": stats.dead_letters,
            "clock_trusted": stats.clock_trusted,
            "lanes": [dataclasses.asdict(lane) for lane in lanes],
        }
        click.echo(json.dumps(payload, indent=2))
        return
    click.echo(f"{target.path}")
    click.echo(
        f"  {file_bytes:,} bytes on disk (with -wal/-shm); {stats.events_on_disk:,} events queued; "
        f"{stats.dead_letters:,} dead letters"
    )
    if not stats.clock_trusted:
        click.echo(
            "  the device's wall clock is not set (it reads before this release); "
            "timestamps are corrected once it is"
        )
    if not lanes:
        click.echo("  no lanes yet: no destination has opened this queue")
    for lane in lanes:
        for line in _lane_lines(lane):
            click.echo(line)


def _json_lines_option(function: F) -> F:
    return click.option(
        "--json", "as_json", is_flag=True, help="One JSON object per line, with the whole event."
    )(function)


def _show(event: QueuedEvent, as_json: bool) -> None:
    click.echo(dumps(event_json(event)) if as_json else event_line(event))


def _lane_option(function: F) -> F:
    lane = click.option("--lane", help="Only this destination lane (its name, e.g. intilery_mobile).")
    return lane(function)


def check_lane(store: SQLiteStore, lane: str | None) -> None:
    """An unknown --lane is an error listing the lanes there are (never "nothing there")."""
    if lane is None:
        return
    known = store.lane_names()
    if lane not in known:
        raise click.BadParameter(
            f"no lane {lane!r} in this queue file; the lanes are: {', '.join(known) or '(none yet)'}",
            param_hint="--lane",
        )


def _check_ids(store: SQLiteStore, ids: tuple[int, ...]) -> None:
    unknown = store.unknown_dead(list(ids))
    if unknown:
        some = ", ".join(str(i) for i in store.dead_letter_ids(20)) or "(none)"
        raise click.BadParameter(
            f"no dead letter with id {', '.join(map(str, unknown))}; the dead letters' ids are: {some} "
            "(edgetrack dead-letters list shows them)",
            param_hint="--id",
        )


@click.command()
@queue_options
@_lane_option
@click.option(
    "-n", "--limit", default=20, show_default=True, type=click.IntRange(min=1), help="How many events."
)
@_json_lines_option
def peek(
    target: Target,
    lane: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Show the oldest pending events: the next ones to be sent."""
    with target.open() as store:
        check_lane(store, lane)
        events = store.peek(lane, limit)
    for event in events:
        _show(event, as_json)
    if not events and not as_json:
        click.echo("nothing pending" + (f" for {lane}" if lane else ""))


@click.command()
@queue_options
@_lane_option
@click.option(
    "-n", "--limit", default=20, show_default=True, type=click.IntRange(min=1), help="How many events."
)
@click.option(
    "-f", "--follow", is_flag=True, help="Keep printing events as the app queues them (Ctrl-C stops)."
)
@_json_lines_option
def tail(
    target: Target,
    lane: str | None,
    limit: int,
    follow: bool,
    as_json: bool,
) -> None:
    """Show the newest queued events, oldest of them first; --follow keeps watching."""
    with target.open() as store:
        check_lane(store, lane)
        events = list(reversed(store.peek(lane, limit, newest=True)))
        last = events[-1].id if events else 0
        for event in events:
            _show(event, as_json)
        if not follow:
            return
        last = max(last, store.newest_id())
        try:
            while True:
                time.sleep(1.0)
                for event in store.peek(lane, 1000, after=last):
                    _show(event, as_json)
                    last = event.id
        except KeyboardInterrupt:
            return


def _dead_json(letter: DeadLetter) -> dict[str, Any]:
    return {
        "id": letter.id,
        "lane": letter.lane,
        "reason": letter.reason,
        "detail": letter.detail,
        "dead_at": letter.dead_at,
        "created": letter.created,
        "type": letter.type,
        "message_id": letter.message_id,
        "event": json.loads(letter.body),
    }


@click.command()
@queue_options
@_lane_option
@click.option("--jsonl", "as_lines", is_flag=True, help="JSON Lines: one object a line (the default).")
@click.option("--json", "as_array", is_flag=True, help="One JSON array.")
@click.option("--dead", is_flag=True, help="Export the dead letters instead of the pending events.")
@click.option(
    "-o",
    "--output",
    type=click.File("w", encoding="utf-8", lazy=True),
    default="-",
    help="File to write (default: standard output).",
)
def export(
    target: Target,
    lane: str | None,
    as_lines: bool,
    as_array: bool,
    dead: bool,
    output: TextIO,
) -> None:
    """Write every pending event (or dead letter) with its queue metadata, the envelope under
    "event"; `jq -c .event` gives the envelopes alone. Read in pages: memory stays flat."""
    if as_lines and as_array:
        raise click.UsageError("--jsonl and --json exclude each other: pick one")
    fmt = "json" if as_array else "jsonl"
    count = 0
    with target.open() as store:
        check_lane(store, lane)
        if fmt == "json":
            output.write("[")
        after = 0
        while True:
            if dead:
                letters = store.dead_letters(lane, 1000, after=after)
                rows = [_dead_json(letter) for letter in letters]
                after = letters[-1].id if letters else after
            else:
                events = store.peek(lane, 1000, after=after)
                rows = [event_json(event) for event in events]
                after = events[-1].id if events else after
            if not rows:
                break
            for row in rows:
                if fmt == "json":
                    output.write(("," if count else "") + "\n" + dumps(row))
                else:
                    output.write(dumps(row) + "\n")
                count += 1
        if fmt == "json":
            output.write("\n]\n")
    output.flush()
    what = "dead letters" if dead else "pending events"
    click.echo(f"exported {count:,} {what}", err=True)


@click.group("dead-letters")
def dead_letters() -> None:
    """List, requeue or purge events a lane gave up on (refused, too large, expired)."""


def _selection(ids: tuple[int, ...], lane: str | None, everything: bool, verb: str) -> list[int] | None:
    if not (ids or lane or everything):
        raise click.UsageError(
            f"say which dead letters to {verb}: --id N (repeatable), --lane NAME, or --all"
        )
    return list(ids) if ids else None


def _select_options(function: F) -> F:
    function = click.option("--all", "everything", is_flag=True, help="Every dead letter.")(function)
    function = click.option("--lane", help="Only this lane's dead letters.")(function)
    return click.option("--id", "ids", type=int, multiple=True, help="A dead letter's id (repeatable).")(
        function
    )


@dead_letters.command("list")
@queue_options
@_lane_option
@click.option("-n", "--limit", default=100, show_default=True, type=click.IntRange(min=1), help="How many.")
@_json_lines_option
def dead_list(
    target: Target,
    lane: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Show dead letters, oldest first, with the lane, the reason and the server's message."""
    with target.open() as store:
        check_lane(store, lane)
        letters = store.dead_letters(lane, limit)
    for letter in letters:
        if as_json:
            click.echo(dumps(_dead_json(letter)))
            continue
        click.echo(
            f"#{letter.id:<6} {when(letter.dead_at)}  {letter.lane:<16} {letter.reason:<18} "
            f"{letter.type:<8} {describe(letter.body)}"
        )
        if letter.detail:
            click.echo(f"        {letter.detail}")
    if not letters and not as_json:
        click.echo("no dead letters" + (f" for {lane}" if lane else ""))


@dead_letters.command("requeue")
@queue_options
@_select_options
def dead_requeue(
    target: Target,
    ids: tuple[int, ...],
    lane: str | None,
    everything: bool,
) -> None:
    """Queue dead letters again, for their own lane only (after you fixed the cause). A running
    app picks them up on its next pass; `edgetrack flush` sends them now."""
    chosen = _selection(ids, lane, everything, "requeue")
    with target.open() as store:
        check_lane(store, lane)
        _check_ids(store, ids)
        count = store.requeue_dead(chosen, lane=lane, now=store.now())
    click.echo(f"requeued {count} dead letter{'s' * (count != 1)}")


@dead_letters.command("purge")
@queue_options
@_select_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def dead_purge(
    target: Target,
    ids: tuple[int, ...],
    lane: str | None,
    everything: bool,
    yes: bool,
) -> None:
    """Delete dead letters for good (export them first if you may want them)."""
    chosen = _selection(ids, lane, everything, "purge")
    with target.open() as store:
        check_lane(store, lane)
        _check_ids(store, ids)
        selected = store.count_dead(chosen, lane=lane)
    if not selected:
        click.echo("nothing to purge: no dead letters match")
        return
    if not yes:
        click.confirm(
            f"delete {selected} dead letter{'s' * (selected != 1)} from {target.path} for good?", abort=True
        )
    with target.open() as store:
        count = store.purge_dead(chosen, lane=lane)
    click.echo(f"purged {count} dead letter{'s' * (count != 1)}")
