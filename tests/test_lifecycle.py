"""Application lifecycle events (Installed, Updated, Opened, Backgrounded) from the client and from
the Kivy and Toga bindings, with the window's screen in the context."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edgetrack import Client
from edgetrack.compat import SegmentClient
from edgetrack.integrations import bind_kivy, bind_toga
from edgetrack.testing import FakeClock
from tests.conftest import query

INSTALLED, UPDATED = "Application Installed", "Application Updated"
OPENED, BACKGROUNDED = "Application Opened", "Application Backgrounded"


def queued(path: Path) -> list[dict[str, Any]]:
    return [json.loads(body) for (body,) in query(path, "SELECT body FROM queue ORDER BY id")]


def lifecycle(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """The lifecycle events queued, in order, with their properties."""
    return [
        (m["event"], m["properties"])
        for m in queued(path)
        if m.get("type") == "track" and str(m.get("event", "")).startswith("Application ")
    ]


def start(path: Path, clock: FakeClock, **options: Any) -> None:
    """A client's whole run: open the queue (which may send Installed / Updated), then stop."""
    with Client(path=path, send=False, clock=clock, **options) as c:
        assert c.opted_out is False  # waits until the stored state was read and acted on
        c.pipeline.wait_committed(timeout=10)


def test_installed_then_updated_then_nothing_for_the_same_version(tmp_path: Path) -> None:
    """The first client sends Installed, a new version sends Updated with the previous one, the same
    version again sends nothing."""
    path = tmp_path / "q.db"
    clock = FakeClock()
    start(path, clock, app_version="1.0", app_build="10")
    assert lifecycle(path) == [(INSTALLED, {"version": "1.0", "build": "10"})]
    start(path, clock, app_version="1.0", app_build="10")
    assert len(lifecycle(path)) == 1
    start(path, clock, app_version="1.1", app_build="11")
    assert lifecycle(path)[1:] == [
        (UPDATED, {"version": "1.1", "build": "11", "previous_version": "1.0", "previous_build": "10"})
    ]
    start(path, clock, app_version="1.1", app_build="11")
    assert len(lifecycle(path)) == 2


def test_a_new_build_of_the_same_version_is_an_update(tmp_path: Path) -> None:
    """Only the build changing is an update too."""
    path = tmp_path / "q.db"
    clock = FakeClock()
    start(path, clock, app_version="2.0", app_build="1")
    start(path, clock, app_version="2.0", app_build="2")
    assert lifecycle(path)[1] == (
        UPDATED,
        {"version": "2.0", "build": "2", "previous_version": "2.0", "previous_build": "1"},
    )


def test_a_version_alone_is_enough(tmp_path: Path) -> None:
    """With app_version and no app_build, Installed carries build None and Updated follows the version."""
    path = tmp_path / "q.db"
    clock = FakeClock()
    start(path, clock, app_version="1.0")
    start(path, clock, app_version="1.0")
    start(path, clock, app_version="2.0")
    assert lifecycle(path) == [
        (INSTALLED, {"version": "1.0", "build": None}),
        (UPDATED, {"version": "2.0", "build": None, "previous_version": "1.0", "previous_build": None}),
    ]


def test_no_version_means_nothing_automatic(tmp_path: Path) -> None:
    """Without app_version or app_build a client sends no Installed or Updated event."""
    path = tmp_path / "q.db"
    clock = FakeClock()
    start(path, clock)
    start(path, clock)
    assert lifecycle(path) == []


def test_opened_and_backgrounded_carry_their_properties(tmp_path: Path) -> None:
    """app_opened() sends Opened {from_background, version, build}; app_backgrounded() Backgrounded."""
    path = tmp_path / "q.db"
    with Client(path=path, send=False, clock=FakeClock(), app_version="3.1", app_build="31") as c:
        c.app_opened()
        c.app_backgrounded()
        c.app_opened(from_background=True)
        c.pipeline.wait_committed(timeout=10)
    assert lifecycle(path) == [
        (INSTALLED, {"version": "3.1", "build": "31"}),
        (OPENED, {"from_background": False, "version": "3.1", "build": "31"}),
        (BACKGROUNDED, {}),
        (OPENED, {"from_background": True, "version": "3.1", "build": "31"}),
    ]


