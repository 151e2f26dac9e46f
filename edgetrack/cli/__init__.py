"""The operator CLI, ``edgetrack`` (also ``python -m edgetrack``): a thin skin over the public
API, safe to run beside a running app (WAL readers never block its writer; sending takes a
lease like any client). ``edgetrack COMMAND --help`` documents each command."""

from __future__ import annotations

import errno
import sys
import time

import click

from edgetrack._version import __version__
from edgetrack.cli._common import when
from edgetrack.cli.flush import flush
from edgetrack.cli.inspect import dead_letters, export, peek, status, tail
from edgetrack.cli.lanes import lanes
from edgetrack.cli.purge import purge

__all__ = ["main"]


@click.group()
@click.version_option(__version__, prog_name="edgetrack")
def main() -> None:
    """edgetrack: durable, battery-aware event tracking. Commands for operators and developers.

    Every queue command finds the queue file from --db, else --config's `path`, else the
    default file of --app (EDGETRACK_DB and EDGETRACK_CONFIG work too).
    """


@main.command()
@click.option("--events", default=120, show_default=True, help="Events tracked in each phase.")
def demo(events: int) -> None:
    """Run a kiosk session against the local emulator: outage, restart, drain, summary."""
    from edgetrack.cli._demo import run_demo

    summary = run_demo(events_per_phase=events, out=click.echo)
    if summary["lost"]:
        raise SystemExit(1)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to bind.")
@click.option(
    "--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on."
)
@click.option("--write-key", default="emulator-write-key", show_default=True, help="Accepted key.")
def serve(host: str, port: int, write_key: str) -> None:
    """Run the vendor API emulator for development, printing what arrives."""
    from edgetrack.emulator import Emulator

    def show(vendor: str, status: int, events: int) -> None:
        click.echo(f"{when(time.time())} {vendor:<18} HTTP {status} {events:>4} events")

    try:
        emu = Emulator(host=host, port=port, write_key=write_key, on_request=show)
        emu.start()
    except ValueError as exc:  # a host that is not loopback
        raise click.BadParameter(f"{exc}; it never listens beyond this machine", param_hint="--host") from exc
    except OSError as exc:
        reason = (
            "is already in use"
            if exc.errno in (errno.EADDRINUSE, errno.EACCES)
            else f"cannot be used ({exc})"
        )
        raise click.ClickException(f"{host}:{port} {reason}; pick another with --port") from exc
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


for _command in (status, flush, peek, tail, export, dead_letters, lanes, purge):
    main.add_command(_command)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
