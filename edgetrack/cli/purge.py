"""``edgetrack purge``: erase the events still waiting to be sent (every lane's, or one lane's)."""

from __future__ import annotations

import click

from edgetrack.cli._common import Target, queue_options
from edgetrack.cli.inspect import check_lane


@click.command()
@queue_options
@click.option("--lane", help="Only this lane's pending events (its name, e.g. intilery_mobile).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def purge(target: Target, lane: str | None, yes: bool) -> None:
    """Erase pending events for good (export them first if you may want them); counted as
    dropped["purged"] in `status`. Their bytes go back to the file system."""
    with target.open() as store:
        check_lane(store, lane)
        names = [lane] if lane else store.lane_names()
        pending = store.pending_union(names) if names else 0
    if not pending:
        click.echo("nothing to purge: no pending events" + (f" for {lane}" if lane else ""))
        return
    if not yes:
        where = f"lane {lane!r} of " if lane else ""
        click.confirm(f"erase {pending:,} pending events from {where}{target.path} for good?", abort=True)
    with target.open() as store:
        erased = store.purge_pending(lane)
    click.echo(f"purged {erased:,} pending event{'s' * (erased != 1)}")
