"""The examples, each run as a program the way a user runs it, against an emulator in the test.

The examples read the same settings a user gives them (``INTILERY_WRITE_KEY`` and
``INTILERY_ENDPOINT``, or a config file); each test then checks what the emulator received.
"""

from __future__ import annotations

import configparser
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from edgetrack import Client
from edgetrack.configfile import load_config
from edgetrack.destinations import IntileryMobile
from edgetrack.emulator import Emulator

pytestmark = pytest.mark.slow  # the example apps, as subprocesses

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
KIOSK = EXAMPLES / "raspberry_pi_kiosk"
PRODUCTS = ["Espresso", "Croissant", "Orange juice"]


@pytest.fixture
def env(emulator: Emulator, tmp_path: Path) -> dict[str, str]:
    """The environment of a user pointing an example at the emulator, with every folder in tmp."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("INTILERY_", "EDGETRACK_"))}
    env.update(
        INTILERY_WRITE_KEY=emulator.write_key,
        INTILERY_ENDPOINT=emulator.url,
        HOME=str(tmp_path / "home"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        PYTHONUNBUFFERED="1",
    )
    return env


def run(command: Sequence[str | Path], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run an example to its end; it must exit 0."""
    args = [str(part) for part in command]
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=90, check=False)
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def names(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(str(event["type"]), str(event.get("event") or event.get("name"))) for event in events]


LIFECYCLE_START = [("track", "Application Installed"), ("track", "Application Opened")]


def shop_session(clicks: int) -> list[tuple[str, str]]:
    return [("screen", "Shop")] + [("track", "Product Added")] * clicks