def test_lifecycle_events_carry_the_remembered_user(tmp_path: Path) -> None:
    """An Opened event after identify() is the identified user's."""
    path = tmp_path / "q.db"
    with Client(path=path, send=False, clock=FakeClock()) as c:
        c.identify("u1")
        c.app_opened()
        c.pipeline.wait_committed(timeout=10)
    (opened,) = [m for m in queued(path) if m.get("event") == OPENED]
    assert opened["userId"] == "u1"
    assert opened["anonymousId"] == c.anonymous_id


def test_track_lifecycle_false_turns_every_lifecycle_event_off(tmp_path: Path) -> None:
    """track_lifecycle=False: no Installed, Updated, Opened or Backgrounded."""
    path = tmp_path / "q.db"
    clock = FakeClock()
    start(path, clock, app_version="1.0", track_lifecycle=False)
    with Client(path=path, send=False, clock=clock, app_version="2.0", track_lifecycle=False) as c:
        c.app_opened()
        c.app_backgrounded()
        c.app_opened(from_background=True)
        c.track("u", "Own event")
        c.pipeline.wait_committed(timeout=10)
    assert lifecycle(path) == []
    assert [m["event"] for m in queued(path)] == ["Own event"]


def test_segment_client_sends_no_lifecycle_by_default(tmp_path: Path) -> None:
    """edgetrack.compat.SegmentClient sends no lifecycle events unless asked."""
    path = tmp_path / "q.db"
    with SegmentClient("key", send=False, path=path, clock=FakeClock(), app_version="1.0") as c:
        c.app_opened()
        c.track("u", "Own event")
        c.pipeline.wait_committed(timeout=10)
    assert lifecycle(path) == []
    with SegmentClient(
        "key", send=False, path=path, clock=FakeClock(), app_version="1.0", track_lifecycle=True
    ) as c:
        c.app_opened()
        c.pipeline.wait_committed(timeout=10)
    assert [name for name, _ in lifecycle(path)] == [INSTALLED, OPENED]


# -- Kivy --------------------------------------------------------------------------------------


class FakeWindow:
    """Kivy's Window: size, dpi and bind(size=...)."""

    def __init__(self, size: tuple[int, int], dpi: float) -> None:
        self.size = size
        self.dpi = dpi
        self.handlers: list[Any] = []

    def bind(self, **handlers: Any) -> None:
        self.handlers.extend(handlers.values())

    def resize(self, size: tuple[int, int]) -> None:
        self.size = size
        for handler in self.handlers:
            handler(self, size)


class FakeKivyApp:
    """Kivy's App.bind and dispatch, as far as bind_kivy uses them."""

    def __init__(self, window: FakeWindow | None = None) -> None:
        self.handlers: dict[str, list[Any]] = {}
        if window is not None:
            self.root_window = window

    def bind(self, **handlers: Any) -> None:
        for name, handler in handlers.items():
            self.handlers.setdefault(name, []).append(handler)

    def dispatch(self, name: str) -> None:
        for handler in self.handlers.get(name, []):
            handler(self)


