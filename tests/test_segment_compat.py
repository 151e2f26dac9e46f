"""Moving over from segment-analytics-python: module-level settings with no configure(), and
Segment's Client constructor (edgetrack.compat.SegmentClient), end to end against the emulator."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

import edgetrack
from edgetrack import ConfigError, NotConfiguredError
from edgetrack.compat import SegmentClient
from edgetrack.emulator import Emulator

SETTINGS = (
    "write_key",
    "host",
    "send",
    "sync_mode",
    "debug",
    "on_error",
    "timeout",
    "gzip",
    "max_queue_size",
)


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """edgetrack's module-level API with its settings restored and its default client gone after."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    saved = {name: getattr(edgetrack, name) for name in SETTINGS}
    edgetrack.shutdown()
    yield edgetrack
    edgetrack.shutdown()
    for name, value in saved.items():
        setattr(edgetrack, name, value)
    logging.getLogger("edgetrack").setLevel(logging.NOTSET)


def test_module_level_use_the_segment_way(emulator: Emulator, module: object) -> None:
    """import edgetrack as analytics; analytics.write_key = ...; analytics.host = ...: the calls
    go to a Segment destination at host, with no configure()."""
    analytics = edgetrack
    analytics.write_key = emulator.segment_write_key
    analytics.host = emulator.url
    ok, msg = analytics.track("user-1", "Signed Up", {"plan": "pro"})
    analytics.identify("user-1", {"email": "ann@example.com"})
    analytics.page("user-1", "Docs", "Pricing")
    assert ok is True and msg["userId"] == "user-1"
    assert analytics.flush(10) is True
    assert [e["type"] for e in emulator.events("segment")] == ["track", "identify", "page"]
    page = emulator.events("segment")[2]
    assert (page["category"], page["name"]) == ("Docs", "Pricing")


def test_module_level_without_a_write_key_says_how_to_configure(module: object) -> None:
    """No write_key and no configure(): a clear error naming both ways."""
    edgetrack.write_key = None
    with pytest.raises(NotConfiguredError, match="write_key"):
        edgetrack.track("u", "E")


def test_module_level_send_false_queues_without_sending(emulator: Emulator, module: object) -> None:
    """analytics.send = False: calls succeed and nothing reaches the server."""
    edgetrack.write_key, edgetrack.host, edgetrack.send = emulator.segment_write_key, emulator.url, False
    assert edgetrack.track("u", "E")[0] is True
    assert edgetrack.default_client().send is False
    assert emulator.events() == []


def test_sync_mode_returns_after_delivery(emulator: Emulator, tmp_path: Path) -> None:
    """sync_mode=True: the call returns once the event reached the server."""
    with SegmentClient(
        emulator.segment_write_key, emulator.url, sync_mode=True, path=tmp_path / "q.db"
    ) as client:
        client.track("u", "Now")
        assert [e["event"] for e in emulator.events("segment")] == ["Now"]


def test_segment_constructor_options_are_honoured(emulator: Emulator, tmp_path: Path) -> None:
    """Segment's positional constructor: write_key, host, debug, max_queue_size, send, on_error,
    gzip, ..., timeout; each maps to edgetrack's option (see edgetrack.compat)."""
    calls: list[object] = []
    client = SegmentClient(
        emulator.segment_write_key,
        emulator.url,
        True,
        500,
        True,
        lambda error, batch: calls.append((error, batch)),
        False,
        3,
        False,
        7.0,
        path=tmp_path / "q.db",
    )
    with client:
        assert logging.getLogger("edgetrack").level == logging.DEBUG
        assert client.limits.max_events == 500
        client.track("u", "E")
        assert client.flush(10) is True
    (request,) = emulator.received
    assert "content-encoding" not in request.headers  # gzip=False honoured
    logging.getLogger("edgetrack").setLevel(logging.NOTSET)


def test_segment_constructor_refuses_oauth_and_a_missing_key(tmp_path: Path) -> None:
    """OAuth is not supported (a clear error); no write key raises Segment's AssertionError too."""
    with pytest.raises(ConfigError, match="OAuth"):
        SegmentClient(
            "k", oauth_client_id="c", oauth_client_key="k", oauth_key_id="i", path=tmp_path / "q.db"
        )
    with pytest.raises(AssertionError):
        SegmentClient(path=tmp_path / "q.db")
