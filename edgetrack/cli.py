"""The operator CLI: a thin skin over the public API (``edgetrack --help``)."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from edgetrack._version import __version__

__all__ = ["main"]


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


@click.group()
@click.version_option(__version__, prog_name="edgetrack")
def main() -> None:
    """edgetrack: durable, battery-aware event tracking. Operator commands."""


@main.command()
@click.option("--events", default=120, show_default=True, help="Events tracked in each phase.")
def demo(events: int) -> None:
    """Run a kiosk session against the local emulator: outage, restart, drain, summary."""
    from edgetrack.demo import run_demo

    summary = run_demo(events_per_phase=events, out=click.echo)
    if summary["lost"]:
        raise SystemExit(1)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to bind.")
@click.option("--port", default=8765, show_default=True, help="Port to listen on.")
@click.option("--write-key", default="emulator-write-key", show_default=True, help="Accepted key.")
def serve(host: str, port: int, write_key: str) -> None:
    """Run the vendor API emulator for development, printing what arrives."""
    from edgetrack.emulator import Emulator

    def show(vendor: str, status: int, events: int) -> None:
        click.echo(f"{_when(time.time())} {vendor:<18} HTTP {status} {events:>4} events")

    emu = Emulator(host=host, port=port, write_key=write_key, on_request=show)
    emu.start()
    url = emu.url
    click.echo(f"emulator listening on {url} (Ctrl-C to stop); point your destinations at it:")
    click.echo(f"  IntileryMobile({write_key!r}, endpoint={url!r})")
    click.echo(
        f"  IntileryEvents({emu.intilery_client_id!r}, {emu.intilery_account_id!r}, "
        f"{emu.intilery_brand_id!r}, {emu.intilery_token!r}, endpoint={url!r})"
    )
    click.echo(f"  Parcelvoy({emu.parcelvoy_key!r}, endpoint={url!r})")
    click.echo(f"  Encharge({emu.encharge_key!r}, endpoint={url!r})")
    click.echo(f"  BatchCom({emu.batch_api_key!r}, {emu.batch_rest_key!r}, endpoint={url!r})")
    click.echo(f"  Segment({emu.segment_write_key!r}, endpoint={url!r})")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()


@main.command()
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Queue file (default: the one for --app).",
)
@click.option("--app", default="edgetrack", show_default=True, help="App name of the default path.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def status(db_path: Path | None, app: str, as_json: bool) -> None:
    """Show what is queued per destination lane, and why it is waiting."""
    from edgetrack.errors import StorageError
    from edgetrack.lanestats import lane_stats
    from edgetrack.store import SQLiteStore, default_path

    path = db_path or default_path(app)
    if not path.exists():
        raise click.ClickException(f"no queue file at {path}; pass --db PATH")
    try:
        store = SQLiteStore.open(path)
    except (StorageError, OSError, Exception) as exc:
        raise click.ClickException(f"cannot open the queue file {path}: {exc}") from exc
    try:
        if "events" not in store.db.table_names():  # sqlite-utils' view of the file
            raise click.ClickException(f"{path} is not an edgetrack queue file")
        now = time.time()
        counts = store.counters()
        lanes = [lane_stats(s, counts.get(s.name, {}), now) for s in store.lane_states(now)]
        events, size = store.totals()
    finally:
        store.close()
    if as_json:
        payload: dict[str, Any] = {
            "path": str(path),
            "file_bytes": path.stat().st_size,
            "events_on_disk": events,
            "bytes_on_disk": size,
            "lanes": [lane.__dict__ for lane in lanes],
        }
        click.echo(json.dumps(payload, indent=2))
        return
    click.echo(f"{path} ({path.stat().st_size:,} bytes; {events:,} events on disk)")
    for lane in lanes:
        age = "-" if lane.oldest_age is None else f"{lane.oldest_age:.0f}s"
        click.echo(
            f"  {lane.name}: pending {lane.pending}, oldest {age}, in flight {lane.in_flight}, "
            f"delivered {lane.delivered}"
        )
        if lane.paused_until:
            click.echo(f"    paused until {_when(lane.paused_until)} ({lane.pause_reason})")
        if lane.next_attempt:
            click.echo(f"    next attempt {_when(lane.next_attempt)}")
        for label, values in (
            ("dropped", lane.dropped),
            ("dead-lettered", lane.dead_lettered),
            ("skipped", lane.skipped),
            ("retried", lane.retried),
        ):
            if values:
                click.echo(f"    {label}: " + ", ".join(f"{k} {v}" for k, v in values.items()))
        if lane.last_error:
            click.echo(f"    last error: {lane.last_error}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