def test_kivy_app_tracks_the_screen_and_each_tap(
    emulator: Emulator, env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Kivy shop sends a screen view and one event per press: in a real window under xvfb-run
    when Kivy and xvfb-run are installed, else the same tracking code with no window."""
    command: list[str | Path]
    if importlib.util.find_spec("kivy") and shutil.which("xvfb-run"):
        how = "the Kivy app in a window under xvfb-run"
        command = ["xvfb-run", "-a", sys.executable, EXAMPLES / "kivy_app" / "main.py", "--", "--clicks", "3"]
    else:
        how = "tracking.py with no window (Kivy or xvfb-run is missing)"
        command = [sys.executable, EXAMPLES / "kivy_app" / "tracking.py", "--clicks", "3"]
    run(command, {**env, "KIVY_HOME": str(tmp_path / "kivy"), "KIVY_NO_CONSOLELOG": "1"})
    with capsys.disabled():
        print(f"\n[kivy example] ran {how}")
    events = emulator.events("intilery_mobile")
    assert names(events) == LIFECYCLE_START + shop_session(3)
    assert events[0]["properties"] == {"version": "1.0.0", "build": "1"}
    assert events[1]["properties"] == {"from_background": False, "version": "1.0.0", "build": "1"}
    events = events[2:]
    assert [event["properties"] for event in events[1:]] == [
        {"product": product, "cart_size": n} for n, product in enumerate(PRODUCTS, 1)
    ]
    assert len({event["anonymousId"] for event in events}) == 1  # one install, one anonymous id


TOGA_SESSION = """
from shop.app import main

app = main()
app.main_loop()  # returns at once on the dummy backend
app.add_button._impl.simulate_press()
app.add_button._impl.simulate_press()
app.main_window.hide()  # to the background and back: bind_toga's on_hide / on_show
app.main_window.show()
app.request_exit()  # on_exit: bind_toga shuts the client down
print("closed after exit:", app.analytics.track(event="After exit")[0] is False)
"""


def test_toga_app_tracks_taps_and_shuts_down_on_exit(
    emulator: Emulator, env: dict[str, str], tmp_path: Path
) -> None:
    """The Toga shop on the dummy backend: two presses arrive, and exit shuts the client down."""
    toga_env = {
        **env,
        "TOGA_BACKEND": "toga_dummy",
        "TOGA_DUMMY_HOME": str(tmp_path / "toga"),
        "PYTHONPATH": str(EXAMPLES / "toga_app" / "src"),
    }
    result = run([sys.executable, "-c", TOGA_SESSION], toga_env)
    assert "closed after exit: True" in result.stdout
    events = emulator.events("intilery_mobile")
    back = [("track", "Application Backgrounded"), ("track", "Application Opened")]
    assert names(events) == LIFECYCLE_START + shop_session(2) + back
    assert events[-1]["properties"]["from_background"] is True
    assert [event["properties"]["product"] for event in events[3:5]] == PRODUCTS[:2]
    # toga-dummy 0.5.7 puts app paths under TOGA_DUMMY_HOME; 0.5.6 (the last for Python 3.10) under HOME
    data_folders = [tmp_path / "toga", tmp_path / "home" / "user_data"]
    assert any(list(folder.rglob("queue.db")) for folder in data_folders), (
        "the queue is not in the app's data folder"
    )


def write_kiosk_config(tmp_path: Path, emulator: Emulator) -> Path:
    config = tmp_path / "edgetrack.toml"
    config.write_text(
        f'app_name = "edgetrack-kiosk"\npath = "{tmp_path / "state" / "queue.db"}"\n\n'
        f'[[destinations]]\ntype = "IntileryMobile"\nwrite_key_env = "KIOSK_WRITE_KEY"\n'
        f'endpoint = "{emulator.url}"\n'
    )
    return config


def sessions(emulator: Emulator) -> dict[str, list[int]]:
    """The ``seq`` numbers received for each kiosk session, in arrival order."""
    found: dict[str, list[int]] = {}
    for event in emulator.events("intilery_mobile"):
        found.setdefault(event["properties"]["session"], []).append(event["properties"]["seq"])
    return found


def test_kiosk_keeps_its_events_through_an_outage_and_a_restart(
    emulator: Emulator, env: dict[str, str], tmp_path: Path
) -> None:
    """Offline, the kiosk's events wait on disk; restarted online and stopped with SIGTERM (as
    systemd does), it delivers both runs' events, each once."""
    config = write_kiosk_config(tmp_path, emulator)
    kiosk_env = {**env, "KIOSK_WRITE_KEY": emulator.write_key}
    command: list[str | Path] = [
        sys.executable,
        KIOSK / "kiosk.py",
        "--config",
        config,
        "--kiosk-id",
        "kiosk-7",
    ]

    emulator.set_down(True)
    first = run([*command, "--interval", "0.01", "--count", "20"], kiosk_env)
    assert "tracked 22 events" in first.stderr  # started, 20 heartbeats, stopped
    assert emulator.requests >= 1 and emulator.events() == []  # it tried at exit; nothing got through
    same_lane = IntileryMobile(emulator.write_key, endpoint=emulator.url)
    with Client([same_lane], path=tmp_path / "state" / "queue.db", send=False) as reader:
        assert reader.stats().pending == 22

    emulator.set_down(False)
    second = subprocess.Popen(
        [str(part) for part in [*command, "--interval", "0.05"]],
        env=kiosk_env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert second.stderr is not None
    lines = []
    try:
        for line in second.stderr:
            lines.append(line)
            if "heartbeat 3:" in line:
                break
        second.send_signal(signal.SIGTERM)
        rest = second.communicate(timeout=30)[1]
    finally:
        second.kill()
    log = "".join(lines) + rest
    assert second.returncode == 0, log
    assert "Traceback" not in log
    received = sessions(emulator)
    first_session = re.search(r"session (\w+) started", first.stderr)
    assert first_session is not None, first.stderr
    assert sorted(received.pop(first_session[1])) == list(range(22))
    (second_run,) = received.values()
    assert (
        sorted(second_run) == list(range(len(second_run))) and len(second_run) >= 5
    )  # start, 3+ beats, stop
    stopped = [e for e in emulator.events() if e["event"] == "Kiosk Stopped"]
    assert sorted(e["properties"]["reason"] for e in stopped) == ["count", "signal"]
    heartbeat = next(e for e in emulator.events() if e["event"] == "Kiosk Heartbeat")
    assert {"on_mains", "battery_level", "throttled", "online", "queued"} <= set(heartbeat["properties"])


def test_kiosk_config_and_unit_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped edgetrack.toml loads, and the systemd unit runs it with its queue in the state dir."""
    monkeypatch.setenv("INTILERY_WRITE_KEY", "wk_test")
    config = load_config(KIOSK / "edgetrack.toml")
    assert [type(d).__name__ for d in config.destinations] == ["IntileryMobile"]
    unit = configparser.ConfigParser(interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(KIOSK / "edgetrack-kiosk.service")
    service = unit["Service"]
    assert config.path == Path("/var/lib") / service["StateDirectory"] / "queue.db"
    assert service["ExecStart"].endswith(f"--config /etc/edgetrack-kiosk/{(KIOSK / 'edgetrack.toml').name}")
    assert service["Restart"] == "on-failure" and service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == "yes" and service["User"]


def test_offline_logger_delivers_days_of_readings_once_the_network_returns(
    emulator: Emulator, env: dict[str, str]
) -> None:
    """Three simulated days offline (a reading every 10 minutes), then a drain: all 432 arrive."""
    result = run([sys.executable, EXAMPLES / "offline_logger.py", "--days", "3", "--every", "10"], env)
    assert "432 readings tracked, 432 queued, 0 delivered" in result.stdout
    events = emulator.events("intilery_mobile")
    assert sorted(event["properties"]["seq"] for event in events) == list(range(432))
    assert len(emulator.received) >= 5  # batches of at most 100


def test_offline_logger_counts_readings_past_max_age_as_expired_not_lost(
    emulator: Emulator, env: dict[str, str]
) -> None:
    """Nine days offline: readings older than RetryPolicy.max_age (7 days) expire, the rest arrive."""
    result = run([sys.executable, EXAMPLES / "offline_logger.py", "--days", "9", "--every", "50"], env)
    # 259 readings, 50 minutes apart, ending 12,950 minutes after the first: those older than
    # 10,080 minutes (7 days) when the network returns are seq 0 to 57.
    assert "201 delivered, 0 queued, 58 expired" in result.stdout and "lost 0" in result.stdout
    events = emulator.events("intilery_mobile")
    assert sorted(event["properties"]["seq"] for event in events) == list(range(58, 259))
