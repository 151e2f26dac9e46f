"""``edgetrack lanes``: list every lane in a queue file, and drop one nobody sends any more."""

from __future__ import annotations

import click

from edgetrack.cli._common import Target, queue_options


@click.group()
def lanes() -> None:
    """List the queue file's lanes, or drop one whose destination is gone (an orphan)."""


def _known(target: Target) -> list[str]:
    with target.open() as store:
        return [state.name for state in store.lane_states(store.now())]


@lanes.command("list")
@queue_options
def lanes_list(target: Target) -> None:
    """Every lane in the file: pending events, and how long ago a client last configured it."""
    from edgetrack.sending import read_stats

    configured = target.config.lanes if target.config is not None else None
    with target.open() as store:
        stats = read_stats(store, configured=configured)
    if not stats.lanes:
        click.echo("no lanes: no destination has opened this queue")
    for lane in stats.lanes.values():
        seen = "-" if lane.seen_age is None else f"{lane.seen_age / 86400:.1f} days ago"
        flag = "  (orphan: not in the config file)" if lane.orphan else ""
        click.echo(f"{lane.name}: {lane.pending:,} pending, last configured {seen}{flag}")


@lanes.command("drop")
@queue_options
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def lanes_drop(target: Target, name: str, yes: bool) -> None:
    """Remove lane NAME with its pending events and dead letters (a running app that still
    sends it would create it again, empty)."""
    known = _known(target)
    if name not in known:
        raise click.BadParameter(
            f"no lane {name!r} in {target.path}; the lanes are: {', '.join(known) or '(none)'}",
            param_hint="NAME",
        )
    if not yes:
        click.confirm(f"drop lane {name!r} and its pending events from {target.path} for good?", abort=True)
    with target.open() as store:
        dropped = store.drop_lane(name)
    click.echo(f"dropped lane {name!r} with {dropped:,} pending events")
