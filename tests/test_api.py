"""The public surface: __all__ sorted and complete, the CLI commands working in-process."""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest
from click.testing import CliRunner

import edgetrack
from edgetrack import Client
from edgetrack.cli import main
from edgetrack.destinations import IntileryMobile
from edgetrack.emulator import Emulator


def test_all_is_sorted_and_complete() -> None:
    """edgetrack.__all__ is sorted, every name in it resolves, and dir() shows nothing else public."""
    assert list(edgetrack.__all__) == sorted(edgetrack.__all__)
    for name in edgetrack.__all__:
        assert getattr(edgetrack, name) is not None, name
    public = {
        name
        for name in dir(edgetrack)
        if not name.startswith("_")
        and not isinstance(getattr(edgetrack, name), types.ModuleType)
        and name not in ("annotations", "TYPE_CHECKING", "Any", "importlib")
    }
    from edgetrack._default import SEGMENT_SETTINGS

    assert public - set(SEGMENT_SETTINGS) == set(edgetrack.__all__) - {"__version__"}
    assert callable(edgetrack.stats) and callable(edgetrack.track)  # not shadowed by modules


def test_importing_edgetrack_keeps_heavy_modules_off_the_callers_path() -> None:
    """import edgetrack + Client() + track() do not import requests or click in the caller."""
    import subprocess
    import sys

    code = (
        "import sys, tempfile, os\n"
        "import edgetrack\n"
        "from edgetrack.destinations import IntileryMobile\n"
        "c = edgetrack.Client([IntileryMobile('k', endpoint='http://127.0.0.1:9')],"
        " path=os.path.join(tempfile.mkdtemp(), 'q.db'), send=False)\n"
        "loaded = {m for m in ('requests', 'click') if m in sys.modules}\n"
        "c.track('u', 'E')\n"
        "print(sorted(loaded))\n"
        "c.shutdown()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_status_shows_lanes(tmp_path: Path) -> None:
    """`edgetrack status --db` lists each lane's pending events, as text and as JSON."""
    path = tmp_path / "q.db"
    with Emulator() as emu:
        with Client([IntileryMobile(emu.write_key, endpoint=emu.url)], path=path, send=False) as c:
            for _ in range(3):
                c.track("u", "E")
    runner = CliRunner()
    result = runner.invoke(main, ["status", "--db", str(path)])
    assert result.exit_code == 0, result.output
    assert "intilery_mobile: pending 3" in result.output
    result = runner.invoke(main, ["status", "--db", str(path), "--json"])
    assert json.loads(result.output)["lanes"][0]["pending"] == 3


def test_cli_status_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    """A missing queue file gives a non-zero exit and says which path and what to pass."""
    result = CliRunner().invoke(main, ["status", "--db", str(tmp_path / "nope.db")])
    assert result.exit_code != 0
    assert "no queue file" in result.output and "--db" in result.output


@pytest.mark.slow
def test_cli_demo_loses_nothing() -> None:
    """`edgetrack demo` runs the kiosk session (outage + restart) and reports lost 0."""
    result = CliRunner().invoke(main, ["demo", "--events", "40"])
    assert result.exit_code == 0, result.output
    assert "lost 0" in result.output and "network returns" in result.output


def test_every_cli_command_has_help() -> None:
    """Each command documents itself in --help."""
    for name, command in main.commands.items():
        assert command.help, name
        result = CliRunner().invoke(main, [name, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output


def test_quickstart_example_runs() -> None:
    """examples/quickstart.py delivers its three events to the emulator."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, str(root / "examples" / "quickstart.py")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "delivered all: True; lane delivered 3, pending 0" in out.stdout