def test_kivy_start_pause_resume_send_the_lifecycle_with_the_screen(tmp_path: Path) -> None:
    """on_start sends Opened with context.screen from the window, on_pause Backgrounded, on_resume
    Opened from the background; a resize changes later events' screen."""
    path = tmp_path / "q.db"
    window = FakeWindow((800, 480), dpi=240)
    app = FakeKivyApp(window)
    with Client(path=path, send=False, clock=FakeClock(), app_version="1.0", app_build="5") as c:
        bind_kivy(app, c)
        app.dispatch("on_start")
        app.dispatch("on_pause")
        app.dispatch("on_resume")
        window.resize((480, 800))
        c.track("u", "After resize")
        c.pipeline.wait_committed(timeout=10)
    events = [m for m in queued(path) if m["event"] != INSTALLED]
    assert [(m["event"], m["properties"]) for m in events] == [
        (OPENED, {"from_background": False, "version": "1.0", "build": "5"}),
        (BACKGROUNDED, {}),
        (OPENED, {"from_background": True, "version": "1.0", "build": "5"}),
        ("After resize", {}),
    ]
    assert events[0]["context"]["screen"] == {"width": 800, "height": 480, "density": 1.5}
    assert events[-1]["context"]["screen"] == {"width": 480, "height": 800, "density": 1.5}


def test_kivy_without_a_window_sends_no_screen(tmp_path: Path) -> None:
    """An app with no root_window still gets Opened, with no context.screen."""
    path = tmp_path / "q.db"
    app = FakeKivyApp()
    with Client(path=path, send=False, clock=FakeClock()) as c:
        bind_kivy(app, c)
        app.dispatch("on_start")
        c.pipeline.wait_committed(timeout=10)
    (opened,) = queued(path)
    assert opened["event"] == OPENED
    assert "screen" not in opened["context"]


# -- Toga --------------------------------------------------------------------------------------


class FakeScreen:
    size = (1280, 720)


class FakeTogaWindow:
    on_hide: Any = None
    on_show: Any = None


class FakeTogaApp:
    def __init__(self) -> None:
        self.main_window = FakeTogaWindow()
        self.on_exit: Any = None
        self.screens = [FakeScreen()]


def test_toga_binding_sends_opened_hide_show_with_the_screen(tmp_path: Path) -> None:
    """bind_toga sends Opened, on_hide Backgrounded, on_show after a hide Opened from the background
    (a first show is not a return), with context.screen from the first screen; exit shuts down."""
    path = tmp_path / "q.db"
    app = FakeTogaApp()
    c = Client(path=path, send=False, clock=FakeClock(), app_version="1.0")
    bind_toga(app, c)
    window = app.main_window
    window.on_show(window)  # shown for the first time: nothing
    window.on_hide(window)
    window.on_show(window)
    c.pipeline.wait_committed(timeout=10)
    assert app.on_exit(app) is True
    assert c.track("u", "After exit")[0] is False
    events = [m for m in queued(path) if m["event"] != INSTALLED]
    assert [(m["event"], m["properties"].get("from_background")) for m in events] == [
        (OPENED, False),
        (BACKGROUNDED, None),
        (OPENED, True),
    ]
    for message in events:
        assert message["context"]["screen"] == {"width": 1280, "height": 720}


def test_toga_binding_under_real_toga_dummy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With real Toga on its dummy backend: startup's bind sends Opened with the first screen's size,
    hiding and showing the main window send Backgrounded and Opened from the background."""
    monkeypatch.setenv("TOGA_BACKEND", "toga_dummy")
    monkeypatch.setenv("TOGA_DUMMY_HOME", str(tmp_path / "toga"))
    toga = pytest.importorskip("toga")
    pytest.importorskip("toga_dummy")
    path = tmp_path / "q.db"
    client = Client(path=path, send=False, clock=FakeClock())

    base: Any = toga.App

    class App(base):  # type: ignore[misc]
        def startup(self) -> None:
            self.main_window = toga.MainWindow()
            bind_toga(self, client)
            self.main_window.show()

    app = App("Shop", "org.example.shop")
    app.main_loop()
    try:
        app.main_window.hide()
        app.main_window.show()
        client.pipeline.wait_committed(timeout=10)
        events = queued(path)
        assert [(m["event"], m["properties"].get("from_background")) for m in events] == [
            (OPENED, False),
            (BACKGROUNDED, None),
            (OPENED, True),
        ]
        width, height = (int(v) for v in app.screens[0].size)
        assert events[0]["context"]["screen"] == {"width": width, "height": height}
    finally:
        client.shutdown()
