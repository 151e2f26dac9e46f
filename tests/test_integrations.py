"""Lifecycle helpers with stand-ins for Kivy's and Toga's app objects (the real toolkits are
exercised by the example apps)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgetrack import Client
from edgetrack.integrations import bind_kivy, bind_toga


class KivyLikeApp:
    """Kivy's App.bind / dispatch, as far as the helper uses them."""

    def __init__(self) -> None:
        self.handlers: dict[str, list[Any]] = {}

    def bind(self, **handlers: Any) -> None:
        for name, handler in handlers.items():
            self.handlers.setdefault(name, []).append(handler)

    def dispatch(self, name: str) -> Any:
        results = [handler(self) for handler in self.handlers.get(name, [])]
        return any(results)


def test_kivy_stop_shuts_the_client_down_and_pause_lets_the_default_run(tmp_path: Path) -> None:
    """on_pause/on_resume only re-read power (returning None), on_stop shuts the client down."""
    client = Client([], path=tmp_path / "q.db", send=False)
    app = KivyLikeApp()
    bind_kivy(app, client)
    client.track("u", "E")
    assert app.dispatch("on_pause") is False  # None from us: Kivy's default handler decides
    assert app.dispatch("on_resume") is False
    app.dispatch("on_stop")
    assert client.track("u", "After")[0] is False  # shut down: further calls are refused


class TogaLikeWindow:
    on_hide: Any = None
    on_show: Any = None


class TogaLikeApp:
    def __init__(self) -> None:
        self.main_window = TogaLikeWindow()
        self.on_exit: Any = None


def test_toga_keeps_the_apps_handlers_and_shuts_down_on_exit(tmp_path: Path) -> None:
    """The app's own on_hide/on_exit still run; exit shuts the client down unless the app refuses."""
    client = Client([], path=tmp_path / "q.db", send=False)
    app = TogaLikeApp()
    calls: list[str] = []
    app.main_window.on_hide = lambda widget, **kw: calls.append("app hide")
    app.on_exit = lambda widget, **kw: calls.append("app exit") or False  # type: ignore[func-returns-value]
    bind_toga(app, client)
    app.main_window.on_hide(app.main_window)
    app.main_window.on_show(app.main_window)
    assert app.on_exit(app) is False
    assert client.track("u", "Still open")[0] is True
    app.on_exit = lambda widget, **kw: True
    bind_toga(app, client)
    assert app.on_exit(app) is True
    assert client.track("u", "Closed")[0] is False
    assert calls == ["app hide", "app exit"]


TOGA_APP = """
import toga
from edgetrack import Client
from edgetrack.integrations import bind_toga

seen = []

class App(toga.App):
    def startup(self):
        self.main_window = toga.MainWindow()
        self.main_window.on_hide = lambda window, **kw: seen.append(("hide", window is self.main_window))
        self.main_window.on_show = lambda window, **kw: seen.append(("show", window is self.main_window))
        self.client = Client([], path=PATH, send=False)
        self.client.power_changed = lambda: seen.append(("power_changed", True))
        bind_toga(self, self.client)
        self.main_window.show()

app = App("Shop", "org.example.shop")
app.main_loop()
seen.clear()
app.main_window.hide()
app.main_window.show()
print(seen)
"""


def test_toga_keeps_the_apps_own_handlers_under_real_toga(tmp_path: Path) -> None:
    """With real Toga (dummy backend), which wraps handlers: the app's on_hide/on_show are called
    once each with the window, and bind_toga's power re-read follows each."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "TOGA_BACKEND": "toga_dummy", "TOGA_DUMMY_HOME": str(tmp_path / "toga")}
    code = TOGA_APP.replace("PATH", repr(str(tmp_path / "q.db")))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr and "TypeError" not in out.stderr, out.stderr
    expected = [("hide", True), ("power_changed", True), ("show", True), ("power_changed", True)]
    assert out.stdout.strip().splitlines()[-1] == repr(expected)
